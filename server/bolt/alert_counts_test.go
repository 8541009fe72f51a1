package bolt

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestAlertCountsAndQueued moves requests of two sites at random through
// their states (queued, alerting one agent or another, ended, erased with
// their visitor) and checks after each batch that AlertCounts and
// QueuedChatRequests agree with what OpenChatRequests, which reads every
// request, says; then that a file without the counters gets them back.
func TestAlertCountsAndQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	agents := []string{"ann", "bob", "cy"}
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	reqs := map[string]*domain.ChatRequest{}
	check := func(step int) {
		t.Helper()
		err := s.View(ctx, func(tx domain.ReadTx) error {
			open, err := tx.OpenChatRequests("")
			if err != nil {
				return err
			}
			want := map[string]int{}
			for _, r := range open {
				if r.State == domain.RequestAlerting {
					want[r.AlertedAgentID]++
				}
			}
			got, err := tx.AlertCounts(append(agents, "nobody"))
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("step %d: AlertCounts = %v, want %v", step, got, want)
			}
			for _, site := range []string{"site_a", "site_b"} {
				open, err := tx.OpenChatRequests(site)
				if err != nil {
					return err
				}
				var wantQueued []string
				for _, r := range open {
					if r.State == domain.RequestQueued {
						wantQueued = append(wantQueued, r.ID)
					}
				}
				queued, err := tx.QueuedChatRequests(site)
				if err != nil {
					return err
				}
				var gotQueued []string
				for _, r := range queued {
					gotQueued = append(gotQueued, r.ID)
				}
				if !slices.Equal(gotQueued, wantQueued) {
					t.Errorf("step %d: QueuedChatRequests(%s) = %v, want %v", step, site, gotQueued, wantQueued)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for step := range 60 {
		err := s.Update(ctx, func(tx domain.WriteTx) error {
			for range 5 {
				if len(reqs) < 30 || rng.IntN(4) == 0 {
					id := fmt.Sprintf("req_%03d", len(reqs))
					r := &domain.ChatRequest{ID: id, SiteID: []string{"site_a", "site_b"}[rng.IntN(2)], VisitorID: "visitor_" + id,
						Kind: domain.RequestInvited, State: domain.RequestQueued, EnqueueTime: t0.Add(time.Duration(rng.IntN(20)) * time.Second)}
					if err := tx.PutVisitor(&domain.Visitor{ID: r.VisitorID, SiteID: r.SiteID, CreateTime: t0}); err != nil {
						return err
					}
					reqs[id] = r
					if err := tx.PutChatRequest(r); err != nil {
						return err
					}
					continue
				}
				id := fmt.Sprintf("req_%03d", rng.IntN(len(reqs)))
				r := reqs[id]
				if r == nil || !r.Open() {
					continue
				}
				next := *r
				switch rng.IntN(6) {
				case 0, 1, 2: // offered, or passed on to another agent
					next.State, next.AlertedAgentID = domain.RequestAlerting, agents[rng.IntN(len(agents))]
				case 3: // back in the queue
					next.State, next.AlertedAgentID = domain.RequestQueued, ""
				case 4: // accepted
					next.State = domain.RequestAccepted
				case 5: // erased with its visitor
					delete(reqs, id)
					reqs[id] = &domain.ChatRequest{ID: id, State: domain.RequestAbandoned}
					if err := tx.EraseVisitor(r.VisitorID); err != nil {
						return err
					}
					continue
				}
				reqs[id] = &next
				if err := tx.PutChatRequest(&next); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check(step)
	}

	// A file from before: no counters, and no values in the index.
	before := dump(t, s)
	if len(before[string(alertCountsBucket)]) == 0 {
		t.Fatal("no agent is alerted at the end: the test proves nothing about the backfill")
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(openChatRequestsBucket)
		var keys [][]byte
		if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put(k, []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check(-1) // an empty value means "look at the request"
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(alertCountsBucket) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if after := dump(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("after the backfill:\n counters %q\n index %q\nwant\n counters %q\n index %q",
			after[string(alertCountsBucket)], after[string(openChatRequestsBucket)],
			before[string(alertCountsBucket)], before[string(openChatRequestsBucket)])
	}
	check(-2)

	// Counts gone wrong (a binary from before them ran on the file and
	// moved alerts without counting): the next Open counts again.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(alertCountsBucket)
		var first []byte
		if err := b.ForEach(func(k, _ []byte) error {
			if first == nil {
				first = bytes.Clone(k)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := b.Delete(first); err != nil {
			return err
		}
		return b.Put([]byte("nobody"), []byte{0, 0, 0, 7})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	if after := dump(t, s); !reflect.DeepEqual(after[string(alertCountsBucket)], before[string(alertCountsBucket)]) {
		t.Errorf("after reopening: counters %q, want %q", after[string(alertCountsBucket)], before[string(alertCountsBucket)])
	}
	check(-3)
}
