package domain_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// The shared suites of the Service's mechanisms (mechanisms.go): each runs
// against every implementation that domain.MechanismSets names.

// firings records which callbacks ran, in order.
type firings struct {
	mu  sync.Mutex
	got []string
}

func (f *firings) fn(name string) func() {
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.got = append(f.got, name)
	}
}

// take returns what ran since the last take.
func (f *firings) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

func TestTimerScheduler(t *testing.T) {
	for name, m := range domain.MechanismSets() {
		t.Run(name, func(t *testing.T) {
			setup := func() (*fakeclock.Clock, domain.TimerScheduler, *firings) {
				clock := fakeclock.New(t0)
				return clock, domain.NewTimerScheduler(m, clock), &firings{}
			}
			t.Run("FiresAtItsTime", func(t *testing.T) {
				clock, ts, f := setup()
				ts.At("b", t0.Add(20*time.Second), f.fn("b"))
				ts.At("a", t0.Add(10*time.Second), f.fn("a"))
				clock.Advance(10*time.Second - time.Nanosecond)
				if got := f.take(); len(got) != 0 {
					t.Fatalf("fired early: %v", got)
				}
				clock.Advance(time.Nanosecond)
				equalStrings(t, "at 10s", f.take(), []string{"a"})
				clock.Advance(time.Hour)
				equalStrings(t, "later", f.take(), []string{"b"})
			})
			t.Run("PastTimeFiresAtOnce", func(t *testing.T) {
				clock, ts, f := setup()
				ts.At("a", t0.Add(-time.Hour), f.fn("a"))
				clock.Advance(0)
				equalStrings(t, "a deadline in the past", f.take(), []string{"a"})
			})
			t.Run("ArmingAgainReplaces", func(t *testing.T) {
				clock, ts, f := setup()
				ts.At("k", t0.Add(10*time.Second), f.fn("first"))
				ts.At("k", t0.Add(30*time.Second), f.fn("second"))
				clock.Advance(20 * time.Second)
				equalStrings(t, "after the first deadline", f.take(), nil)
				clock.Advance(10 * time.Second)
				equalStrings(t, "after the second", f.take(), []string{"second"})
				clock.Advance(time.Hour)
				equalStrings(t, "afterwards", f.take(), nil)
			})
			t.Run("Cancel", func(t *testing.T) {
				clock, ts, f := setup()
				ts.At("a", t0.Add(10*time.Second), f.fn("a"))
				ts.At("b", t0.Add(10*time.Second), f.fn("b"))
				ts.Cancel("a")
				ts.Cancel("nothing armed")
				clock.Advance(time.Hour)
				equalStrings(t, "after cancelling a", f.take(), []string{"b"})
			})
			t.Run("CallbackMayArmItsKey", func(t *testing.T) {
				// A deadline that reschedules itself (a retry, the next alert)
				// arms its own key from its callback.
				clock, ts, f := setup()
				var again func()
				n := 0
				again = func() {
					f.fn("tick")()
					if n++; n < 3 {
						ts.At("k", clock.Now().Add(time.Second), again)
					}
				}
				ts.At("k", t0.Add(time.Second), again)
				clock.Advance(time.Hour)
				equalStrings(t, "self-rearming deadline", f.take(), []string{"tick", "tick", "tick"})
			})
			t.Run("Retry", func(t *testing.T) {
				clock, ts, f := setup()
				full := domain.Errorf(domain.CodeUnavailable, "disk full")
				if ts.Retry("k", errors.New("other"), f.fn("other")) {
					t.Error("Retry took an error that is not CodeUnavailable")
				}
				if !ts.Retry("k", full, f.fn("retry")) {
					t.Fatal("Retry refused a CodeUnavailable error")
				}
				clock.Advance(domain.StoreRetryDelay - time.Nanosecond)
				equalStrings(t, "before the retry delay", f.take(), nil)
				clock.Advance(time.Nanosecond)
				equalStrings(t, "after the retry delay", f.take(), []string{"retry"})

				// A key armed meanwhile keeps its newer deadline.
				ts.At("k", t0.Add(time.Hour), f.fn("newer"))
				if !ts.Retry("k", full, f.fn("retry")) {
					t.Fatal("Retry refused a CodeUnavailable error")
				}
				clock.Advance(2 * time.Hour)
				equalStrings(t, "retry of a key armed meanwhile", f.take(), []string{"newer"})
			})
			t.Run("Stop", func(t *testing.T) {
				clock, ts, f := setup()
				ts.At("a", t0.Add(time.Second), f.fn("a"))
				ts.Stop()
				ts.At("b", t0.Add(time.Second), f.fn("b"))
				clock.Advance(time.Hour)
				equalStrings(t, "after Stop", f.take(), nil)
				if n := clock.PendingTimers(); n != 0 {
					t.Errorf("%d timers left on the clock after Stop", n)
				}
			})
		})
	}
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// mechanismService is a Service with the mechanisms m, on a fake clock.
func mechanismService(t *testing.T, m domain.Mechanisms) (*domain.Service, *fakeclock.Clock, *bolt.Store) {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(t0)
	svc := domain.NewService(domain.Config{
		Store: store, Broker: inmem.NewBroker(0), Clock: clock,
		PresenceGrace: grace, KeepAliveInterval: keepAlive, AgentQueueInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Mechanisms: m,
	})
	t.Cleanup(func() {
		svc.Close()
		store.Close()
	})
	return svc, clock, store
}

func TestPresenceManager(t *testing.T) {
	for name, m := range domain.MechanismSets() {
		t.Run(name, func(t *testing.T) {
			setup := func(t *testing.T) (domain.PresenceManager, *fakeclock.Clock) {
				svc, clock, store := mechanismService(t, m)
				// The visitors are stored, so that their departures write.
				err := store.Update(context.Background(), func(tx domain.WriteTx) error {
					for _, v := range []string{"vis_1", "vis_2", "vis_3"} {
						if err := tx.PutVisitor(&domain.Visitor{ID: v, SiteID: "site_1", CreateTime: t0}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				return svc.Presence(), clock
			}
			visitor := func(id, site string) *domain.Visitor {
				return &domain.Visitor{ID: id, SiteID: site, CurrentPage: domain.PageView{URL: "https://shop.example/" + id, ViewTime: t0},
					Engagement: domain.EngagementBrowsing}
			}

			t.Run("Visit", func(t *testing.T) {
				p, clock := setup(t)
				newVisit, start, back, err := p.Opened(visitor("vis_1", "site_1"), true)
				if err != nil || !newVisit || !start.Equal(t0) || back {
					t.Fatalf("first stream: new %v, start %v, back %v, %v", newVisit, start, back, err)
				}
				clock.Advance(5 * time.Second)
				newVisit, start, back, err = p.Opened(visitor("vis_1", "site_1"), false)
				if err != nil || newVisit || !start.Equal(t0) || back {
					t.Fatalf("second tab: new %v, start %v, back %v, %v", newVisit, start, back, err)
				}
				pr, ok := p.Get("vis_1")
				if !ok || pr.OpenStreams != 2 || pr.SiteID != "site_1" || pr.TimeOnSite != 5*time.Second || pr.CurrentPage.URL != "https://shop.example/vis_1" {
					t.Fatalf("Get: %+v, %v", pr, ok)
				}
				if p.Closed("vis_1") {
					t.Error("closing one of two streams reported the last")
				}
				if !p.Closed("vis_1") {
					t.Error("closing the last stream was not reported")
				}
				at, ok := p.DepartsAt("vis_1")
				if !ok || !at.Equal(clock.Now().Add(grace)) {
					t.Errorf("DepartsAt: %v, %v; want %v", at, ok, clock.Now().Add(grace))
				}
				// Back within the grace: the same visit goes on.
				clock.Advance(grace - time.Second)
				newVisit, start, back, err = p.Opened(visitor("vis_1", "site_1"), true)
				if err != nil || newVisit || !start.Equal(t0) || !back {
					t.Fatalf("back within the grace: new %v, start %v, back %v, %v", newVisit, start, back, err)
				}
				if _, ok := p.DepartsAt("vis_1"); ok {
					t.Error("DepartsAt of a visitor with an open stream")
				}
				p.Closed("vis_1")
				clock.Advance(grace - time.Nanosecond)
				if !p.Online("vis_1") {
					t.Fatal("departed before the grace ended")
				}
				clock.Advance(time.Nanosecond)
				if p.Online("vis_1") {
					t.Fatal("still online after the grace")
				}
				if _, ok := p.Get("vis_1"); ok {
					t.Error("Get of a departed visitor")
				}
				newVisit, start, _, _ = p.Opened(visitor("vis_1", "site_1"), true)
				if !newVisit || !start.Equal(clock.Now()) {
					t.Errorf("after departing: new visit %v at %v", newVisit, start)
				}
			})

			t.Run("StreamLimit", func(t *testing.T) {
				p, _ := setup(t)
				for range domain.MaxStreamsPerVisitor {
					if _, _, _, err := p.Opened(visitor("vis_1", "site_1"), false); err != nil {
						t.Fatal(err)
					}
				}
				_, _, _, err := p.Opened(visitor("vis_1", "site_1"), false)
				wantCode(t, err, domain.CodeResourceExhausted)
				if pr, _ := p.Get("vis_1"); pr.OpenStreams != domain.MaxStreamsPerVisitor {
					t.Errorf("a refused stream was counted: %d open", pr.OpenStreams)
				}
			})

			t.Run("SitesAndChanges", func(t *testing.T) {
				p, clock := setup(t)
				p.Opened(visitor("vis_1", "site_1"), true)
				clock.Advance(time.Second)
				snap, watch := p.Watch([]string{"site_1"})
				if len(snap) != 1 || snap[0].VisitorID != "vis_1" {
					t.Fatalf("snapshot: %+v", snap)
				}
				p.Opened(visitor("vis_2", "site_1"), true)
				p.Opened(visitor("vis_3", "site_2"), true)
				p.PageViewed("vis_1", domain.PageView{URL: "https://shop.example/cart", ViewTime: clock.Now()})
				v := visitor("vis_1", "site_1")
				v.Engagement, v.ActiveChatID, v.Identity = domain.EngagementChatting, "chat_1", domain.VisitorIdentity{Name: "Bo"}
				p.EngagementChanged(v)
				equalStrings(t, "OnSite(site_1)", sortedStrings(p.OnSite("site_1")), []string{"vis_1", "vis_2"})
				equalStrings(t, "OnSite(site_2)", p.OnSite("site_2"), []string{"vis_3"})
				pr, _ := p.Get("vis_1")
				if pr.CurrentPage.URL != "https://shop.example/cart" || pr.Engagement != domain.EngagementChatting || pr.ActiveChatID != "chat_1" || pr.Identity.Name != "Bo" {
					t.Errorf("presence after a page view and an engagement change: %+v", pr)
				}
				// The watch heard site_1's changes in order, vis_1's merged into one.
				evs := watch.Take()
				var got []string
				for _, ev := range evs {
					got = append(got, ev.Presence.VisitorID)
				}
				equalStrings(t, "changes watched", got, []string{"vis_2", "vis_1"})
				if evs[0].Change != domain.PresenceArrived || evs[1].Change != domain.PresenceChanged || evs[1].Presence.ActiveChatID != "chat_1" {
					t.Errorf("changes watched: %+v %+v", evs[0], evs[1])
				}
				// Longest visit first.
				all := p.Snapshot([]string{"site_1", "site_2"})
				var order []string
				for _, pr := range all {
					order = append(order, pr.VisitorID)
				}
				equalStrings(t, "snapshot order", order, []string{"vis_1", "vis_2", "vis_3"})
				p.Unwatch([]string{"site_1"}, watch)
				p.Closed("vis_2")
				clock.Advance(grace)
				if evs := watch.Take(); len(evs) != 0 {
					t.Errorf("changes after Unwatch: %v", evs)
				}
			})

			t.Run("MassDisconnect", func(t *testing.T) {
				// Every stream closing in the same second is a network
				// failure, not 150 departures: they all get the longer grace.
				p, clock := setup(t)
				const n = 150
				for i := range n {
					p.Opened(visitor(fmt.Sprint("vis_m", i), "site_1"), true)
				}
				clock.Advance(time.Minute)
				for i := range n {
					p.Closed(fmt.Sprint("vis_m", i))
				}
				for i := range n {
					at, ok := p.DepartsAt(fmt.Sprint("vis_m", i))
					if want := clock.Now().Add(domain.DefaultMassDisconnectGrace); !ok || !at.Equal(want) {
						t.Fatalf("visitor %d of a mass disconnect departs at %v, %v; want %v", i, at, ok, want)
					}
				}
				clock.Advance(domain.DefaultMassDisconnectGrace - time.Nanosecond)
				if len(p.OnSite("site_1")) != n {
					t.Fatalf("%d of %d visitors left within the mass disconnect grace", n-len(p.OnSite("site_1")), n)
				}
				clock.Advance(time.Nanosecond)
				if left := p.OnSite("site_1"); len(left) != 0 {
					t.Errorf("%d visitors still on the site after the mass disconnect grace", len(left))
				}
			})

			t.Run("Stop", func(t *testing.T) {
				p, clock := setup(t)
				p.Opened(visitor("vis_1", "site_1"), true)
				p.Closed("vis_1")
				p.Stop()
				clock.Advance(time.Hour)
				if !p.Online("vis_1") {
					t.Error("a departure ran after Stop")
				}
			})
		})
	}
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestCredentialCache(t *testing.T) {
	hash := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	agent := domain.Principal{Kind: domain.AgentPrincipal, ID: "agt_1", SessionID: "ses_1"}
	visitor := domain.Principal{Kind: domain.VisitorPrincipal, ID: "vis_1", SiteID: "site_1"}
	for name, m := range domain.MechanismSets() {
		t.Run(name, func(t *testing.T) {
			t.Run("RememberAndRevoke", func(t *testing.T) {
				c := domain.NewCredentialCache(m)
				_, found, gen := c.Cached(hash("a"))
				if found {
					t.Fatal("an empty cache found a token")
				}
				c.Remember(hash("a"), domain.TokenPrincipal(agent, hash("a")), gen)
				c.Remember(hash("v"), domain.TokenPrincipal(visitor, hash("v")), gen)
				if p, found, _ := c.Cached(hash("a")); !found || p.ID != "agt_1" {
					t.Fatalf("Cached after Remember: %+v, %v", p, found)
				}
				c.Revoke(func(p domain.Principal) bool { return p.Kind == domain.AgentPrincipal })
				if _, found, _ := c.Cached(hash("a")); found {
					t.Error("a revoked principal is still cached")
				}
				if _, found, _ := c.Cached(hash("v")); !found {
					t.Error("a principal that did not match the revocation is gone")
				}
			})
			t.Run("LookupRacingARevocation", func(t *testing.T) {
				// A lookup that read the store before a revocation must not
				// cache what it read, nor bind a stream.
				c := domain.NewCredentialCache(m)
				_, _, gen := c.Cached(hash("a"))
				c.Revoke(func(domain.Principal) bool { return false })
				c.Remember(hash("a"), agent, gen)
				if _, found, _ := c.Cached(hash("a")); found {
					t.Error("a lookup older than a revocation was cached")
				}
				if _, ok := c.Bind(agent, gen); ok {
					t.Error("a stream found valid before a revocation was bound")
				}
				_, _, gen2 := c.Cached(hash("a"))
				c.ForgetVisitors([]string{"vis_9"})
				if _, ok := c.Bind(agent, gen2); ok {
					t.Error("a stream found valid before visitors were deleted was bound")
				}
			})
			t.Run("RevokeEndsStreams", func(t *testing.T) {
				c := domain.NewCredentialCache(m)
				_, _, gen := c.Cached(hash("a"))
				a, ok := c.Bind(agent, gen)
				v, ok2 := c.Bind(visitor, gen)
				gone, ok3 := c.Bind(agent, gen)
				if !ok || !ok2 || !ok3 {
					t.Fatal("Bind refused a current stream")
				}
				gone.Unbind()
				c.Revoke(func(p domain.Principal) bool { return p.ID == "agt_1" })
				if cause := context.Cause(a.Context()); domain.ErrorCode(cause) != domain.CodeUnauthenticated {
					t.Errorf("revoked stream's cause: %v", cause)
				}
				if v.Context().Err() != nil || gone.Context().Err() != nil {
					t.Error("a revocation ended a stream that did not match or was unbound")
				}
			})
			t.Run("ForgetVisitor", func(t *testing.T) {
				c := domain.NewCredentialCache(m)
				_, _, gen := c.Cached(hash("v"))
				c.Remember(hash("v"), domain.TokenPrincipal(visitor, hash("v")), gen)
				c.Remember(hash("a"), domain.TokenPrincipal(agent, hash("a")), gen)
				c.ForgetVisitor("vis_1")
				if _, found, _ := c.Cached(hash("v")); found {
					t.Error("a visitor who left is still cached")
				}
				if _, found, _ := c.Cached(hash("a")); !found {
					t.Error("ForgetVisitor took an agent's token")
				}
				// Leaving is no revocation: lookups under way may cache.
				_, _, gen2 := c.Cached(hash("v"))
				if gen2 != gen {
					t.Error("ForgetVisitor counted as a revocation")
				}
			})
			t.Run("RightsChanged", func(t *testing.T) {
				c := domain.NewCredentialCache(m)
				_, _, gen := c.Cached(hash("a"))
				a, _ := c.Bind(agent, gen)
				v, _ := c.Bind(visitor, gen)
				c.RightsChanged(func(p domain.Principal) bool { return p.Kind == domain.AgentPrincipal && p.ID == "agt_1" })
				if a.Noticed() != 1 || v.Noticed() != 0 {
					t.Errorf("noticed changes: agent %d, visitor %d; want 1, 0", a.Noticed(), v.Noticed())
				}
				if a.Context().Err() != nil {
					t.Error("a change of rights ended a stream with no check to fail")
				}
			})
		})
	}
}

func TestOriginCache(t *testing.T) {
	for name, m := range domain.MechanismSets() {
		t.Run(name, func(t *testing.T) {
			c := domain.NewOriginCache(m)
			if c.Allowed("https://a.example") {
				t.Error("an empty cache allowed an origin")
			}
			c.Replace(map[string]bool{"https://a.example": true, "https://b.example": true})
			if !c.Allowed("https://a.example") || !c.Allowed("https://b.example") || c.Allowed("https://c.example") {
				t.Error("Allowed does not follow the set")
			}
			c.Replace(map[string]bool{"https://c.example": true})
			if c.Allowed("https://a.example") || !c.Allowed("https://c.example") {
				t.Error("Replace did not replace the whole set")
			}
		})
	}
}
