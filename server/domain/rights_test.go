package domain_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// guarded runs a Watch call as a transport does: opened with token,
// authorized by check, sending only while its grant allows, and ending with
// the reason its grant gave, if any.
func guarded[T any](t *testing.T, e *env, token string, check func(context.Context, domain.Principal) error, watch func(context.Context, func(T) error) error) (*domain.StreamGrant, *stream[T]) {
	t.Helper()
	g, err := e.svc.AuthenticateStream(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Authorize(func() error { return check(g.Context(), g.Principal) }); err != nil {
		g.Release()
		t.Fatal(err)
	}
	s := startStream(t, func(c context.Context, send func(T) error) error {
		defer g.Release()
		defer context.AfterFunc(c, g.Release)() // the client goes away
		err := watch(g.Context(), func(u T) error {
			if err := g.Allowed(); err != nil {
				return err
			}
			return send(u)
		})
		if cause := context.Cause(g.Context()); g.Context().Err() != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	})
	return g, s
}

// ended waits until s has ended and returns its error.
func (s *stream[T]) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- nil // for stop at cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("the stream did not end within %v", waitTimeout)
		return nil
	}
}

// sent reports whether s sent an update that matches (read after it ended).
func (s *stream[T]) sent(match func(T) bool) bool {
	for {
		select {
		case u := <-s.updates:
			if match(u) {
				return true
			}
		default:
			return false
		}
	}
}

// rightsWorld: Eve serves sites A and B and has a session; Dana serves A
// and chats there with a visitor; Eve chats with another visitor of A; a
// third visitor browses B.
type rightsWorld struct {
	siteA, siteB      *domain.Site
	dana, eve         *domain.Agent
	eveToken          string
	danaChat, eveChat *domain.Chat
	onA, withEve, onB *domain.Visitor
}

func newRightsWorld(t *testing.T, e *env) *rightsWorld {
	t.Helper()
	w := &rightsWorld{}
	w.siteA, w.dana = e.siteWithAgent(t, 3)
	var err error
	if w.siteB, err = e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Other shop"}); err != nil {
		t.Fatal(err)
	}
	if w.eve, err = e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Eve", SiteIDs: []string{w.siteA.ID, w.siteB.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetAgentStatus(ctx(t), w.eve.ID, domain.StatusAvailable); err != nil {
		t.Fatal(err)
	}
	if _, w.eveToken, err = e.svc.CreateAgentSession(ctx(t), w.eve.ID, 0); err != nil {
		t.Fatal(err)
	}
	w.danaChat, w.onA = e.chatting(t, w.siteA, w.dana)
	w.eveChat, w.withEve = e.chatting(t, w.siteA, w.eve)
	w.onB = e.newVisitor(t, w.siteB.ID)
	e.visit(t, w.onB.ID, "https://other.example/")
	return w
}

// removeFromSiteA leaves Eve serving site B only.
func (w *rightsWorld) removeFromSiteA(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: w.eve.ID, SiteIDs: []string{w.siteB.ID}}, []string{"site_ids"}); err != nil {
		t.Fatal(err)
	}
}

func (w *rightsWorld) watchChat(t *testing.T, e *env, chatID string) (*domain.StreamGrant, *stream[domain.ChatUpdate]) {
	t.Helper()
	g, s := guarded(t, e, w.eveToken,
		func(c context.Context, p domain.Principal) error { return e.svc.CanReadChat(c, p, chatID) },
		func(c context.Context, send func(domain.ChatUpdate) error) error {
			return e.svc.WatchChat(c, chatID, 0, send)
		})
	s.next(t, chatEvent(isStarted))
	return g, s
}

func (w *rightsWorld) watchPresence(t *testing.T, e *env) (*domain.StreamGrant, *stream[domain.PresenceUpdate]) {
	t.Helper()
	return guarded(t, e, w.eveToken,
		func(context.Context, domain.Principal) error { return nil }, // the agent itself: see the rpc rules
		func(c context.Context, send func(domain.PresenceUpdate) error) error {
			return e.svc.WatchPresence(c, w.eve.ID, send)
		})
}

