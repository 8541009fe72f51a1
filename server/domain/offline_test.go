package domain_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func goodMessage(key string) domain.OfflineMessageInput {
	return domain.OfflineMessageInput{Name: "Grace", Email: "grace@example.com", Text: "Do you ship to Norway?",
		PageURL: home, RequestID: key}
}

func TestLeaveMessage(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withInvite())
	e.site(t, "other", withInvite())
	vid := e.visitor(t, "shop")

	t.Run("ErrInvalid", func(t *testing.T) {
		for field, in := range map[string]domain.OfflineMessageInput{
			"name":       {Email: "a@example.com", Text: "x", RequestID: "k"},
			"email":      {Name: "A", Email: "not an address", Text: "x", RequestID: "k"},
			"text":       {Name: "A", Email: "a@example.com", Text: strings.Repeat("x", domain.MaxOfflineTextBytes+1), RequestID: "k"},
			"page_url":   {Name: "A", Email: "a@example.com", Text: "x", PageURL: "javascript:alert(1)", RequestID: "k"},
			"request_id": {Name: "A", Email: "a@example.com", Text: "x", RequestID: "has space"},
		} {
			_, err := e.svc.LeaveMessage(ctx(t), vid, in)
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), field+":") {
				t.Errorf("error %q does not name %s", err, field)
			}
		}
		_, err := e.svc.LeaveMessage(ctx(t), "nobody", goodMessage("k"))
		wantCode(t, err, domain.CodeNotFound)
	})
	t.Run("StoredOnceByRequestID", func(t *testing.T) {
		m, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("try-1"))
		if err != nil {
			t.Fatal(err)
		}
		if m.SiteID != "shop" || m.VisitorID != vid || m.State != domain.OfflineMessageNew || !m.CreateTime.Equal(t0) || m.Page != home {
			t.Fatalf("message = %+v", m)
		}
		e.clock.Advance(time.Second)
		again, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("try-1"))
		if err != nil || again.ID != m.ID || !again.CreateTime.Equal(t0) {
			t.Fatalf("retry = %+v, %v, want the first message", again, err)
		}
		list, _, newCount, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 0, "")
		if err != nil || len(list) != 1 || newCount != 1 {
			t.Fatalf("list = %+v (new %d), %v, want the one message", list, newCount, err)
		}
	})
	t.Run("ListNewestFirstPagedAndMarkHandled", func(t *testing.T) {
		second, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("try-2"))
		if err != nil {
			t.Fatal(err)
		}
		page, next, newCount, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 1, "")
		if err != nil || len(page) != 1 || page[0].ID != second.ID || next == "" || newCount != 2 {
			t.Fatalf("first page = %+v, %q (new %d), %v", page, next, newCount, err)
		}
		page2, next2, _, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 1, next)
		if err != nil || len(page2) != 1 || page2[0].RequestID != "try-1" || next2 != "" {
			t.Fatalf("second page = %+v, %q, %v", page2, next2, err)
		}
		e.agent(t, "agent-b", "Ben", 3, "other")
		_, err = e.svc.MarkOfflineMessageHandled(ctx(t), domain.Principal{Kind: domain.AgentPrincipal, ID: "agent-b"}, second.ID)
		wantCode(t, err, domain.CodePermissionDenied)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.clock.Advance(time.Minute)
		h, err := e.svc.MarkOfflineMessageHandled(ctx(t), domain.Principal{Kind: domain.AgentPrincipal, ID: "agent-a"}, second.ID)
		if err != nil || h.State != domain.OfflineMessageHandled || h.HandledBy != "agent-a" || !h.HandledTime.Equal(e.clock.Now()) {
			t.Fatalf("handled = %+v, %v", h, err)
		}
		newOnes, _, newCount, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageNew, 0, "")
		if err != nil || len(newOnes) != 1 || newOnes[0].RequestID != "try-1" || newCount != 1 {
			t.Fatalf("new = %+v (new %d), %v", newOnes, newCount, err)
		}
		_, _, _, err = e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 0, "bogus")
		wantCode(t, err, domain.CodeInvalid)
	})
	t.Run("AtMostPerVisitor", func(t *testing.T) {
		v2 := e.visitor(t, "shop")
		for i := range domain.MaxOfflineMessagesPerVisitor {
			if _, err := e.svc.LeaveMessage(ctx(t), v2, goodMessage(fmt.Sprint("k", i))); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.svc.LeaveMessage(ctx(t), v2, goodMessage("one-more"))
		wantCode(t, err, domain.CodeResourceExhausted)
	})
	t.Run("ExportedAndErasedWithTheVisitor", func(t *testing.T) {
		x, err := e.svc.ExportVisitor(ctx(t), vid)
		if err != nil || len(x.OfflineMessages) != 2 {
			t.Fatalf("export = %+v, %v, want 2 offline messages", x, err)
		}
		if err := e.svc.EraseVisitor(ctx(t), vid); err != nil {
			t.Fatal(err)
		}
		list, _, _, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.VisitorID == vid {
				t.Fatalf("message %+v outlived its erased visitor", m)
			}
		}
	})
}

// TestRetentionDeletesOfflineMessages: a message goes with its visitor when
// retention deletes them, and not before.
func TestRetentionDeletesOfflineMessages(t *testing.T) {
	e := newEngine(t, withRetention(domain.DefaultRetention, 0))
	e.quietSite(t, "shop", domain.RetentionSettings{})
	vid, _ := e.session(t, "shop")
	e.visit(t, vid)
	if _, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("k")); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		list, _, _, err := e.svc.ListOfflineMessages(ctx(t), "shop", domain.OfflineMessageUnspecified, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	e.clock.Set(t0.Add(29 * day))
	e.sweep(t, domain.RetentionSweep{})
	if n := count(); n != 1 {
		t.Fatalf("%d messages before the visitor's retention passed, want 1", n)
	}
	e.clock.Set(t0.Add(30*day + time.Hour))
	e.sweep(t, domain.RetentionSweep{Visitors: 1, Events: 1}) // and the site's site.created
	if n := count(); n != 0 {
		t.Fatalf("%d messages after their visitor was deleted, want 0", n)
	}
}
