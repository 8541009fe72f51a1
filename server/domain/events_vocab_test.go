package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// recorded runs do and returns the events it recorded.
func (e *engine) recorded(t *testing.T, do func()) []*domain.Event {
	t.Helper()
	_, last := e.logSince(t, 0)
	do()
	e.settle(t)
	evs, _ := e.logSince(t, last)
	return evs
}

// wantEvents fails unless evs are of the types want, in order.
func wantEvents(t *testing.T, what string, evs []*domain.Event, want ...domain.EventType) {
	t.Helper()
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("%s recorded %v, want %v", what, got, want)
	}
}

// TestAdminEvents: what admins change records its event, naming what
// changed and never a secret.
func TestAdminEvents(t *testing.T) {
	e := newEngine(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	evs := e.recorded(t, func() { e.site(t, "shop", withoutInvite()) })
	wantEvents(t, "CreateSite", evs, domain.EventSiteCreated)
	if evs[0].SiteID != "shop" {
		t.Errorf("site.created of site %q, want shop", evs[0].SiteID)
	}
	evs = e.recorded(t, func() {
		_, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop", Name: "The Shop", ProactiveChat: withoutInvite()}, nil)
		must(err)
	})
	wantEvents(t, "UpdateSite", evs, domain.EventSiteUpdated)
	if !slices.Equal(evs[0].Fields, []string{"name"}) {
		t.Errorf("site.updated fields = %v, want [name]: only what changed", evs[0].Fields)
	}
	evs = e.recorded(t, func() {
		_, err := e.svc.RotateSiteIdentitySecret(ctx(t), "shop")
		must(err)
	})
	wantEvents(t, "RotateSiteIdentitySecret", evs, domain.EventSiteUpdated)
	if !slices.Equal(evs[0].Fields, []string{"identity_secret"}) {
		t.Errorf("site.updated fields = %v, want [identity_secret]", evs[0].Fields)
	}

	evs = e.recorded(t, func() { e.agent(t, "agent-a", "Ada", 3, "shop") })
	wantEvents(t, "CreateAgent", evs, domain.EventAgentCreated)
	evs = e.recorded(t, func() {
		_, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: "agent-a", DisplayName: "Ada L.", MaxConcurrentChats: 3}, []string{"display_name", "max_concurrent_chats"})
		must(err)
	})
	wantEvents(t, "UpdateAgent", evs, domain.EventAgentUpdated)
	if ev := evs[0]; ev.AgentID != "agent-a" || !slices.Equal(ev.Fields, []string{"display_name"}) {
		t.Errorf("agent.updated = %s %v, want agent-a [display_name]", ev.AgentID, ev.Fields)
	}

	var reply *domain.CannedReply
	evs = e.recorded(t, func() {
		var err error
		reply, err = e.svc.CreateCannedReply(ctx(t), domain.CannedReply{SiteID: "shop", Shortcut: "/hi", Title: "Hi", Text: "Hello!"})
		must(err)
		reply.Text = "Hello there!"
		_, err = e.svc.UpdateCannedReply(ctx(t), *reply)
		must(err)
		must(e.svc.DeleteCannedReply(ctx(t), "shop", reply.ID))
	})
	wantEvents(t, "canned replies", evs, domain.EventCannedReplyCreated, domain.EventCannedReplyUpdated, domain.EventCannedReplyDeleted)
	for _, ev := range evs {
		if ev.CannedReplyID != reply.ID || ev.SiteID != "shop" {
			t.Errorf("%s of %s on %q, want %s on shop", ev.Type, ev.CannedReplyID, ev.SiteID, reply.ID)
		}
	}
	if !slices.Equal(evs[1].Fields, []string{"text"}) {
		t.Errorf("canned_reply.updated fields = %v, want [text]", evs[1].Fields)
	}

	var hook *domain.Webhook
	evs = e.recorded(t, func() {
		var err error
		hook, err = e.svc.CreateWebhook(ctx(t), domain.WebhookSpec{URL: "https://hooks.example/in", Enabled: true})
		must(err)
		_, err = e.svc.UpdateWebhook(ctx(t), domain.WebhookSpec{ID: hook.ID, Enabled: false}, []string{"enabled"})
		must(err)
		_, err = e.svc.RotateWebhookSecret(ctx(t), hook.ID)
		must(err)
		must(e.svc.DeleteWebhook(ctx(t), hook.ID))
	})
	wantEvents(t, "webhooks", evs, domain.EventWebhookCreated, domain.EventWebhookUpdated, domain.EventWebhookSecretRotated, domain.EventWebhookDeleted)
	for _, ev := range evs {
		if ev.WebhookID != hook.ID {
			t.Errorf("%s of %q, want %s", ev.Type, ev.WebhookID, hook.ID)
		}
	}
	if !slices.Equal(evs[1].Fields, []string{"enabled"}) {
		t.Errorf("webhook.updated fields = %v, want [enabled]", evs[1].Fields)
	}
	if hook.After != evs[0].Position {
		t.Errorf("a new endpoint starts after %d, want after its own webhook.created (%d)", hook.After, evs[0].Position)
	}

	evs = e.recorded(t, func() {
		first, _, err := e.svc.CreateAPIKey(ctx(t), "first", nil)
		must(err)
		_, _, err = e.svc.CreateAPIKey(ctx(t), "second", nil)
		must(err)
		must(e.svc.RevokeAPIKey(ctx(t), first.ID))
	})
	wantEvents(t, "API keys", evs, domain.EventAPIKeyCreated, domain.EventAPIKeyCreated, domain.EventAPIKeyRevoked)
	if evs[2].APIKeyID != evs[0].APIKeyID || evs[0].APIKeyID == "" {
		t.Errorf("revoked %q, want the first key %q", evs[2].APIKeyID, evs[0].APIKeyID)
	}

	var sess *domain.AgentSession
	evs = e.recorded(t, func() {
		var err error
		sess, _, err = e.svc.CreateAgentSession(ctx(t), "agent-a", 0)
		must(err)
		_, err = e.svc.RevokeAgentSessions(ctx(t), "agent-a")
		must(err)
	})
	wantEvents(t, "agent sessions", evs, domain.EventAgentSessionCreated, domain.EventAgentSessionRevoked)
	for _, ev := range evs {
		if ev.AgentID != "agent-a" || ev.SessionID != sess.ID {
			t.Errorf("%s = %s %s, want agent-a %s", ev.Type, ev.AgentID, ev.SessionID, sess.ID)
		}
	}
}