func isSnapshot(u domain.PresenceUpdate) bool { return u.Snapshot != nil }

func presenceOf(snapshot []domain.Presence) map[string]bool {
	out := map[string]bool{}
	for _, p := range snapshot {
		out[p.VisitorID] = true
	}
	return out
}

// TestOpenStreamsFollowRights: an agent taken off a site keeps nothing of
// it on its open streams, at once (hardening issue, point 5).
func TestOpenStreamsFollowRights(t *testing.T) {
	t.Run("WatchChatOfTheSiteEndsPermissionDenied", func(t *testing.T) {
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		g, s := w.watchChat(t, e, w.danaChat.ID)
		w.removeFromSiteA(t, e)
		// Nothing more is sent from the moment UpdateAgent returns, even
		// before the stream noticed.
		wantCode(t, g.Allowed(), domain.CodePermissionDenied)
		if _, err := e.svc.SendMessage(ctx(t), w.danaChat.ID, w.onA.ID, "my order number is 123", ""); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.ended(t), domain.CodePermissionDenied)
		if s.sent(func(u domain.ChatUpdate) bool { return u.Event != nil && u.Event.Message != nil }) {
			t.Error("a message of the site was sent after the agent left it")
		}
		wantCode(t, e.svc.CanReadChat(ctx(t), g.Principal, w.danaChat.ID), domain.CodePermissionDenied) // as GetChat
	})

	t.Run("ParticipantKeepsItsChat", func(t *testing.T) {
		// A participant may read its chat whatever its sites (CanReadChat,
		// as for GetChat): its stream goes on until the chat ends.
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		g, s := w.watchChat(t, e, w.eveChat.ID)
		w.removeFromSiteA(t, e)
		if _, err := e.svc.SendMessage(ctx(t), w.eveChat.ID, w.withEve.ID, "still there?", ""); err != nil {
			t.Fatal(err)
		}
		s.next(t, chatEvent(isMessage("still there?")))
		if err := g.Allowed(); err != nil {
			t.Fatalf("Allowed = %v, want nil", err)
		}
	})

	t.Run("WatchPresenceNarrows", func(t *testing.T) {
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		_, s := w.watchPresence(t, e)
		if got := presenceOf(s.next(t, isSnapshot).Snapshot); !got[w.onA.ID] || !got[w.onB.ID] {
			t.Fatalf("first snapshot has %v, want the visitors of both sites", got)
		}
		w.removeFromSiteA(t, e)
		// The next update is a snapshot of site B only …
		u := s.next(t, func(domain.PresenceUpdate) bool { return true })
		if got := presenceOf(u.Snapshot); u.Snapshot == nil || got[w.onA.ID] || got[w.withEve.ID] || !got[w.onB.ID] {
			t.Fatalf("after leaving site A got %+v, want a snapshot of site B only", u)
		}
		// … and site A's pages are not sent: site B's, viewed after them,
		// come first.
		if _, err := e.svc.RecordPageView(ctx(t), w.onA.ID, "https://shop.example/account/secret-order-123", "Order"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RecordPageView(ctx(t), w.onB.ID, "https://other.example/next", "Next"); err != nil {
			t.Fatal(err)
		}
		u = s.next(t, func(u domain.PresenceUpdate) bool { return u.Event != nil })
		if u.Event.Presence.SiteID != w.siteB.ID {
			t.Fatalf("got a change of %s (%s), want only site B's", u.Event.Presence.VisitorID, u.Event.Presence.CurrentPage.URL)
		}
	})

	t.Run("ChangeWhileOpening", func(t *testing.T) {
		// A change committed while the stream's first check runs is not
		// missed: the stream was registered before it.
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		g, err := e.svc.AuthenticateStream(context.Background(), w.eveToken)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Release()
		first := true
		err = g.Authorize(func() error {
			err := e.svc.CanReadChat(g.Context(), g.Principal, w.danaChat.ID)
			if first {
				first = false
				w.removeFromSiteA(t, e)
			}
			return err
		})
		if err != nil {
			t.Fatalf("first check: %v, want it passed on the state it read", err)
		}
		wantCode(t, g.Allowed(), domain.CodePermissionDenied)
		select { // and ended without a message to send
		case <-g.Context().Done():
		case <-time.After(waitTimeout):
			t.Fatal("the stream did not end")
		}
		wantCode(t, context.Cause(g.Context()), domain.CodePermissionDenied)
	})

	t.Run("SessionRevokedEndsEveryStream", func(t *testing.T) {
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		gc, chat := w.watchChat(t, e, w.danaChat.ID)
		_, presence := w.watchPresence(t, e)
		presence.next(t, isSnapshot)
		if _, err := e.svc.RevokeAgentSessions(ctx(t), w.eve.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, gc.Allowed(), domain.CodeUnauthenticated)
		wantCode(t, chat.ended(t), domain.CodeUnauthenticated)
		wantCode(t, presence.ended(t), domain.CodeUnauthenticated)
	})

	t.Run("EndedStreamsAreUnregistered", func(t *testing.T) {
		e := newEnv(t, 0)
		w := newRightsWorld(t, e)
		_, chat := w.watchChat(t, e, w.danaChat.ID)
		_, presence := w.watchPresence(t, e)
		presence.next(t, isSnapshot)
		if n := e.svc.OpenStreamGrants(); n != 2 {
			t.Fatalf("%d streams registered, want 2", n)
		}
		w.removeFromSiteA(t, e)
		chat.ended(t)
		presence.next(t, isSnapshot) // narrowed, still open
		presence.stop()
		if n := e.svc.OpenStreamGrants(); n != 0 {
			t.Fatalf("%d streams registered after they ended, want 0", n)
		}
	})
}

