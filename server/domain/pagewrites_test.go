package domain_test

import (
	"context"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// storedPage reads a visitor's current page from the store itself, not
// through the Service.
func (e *engine) storedPage(t *testing.T, visitorID string) (string, error) {
	t.Helper()
	var url string
	err := e.store.View(context.Background(), func(tx domain.ReadTx) error {
		v, err := tx.Visitor(visitorID)
		if err == nil {
			url = v.CurrentPage.URL
		}
		return err
	})
	return url, err
}

func (e *engine) wantStoredPage(t *testing.T, visitorID, want string) {
	t.Helper()
	got, err := e.storedPage(t, visitorID)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("stored page of %s = %q, want %q", visitorID, got, want)
	}
}

// TestPageViewsWrittenBehind: a page view takes effect at once and reaches
// the store with the others of its second, each visitor's latest page once.
func TestPageViewsWrittenBehind(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	a, b := e.visitor(t, "shop"), e.visitor(t, "shop")
	e.page(t, a, home)
	e.page(t, b, home)
	e.clock.Advance(time.Second)
	e.wantStoredPage(t, a, home)

	commits := e.store.BatchSize().Count()
	for _, url := range []string{pricing, cart} {
		e.clock.Advance(100 * time.Millisecond)
		v, err := e.svc.RecordPageView(ctx(t), a, url, "Shop")
		if err != nil {
			t.Fatal(err)
		}
		if v.CurrentPage.URL != url {
			t.Fatalf("RecordPageView returned page %q, want %q", v.CurrentPage.URL, url)
		}
	}
	if _, err := e.svc.RecordPageView(ctx(t), b, shoes, "Shoes"); err != nil {
		t.Fatal(err)
	}
	// Not written yet, but everyone sees it: presence, the visitor's own
	// state, an export.
	e.wantStoredPage(t, a, home)
	if n := e.store.BatchSize().Count() - commits; n != 0 {
		t.Fatalf("%v commits for page views before the delay, want 0", n)
	}
	online, err := e.svc.ListOnlineVisitors(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range online {
		if p.VisitorID == a && p.CurrentPage.URL != cart {
			t.Fatalf("presence shows %q, want %q", p.CurrentPage.URL, cart)
		}
	}
	state, err := e.svc.VisitorState(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.svc.ExportVisitor(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	if state.Visitor.CurrentPage.URL != cart || x.Visitor.CurrentPage.URL != cart {
		t.Fatalf("state shows %q and export %q, want %q", state.Visitor.CurrentPage.URL, x.Visitor.CurrentPage.URL, cart)
	}

	e.clock.Advance(time.Second)
	e.wantStoredPage(t, a, cart)
	e.wantStoredPage(t, b, shoes)
	if n := e.store.BatchSize().Count() - commits; n != 1 {
		t.Fatalf("%v commits for two visitors' three page views, want 1", n)
	}

	// An unknown visitor is still refused at once.
	_, err = e.svc.RecordPageView(ctx(t), "visitor_nobody", home, "")
	wantCode(t, err, domain.CodeNotFound)
}

// TestPageViewsWrittenAtClose: shutting down writes what is pending, so a
// restart knows every visitor's latest page.
func TestPageViewsWrittenAtClose(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	a := e.visitor(t, "shop")
	if _, err := e.svc.RecordPageView(ctx(t), a, pricing, "Pricing"); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	e.wantStoredPage(t, a, pricing)
	state, err := e.svc.VisitorState(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	if state.Visitor.CurrentPage.URL != pricing || state.Visitor.CurrentPage.Title != "Pricing" {
		t.Fatalf("after a restart the page is %+v, want %s", state.Visitor.CurrentPage, pricing)
	}
}

// TestPageViewOfErasedVisitor: a page view pending when its visitor is
// erased is dropped; writing it would bring the visitor's record back.
func TestPageViewOfErasedVisitor(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	a := e.visitor(t, "shop")
	if _, err := e.svc.RecordPageView(ctx(t), a, pricing, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EraseVisitor(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	_, err := e.storedPage(t, a)
	wantCode(t, err, domain.CodeNotFound)
}
