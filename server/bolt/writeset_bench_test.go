package bolt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// countingReplicator replicates nowhere: it only numbers the write sets,
// so that a benchmark with it measures what capturing them costs.
type countingReplicator struct{ bytes atomic.Int64 }

func (r *countingReplicator) Replicate(prev uint64, ws *bolt.WriteSet) (uint64, error) {
	r.bytes.Add(int64(len(ws.Marshal())))
	return prev + 1, nil
}

// BenchmarkCapture writes a message-sized transaction (a chat event, a log
// event and their indexes) per Update, with capture off and on, from
// concurrent writers whose Updates share commits.
func BenchmarkCapture(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			var opts []bolt.Option
			r := &countingReplicator{}
			if mode == "on" {
				opts = append(opts, bolt.WithReplicator(r))
			}
			s := MustOpen(b, opts...)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					err := s.Update(ctx, func(tx domain.WriteTx) error {
						id := fmt.Sprintf("vis_%d", i)
						if err := tx.PutVisitor(&domain.Visitor{ID: id, SiteID: "site_1", CreateTime: at(1)}); err != nil {
							return err
						}
						return tx.AppendEvent(&domain.Event{Type: domain.EventVisitorPageViewed, Time: at(2), SiteID: "site_1", VisitorID: id})
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			if mode == "on" {
				b.ReportMetric(float64(r.bytes.Load())/float64(b.N), "ws-bytes/update")
			}
		})
	}
}
