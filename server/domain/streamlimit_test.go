package domain_test

import (
	"context"
	"sync"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestStreamsPerVisitor: a visitor may have MaxStreamsPerVisitor widget
// streams open (tabs); the next is refused with ResourceExhausted and counts
// for nothing, and once one closes another may open. Other visitors are
// unaffected.
func TestStreamsPerVisitor(t *testing.T) {
	e := newEnv(t, 0)
	site, _ := e.siteWithAgent(t, 1)
	v := e.newVisitor(t, site.ID)
	var tabs []*stream[domain.VisitorUpdate]
	for range domain.MaxStreamsPerVisitor {
		tabs = append(tabs, e.visit(t, v.ID, "https://shop.example/"))
	}

	watch := func(visitorID string) error {
		return e.svc.WatchVisitor(ctx(t), domain.VisitorWatch{VisitorID: visitorID}, func(domain.VisitorUpdate) error {
			return context.Canceled // not reached when refused; ends the stream at once otherwise
		})
	}
	err := watch(v.ID)
	wantCode(t, err, domain.CodeResourceExhausted)
	t.Logf("refused: %v", err)

	online, err := e.svc.ListOnlineVisitors(ctx(t), site.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(online) != 1 || online[0].OpenStreams != domain.MaxStreamsPerVisitor {
		t.Fatalf("online = %+v, want the visitor with %d streams", online, domain.MaxStreamsPerVisitor)
	}

	other := e.newVisitor(t, site.ID)
	e.visit(t, other.ID, "https://shop.example/").stop()

	tabs[0].stop()
	e.visit(t, v.ID, "https://shop.example/pricing") // room again
	wantCode(t, watch(v.ID), domain.CodeResourceExhausted)
}

// TestStreamCapsPerCredential: each agent session, admin key and visitor
// may hold StreamCap streams of each kind; the next is refused with
// ResourceExhausted and counts for nothing, and a stream that ends makes
// room. Each credential and each kind counts on its own.
func TestStreamCapsPerCredential(t *testing.T) {
	e := newEnv(t, 0)
	holders := []domain.Principal{
		{Kind: domain.AgentPrincipal, ID: "agent-a", SessionID: "session_1"},
		{Kind: domain.AdminPrincipal, ID: "key_1"},
		{Kind: domain.VisitorPrincipal, ID: "visitor_1", SiteID: "site_1"},
	}
	for _, kind := range domain.StreamKinds {
		for _, p := range holders {
			pk := p.Kind
			t.Run(kind.String()+"/"+pk.String(), func(t *testing.T) {
				limit := domain.StreamCapOf(kind).For(pk)
				refusedBefore := e.svc.StreamsRefused()[kind]
				var open []func()
				for range limit {
					release, err := e.svc.OpenStream(p, kind)
					if err != nil {
						t.Fatalf("stream %d of %d: %v", len(open)+1, limit, err)
					}
					open = append(open, release)
				}
				_, err := e.svc.OpenStream(p, kind)
				wantCode(t, err, domain.CodeResourceExhausted)
				_, err = e.svc.OpenStream(p, kind) // the refused one took no room, nor does this
				wantCode(t, err, domain.CodeResourceExhausted)
				if got := e.svc.StreamsRefused()[kind] - refusedBefore; got != 2 {
					t.Errorf("refused %d streams, counted %d", 2, got)
				}
				if limit == 0 {
					return // the access rules never let this principal open one
				}
				t.Logf("stream %d refused: %v", limit+1, err)

				// Another credential of the same kind of principal, and
				// another session of the same agent, have their own room.
				other := p
				other.ID += "-other"
				other.SessionID += "-other"
				if pk == domain.AgentPrincipal {
					other.ID = p.ID
				}
				release, err := e.svc.OpenStream(other, kind)
				if err != nil {
					t.Fatalf("another credential: %v", err)
				}
				release()

				open[0]()
				open[0]() // twice is once
				if open[0], err = e.svc.OpenStream(p, kind); err != nil {
					t.Fatalf("after one closed: %v", err)
				}
				_, err = e.svc.OpenStream(p, kind)
				wantCode(t, err, domain.CodeResourceExhausted)
				for _, release := range open {
					release()
				}
			})
		}
	}

	t.Run("KindsCountApart", func(t *testing.T) {
		p := holders[0] // the agent session
		var open []func()
		for range domain.StreamCapOf(domain.StreamWatchPresence).For(domain.AgentPrincipal) {
			release, err := e.svc.OpenStream(p, domain.StreamWatchPresence)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, release)
		}
		release, err := e.svc.OpenStream(p, domain.StreamWatchAgent)
		if err != nil {
			t.Fatalf("WatchAgent beside a full WatchPresence: %v", err)
		}
		release()
		for _, release := range open {
			release()
		}
	})
}

// TestStreamCapsUnderConcurrency: of many streams opening at once for one
// session, exactly the cap's number get in, and once they have all ended
// the session has its whole room again.
func TestStreamCapsUnderConcurrency(t *testing.T) {
	e := newEnv(t, 0)
	p := domain.Principal{Kind: domain.AgentPrincipal, ID: "agent-a", SessionID: "session_1"}
	limit := domain.StreamCapOf(domain.StreamWatchPresence).For(domain.AgentPrincipal)
	for round := range 3 {
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			releases []func()
			refused  int
		)
		start := make(chan struct{})
		for range 8 * limit {
			wg.Go(func() {
				<-start
				release, err := e.svc.OpenStream(p, domain.StreamWatchPresence)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if domain.ErrorCode(err) != domain.CodeResourceExhausted {
						t.Errorf("refused with %v", err)
					}
					refused++
					return
				}
				releases = append(releases, release)
			})
		}
		close(start)
		wg.Wait()
		if len(releases) != limit || refused != 7*limit {
			t.Fatalf("round %d: %d streams open, %d refused; want %d and %d", round, len(releases), refused, limit, 7*limit)
		}
		// End them concurrently too.
		for _, release := range releases {
			wg.Go(release)
		}
		wg.Wait()
	}
}

// TestStreamCapNumbers: the caps the README documents, and what they must
// leave room for.
func TestStreamCapNumbers(t *testing.T) {
	presence := domain.StreamCapOf(domain.StreamWatchPresence).PerAgentSession
	if presence < 1 || presence > 64 {
		t.Errorf("WatchPresence per agent session = %d, want 1 to 64", presence)
	}
	for _, kind := range []domain.StreamKind{domain.StreamWatchChat, domain.StreamConverse} {
		// An agent at the largest capacity follows each of its chats from
		// two consoles.
		if got := domain.StreamCapOf(kind).PerAgentSession; got < 2*domain.MaxConcurrentChatsCap {
			t.Errorf("%s per agent session = %d, want at least %d", kind, got, 2*domain.MaxConcurrentChatsCap)
		}
	}
	if got := domain.StreamCapOf(domain.StreamWatchChat).PerVisitor; got != domain.MaxStreamsPerVisitor {
		t.Errorf("WatchChat per visitor = %d, want %d as for widget streams", got, domain.MaxStreamsPerVisitor)
	}
}
