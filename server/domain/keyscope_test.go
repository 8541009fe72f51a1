package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// scopeWorld is two sites, each with an agent, a visitor and a chat with a
// message, and an admin key scoped to the first.
type scopeWorld struct {
	e              *env
	siteA, siteB   *domain.Site
	chatA, chatB   *domain.Chat
	visA, visB     string
	scoped, global domain.Principal
}

func newScopeWorld(t *testing.T) *scopeWorld {
	t.Helper()
	w := &scopeWorld{e: newEnv(t, 0)}
	var agentA, agentB *domain.Agent
	w.siteA, agentA = w.e.siteWithAgent(t, 2)
	w.siteB, agentB = w.e.siteWithAgent(t, 2)
	chat := func(site *domain.Site, agent *domain.Agent) (*domain.Chat, string) {
		v := w.e.newVisitor(t, site.ID)
		w.e.visit(t, v.ID, "https://shop.example/")
		c, err := w.e.svc.StartChat(ctx(t), agent.ID, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.e.svc.SendMessage(ctx(t), c.ID, v.ID, "Hello", ""); err != nil {
			t.Fatal(err)
		}
		return c, v.ID
	}
	w.chatA, w.visA = chat(w.siteA, agentA)
	w.chatB, w.visB = chat(w.siteB, agentB)
	_, token, err := w.e.svc.CreateAPIKey(ctx(t), "site A", []string{w.siteA.ID})
	if err != nil {
		t.Fatal(err)
	}
	if w.scoped, err = w.e.svc.Authenticate(ctx(t), token); err != nil {
		t.Fatal(err)
	}
	_, token, err = w.e.svc.CreateAPIKey(ctx(t), "all", nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.global, err = w.e.svc.Authenticate(ctx(t), token); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestScopedAPIKey: a key scoped to site A is an admin of A only; an
// unscoped key of every site.
func TestScopedAPIKey(t *testing.T) {
	w := newScopeWorld(t)
	e, a, b := w.e, w.siteA.ID, w.siteB.ID

	t.Run("Created", func(t *testing.T) {
		if !w.scoped.Scoped() || !slices.Equal(w.scoped.SiteIDs, []string{a}) || w.global.Scoped() {
			t.Fatalf("principals: scoped %+v, global %+v", w.scoped, w.global)
		}
		keys, err := e.svc.ListAPIKeys(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(keys, func(k *domain.APIKey) bool { return k.ID == w.scoped.ID }); i < 0 || !slices.Equal(keys[i].SiteIDs, []string{a}) {
			t.Fatalf("listed keys = %+v, want %q scoped to %q", keys, w.scoped.ID, a)
		}
	})
	t.Run("ErrBadSites", func(t *testing.T) {
		for name, sites := range map[string][]string{
			"Unknown":   {a, "site_missing"},
			"Repeated":  {a, a},
			"Empty":     {""},
			"TooMany":   slices.Repeat([]string{a}, domain.MaxKeySites+1),
			"UnknownTo": {"site_missing"},
		} {
			_, _, err := e.svc.CreateAPIKey(ctx(t), name, sites)
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), "site_ids") {
				t.Fatalf("%s: %v, want it to name site_ids", name, err)
			}
		}
	})
	t.Run("Sites", func(t *testing.T) {
		for _, p := range []domain.Principal{w.scoped, w.global} {
			if err := e.svc.CanReadSite(ctx(t), p, a); err != nil {
				t.Fatalf("read A: %v", err)
			}
			if err := e.svc.CanAdministerSite(ctx(t), p, a); err != nil {
				t.Fatalf("administer A: %v", err)
			}
			if err := e.svc.CanSuperviseSite(ctx(t), p, a); err != nil {
				t.Fatalf("supervise A: %v", err)
			}
		}
		wantCode(t, e.svc.CanReadSite(ctx(t), w.scoped, b), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanAdministerSite(ctx(t), w.scoped, b), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanSuperviseSite(ctx(t), w.scoped, b), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanReadSite(ctx(t), w.scoped, ""), domain.CodePermissionDenied)
		if err := e.svc.CanReadSite(ctx(t), w.global, b); err != nil {
			t.Fatalf("unscoped key, site B: %v", err)
		}
	})
	t.Run("SpanningSites", func(t *testing.T) {
		wantCode(t, w.scoped.CheckUnscoped("create sites"), domain.CodePermissionDenied)
		if err := w.global.CheckUnscoped("create sites"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Chats", func(t *testing.T) {
		if err := e.svc.CanReadChat(ctx(t), w.scoped, w.chatA.ID); err != nil {
			t.Fatalf("chat of A: %v", err)
		}
		wantCode(t, e.svc.CanReadChat(ctx(t), w.scoped, w.chatB.ID), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanReadWhispers(ctx(t), w.scoped, w.chatB.ID), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanReadChat(ctx(t), w.scoped, "chat_missing"), domain.CodeNotFound)
		if err := e.svc.CanReadChat(ctx(t), w.global, w.chatB.ID); err != nil {
			t.Fatalf("unscoped key, chat of B: %v", err)
		}

		list := func(p domain.Principal, f domain.ChatFilter) ([]string, error) {
			sums, _, err := e.svc.ListChats(ctx(t), p, f, 0, "")
			var ids []string
			for _, s := range sums {
				ids = append(ids, s.Chat.ID)
			}
			return ids, err
		}
		if got, err := list(w.scoped, domain.ChatFilter{}); err != nil || !slices.Equal(got, []string{w.chatA.ID}) {
			t.Fatalf("scoped ListChats = %v, %v; want only %s", got, err, w.chatA.ID)
		}
		if got, err := list(w.scoped, domain.ChatFilter{VisitorID: w.visB}); err != nil || len(got) != 0 {
			t.Fatalf("scoped ListChats of B's visitor = %v, %v; want none", got, err)
		}
		_, err := list(w.scoped, domain.ChatFilter{SiteID: b})
		wantCode(t, err, domain.CodePermissionDenied)
		if got, err := list(w.global, domain.ChatFilter{}); err != nil || len(got) != 2 {
			t.Fatalf("unscoped ListChats = %v, %v; want both chats", got, err)
		}
	})
	t.Run("Visitors", func(t *testing.T) {
		if err := e.svc.CanAdministerVisitor(ctx(t), w.scoped, w.visA); err != nil {
			t.Fatalf("visitor of A: %v", err)
		}
		wantCode(t, e.svc.CanAdministerVisitor(ctx(t), w.scoped, w.visB), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanAdministerVisitor(ctx(t), w.scoped, "visitor_missing"), domain.CodeNotFound)
		if err := e.svc.CanAdministerVisitor(ctx(t), w.global, w.visB); err != nil {
			t.Fatalf("unscoped key, visitor of B: %v", err)
		}
	})
	t.Run("Events", func(t *testing.T) {
		f, err := w.scoped.ScopeEvents(domain.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		page, err := e.svc.ListEvents(ctx(t), 0, 1000, f)
		if err != nil {
			t.Fatal(err)
		}
		all, err := e.svc.ListEvents(ctx(t), 0, 1000, domain.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		var ofB *domain.Event
		for _, ev := range all.Events {
			if ev.SiteID == a {
				want = append(want, ev.Position)
			}
			if ev.SiteID == b && ofB == nil {
				ofB = ev
			}
		}
		var got []uint64
		for _, ev := range page.Events {
			got = append(got, ev.Position)
		}
		if len(want) == 0 || !slices.Equal(got, want) || page.NextAfter != all.NextAfter {
			t.Fatalf("scoped events at %v (next %d), want %v (next %d): site A's, at the log's positions", got, page.NextAfter, want, all.NextAfter)
		}
		_, err = w.scoped.ScopeEvents(domain.EventFilter{SiteID: b})
		wantCode(t, err, domain.CodePermissionDenied)
		if f, err := w.global.ScopeEvents(domain.EventFilter{SiteID: b}); err != nil || f.SiteID != b || f.SiteIDs != nil {
			t.Fatalf("unscoped ScopeEvents = %+v, %v; want the filter as it was", f, err)
		}
		wantCode(t, e.svc.CanReadEvent(ctx(t), w.scoped, ofB.ID), domain.CodePermissionDenied)
		if err := e.svc.CanReadEvent(ctx(t), w.scoped, page.Events[0].ID); err != nil {
			t.Fatalf("event of A: %v", err)
		}
	})
	t.Run("Webhooks", func(t *testing.T) {
		hook := func(siteID string) string {
			wh, err := e.svc.CreateWebhook(ctx(t), domain.WebhookSpec{URL: "https://hooks.example/in", SiteID: siteID})
			if err != nil {
				t.Fatal(err)
			}
			return wh.ID
		}
		ofA, ofB, ofAll := hook(a), hook(b), hook("")
		if err := e.svc.CanManageWebhook(ctx(t), w.scoped, ofA); err != nil {
			t.Fatalf("webhook of A: %v", err)
		}
		wantCode(t, e.svc.CanManageWebhook(ctx(t), w.scoped, ofB), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanManageWebhook(ctx(t), w.scoped, ofAll), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanManageWebhook(ctx(t), w.scoped, "wh_missing"), domain.CodeNotFound)
		for _, id := range []string{ofA, ofB, ofAll} {
			if err := e.svc.CanManageWebhook(ctx(t), w.global, id); err != nil {
				t.Fatalf("unscoped key, webhook %s: %v", id, err)
			}
		}
	})
}
