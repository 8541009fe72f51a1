package domain_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// ofType is the events of evs of type typ.
func ofType(evs []*domain.Event, typ domain.EventType) []*domain.Event {
	var out []*domain.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestEventLogIdentityAndRating checks visitor.identified (recorded when
// the identity changes, not when a page says the same again) and
// chat.rated, and that erasing the visitor deletes both.
func TestEventLogIdentityAndRating(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	vid := e.visitor(t, "shop")
	page, _ := e.page(t, vid, home)
	chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
	if err != nil {
		t.Fatal(err)
	}
	if got := ofType(e.eventLog(t), domain.EventVisitorIdentified); len(got) != 0 {
		t.Fatalf("a visitor without an identity recorded %d visitor.identified", len(got))
	}

	// At the start of a session with an identity.
	claim := domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Ann", Email: "ann@example.com", ExternalID: "u-1", Attributes: map[string]string{"plan": "pro"}}}
	other, token, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &claim)
	if err != nil {
		t.Fatal(err)
	}
	// The same again on the next page load: nothing changed, nothing recorded.
	if _, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", token, &claim); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.IdentifyVisitor(ctx(t), other.ID, claim); err != nil {
		t.Fatal(err)
	}
	// A change.
	claim.Identity.Name = "Ann Lee"
	if _, err := e.svc.IdentifyVisitor(ctx(t), other.ID, claim); err != nil {
		t.Fatal(err)
	}
	got := ofType(e.eventLog(t), domain.EventVisitorIdentified)
	if len(got) != 2 {
		t.Fatalf("visitor.identified recorded %d times, want 2 (start, change)", len(got))
	}
	for i, name := range []string{"Ann", "Ann Lee"} {
		ev := got[i]
		want := claim.Identity
		want.Name = name
		if ev.VisitorID != other.ID || ev.SiteID != "shop" || !ev.Identity.Equal(want) {
			t.Errorf("visitor.identified %d = %+v, want visitor %s on shop with %+v", i, ev, other.ID, want)
		}
	}

	// chat.rated.
	e.leave(t, chat.ID, vid)
	if _, err := e.svc.RateChat(ctx(t), chat.ID, vid, 4, " Quick, thanks "); err != nil {
		t.Fatal(err)
	}
	// A retry records nothing.
	if _, err := e.svc.RateChat(ctx(t), chat.ID, vid, 4, "Quick, thanks"); err != nil {
		t.Fatal(err)
	}
	rated := ofType(e.eventLog(t), domain.EventChatRated)
	if len(rated) != 1 {
		t.Fatalf("chat.rated recorded %d times, want 1", len(rated))
	}
	if ev := rated[0]; ev.ChatID != chat.ID || ev.VisitorID != vid || ev.AgentID != "agent-a" || ev.Score != 4 || ev.Text != "Quick, thanks" || ev.SiteID != "shop" {
		t.Errorf("chat.rated = %+v", ev)
	}

	// ListEvents's filter knows both types.
	for _, typ := range []domain.EventType{domain.EventVisitorIdentified, domain.EventChatRated} {
		if !typ.Valid() {
			t.Errorf("%s is not in the vocabulary", typ)
		}
	}

	// Erasure deletes both, of the erased visitors only.
	page.stop()
	e.clock.Advance(grace)
	e.settle(t)
	if err := e.svc.EraseVisitor(ctx(t), vid); err != nil {
		t.Fatal(err)
	}
	if got := ofType(e.eventLog(t), domain.EventChatRated); len(got) != 0 {
		t.Errorf("chat.rated of an erased visitor is still in the log")
	}
	if got := ofType(e.eventLog(t), domain.EventVisitorIdentified); len(got) != 2 {
		t.Errorf("erasing another visitor left %d visitor.identified of %s, want 2", len(got), other.ID)
	}
	if err := e.svc.EraseVisitor(ctx(t), other.ID); err != nil {
		t.Fatal(err)
	}
	if got := ofType(e.eventLog(t), domain.EventVisitorIdentified); len(got) != 0 {
		t.Errorf("visitor.identified of an erased visitor is still in the log")
	}
}
