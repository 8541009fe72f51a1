package bolt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// putSite is one small record per Update, so the benchmarks measure commits.
func putSite(id string) func(domain.WriteTx) error {
	site := &domain.Site{ID: id, Name: "Shop", AllowedOrigins: []string{"https://shop.example"}}
	return func(tx domain.WriteTx) error { return tx.PutSite(site) }
}

// BenchmarkUpdateSerial is one writer: every Update pays a whole commit.
func BenchmarkUpdateSerial(b *testing.B) {
	s := MustOpen(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := s.Update(ctx, putSite(siteID(i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkUpdateParallel has many writers, whose Updates share commits.
// The sub-benchmark name is the number of writers per GOMAXPROCS.
func BenchmarkUpdateParallel(b *testing.B) {
	for _, perProc := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("x%d", perProc), func(b *testing.B) {
			s := MustOpen(b)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(perProc)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Update(ctx, putSite(siteID(int(next.Add(1))))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
