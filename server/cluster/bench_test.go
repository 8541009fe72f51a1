package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// BenchmarkReplicatedUpdate compares durable Updates on one bbolt file
// with Updates replicated to a three-node cluster (R3, fsync always) and
// applied by two followers, from 16 writers per core whose Updates share
// commits. Each Update is a message-sized transaction.
func BenchmarkReplicatedUpdate(b *testing.B) {
	update := func(s *bolt.Store, i int64) error {
		return s.Update(context.Background(), func(tx domain.WriteTx) error {
			id := fmt.Sprintf("vis_%d", i)
			if err := tx.PutVisitor(&domain.Visitor{ID: id, SiteID: "site_1", CreateTime: time.Unix(1, 0).UTC()}); err != nil {
				return err
			}
			return tx.AppendEvent(&domain.Event{Type: domain.EventVisitorPageViewed, Time: time.Unix(2, 0).UTC(), SiteID: "site_1", VisitorID: id})
		})
	}
	run := func(b *testing.B, s *bolt.Store) {
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := update(s, next.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	}
	b.Run("local", func(b *testing.B) {
		s, err := bolt.Open(filepath.Join(b.TempDir(), "local.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
	b.Run("R3", func(b *testing.B) {
		c := startCluster(b)
		leader := newNode(b, c, 0, "a")
		f1, f2 := newNode(b, c, 1, "b"), newNode(b, c, 2, "c")
		leader.lead(b, leader.lease(b, 5*time.Second))
		f1.run(b)
		f2.run(b)
		run(b, leader.store)
		b.StopTimer()
		pos := leader.position(b)
		waitSame(b, leader, f1, f2)
		b.ReportMetric(float64(pos)/float64(b.N), "entries/update")
	})
}
