package domain_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// moves is what a follower's Changed is to FollowWrites: a channel closed
// when the store has moved on. The tests move it after the writer's
// writes, as a follower's apply does.
type moves struct {
	mu sync.Mutex
	ch chan struct{}
}

func newMoves() *moves { return &moves{ch: make(chan struct{})} }

func (m *moves) changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ch
}

func (m *moves) move() {
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.ch)
	m.ch = make(chan struct{})
}

// replicaOf is a Service on e's store that is never started, following
// the writes e's Service makes, with a broker of its own: what a
// cluster's follower runs on its file.
func replicaOf(t *testing.T, e *engine) (*domain.Service, *moves) {
	t.Helper()
	r := domain.NewService(domain.Config{Store: e.store, Broker: inmem.NewBroker(0), Clock: e.clock, KeepAliveInterval: keepAlive, Replica: true})
	m := newMoves()
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.FollowWrites(c, m.changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("FollowWrites: %v", err)
		}
		r.Close()
	})
	return r, m
}

func TestReplica(t *testing.T) {
	t.Run("StreamsTheEventLogItsStoreGains", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		r, m := replicaOf(t, e)
		s := startStream(t, func(c context.Context, send func(domain.EventUpdate) error) error {
			return r.WatchEvents(c, 1, domain.EventFilter{}, send)
		})
		if got := positionsOf(t, s, 1); !slices.Equal(got, seq(2, 2)) {
			t.Fatalf("backlog = %v, want 2", got)
		}
		// The writer's commits reach the replica's stream only through
		// its store: nothing is published on the replica's broker but
		// by FollowWrites.
		for round := range 3 {
			statusChanges(t, e, "agent-a", 4)
			m.move()
			from := uint64(3 + 4*round)
			if got := positionsOf(t, s, 4); !slices.Equal(got, seq(from, from+3)) {
				t.Fatalf("round %d: live = %v, want %d…%d", round, got, from, from+3)
			}
		}
		s.stop()
		for len(s.updates) > 0 {
			if u := <-s.updates; u.Event != nil {
				t.Fatalf("event %d sent twice or out of turn", u.Event.Position)
			}
		}
	})

	t.Run("ARevocationEndsTheReplicasStreams", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		r, m := replicaOf(t, e)
		key, keyToken, err := e.svc.CreateAPIKey(ctx(t), "integration", nil)
		if err != nil {
			t.Fatal(err)
		}
		other, otherToken, err := e.svc.CreateAPIKey(ctx(t), "other", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, sessToken, err := e.svc.CreateAgentSession(ctx(t), "agent-a", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		grants := map[string]*domain.StreamGrant{}
		for name, token := range map[string]string{"key": keyToken, "other": otherToken, "session": sessToken} {
			g, err := r.AuthenticateStream(context.Background(), token)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			t.Cleanup(g.Release)
			grants[name] = g
		}
		if err := e.svc.RevokeAPIKey(ctx(t), key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.RevokeAgentSessions(ctx(t), "agent-a"); err != nil {
			t.Fatal(err)
		}
		m.move()
		for _, name := range []string{"key", "session"} {
			g := grants[name]
			select {
			case <-g.Context().Done():
			case <-time.After(waitTimeout):
				t.Fatalf("the %s's stream on the replica outlived its revocation", name)
			}
			if code := domain.ErrorCode(context.Cause(g.Context())); code != domain.CodeUnauthenticated {
				t.Errorf("the %s's stream ended with %v, want Unauthenticated", name, context.Cause(g.Context()))
			}
		}
		if err := grants["other"].Context().Err(); err != nil {
			t.Errorf("a key not revoked lost its stream: %v", err)
		}
		for name, token := range map[string]string{"key": keyToken, "session": sessToken} {
			if _, err := r.Authenticate(ctx(t), token); domain.ErrorCode(err) != domain.CodeUnauthenticated {
				t.Errorf("the revoked %s on the replica: %v, want Unauthenticated", name, err)
			}
		}
		if p, err := r.Authenticate(ctx(t), otherToken); err != nil || p.ID != other.ID {
			t.Errorf("the other key on the replica: %+v, %v", p, err)
		}
	})

	t.Run("AVisitorsTokenIsReadEveryTime", func(t *testing.T) {
		// A visitor's token goes with no event (an erasure here): the
		// replica, which hears of nothing, still refuses it at once.
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		r, _ := replicaOf(t, e)
		v, token, _, err := e.svc.StartVisitorSession(ctx(t), "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := r.Authenticate(ctx(t), token); err != nil || p.ID != v.ID {
			t.Fatalf("the visitor on the replica: %+v, %v", p, err)
		}
		if err := e.svc.EraseVisitor(ctx(t), v.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Authenticate(ctx(t), token); domain.ErrorCode(err) != domain.CodeUnauthenticated {
			t.Errorf("an erased visitor's token on the replica: %v, want Unauthenticated", err)
		}
	})
}
