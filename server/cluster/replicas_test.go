package cluster_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/cluster"
)

// TestOpen_NeverLowersAClustersReplicas: a node that knows fewer routes
// than the cluster has nodes (new, or restarted with one seed route) opens
// the log, the lease and the snapshots with a smaller R; the streams keep
// the three copies they have. A log first made with one copy gets three
// when a node of a grown cluster opens it with three.
func TestOpen_NeverLowersAClustersReplicas(t *testing.T) {
	c := startCluster(t)
	js := c.connect(t, 0)
	ctx := t.Context()
	open := func(r int) (*cluster.Log, error) {
		l, err := cluster.OpenLog(ctx, js, cluster.LogConfig{Replicas: r})
		if err != nil {
			return nil, err
		}
		if _, err := cluster.OpenLease(ctx, js, cluster.LeaseConfig{Node: "n", Replicas: r}); err != nil {
			return nil, err
		}
		_, err = cluster.OpenSnapshots(ctx, js, l, cluster.SnapshotConfig{Replicas: r})
		return l, err
	}
	replicas := func(stream string) int {
		t.Helper()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.Replicas
	}
	eventually(t, "the log, lease and snapshots opened with three copies", func() error {
		_, err := open(3)
		return err
	})
	if _, err := open(1); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"PROACTIVECHAT_LOG", "KV_proactivechat_lease", "OBJ_proactivechat-snapshots"} {
		if r := replicas(stream); r != 3 {
			t.Errorf("%s has %d replicas after a node opened it with 1, want 3", stream, r)
		}
	}

	grown := cluster.LogConfig{Stream: "GROWN", Subject: "grown.log", Replicas: 1}
	if _, err := cluster.OpenLog(ctx, js, grown); err != nil {
		t.Fatal(err)
	}
	grown.Replicas = 3
	if _, err := cluster.OpenLog(ctx, js, grown); err != nil {
		t.Fatal(err)
	}
	if r := replicas("GROWN"); r != 3 {
		t.Errorf("a log made with 1 replica and opened with 3 has %d, want 3", r)
	}
}
