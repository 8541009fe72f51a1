package bolt_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestQueuePosition: the position counted from the index alone is the one
// in OpenChatRequests' list, for every request of two sites: open and
// closed, enqueued at the same time or not, or at times the index clamps.
func TestQueuePosition(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var reqs []*domain.ChatRequest
	for i := range 40 {
		r := &domain.ChatRequest{ID: fmt.Sprintf("req_%02d", 39-i), SiteID: []string{"site_a", "site_b"}[i%2],
			VisitorID: fmt.Sprintf("visitor_%d", i), Kind: domain.RequestInvited, State: domain.RequestQueued,
			EnqueueTime: t0.Add(time.Duration(i/3) * time.Second)} // threes share a time
		switch {
		case i%7 == 0:
			r.State = domain.RequestAccepted // closed
		case i%5 == 0:
			r.State = domain.RequestAlerting
		}
		if i == 10 {
			r.EnqueueTime = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC) // before the index's range
		}
		reqs = append(reqs, r)
	}
	err := s.Update(ctx, func(tx domain.WriteTx) error {
		for _, r := range reqs {
			if err := tx.PutChatRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx domain.ReadTx) error {
		for _, r := range reqs {
			open, err := tx.OpenChatRequests(r.SiteID)
			if err != nil {
				return err
			}
			want := slices.IndexFunc(open, func(o *domain.ChatRequest) bool { return o.ID == r.ID }) + 1
			got, err := tx.QueuePosition(r)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("%s (%s, %v, open %v): position %d, want %d", r.ID, r.SiteID, r.EnqueueTime, r.Open(), got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
