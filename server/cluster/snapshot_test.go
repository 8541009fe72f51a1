package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/cluster"
)

// TestSnapshots_TrimTheLogAndStartANodeBehindIt: each snapshot is the
// leader's file at the position it holds; with two kept, the log keeps
// only the entries from the older one on, so it stops growing. A follower
// that keeps up is unaffected; a node whose file is behind the log's first
// entry (here a new, empty one) is told so, installs the newest snapshot
// and reads the log after it, and then holds what the leader holds.
func TestSnapshots_TrimTheLogAndStartANodeBehindIt(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	a.lead(t, a.lease(t, 5*time.Second))
	b.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	snaps, err := cluster.OpenSnapshots(ctx, a.js, a.log, cluster.SnapshotConfig{Replicas: 3, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Install(ctx, t.TempDir()+"/none.db"); !errors.Is(err, cluster.ErrNoSnapshot) {
		t.Fatalf("install with no snapshot: %v, want ErrNoSnapshot", err)
	}
	write := func(round int) {
		for i := range 10 {
			if err := putSite(ctx, a.store, fmt.Sprintf("r%d-%d", round, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var taken []uint64
	for round := range 3 {
		write(round)
		// b keeps up: it has what the trim behind this snapshot removes
		// (on a busy machine it could otherwise still be reading it).
		waitSame(t, a, b)
		pos, err := snaps.Take(ctx, a.store)
		if err != nil {
			t.Fatal(err)
		}
		if pos != a.position(t) {
			t.Fatalf("snapshot at %d, the leader's file at %d", pos, a.position(t))
		}
		taken = append(taken, pos)
	}
	write(3)

	// Two kept: the log starts at the older one's entry.
	first, err := a.log.First(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first != taken[1] {
		t.Fatalf("log starts at %d, want %d (the older snapshot kept)", first, taken[1])
	}
	if latest, err := snaps.Latest(ctx); err != nil || latest != taken[2] {
		t.Fatalf("latest snapshot %d (%v), want %d", latest, err, taken[2])
	}
	waitSame(t, a, b)

	// A file at the older snapshot's position still catches up from the
	// log; an empty one cannot.
	for _, tc := range []struct {
		pos    uint64
		behind bool
	}{{taken[1] - 1, false}, {taken[1] - 2, true}, {0, true}} {
		if behind, err := a.log.Behind(ctx, tc.pos); err != nil || behind != tc.behind {
			t.Errorf("Behind(%d) = %v (%v), want %v", tc.pos, behind, err, tc.behind)
		}
	}
	n := newNode(t, c, 2, "c")
	if err := n.store.Close(); err != nil {
		t.Fatal(err)
	}
	pos, err := snaps.Install(ctx, n.path)
	if err != nil {
		t.Fatal(err)
	}
	if pos != taken[2] {
		t.Fatalf("installed the snapshot at %d, want the newest, %d", pos, taken[2])
	}
	n.open(t)
	if got := n.position(t); got != pos {
		t.Fatalf("the installed file holds position %d, want %d", got, pos)
	}
	n.run(t)
	write(4)
	waitSame(t, a, b, n)
}