// heldStream runs a Watch call whose send, after handing an update over,
// waits until the test takes the next one: between two calls of next the
// stream's goroutine is held inside send, so whatever happens meanwhile is
// published while the stream has handled none of it.
type heldStream[T any] struct {
	updates chan T
	proceed chan struct{}
	held    bool
}

func startHeld[T any](t *testing.T, watch func(context.Context, func(T) error) error) *heldStream[T] {
	t.Helper()
	h := &heldStream[T]{updates: make(chan T), proceed: make(chan struct{})}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch(c, func(u T) error {
			select {
			case h.updates <- u:
			case <-c.Done():
				return c.Err()
			}
			select {
			case <-h.proceed:
				return nil
			case <-c.Done():
				return c.Err()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

// next lets the stream go on from the update it is held at, and returns
// the next one it sends, holding the stream there.
func (h *heldStream[T]) next(t *testing.T) T {
	t.Helper()
	timeout := time.After(waitTimeout)
	if h.held {
		select {
		case h.proceed <- struct{}{}:
		case <-timeout:
			t.Fatalf("the stream did not go on within %v", waitTimeout)
		}
	}
	select {
	case u := <-h.updates:
		h.held = true
		return u
	case <-timeout:
		t.Fatalf("no update within %v", waitTimeout)
	}
	panic("unreachable")
}

// aboutSite says what of an agent console's update shows the site, if
// anything. A withdrawn alert shows nothing: it takes back what was shown.
func aboutSite(u domain.AgentUpdate, siteID string) string {
	switch {
	case u.QueueChanged != nil && u.QueueChanged.SiteID == siteID:
		return "a queue change of " + u.QueueChanged.VisitorID
	case u.Alert != nil && u.Alert.Request.SiteID == siteID:
		return "an alert for " + u.Alert.Request.VisitorID
	case u.AgentChanged != nil && slices.Contains(u.AgentChanged.SiteIDs, siteID):
		return "the agent's record with the site"
	case u.Snapshot != nil:
		if slices.Contains(u.Snapshot.Agent.SiteIDs, siteID) {
			return "a snapshot of the site"
		}
		for _, r := range u.Snapshot.Queue {
			if r.SiteID == siteID {
				return "a snapshot with " + r.VisitorID + " in the queue"
			}
		}
	}
	return ""
}

// TestWatchAgentNothingOfARemovedSite: once UpdateAgent has taken an agent
// off a site, the agent's console is sent nothing of that site, not even
// what was published on the site's queue before the console had heard of
// the change; it starts again from a snapshot of the sites left, whose
// changes it goes on getting (hardening issue, point 5). The console is
// held inside send while everything happens, so that when it goes on its
// topics hold, in order: site B's request and its alert, Eve's change of
// sites, and only then site A's request.
func TestWatchAgentNothingOfARemovedSite(t *testing.T) {
	e := newEngine(t)
	pc := withoutInvite()
	pc.AlertTimeoutSeconds = 600
	e.site(t, "shop-a", pc)
	e.site(t, "shop-b", pc)
	e.agent(t, "eve", "Eve", 3, "shop-a", "shop-b")
	console := startHeld(t, func(c context.Context, send func(domain.AgentUpdate) error) error {
		return e.svc.WatchAgent(c, "eve", send)
	})
	if u := console.next(t); u.Snapshot == nil || !slices.Equal(u.Snapshot.Agent.SiteIDs, []string{"shop-a", "shop-b"}) {
		t.Fatalf("first update %+v, want a snapshot of sites A and B", u)
	}
	e.setStatus(t, "eve", domain.StatusAvailable)
	if u := console.next(t); u.AgentChanged == nil || u.AgentChanged.Status != domain.StatusAvailable {
		t.Fatalf("update %+v, want Eve available", u)
	}
	// From here the console is held in sending that change, following
	// its topics. A visitor of site B is queued and offered to Eve: the
	// alert waits on Eve's topic, ahead of what follows.
	onB := e.visitor(t, "shop-b")
	e.page(t, onB, home)
	e.clock.Advance(30 * time.Second)
	e.svc.WaitRouting()
	onA := e.visitor(t, "shop-a")
	e.page(t, onA, home)
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: "eve", SiteIDs: []string{"shop-b"}}, []string{"site_ids"}); err != nil {
		t.Fatal(err)
	}
	// After UpdateAgent has returned, but before the console has handled
	// the change, a visitor of site A is queued (and offered to nobody).
	e.clock.Advance(30 * time.Second)
	e.svc.WaitRouting()
	e.settle(t)
	if q := e.queue(t, "shop-a"); len(q) != 1 || q[0].VisitorID != onA {
		t.Fatalf("site A's queue %v, want %s", q, onA)
	}

	// Nothing the console is sent from now on shows site A; it starts again
	// from a snapshot of site B …
	var leaked []string
	check := func(u domain.AgentUpdate) {
		if what := aboutSite(u, "shop-a"); what != "" {
			leaked = append(leaked, what)
		}
	}
	for {
		u := console.next(t)
		check(u)
		if u.Snapshot != nil && !slices.Contains(u.Snapshot.Agent.SiteIDs, "shop-a") {
			if len(u.Snapshot.Alerts) != 1 || u.Snapshot.Alerts[0].Request.VisitorID != onB {
				t.Errorf("snapshot alerts %+v, want the one for %s", u.Snapshot.Alerts, onB)
			}
			break
		}
	}
	// … and goes on with site B's changes.
	if _, err := e.svc.LeaveQueue(ctx(t), onB); err != nil {
		t.Fatal(err)
	}
	for {
		u := console.next(t)
		check(u)
		if r := u.QueueChanged; r != nil && r.VisitorID == onB && r.State == domain.RequestAbandoned {
			break
		}
	}
	if len(leaked) > 0 {
		t.Errorf("after UpdateAgent took site A away, the console was sent %s", strings.Join(leaked, ", "))
	}
}
