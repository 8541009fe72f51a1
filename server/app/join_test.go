package app_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/app"
)

// slowJetStream answers the requests a node joins with as a busy cluster
// does: only a request given at least need to wait gets its answer
// (others wait for their deadline), and the object store's first
// refusals requests go unanswered. It counts the log's stream opened.
type slowJetStream struct {
	jetstream.JetStream
	need time.Duration

	mu         sync.Mutex
	refusals   int
	logsOpened int
}

func (s *slowJetStream) answer(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < s.need {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *slowJetStream) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	return s.JetStream.Stream(ctx, name)
}

func (s *slowJetStream) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	st, err := s.JetStream.CreateOrUpdateStream(ctx, cfg)
	if err == nil && cfg.Name == "PROACTIVECHAT_LOG" {
		s.mu.Lock()
		s.logsOpened++
		s.mu.Unlock()
	}
	return st, err
}

func (s *slowJetStream) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	return s.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

func (s *slowJetStream) CreateOrUpdateObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	if err := s.answer(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	refuse := s.refusals > 0
	s.refusals--
	s.mu.Unlock()
	if refuse {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.JetStream.CreateOrUpdateObjectStore(ctx, cfg)
}

// TestCluster_ANodeJoinsABusyCluster: a node that restarts while the
// cluster answers slowly (slower than its first budget for each step, and
// the snapshots' store not at all at first) joins all the same, and does
// not redo the steps it did: it opens the log once. Before, every step
// had the same fixed budget and any step's timeout started the join over
// from the log, and a node restarted into a busy cluster spent most of
// its join redoing steps done before (bench/README.md, A restarted
// node's join).
func TestCluster_ANodeJoinsABusyCluster(t *testing.T) {
	const first = 250 * time.Millisecond
	nodes := startNodesWith(t, 3, nodeOptions{configure: func(cc *app.ClusterConfig) { cc.JoinTimeout = first }})
	leader, followers := leaderAndFollowers(t, nodes)
	away := followers[0]
	away.shutdown(t)
	slow := &slowJetStream{need: 3 * first / 2, refusals: 2}
	back := away.reopenWith(func(n *app.Node) {
		n.WrapJoin(func(js jetstream.JetStream) jetstream.JetStream { slow.JetStream = js; return slow })
	})
	select {
	case <-back.Ready():
	case <-time.After(converge):
		t.Fatalf("%s did not join a cluster answering in %v to its first budget of %v", back.name, slow.need, first)
	}
	slow.mu.Lock()
	opened, refusals := slow.logsOpened, slow.refusals
	slow.mu.Unlock()
	if refusals >= 0 {
		t.Fatalf("the snapshots' store was asked %d times fewer than it refused", refusals+1)
	}
	if opened != 1 {
		t.Errorf("%s opened the log %d times to join, want once: a step done is kept", back.name, opened)
	}
	// It follows: it serves through the leader, and its file reaches the
	// leader's position.
	nodes[slices.Index(nodes, away)] = back
	back.srv.App = away.srv.App // the same file: the same keyring
	waitForLeader(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	createSite(t, ctx, newConnectClient(t, back.srv), "After the join", enabledWithoutInvite())
	want, err := leader.Store().Position()
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := back.Store().Position()
		if err == nil && got >= want {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s is at position %d (%v), the leader at %d", back.name, got, errors.Join(err, ctx.Err()), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
