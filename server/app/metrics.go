package app

import (
	"net/http"
	"runtime"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/metrics"
)

var endReasonNames = map[domain.ChatEndReason]string{
	domain.EndBothLeft:        "both_left",
	domain.EndVisitorDeclined: "visitor_declined",
	domain.EndInactive:        "inactive",
}

// streamKindNames label the capped kinds of stream as streams_open does.
var streamKindNames = map[domain.StreamKind]string{
	domain.StreamWatchAgent:    "agent",
	domain.StreamWatchPresence: "presence",
	domain.StreamWatchChat:     "chat",
	domain.StreamConverse:      "converse",
}

// serveMetrics writes the Prometheus text format: the engine's state and
// counters, the store's commits, and the Go runtime's basics.
func (a *App) serveMetrics(w http.ResponseWriter, r *http.Request) {
	st, err := a.Service.Stats(r.Context())
	if err != nil {
		http.Error(w, "stats unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := metrics.NewWriter(w)
	var online, depth, wait []metrics.Sample
	for _, s := range st.Sites {
		online = append(online, metrics.Sample{Labels: []string{"site", s.SiteID}, Value: float64(s.VisitorsOnline)})
		depth = append(depth, metrics.Sample{Labels: []string{"site", s.SiteID}, Value: float64(s.QueueDepth)})
		wait = append(wait, metrics.Sample{Labels: []string{"site", s.SiteID}, Value: s.OldestWait.Seconds()})
	}
	m.Family("proactivechat_visitors_online", "gauge", "Visitors on each site now.", online...)
	m.Family("proactivechat_queue_depth", "gauge", "Open chat requests in each site's queue.", depth...)
	m.Family("proactivechat_queue_oldest_wait_seconds", "gauge", "How long the first request of each site's queue has waited.", wait...)
	m.Family("proactivechat_streams_open", "gauge", "Server streams open now, by kind.",
		metrics.Sample{Labels: []string{"kind", "visitor"}, Value: float64(st.VisitorStreams)},
		metrics.Sample{Labels: []string{"kind", "agent"}, Value: float64(st.AgentStreams)},
		metrics.Sample{Labels: []string{"kind", "chat"}, Value: float64(st.ChatStreams)},
		metrics.Sample{Labels: []string{"kind", "presence"}, Value: float64(st.PresenceStreams)},
		metrics.Sample{Labels: []string{"kind", "events"}, Value: float64(st.EventStreams)})
	var refused []metrics.Sample
	streamsRefused := a.Service.StreamsRefused()
	for _, k := range domain.StreamKinds {
		refused = append(refused, metrics.Sample{Labels: []string{"kind", streamKindNames[k]}, Value: float64(streamsRefused[k])})
	}
	m.Family("proactivechat_streams_refused_total", "counter", "Streams refused since start because their credential (agent session, admin key, visitor) held its cap of that kind.", refused...)
	var agents []metrics.Sample
	for _, s := range []domain.AgentStatus{domain.StatusAvailable, domain.StatusAway, domain.StatusOffline} {
		agents = append(agents, metrics.Sample{Labels: []string{"status", s.String()}, Value: float64(st.AgentsByStatus[s])})
	}
	m.Family("proactivechat_agents", "gauge", "Agents by status.", agents...)
	m.Family("proactivechat_alerts_total", "counter", "Alerts offered to agents, and how they ended.",
		metrics.Sample{Labels: []string{"outcome", "offered"}, Value: float64(st.AlertsOffered)},
		metrics.Sample{Labels: []string{"outcome", "accepted"}, Value: float64(st.AlertsAccepted)},
		metrics.Sample{Labels: []string{"outcome", "expired"}, Value: float64(st.AlertsExpired)},
		metrics.Sample{Labels: []string{"outcome", "declined"}, Value: float64(st.AlertsDeclined)})
	m.Family("proactivechat_chats_active", "gauge", "Chats in progress.", metrics.Sample{Value: float64(st.ChatsActive)})
	var ended []metrics.Sample
	for _, r := range []domain.ChatEndReason{domain.EndBothLeft, domain.EndVisitorDeclined, domain.EndInactive} {
		ended = append(ended, metrics.Sample{Labels: []string{"reason", endReasonNames[r]}, Value: float64(st.ChatsEnded[r])})
	}
	m.Family("proactivechat_chats_ended_total", "counter", "Chats ended since start, by reason.", ended...)
	m.Family("proactivechat_mass_disconnects_total", "counter", "Mass disconnects of widget streams since start (many closed within a second; their visitors get the longer grace).",
		metrics.Sample{Value: float64(st.MassDisconnects)})
	m.Family("proactivechat_retention_deleted_total", "counter", "Records the retention sweeps deleted since start, by kind (visitors with everything they owned; ended chats with their events).",
		metrics.Sample{Labels: []string{"kind", "visitor"}, Value: float64(st.RetentionDeletedVisitors)},
		metrics.Sample{Labels: []string{"kind", "chat"}, Value: float64(st.RetentionDeletedChats)})
	m.Family("proactivechat_messages_total", "counter", "Chat messages stored since start.", metrics.Sample{Value: float64(st.MessagesSent)})
	m.Family("proactivechat_http2_reset_flood_closes_total", "counter", "HTTP/2 connections closed for resetting streams, or making the server reset them, faster than the limit.",
		metrics.Sample{Value: float64(a.resets.closes.Load())})
	m.Histogram("proactivechat_message_latency_seconds", "SendMessage time from call to durable and published.", st.MessageLatency)
	m.Histogram("proactivechat_bolt_commit_seconds", "bbolt write transaction commit time, fsync included.", a.Store.CommitSeconds())
	m.Histogram("proactivechat_bolt_batch_size", "Updates sharing one bbolt commit.", a.Store.BatchSize())
	if a.cfg.logPublishSeconds != nil {
		m.Histogram("proactivechat_log_publish_seconds", "Cluster leader: time from publishing a commit's write set to the log to its acknowledgement by a majority of the servers, retries included (part of the commit time).", a.cfg.logPublishSeconds)
	}
	a.writeStorageMetrics(m)
	whOK, whFailed := a.Webhooks.Counts()
	m.Family("proactivechat_webhook_deliveries_total", "counter", "Webhook delivery attempts since start, by outcome (a failure is any answer but 2xx, a timeout or a refused connection).",
		metrics.Sample{Labels: []string{"outcome", "success"}, Value: float64(whOK)},
		metrics.Sample{Labels: []string{"outcome", "failure"}, Value: float64(whFailed)})
	var large, slow []metrics.Sample
	for p := range numProtocols {
		large = append(large, metrics.Sample{Labels: []string{"protocol", protocolNames[p]}, Value: float64(a.edge.tooLarge[p].Load())})
		slow = append(slow, metrics.Sample{Labels: []string{"protocol", protocolNames[p]}, Value: float64(a.edge.tooSlow[p].Load())})
	}
	m.Family("proactivechat_oversized_requests_total", "counter", "Requests refused because their body, or one of their messages, was over the size limit.", large...)
	m.Family("proactivechat_slow_requests_total", "counter", "Requests cut off because their body, or a message of their stream, did not arrive in time.", slow...)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.Family("go_goroutines", "gauge", "Goroutines now.", metrics.Sample{Value: float64(runtime.NumGoroutine())})
	m.Family("go_sched_gomaxprocs_threads", "gauge", "GOMAXPROCS: threads that may run Go code at once.", metrics.Sample{Value: float64(runtime.GOMAXPROCS(0))})
	m.Family("go_memstats_heap_inuse_bytes", "gauge", "Heap bytes in use.", metrics.Sample{Value: float64(ms.HeapInuse)})
	m.Family("go_memstats_heap_alloc_bytes", "gauge", "Heap bytes allocated and not yet freed (live objects, and garbage not collected yet).", metrics.Sample{Value: float64(ms.HeapAlloc)})
	m.Family("go_memstats_stack_inuse_bytes", "gauge", "Goroutine stack bytes in use.", metrics.Sample{Value: float64(ms.StackInuse)})
	m.Family("go_memstats_sys_bytes", "gauge", "Bytes obtained from the OS.", metrics.Sample{Value: float64(ms.Sys)})
}
