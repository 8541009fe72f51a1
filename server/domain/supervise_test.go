package domain_test

import (
	"context"
	"slices"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// supervised is a site with an agent in a chat, a second site with its own
// chat, and a supervisor of the first site who serves the second.
type supervised struct {
	site, other       *domain.Site
	agent, colleague  *domain.Agent // colleague serves other, in otherChat
	sup               *domain.Agent
	chat, otherChat   *domain.Chat
	visitorID         string
	visitorStream     *stream[domain.VisitorUpdate]
	otherVisitorWatch *stream[domain.VisitorUpdate]
}

func newSupervised(t *testing.T, e *env) *supervised {
	t.Helper()
	w := &supervised{}
	w.site, w.agent = e.siteWithAgent(t, 3)
	w.other, w.colleague = e.siteWithAgent(t, 3)
	var err error
	w.sup, err = e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Sam", SiteIDs: []string{w.other.ID}, SupervisedSiteIDs: []string{w.site.ID}})
	if err != nil {
		t.Fatal(err)
	}
	v := e.newVisitor(t, w.site.ID)
	w.visitorID = v.ID
	w.visitorStream = e.visit(t, v.ID, "https://shop.example/")
	if w.chat, err = e.svc.StartChat(ctx(t), w.agent.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	ov := e.newVisitor(t, w.other.ID)
	w.otherVisitorWatch = e.visit(t, ov.ID, "https://other.example/")
	if w.otherChat, err = e.svc.StartChat(ctx(t), w.colleague.ID, ov.ID); err != nil {
		t.Fatal(err)
	}
	return w
}

func agentP(id string) domain.Principal { return domain.Principal{Kind: domain.AgentPrincipal, ID: id} }

func TestSupervisorRights(t *testing.T) {
	e := newEnv(t, 0)
	w := newSupervised(t, e)

	t.Run("ReadsChatsOfSupervisedSites", func(t *testing.T) {
		if err := e.svc.CanReadChat(ctx(t), agentP(w.sup.ID), w.chat.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CanReadSite(ctx(t), agentP(w.sup.ID), w.site.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CanSuperviseSite(ctx(t), agentP(w.sup.ID), w.site.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CanReadWhispers(ctx(t), agentP(w.sup.ID), w.chat.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrNotOtherSites", func(t *testing.T) {
		// Sam serves the other site but does not supervise it: he reads
		// its chats as any agent serving it does, but may not supervise.
		wantCode(t, e.svc.CanSuperviseSite(ctx(t), agentP(w.sup.ID), w.other.ID), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanReadWhispers(ctx(t), agentP(w.sup.ID), w.otherChat.ID), domain.CodePermissionDenied)
		_, err := e.svc.Whisper(ctx(t), w.otherChat.ID, w.sup.ID, "hello")
		wantCode(t, err, domain.CodePermissionDenied)
	})
	t.Run("ErrAgentsStillCannotReadOtherSitesChats", func(t *testing.T) {
		wantCode(t, e.svc.CanReadChat(ctx(t), agentP(w.agent.ID), w.otherChat.ID), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanReadChat(ctx(t), agentP(w.colleague.ID), w.chat.ID), domain.CodePermissionDenied)
		wantCode(t, e.svc.CanSuperviseSite(ctx(t), agentP(w.agent.ID), w.site.ID), domain.CodePermissionDenied)
	})
	t.Run("ErrVisitorNeverReadsWhispers", func(t *testing.T) {
		p := domain.Principal{Kind: domain.VisitorPrincipal, ID: w.visitorID, SiteID: w.site.ID}
		wantCode(t, e.svc.CanReadWhispers(ctx(t), p, w.chat.ID), domain.CodePermissionDenied)
	})
}

func TestSupervisedSitesValidation(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 1)
	t.Run("ErrSiteMissingOnCreate", func(t *testing.T) {
		_, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Sam", SupervisedSiteIDs: []string{site.ID, "site_nope"}})
		if got := violationFields(t, err); !slices.Equal(got, []string{"supervised_site_ids[1]"}) {
			t.Fatalf("fields = %v", got)
		}
	})
	t.Run("ErrDuplicateOnUpdate", func(t *testing.T) {
		_, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: agent.ID, SupervisedSiteIDs: []string{site.ID, site.ID}}, []string{"supervised_site_ids"})
		if got := violationFields(t, err); !slices.Equal(got, []string{"supervised_site_ids[1]"}) {
			t.Fatalf("fields = %v", got)
		}
	})
	t.Run("OK", func(t *testing.T) {
		a, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: agent.ID, SupervisedSiteIDs: []string{site.ID}}, []string{"supervised_site_ids"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.svc.GetAgent(ctx(t), agent.ID)
		if !slices.Equal(a.SupervisedSiteIDs, []string{site.ID}) || !slices.Equal(got.SupervisedSiteIDs, []string{site.ID}) || !slices.Equal(got.SiteIDs, []string{site.ID}) {
			t.Fatalf("agent = %+v, stored %+v", a, got)
		}
	})
}

func TestListLiveChats(t *testing.T) {
	e := newEnv(t, 0)
	w := newSupervised(t, e)
	chats, err := e.svc.ListLiveChats(ctx(t), w.site.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(chats) != 1 || chats[0].ID != w.chat.ID || chats[0].Agent.ID != w.agent.ID {
		t.Fatalf("live chats = %+v", chats)
	}
	e.svc.LeaveChat(ctx(t), w.chat.ID, w.agent.ID)
	e.svc.LeaveChat(ctx(t), w.chat.ID, w.visitorID)
	if chats, err = e.svc.ListLiveChats(ctx(t), w.site.ID); err != nil || len(chats) != 0 {
		t.Fatalf("after the chat ended: %v, %v", chats, err)
	}
	_, err = e.svc.ListLiveChats(ctx(t), "")
	wantCode(t, err, domain.CodeInvalid)
}

// TestWhisper: a whisper reaches the chat's agent on its console stream,
// is kept for ListWhispers, and is no chat event: the visitor's stream
// and the chat's events never carry it.
func TestWhisper(t *testing.T) {
	e := newEnv(t, 0)
	w := newSupervised(t, e)
	console, _ := consoleOf(t, e, w.agent.ID)
	chatStream := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return e.svc.WatchChat(c, w.chat.ID, 0, send)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := e.svc.Whisper(ctx(t), w.chat.ID, w.sup.ID, "  ")
		if got := violationFields(t, err); !slices.Equal(got, []string{"text"}) {
			t.Fatalf("fields = %v", got)
		}
	})
	wh, err := e.svc.Whisper(ctx(t), w.chat.ID, w.sup.ID, "Offer the discount")
	if err != nil {
		t.Fatal(err)
	}
	if wh.Seq != 1 || wh.FromName != "Sam" || wh.Text != "Offer the discount" {
		t.Fatalf("whisper = %+v", wh)
	}
	got := console.next(t, func(u domain.AgentUpdate) bool { return u.Whisper != nil })
	if *got.Whisper != wh {
		t.Fatalf("console got %+v, want %+v", got.Whisper, wh)
	}
	// A message after the whisper: the visitor's and the chat's streams
	// get it, with nothing of the whisper before it.
	e.svc.SendMessage(ctx(t), w.chat.ID, w.agent.ID, "after", "")
	for _, u := range drainUntil(t, w.visitorStream, func(u domain.VisitorUpdate) bool {
		return u.Event != nil && u.Event.Message != nil && u.Event.Message.Text == "after"
	}) {
		if u.Event != nil && u.Event.Message != nil && u.Event.Message.Text == wh.Text {
			t.Fatal("the visitor's stream carried the whisper")
		}
	}
	for _, u := range drainUntil(t, chatStream, func(u domain.ChatUpdate) bool {
		return u.Event != nil && u.Event.Message != nil && u.Event.Message.Text == "after"
	}) {
		if u.Event != nil && u.Event.Message != nil && u.Event.Message.Text == wh.Text {
			t.Fatal("the chat's stream carried the whisper")
		}
	}
	list, err := e.svc.ListWhispers(ctx(t), w.chat.ID)
	if err != nil || len(list) != 1 || list[0] != wh {
		t.Fatalf("ListWhispers = %+v, %v", list, err)
	}
	t.Run("ErrChatEnded", func(t *testing.T) {
		e.svc.LeaveChat(ctx(t), w.chat.ID, w.agent.ID)
		e.svc.LeaveChat(ctx(t), w.chat.ID, w.visitorID)
		_, err := e.svc.Whisper(ctx(t), w.chat.ID, w.sup.ID, "too late")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("DeletedWithTheChat", func(t *testing.T) {
		if err := e.store.Update(ctx(t), func(tx domain.WriteTx) error { return tx.DeleteChat(w.chat.ID) }); err != nil {
			t.Fatal(err)
		}
		var left []domain.Whisper
		e.store.View(ctx(t), func(tx domain.ReadTx) error {
			left, err = tx.ChatWhispers(w.chat.ID)
			return err
		})
		if err != nil || len(left) != 0 {
			t.Fatalf("whispers left: %+v, %v", left, err)
		}
	})
}

// TestSupervisorStreamsFollowRights: a supervisor's WatchPresence shows
// the supervised site, and starts again without it once it is taken away.
func TestSupervisorStreamsFollowRights(t *testing.T) {
	e := newEnv(t, 0)
	w := newSupervised(t, e)
	presence := startStream(t, func(c context.Context, send func(domain.PresenceUpdate) error) error {
		return e.svc.WatchPresence(c, w.sup.ID, send)
	})
	snap := presence.next(t, func(u domain.PresenceUpdate) bool { return u.Snapshot != nil })
	if !hasVisitor(snap.Snapshot, w.visitorID) {
		t.Fatalf("snapshot %+v lacks the supervised site's visitor", snap.Snapshot)
	}
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: w.sup.ID}, []string{"supervised_site_ids"}); err != nil {
		t.Fatal(err)
	}
	snap = presence.next(t, func(u domain.PresenceUpdate) bool { return u.Snapshot != nil })
	if hasVisitor(snap.Snapshot, w.visitorID) {
		t.Fatalf("snapshot %+v still shows the site no longer supervised", snap.Snapshot)
	}
	wantCode(t, e.svc.CanReadChat(ctx(t), agentP(w.sup.ID), w.chat.ID), domain.CodePermissionDenied)
}

func hasVisitor(ps []domain.Presence, id string) bool {
	return slices.ContainsFunc(ps, func(p domain.Presence) bool { return p.VisitorID == id })
}

func consoleOf(t *testing.T, e *env, agentID string) (*stream[domain.AgentUpdate], *domain.AgentSnapshot) {
	t.Helper()
	s := startStream(t, func(c context.Context, send func(domain.AgentUpdate) error) error {
		return e.svc.WatchAgent(c, agentID, send)
	})
	return s, s.next(t, func(u domain.AgentUpdate) bool { return u.Snapshot != nil }).Snapshot
}

// drainUntil returns the updates up to and including the first that
// matches.
func drainUntil[T any](t *testing.T, s *stream[T], match func(T) bool) []T {
	t.Helper()
	var seen []T
	s.next(t, func(u T) bool {
		seen = append(seen, u)
		return match(u)
	})
	return seen
}
