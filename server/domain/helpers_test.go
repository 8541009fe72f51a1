package domain_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// waitTimeout bounds how long a test waits for a stream; it only fires when
// a feature is broken, so a failure is reported instead of a hang.
const waitTimeout = 10 * time.Second

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

type env struct {
	svc   *domain.Service
	clock *fakeclock.Clock
	store *bolt.Store
}

const (
	grace     = 15 * time.Second
	keepAlive = 30 * time.Second
)

func newEnv(t *testing.T, brokerBuffer int) *env {
	t.Helper()
	return newEnvWith(t, brokerBuffer, func(c *fakeclock.Clock) domain.Clock { return c })
}

// newEnvWith is newEnv with the service reading the time through
// clockOf(the env's fake clock).
func newEnvWith(t *testing.T, brokerBuffer int, clockOf func(*fakeclock.Clock) domain.Clock) *env {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(t0)
	svc := domain.NewService(domain.Config{
		Store:             store,
		Broker:            inmem.NewBroker(brokerBuffer),
		Clock:             clockOf(clock),
		PresenceGrace:     grace,
		KeepAliveInterval: keepAlive,
		// See newEngine.
		AgentQueueInterval: -1,
	})
	t.Cleanup(func() {
		svc.Close()
		store.Close()
	})
	return &env{svc: svc, clock: clock, store: store}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// site creates a site with proactive chat enabled, and an available agent serving it.
func (e *env) siteWithAgent(t *testing.T, maxChats uint32) (*domain.Site, *domain.Agent) {
	t.Helper()
	site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop", ProactiveChat: domain.ProactiveChatSettings{
		Enabled: true, Mode: domain.ModeWithoutInvite, LaunchAfterSeconds: 30,
	}})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}, MaxConcurrentChats: maxChats})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetAgentStatus(ctx(t), agent.ID, domain.StatusAvailable); err != nil {
		t.Fatal(err)
	}
	return site, agent
}

// stream runs a Watch call in the background and collects what it sends.
type stream[T any] struct {
	updates chan T
	cancel  context.CancelFunc
	done    chan error
}

func startStream[T any](t *testing.T, watch func(context.Context, func(T) error) error) *stream[T] {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	s := &stream[T]{updates: make(chan T, 10000), cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- watch(c, func(u T) error {
			s.updates <- u
			return nil
		})
	}()
	t.Cleanup(s.stop)
	return s
}

// stop cancels the stream and waits until its Watch call has returned.
func (s *stream[T]) stop() {
	s.cancel()
	<-s.done
	s.done <- nil // later stops return at once
}

// next returns the next update that matches, failing the test after waitTimeout.
func (s *stream[T]) next(t *testing.T, match func(T) bool) T {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case u := <-s.updates:
			if match(u) {
				return u
			}
		case <-timeout:
			t.Fatalf("no matching update within %v", waitTimeout)
		}
	}
}

// visit opens a visitor's widget stream on a page and waits for its first state.
func (e *env) visit(t *testing.T, visitorID, url string) *stream[domain.VisitorUpdate] {
	t.Helper()
	s := startStream(t, func(c context.Context, send func(domain.VisitorUpdate) error) error {
		return e.svc.WatchVisitor(c, domain.VisitorWatch{VisitorID: visitorID, PageURL: url}, send)
	})
	s.next(t, func(u domain.VisitorUpdate) bool { return u.State != nil })
	return s
}

func (e *env) newVisitor(t *testing.T, siteID string) *domain.Visitor {
	t.Helper()
	v, _, _, err := e.svc.StartVisitorSession(ctx(t), siteID, "")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantCode(t *testing.T, err error, want domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}
