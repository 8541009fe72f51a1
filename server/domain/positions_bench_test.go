package domain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// countingStore counts the queue positions read: every VisitorState of a
// waiting visitor reads one, and nothing else does.
type countingStore struct {
	domain.Store
	positions atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(domain.ReadTx) error) error {
	return s.Store.View(ctx, func(tx domain.ReadTx) error {
		return fn(countingTx{ReadTx: tx, n: &s.positions})
	})
}

type countingTx struct {
	domain.ReadTx
	n *atomic.Int64
}

func (tx countingTx) QueuePosition(req *domain.ChatRequest) (int, error) {
	tx.n.Add(1)
	return tx.ReadTx.QueuePosition(req)
}

// BenchmarkQueueMoves is a queue of waiting visitors, each with its widget
// stream open, whose head leaves and joins again at the tail, over and over:
// one op is a move (the leave and the rejoin, three commits). Besides ns/op
// it reports the visitors' state reads per move: each visitor shown a
// position must see it change, but a read for every waiting visitor on every
// queue event is what made a busy queue collapse. The clock is the system's,
// so the positions shown are refreshed at their real pace.
func BenchmarkQueueMoves(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("waiting=%d", n), func(b *testing.B) {
			benchQueueMoves(b, n)
		})
	}
}

func benchQueueMoves(b *testing.B, n int) {
	bs, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	store := &countingStore{Store: bs}
	svc := domain.NewService(domain.Config{Store: store, Broker: inmem.NewBroker(0)})
	ctx, cancel := context.WithCancel(context.Background())
	var streams sync.WaitGroup
	defer func() {
		cancel()
		streams.Wait()
		svc.Close()
		bs.Close()
	}()
	site, err := svc.CreateSite(ctx, domain.SiteSpec{Name: "Shop", ProactiveChat: domain.ProactiveChatSettings{
		Enabled: true, Mode: domain.ModeWithInvite, LaunchAfterSeconds: 3600,
	}})
	if err != nil {
		b.Fatal(err)
	}
	// The agent stays offline: nobody is taken from the queue.
	agent, err := svc.CreateAgent(ctx, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}})
	if err != nil {
		b.Fatal(err)
	}
	join := func(visitorID string) error {
		inv, err := svc.InviteVisitor(ctx, agent.ID, visitorID)
		if err != nil {
			return err
		}
		_, err = svc.RespondToInvitation(ctx, visitorID, inv.ID, true)
		return err
	}

	// shown[i] is the position visitor i's widget shows last, 0 for none.
	shown := make([]atomic.Int64, n)
	index := map[string]int{}
	var opened sync.WaitGroup
	for i := range n {
		v, _, _, err := svc.StartVisitorSession(ctx, site.ID, "")
		if err != nil {
			b.Fatal(err)
		}
		index[v.ID] = i
		streams.Add(1)
		opened.Add(1)
		go func() {
			defer streams.Done()
			first := true
			svc.WatchVisitor(ctx, domain.VisitorWatch{VisitorID: v.ID, PageURL: "https://shop.example/"}, func(u domain.VisitorUpdate) error {
				if u.State != nil {
					pos := 0
					if u.State.Queue != nil {
						pos = u.State.Queue.Position
					}
					shown[i].Store(int64(pos))
				}
				if first {
					first = false
					opened.Done()
				}
				return nil
			})
		}()
	}
	opened.Wait()
	var joined sync.WaitGroup
	errs := make(chan error, n)
	for id := range index {
		joined.Add(1)
		go func() {
			defer joined.Done()
			if err := join(id); err != nil {
				errs <- err
			}
		}()
	}
	joined.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	queue, err := svc.ListQueue(ctx, site.ID)
	if err != nil {
		b.Fatal(err)
	}
	order := make([]int, len(queue))
	for i, r := range queue {
		order[i] = index[r.VisitorID]
	}
	// settled waits until every widget shows its place in order.
	settled := func() {
		deadline := time.Now().Add(30 * time.Second)
		for pos, i := range order {
			for shown[i].Load() != int64(pos+1) {
				if time.Now().After(deadline) {
					b.Fatalf("visitor %d shows position %d, want %d", i, shown[i].Load(), pos+1)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	settled()
	ids := make([]string, n)
	for id, i := range index {
		ids[i] = id
	}

	before := store.positions.Load()
	b.ResetTimer()
	for range b.N {
		head := order[0]
		if _, err := svc.LeaveQueue(ctx, ids[head]); err != nil {
			b.Fatal(err)
		}
		if err := join(ids[head]); err != nil {
			b.Fatal(err)
		}
		order = append(order[1:], head)
	}
	b.StopTimer()
	settled()
	b.ReportMetric(float64(store.positions.Load()-before)/float64(b.N), "statereads/move")
}
