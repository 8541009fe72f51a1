package domain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// BenchmarkSweepRetention measures a sweep over 20,000 visitors of whom
// half are past retention: the read pages, and the deletions in batches.
// The kept half is what every later sweep reads again.
func BenchmarkSweepRetention(b *testing.B) {
	const n = 20_000
	for range b.N {
		b.StopTimer()
		store, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		clock := fakeclock.New(t0)
		svc := domain.NewService(domain.Config{Store: store, Broker: inmem.NewBroker(0), Clock: clock,
			Retention: &domain.DefaultRetention, RetentionSweepInterval: -1})
		ctx := context.Background()
		if _, err := svc.CreateSite(ctx, domain.SiteSpec{ID: "shop", Name: "Shop"}); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 1000 {
			err := store.Update(ctx, func(tx domain.WriteTx) error {
				for j := i; j < i+1000; j++ {
					seen := t0
					if j%2 == 0 {
						seen = t0.Add(20 * day)
					}
					v := &domain.Visitor{ID: fmt.Sprintf("visitor_%06d", j), SiteID: "shop", CreateTime: t0,
						CurrentPage: domain.PageView{URL: home, Title: "Shop", ViewTime: seen}, VisitStartTime: seen, VisitEndTime: seen}
					if err := tx.PutVisitor(v); err != nil {
						return err
					}
					if err := tx.PutVisitorToken([]byte(v.ID+" token hash, 32 bytes long......"), v.ID); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		clock.Set(t0.Add(31 * day))
		b.StartTimer()
		start := time.Now()
		got, err := svc.SweepRetention(ctx)
		deleting := time.Since(start)
		if err != nil || got.Visitors != n/2 {
			b.Fatalf("sweep deleted %+v, %v; want %d visitors", got, err, n/2)
		}
		start = time.Now()
		if got, err := svc.SweepRetention(ctx); err != nil || got.Visitors != 0 {
			b.Fatalf("second sweep deleted %+v, %v", got, err)
		}
		reading := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(deleting.Microseconds())/(n/2), "µs/deleted")
		b.ReportMetric(float64(reading.Microseconds())/(n/2), "µs/kept-read")
		svc.Close()
		store.Close()
	}
}
