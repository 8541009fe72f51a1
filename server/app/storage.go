package app

import (
	"connectrpc.com/grpchealth"

	"github.com/proactivechat/proactivechat/server/metrics"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// healthChecker answers grpc.health.v1. While the disk is full, each of
// the API's services reports NOT_SERVING: a load balancer that checks one
// of them (the VisitorService, say) sends new visitors to a node that can
// store them, and a watcher learns the moment it changes. The server as a
// whole (service "") stays SERVING, because it is: reads are answered and
// streams stay open, and a liveness probe that restarted the process would
// not free any space. Each service turns SERVING again once a write gets
// new space or the file system has room (bolt.Store.StorageFull).
func (a *App) healthChecker() *grpchealth.StaticChecker {
	checker := grpchealth.NewStaticChecker(rpc.ServiceNames...)
	a.Store.OnStorageFull(func(full bool) {
		status := grpchealth.StatusServing
		if full {
			status = grpchealth.StatusNotServing
		}
		for _, name := range rpc.ServiceNames {
			checker.SetStatus(name, status)
		}
	})
	return checker
}

// writeStorageMetrics writes whether the disk is full and how many writes
// failed, by reason.
func (a *App) writeStorageMetrics(m *metrics.Writer) {
	var full float64
	if a.Store.StorageFull() {
		full = 1
	}
	m.Family("proactivechat_storage_full", "gauge", "1 while writes fail because the disk (or the quota) is full; reads are still served.",
		metrics.Sample{Value: full})
	f := a.Store.WriteFailures()
	m.Family("proactivechat_store_write_failures_total", "counter", "Writes (store updates) that failed to commit, by reason: storage_full is answered UNAVAILABLE, other INTERNAL.",
		metrics.Sample{Labels: []string{"reason", "storage_full"}, Value: float64(f.StorageFull)},
		metrics.Sample{Labels: []string{"reason", "other"}, Value: float64(f.Other)})
}