// TestChatSideEvents: a note, a whisper, the inactivity warning and the
// queue hold record their events.
func TestChatSideEvents(t *testing.T) {
	t.Run("HoldStartedEnded", func(t *testing.T) {
		s := newNoInviteScene(t)
		evs := s.e.recorded(t, func() { s.page.stop() })
		wantEvents(t, "closing the widget", evs, domain.EventRequestHoldStarted)
		if ev := evs[0]; ev.RequestID != s.alert.Request.ID || !ev.Deadline.After(s.e.clock.Now()) {
			t.Errorf("hold started = %s until %v, want %s held for a while", ev.RequestID, ev.Deadline, s.alert.Request.ID)
		}
		evs = s.e.recorded(t, func() { s.page, _ = s.e.page(t, s.vid, pricing) })
		if got := types(evs); !slices.Contains(got, domain.EventRequestHoldEnded) {
			t.Fatalf("coming back recorded %v, want request.hold_ended", got)
		}
	})

	s := newNoInviteScene(t)
	chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
	evs := s.e.recorded(t, func() {
		if _, err := s.e.svc.AddNote(ctx(t), chat.ID, "agent-a", "VIP customer"); err != nil {
			t.Fatal(err)
		}
	})
	wantEvents(t, "AddNote", evs, domain.EventChatNoteAdded)
	if ev := evs[0]; ev.ChatID != chat.ID || ev.AgentID != "agent-a" || ev.Seq != 1 || ev.Text != "VIP customer" || ev.VisitorID != s.vid {
		t.Errorf("note added = %+v", ev)
	}

	if _, err := s.e.svc.CreateAgent(ctx(t), domain.AgentSpec{ID: "sup", DisplayName: "Sue", MaxConcurrentChats: 1, SupervisedSiteIDs: []string{"shop"}}); err != nil {
		t.Fatal(err)
	}
	evs = s.e.recorded(t, func() {
		if _, err := s.e.svc.Whisper(ctx(t), chat.ID, "sup", "Offer the discount"); err != nil {
			t.Fatal(err)
		}
	})
	wantEvents(t, "Whisper", evs, domain.EventChatWhisperSent)
	if ev := evs[0]; ev.FromAgentID != "sup" || ev.AgentID != "agent-a" || ev.Seq != 1 || ev.Text != "Offer the discount" {
		t.Errorf("whisper sent = %+v", ev)
	}

	pc := withoutInvite()
	evs = s.e.recorded(t, func() {
		s.e.clock.Advance(pc.InactivityTimeout() - pc.InactivityWarning() + time.Second)
	})
	wantEvents(t, "a quiet chat", evs, domain.EventChatInactivityWarning)
	if ev := evs[0]; ev.ChatID != chat.ID || !ev.Deadline.Equal(chat.CreateTime.Add(pc.InactivityTimeout())) {
		t.Errorf("warning = %s ending at %v, want %s at %v", ev.ChatID, ev.Deadline, chat.ID, chat.CreateTime.Add(pc.InactivityTimeout()))
	}
}
