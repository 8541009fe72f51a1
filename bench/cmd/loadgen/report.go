package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proactivechat/proactivechat/bench/hist"
)

// ProcExport is a /proc sample of the server.
type ProcExport struct {
	RSSMB      float64 `json:"rss_mb"`
	Threads    int     `json:"threads"`
	FDs        int     `json:"open_files"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func (p procStat) export() ProcExport {
	return ProcExport{RSSMB: round(float64(p.RSSKB)/1024, 1), Threads: p.Threads, FDs: p.FDs, CPUSeconds: p.CPU.Seconds()}
}

// PhaseResult is one messages phase.
type PhaseResult struct {
	Seconds           float64 `json:"seconds"`
	Sent              int64   `json:"acked"`
	AckedInWindow     int64   `json:"acked_in_window"`
	AckedPerS         float64 `json:"durable_msgs_per_s"`
	ServerCPUPct      float64 `json:"server_cpu_pct"`
	ServerCPUUsPerMsg float64 `json:"server_cpu_us_per_msg"`
	// Net of the background CPU (page views, keep-alives) measured
	// while only the browsing visitors were on.
	ServerCPUUsPerMsgNet float64 `json:"server_cpu_us_per_msg_net"`
	LoadgenCPUPct        float64 `json:"loadgen_cpu_pct"`
	// Everything else the machine ran meanwhile (other engineers' tests…).
	OtherCPUPct float64 `json:"other_processes_cpu_pct"`
	// From the server's /metrics, when it has them.
	CommitsPerS     float64 `json:"bolt_commits_per_s,omitempty"`
	MeanBatch       float64 `json:"bolt_mean_batch,omitempty"`
	MeanCommitMs    float64 `json:"bolt_mean_commit_ms,omitempty"`
	WriterBusyPct   float64 `json:"bolt_writer_busy_pct,omitempty"`
	ServerMsgMeanMs float64 `json:"server_send_message_mean_ms,omitempty"`
	// The server's read and write system calls (/proc/PID/io: sockets and
	// the bbolt file's pwrites) per message acknowledged in the window.
	ServerReadsPerMsg  float64 `json:"server_read_syscalls_per_msg,omitempty"`
	ServerWritesPerMsg float64 `json:"server_write_syscalls_per_msg,omitempty"`
}

// MemSample is the server's memory and what it holds, from /metrics (after
// a garbage collection, when the server has pprof) and /proc.
type MemSample struct {
	Goroutines     int     `json:"goroutines"`
	HeapAllocMB    float64 `json:"heap_alloc_mb"`
	HeapInuseMB    float64 `json:"heap_inuse_mb"`
	StackMB        float64 `json:"stack_mb"`
	RSSMB          float64 `json:"rss_mb"`
	VisitorsOnline int     `json:"visitors_online"`
	StreamsOpen    int     `json:"streams_open"`
}

func (r *Results) memSample(m map[string]float64, pid int) MemSample {
	s := MemSample{
		Goroutines:     int(m["go_goroutines"]),
		HeapAllocMB:    round(m["go_memstats_heap_alloc_bytes"]/(1<<20), 1),
		HeapInuseMB:    round(m["go_memstats_heap_inuse_bytes"]/(1<<20), 1),
		StackMB:        round(m["go_memstats_stack_inuse_bytes"]/(1<<20), 1),
		VisitorsOnline: int(sumPrefix(m, "proactivechat_visitors_online{")),
		StreamsOpen:    int(sumPrefix(m, "proactivechat_streams_open{")),
	}
	if p, err := readProc(pid); err == nil {
		s.RSSMB = round(float64(p.RSSKB)/1024, 1)
	}
	return s
}

// PresenceCheck compares who the server and each agent's presence stream
// count online with the visitors the load generator holds.
type PresenceCheck struct {
	Expected     int     `json:"expected"`
	ServerOnline int     `json:"server_online"`
	Agents       int     `json:"agents"`
	AgentsMin    int     `json:"agents_view_min"`
	AgentsMax    int     `json:"agents_view_max"`
	Correct      bool    `json:"correct"`
	Seconds      float64 `json:"seconds_to_agree"`
}

func (p *PresenceCheck) String() string {
	if p == nil {
		return "n/a"
	}
	verdict := "correct"
	if !p.Correct {
		verdict = "WRONG"
	}
	return fmt.Sprintf("%s: %s online on the server, %s–%s in each of %d agents' views, of %s held (agreed after %.1f s)",
		verdict, num(float64(p.ServerOnline)), num(float64(p.AgentsMin)), num(float64(p.AgentsMax)), p.Agents, num(float64(p.Expected)), p.Seconds)
}

// MuxResult is phase 6: streams multiplexed over few connections.
type MuxResult struct {
	Streams             int            `json:"streams"`
	Conns               int            `json:"conns"`
	Held                int            `json:"held"`
	OpenSeconds         float64        `json:"open_seconds"`
	KBPerStream         float64        `json:"server_kb_per_stream"`
	StackKBPerStream    float64        `json:"server_stack_kb_per_stream"`
	LiveHeapKBPerStream float64        `json:"server_live_heap_kb_per_stream"`
	GoroutinesPerStream float64        `json:"goroutines_per_stream"`
	Presence            *PresenceCheck `json:"presence,omitempty"`
	GoneSeconds         float64        `json:"gone_seconds"`
	Before              MemSample      `json:"before"`
	Held1               MemSample      `json:"held_sample"`
	After               MemSample      `json:"after"`
}

// LeaveResult is phase 7: the server once every client has left.
type LeaveResult struct {
	Seconds     float64   `json:"seconds"`
	StreamsOpen int       `json:"streams_open"`
	After       MemSample `json:"after"`
	// From the SIGQUIT dump at the very end.
	GoroutinesByCreator []string `json:"goroutines_by_creator,omitempty"`
}

func (l *LeaveResult) String(base MemSample) string {
	if l == nil {
		return "n/a"
	}
	return fmt.Sprintf("after %.1f s: %d visitors online, %d streams open, %d goroutines (%d at start), live heap %.1f MB (%.1f MB at start), RSS %.0f MB",
		l.Seconds, l.After.VisitorsOnline, l.StreamsOpen, l.After.Goroutines, base.Goroutines, l.After.HeapAllocMB, base.HeapAllocMB, l.After.RSSMB)
}

// Results is everything one run measured; it is written as JSON.
type Results struct {
	Start     string `json:"start"`
	Command   string `json:"command"`
	Pinning   string `json:"pinning"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Config    Config `json:"config"`
	Workers   int    `json:"worker_processes"`

	Server struct {
		Idle  ProcExport `json:"idle"`
		Held  ProcExport `json:"browsing_streams_held"`
		Final ProcExport `json:"final"`
	} `json:"server"`
	BrowseHeld     int     `json:"browsing_streams_held"`
	HoldSeconds    float64 `json:"hold_seconds"`
	MemPerStreamKB float64 `json:"server_kb_per_held_stream"`
	// After a collection: goroutine stacks and live heap per held stream
	// (the rest of MemPerStreamKB is the heap's GC headroom and garbage).
	HoldStackKBPerStream    float64 `json:"server_stack_kb_per_held_stream,omitempty"`
	HoldLiveHeapKBPerStream float64 `json:"server_live_heap_kb_per_held_stream,omitempty"`
	ThreadsPerStream        float64 `json:"server_threads_per_held_stream"`
	BackgroundCPUPct        float64 `json:"server_background_cpu_pct"`
	OtherCPUPct             float64 `json:"other_processes_cpu_pct"`
	VisitorsHeld            int     `json:"visitors_held"`
	Chatting                int     `json:"chats"`

	// From /metrics (go_goroutines) before and after the browsing streams opened.
	GoroutinesIdle          int      `json:"server_goroutines_idle,omitempty"`
	GoroutinesHeld          int      `json:"server_goroutines_browsing_held,omitempty"`
	GoroutinesPerHeldStream float64  `json:"goroutines_per_held_stream,omitempty"`
	ServerStreamsOpen       int      `json:"server_visitor_streams_open,omitempty"`
	ProfileTop              []string `json:"server_cpu_profile_top,omitempty"`
	FlowProfileTop          []string `json:"server_cpu_profile_flows_top,omitempty"`
	BackgroundProfileTop    []string `json:"server_cpu_profile_background_top,omitempty"`

	Goroutines          int      `json:"server_goroutines"`
	StreamsAtDump       int      `json:"streams_at_goroutine_dump"`
	GoroutinesPerStream float64  `json:"goroutines_per_stream"`
	GoroutinesByCreator []string `json:"goroutines_by_creator"`

	// Baseline is the server just started (after a GC), before any client.
	Baseline     MemSample      `json:"baseline"`
	PresenceHold *PresenceCheck `json:"presence_after_hold,omitempty"`
	Mux          *MuxResult     `json:"mux,omitempty"`
	Leave        *LeaveResult   `json:"leave,omitempty"`

	OpenLoop   PhaseResult  `json:"open_loop"`
	ClosedLoop *PhaseResult `json:"closed_loop,omitempty"`

	Latency map[string]hist.Summary `json:"latency"`

	Storm struct {
		Streams         int     `json:"streams"`
		Backlog         int     `json:"backlog_messages"`
		ResumedSeconds  float64 `json:"all_resumed_seconds"`
		CaughtUpSeconds float64 `json:"all_caught_up_seconds"`
		Replayed        int64   `json:"events_replayed"`
		CaughtUp        int     `json:"streams_caught_up"`
		Retried         int64   `json:"dials_retried"`
		// MassDisconnects is the server's count of mass disconnects by
		// the storm's end: the storm's closes should make one.
		MassDisconnects int `json:"server_mass_disconnects"`
	} `json:"reconnect_storm"`

	Floor struct {
		Echo  *EchoFloor  `json:"echo,omitempty"`
		Relay *RelayFloor `json:"relay,omitempty"`
		Bolt  *BoltFloor  `json:"bbolt,omitempty"`
	} `json:"floor"`
	Ratios map[string]float64 `json:"ratios"`

	Counts      map[string]int64 `json:"counts"`
	FirstErrors []string         `json:"first_errors,omitempty"`
	Notes       []string         `json:"notes,omitempty"`

	Hists      map[string]*hist.Histogram `json:"-"`
	Histograms map[string]hist.Snapshot   `json:"histograms"`
}

func numCPU() int { return runtime.NumCPU() }

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return runtime.Version()
}

// collect merges what the workers and the agents measured.
func (r *Results) collect(cfg Config, reports []Event, agents *agentPool, stormStart time.Time) {
	merge := func(name string, h *hist.Histogram) {
		if r.Hists[name] == nil {
			r.Hists[name] = hist.New()
		}
		r.Hists[name].Merge(h)
	}
	r.Counts = map[string]int64{}
	submits := map[string]int64{}
	var resumedAll, caughtAll int64
	for _, e := range reports {
		w := e.Report
		if w == nil {
			continue
		}
		for name, s := range w.Histograms {
			if h, err := hist.FromSnapshot(s); err == nil {
				merge(name, h)
			}
		}
		for k, v := range w.SubmitTimes {
			submits[k] = v
		}
		resumedAll = max(resumedAll, w.ResumedAll)
		caughtAll = max(caughtAll, w.CaughtUpAll)
		r.Storm.Replayed += w.Replayed
		r.Storm.Retried += w.Retried
		r.Storm.Streams += w.Resumed
		r.VisitorsHeld += w.Held
		r.Storm.CaughtUp += w.CaughtUp
		r.Counts["page_views"] += w.PageViews
		r.Counts["visitor_send_errors"] += w.SendErrors
		r.Counts["visitor_errors"] += w.Errors
		r.Counts["invitations"] += int64(w.Invited)
		r.Counts["forms_submitted"] += int64(w.Submitted)
		r.FirstErrors = append(r.FirstErrors, w.FirstErrors...)
	}
	agents.mu.Lock()
	for name, h := range agents.hists {
		merge(name, h)
	}
	qa := hist.New()
	for vid, at := range agents.alertTimes {
		if sent, ok := submits[vid]; ok {
			qa.Record(at - sent)
		}
	}
	r.FirstErrors = append(r.FirstErrors, agents.firstErr...)
	agents.mu.Unlock()
	if qa.Count() > 0 {
		r.Hists["queue_assignment"] = qa
	}
	r.Counts["alerts"] = agents.alerts.Load()
	r.Counts["accepted"] = agents.accepted.Load()
	r.Counts["accept_errors"] = agents.acceptErrors.Load()
	r.Counts["presence_events_to_agents"] = agents.presenceEvents.Load()
	r.Counts["agent_stream_restarts"] = agents.resnapshots.Load() + agents.presenceResnapshots.Load()
	r.Counts["presence_stream_restarts"] = agents.presenceResnapshots.Load()
	r.Counts["visitor_messages_seen_by_agents"] = agents.received.Load()
	r.Counts["agent_replies"] = agents.replies.Load()
	r.Counts["agent_errors"] = agents.errors.Load()
	if resumedAll > 0 {
		r.Storm.ResumedSeconds = float64(resumedAll-stormStart.UnixNano()) / 1e9
		r.Storm.CaughtUpSeconds = float64(caughtAll-stormStart.UnixNano()) / 1e9
	}
}

// finish computes summaries and the ratios to the floor.
func (r *Results) finish() {
	r.Latency = map[string]hist.Summary{}
	r.Histograms = map[string]hist.Snapshot{}
	for name, h := range r.Hists {
		r.Latency[name] = h.Summarize()
		r.Histograms[name] = h.Snapshot()
	}
	r.Ratios = map[string]float64{}
	best := r.OpenLoop.AckedPerS
	if r.ClosedLoop != nil {
		best = max(best, r.ClosedLoop.AckedPerS)
	}
	if e := r.Floor.Echo; e != nil {
		if e.RoundTripsPerS > 0 {
			r.Ratios["durable_msgs_per_s / echo_round_trips_per_s"] = round(best/e.RoundTripsPerS, 4)
		}
		if v, ok := r.Latency["visitor_to_agent"]; ok && e.OneStream.P50Ms > 0 {
			r.Ratios["visitor_to_agent_p50 / echo_one_stream_p50"] = round(v.P50Ms/e.OneStream.P50Ms, 1)
			r.Ratios["visitor_to_agent_p99 / echo_one_stream_p99"] = round(v.P99Ms/e.OneStream.P99Ms, 1)
		}
		if e.ServerCPUPerRT > 0 && r.ClosedLoop != nil && r.ClosedLoop.ServerCPUUsPerMsgNet > 0 {
			r.Ratios["server_cpu_per_msg / echo_server_cpu_per_round_trip"] = round(r.ClosedLoop.ServerCPUUsPerMsgNet/e.ServerCPUPerRT, 1)
		}
	}
	if f := r.Floor.Relay; f != nil && f.KBPerOwnConn > 0 && r.MemPerStreamKB > 0 {
		r.Ratios["kb_per_held_stream / bare_kb_per_idle_stream"] = round(r.MemPerStreamKB/f.KBPerOwnConn, 2)
	}
	if f := r.Floor.Relay; f != nil && f.KBPerMuxStream > 0 && r.Mux != nil && r.Mux.KBPerStream > 0 {
		r.Ratios["kb_per_mux_stream / bare_kb_per_idle_mux_stream"] = round(r.Mux.KBPerStream/f.KBPerMuxStream, 2)
	}
	if f := r.Floor.Relay; f != nil && f.MsgsPerS > 0 {
		r.Ratios["durable_msgs_per_s / relay_msgs_per_s"] = round(best/f.MsgsPerS, 4)
		if f.ServerCPU > 0 && r.ClosedLoop != nil && r.ClosedLoop.ServerCPUUsPerMsgNet > 0 {
			r.Ratios["server_cpu_per_msg / relay_server_cpu_per_msg"] = round(r.ClosedLoop.ServerCPUUsPerMsgNet/f.ServerCPU, 2)
		}
	}
	if b := r.Floor.Bolt; b != nil {
		if b.PutsPerS > 0 {
			r.Ratios["durable_msgs_per_s / bbolt_one_put_per_txn_per_s"] = round(best/b.PutsPerS, 3)
		}
		if b.BatchPutsPerS > 0 {
			r.Ratios["durable_msgs_per_s / bbolt_100_puts_per_txn_per_s"] = round(best/b.BatchPutsPerS, 4)
		}
		if v, ok := r.Latency["ack_L"]; ok && b.Latency.P50Ms > 0 {
			r.Ratios["send_ack_p50 / bbolt_commit_p50"] = round(v.P50Ms/b.Latency.P50Ms, 1)
		}
	}
	r.Notes = append(r.Notes,
		"Server memory per held stream is the growth of the server's RSS (/proc VmRSS) while the browsing visitors' streams opened, divided by their number; it includes the Go heap's GC headroom.",
		"Goroutines come from a dump of them all (pprof's goroutine?debug=2) with every stream still held (total / streams), and, when the server has /metrics, from go_goroutines before and after the browsing streams opened (per held stream). /proc shows OS threads only. The dump the Go runtime prints when the server gets SIGQUIT at the very end (GOTRACEBACK=all) counts what is left once every client has gone.",
		"Heap figures are read after a forced garbage collection (pprof's heap?gc=1), so they are live objects.",
		"Latencies of the open-loop phase count from each message's scheduled send time, not from when the client got round to sending it.")
}

func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (r *Results) lat(name string, quantiles string) string {
	s, ok := r.Latency[name]
	if !ok || s.Count == 0 {
		return "n/a"
	}
	switch quantiles {
	case "p50/p99/p999":
		return fmt.Sprintf("%s / %s / %s ms  n=%s", ms(s.P50Ms), ms(s.P99Ms), ms(s.P999Ms), num(float64(s.Count)))
	default:
		return fmt.Sprintf("%s / %s / %s ms  n=%s", ms(s.P50Ms), ms(s.P99Ms), ms(s.MaxMs), num(float64(s.Count)))
	}
}

// printTable writes the one table.
func (r *Results) printTable(out io.Writer) {
	fmt.Fprintf(out, "\nProactive Chat load test, %s — %s\n", r.Start, r.Pinning)
	fmt.Fprintf(out, "%d visitors (%d chatting, mode %s), %d agents, %s, %s\n\n", r.Config.Visitors, r.Chatting, r.Config.Mode,
		r.Config.Agents, plural(r.Workers, "worker process"), r.GoVersion)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t") }
	ratio := func(k, unit string) string {
		if v, ok := r.Ratios[k]; ok {
			return fmt.Sprintf("%g%s", v, unit)
		}
		return ""
	}
	row("", "measured", "floor (same run)", "ratio")
	row("visitors held", fmt.Sprintf("%s streams, one connection each", num(float64(r.VisitorsHeld))), "", "")
	row("  and agent streams", fmt.Sprintf("%d (WatchAgent, WatchPresence, WatchChat)", r.StreamsAtDump-r.Config.Visitors), "", "")
	var heldFloor, muxFloor string
	if f := r.Floor.Relay; f != nil && f.KBPerOwnConn > 0 {
		heldFloor = fmt.Sprintf("bare idle stream %.1f KB (%s held)", f.KBPerOwnConn, num(float64(f.HeldStreams)))
		muxFloor = fmt.Sprintf("bare idle stream %.1f KB (%d per connection)", f.KBPerMuxStream, f.MuxPerConn)
	}
	row("server memory per held stream", fmt.Sprintf("%.1f KB (RSS %.0f → %.0f MB for %s streams)", r.MemPerStreamKB, r.Server.Idle.RSSMB, r.Server.Held.RSSMB, num(float64(r.BrowseHeld))),
		heldFloor, ratio("kb_per_held_stream / bare_kb_per_idle_stream", "×"))
	if r.HoldLiveHeapKBPerStream > 0 {
		row("  of which, after a GC", fmt.Sprintf("stacks %.1f KB, live heap %.1f KB; the rest is GC headroom", r.HoldStackKBPerStream, r.HoldLiveHeapKBPerStream), "", "")
	}
	g := "n/a"
	if r.Goroutines > 0 {
		g = fmt.Sprintf("%.2f (%s goroutines / %s streams; %d OS threads)", r.GoroutinesPerStream, num(float64(r.Goroutines)), num(float64(r.StreamsAtDump)), r.Server.Final.Threads)
	}
	if r.GoroutinesPerHeldStream > 0 {
		row("goroutines per stream", fmt.Sprintf("%.2f (go_goroutines %s → %s for %s streams)", r.GoroutinesPerHeldStream,
			num(float64(r.GoroutinesIdle)), num(float64(r.GoroutinesHeld)), num(float64(r.BrowseHeld))), "", "")
		row("", g, "", "")
	} else {
		row("goroutines per stream", g, "", "")
	}
	if r.PresenceHold != nil {
		row("presence, browsing visitors held", r.PresenceHold.String(), "", "")
	}
	if mx := r.Mux; mx != nil {
		row("multiplexed streams held", fmt.Sprintf("%s of %s over %s connections, opened in %.1f s", num(float64(mx.Held)), num(float64(mx.Streams)), num(float64(mx.Conns)), mx.OpenSeconds), "", "")
		row("  server memory per stream", fmt.Sprintf("%.1f KB (RSS %.0f → %.0f MB); stacks %.1f KB, live heap %.1f KB", mx.KBPerStream, mx.Before.RSSMB, mx.Held1.RSSMB,
			mx.StackKBPerStream, mx.LiveHeapKBPerStream), muxFloor, ratio("kb_per_mux_stream / bare_kb_per_idle_mux_stream", "×"))
		row("  goroutines per stream", fmt.Sprintf("%.2f", mx.GoroutinesPerStream), "", "")
		if mx.Presence != nil {
			row("  presence", mx.Presence.String(), "", "")
		}
		row("  after they left", fmt.Sprintf("%.1f s: %s visitors online (%s before), %s goroutines (%s before), live heap %.0f MB (%.0f MB before)",
			mx.GoneSeconds, num(float64(mx.After.VisitorsOnline)), num(float64(mx.Before.VisitorsOnline)), num(float64(mx.After.Goroutines)), num(float64(mx.Before.Goroutines)),
			mx.After.HeapAllocMB, mx.Before.HeapAllocMB), "", "")
	}
	var echoRT, boltPut, boltBatch, echoP50, echoCPU, boltP50 string
	if e := r.Floor.Echo; e != nil {
		echoRT = fmt.Sprintf("echo %s round trips/s", num(e.RoundTripsPerS))
		echoP50 = fmt.Sprintf("echo p50 %s ms (1 stream)", ms(e.OneStream.P50Ms))
		echoCPU = fmt.Sprintf("echo %.1f µs/round trip", e.ServerCPUPerRT)
	}
	if b := r.Floor.Bolt; b != nil {
		boltPut = fmt.Sprintf("bbolt %s puts/s, 1 per txn", num(b.PutsPerS))
		boltBatch = fmt.Sprintf("bbolt %s puts/s, 100 per txn", num(b.BatchPutsPerS))
		boltP50 = fmt.Sprintf("bbolt commit p50 %s ms", ms(b.Latency.P50Ms))
	}
	if c := r.ClosedLoop; c != nil {
		how := "unary SendMessage"
		if r.Config.Converse {
			how = "one Converse stream each"
		}
		row(fmt.Sprintf("durable messages/s, closed loop (%d chats, %s)", r.Chatting, how), fmt.Sprintf("%s/s", num(c.AckedPerS)), echoRT, ratio("durable_msgs_per_s / echo_round_trips_per_s", ""))
		if f := r.Floor.Relay; f != nil {
			row("", "", fmt.Sprintf("relay %s msgs/s (no storage)", num(f.MsgsPerS)), ratio("durable_msgs_per_s / relay_msgs_per_s", ""))
		}
		row("", "", boltPut, ratio("durable_msgs_per_s / bbolt_one_put_per_txn_per_s", ""))
		row("", "", boltBatch, ratio("durable_msgs_per_s / bbolt_100_puts_per_txn_per_s", ""))
	}
	row("durable messages/s, open loop", fmt.Sprintf("%s/s of %s/s offered", num(r.OpenLoop.AckedPerS), num(r.Config.Rate)), "", "")
	row("visitor→agent message p50/p99/p999", r.lat("visitor_to_agent", "p50/p99/p999"), echoP50, ratio("visitor_to_agent_p50 / echo_one_stream_p50", "× (p50)"))
	row("SendMessage acked p50/p99/p999", r.lat("ack_L", "p50/p99/p999"), boltP50, ratio("send_ack_p50 / bbolt_commit_p50", "× (p50)"))
	row("agent→visitor reply p50/p99/p999", r.lat("agent_to_visitor", "p50/p99/p999"), "", "")
	row("  load generator's own lateness", r.lat("loadgen_lateness", "p50/p99/p999"), "timer wake-up → send (should be ≪ the above)", "")
	row("invitation p50/p99/max", r.lat("invitation", "max"), "criteria met → invitation on visitor's stream", "")
	row("queue assignment p50/p99/max", r.lat("queue_assignment", "max"), "form sent → agent alerted", "")
	row("without invite p50/p99/max", r.lat("noinvite_alert", "max"), "criteria met → agent alerted", "")
	st := r.Storm
	row("reconnect storm", fmt.Sprintf("%s of %s streams resumed in %.2f s, %s caught up in %.2f s", num(float64(st.Streams)), num(float64(r.VisitorsHeld)),
		st.ResumedSeconds, num(float64(st.CaughtUp)), st.CaughtUpSeconds), fmt.Sprintf("%s events replayed, %s dials retried, %d mass disconnect(s) seen", num(float64(st.Replayed)), num(float64(st.Retried)), st.MassDisconnects), "")
	row("  per stream p50/p99/max", r.lat("resume_caught_up", "max"), "reconnect → state + missed events", "")
	cpu := fmt.Sprintf("open loop %.0f%%, %.0f µs/msg", r.OpenLoop.ServerCPUPct, r.OpenLoop.ServerCPUUsPerMsgNet)
	if c := r.ClosedLoop; c != nil {
		cpu += fmt.Sprintf("; closed %.0f%%, %.0f µs/msg", c.ServerCPUPct, c.ServerCPUUsPerMsgNet)
	}
	row("server CPU (of one core)", cpu, echoCPU, ratio("server_cpu_per_msg / echo_server_cpu_per_round_trip", "×"))
	if f := r.Floor.Relay; f != nil {
		row("", "", fmt.Sprintf("relay %.1f µs/msg (GOMAXPROCS %s)", f.ServerCPU, cmp.Or(f.GOMAXPROCS, "default")), ratio("server_cpu_per_msg / relay_server_cpu_per_msg", "×"))
	}
	row("  background (browsing only)", fmt.Sprintf("%.0f%%", r.BackgroundCPUPct), "", "")
	if c := r.ClosedLoop; c != nil && c.ServerWritesPerMsg > 0 {
		row("server syscalls per message", fmt.Sprintf("closed loop %.1f writes, %.1f reads; open loop %.1f writes, %.1f reads",
			c.ServerWritesPerMsg, c.ServerReadsPerMsg, r.OpenLoop.ServerWritesPerMsg, r.OpenLoop.ServerReadsPerMsg), "sockets and bbolt pwrites (/proc/PID/io)", "")
	}
	lg := fmt.Sprintf("open loop %.0f%%", r.OpenLoop.LoadgenCPUPct)
	if c := r.ClosedLoop; c != nil {
		lg += fmt.Sprintf("; closed %.0f%%", c.LoadgenCPUPct)
	}
	row("load generator CPU (of one core)", lg, "", "")
	oth := fmt.Sprintf("%.0f%% over the run", r.OtherCPUPct)
	if c := r.ClosedLoop; c != nil {
		oth += fmt.Sprintf("; open loop %.0f%%, closed %.0f%%", r.OpenLoop.OtherCPUPct, c.OtherCPUPct)
	}
	row("other processes' CPU (of one core)", oth, "should be ~0 for clean figures", "")
	if l := r.Leave; l != nil {
		row("after every client left", l.String(r.Baseline), "", "")
	}
	if c := r.ClosedLoop; c != nil && c.CommitsPerS > 0 {
		row("bbolt writer, closed loop", fmt.Sprintf("%s commits/s, %.1f updates each, %.2f ms per commit, busy %.0f%%",
			num(c.CommitsPerS), c.MeanBatch, c.MeanCommitMs, c.WriterBusyPct), fmt.Sprintf("server's SendMessage mean %s ms", ms(c.ServerMsgMeanMs)), "")
	}
	tw.Flush()
	errs := r.Counts["visitor_errors"] + r.Counts["agent_errors"]
	fmt.Fprintf(out, "\n%s page views, %s presence events to agents, %s alerts, %s agent streams cut off as slow and restarted by the server (%s of them presence), %s errors. µs/msg is net of the background.\n",
		num(float64(r.Counts["page_views"])), num(float64(r.Counts["presence_events_to_agents"])), num(float64(r.Counts["alerts"])), num(float64(r.Counts["agent_stream_restarts"])), num(float64(r.Counts["presence_stream_restarts"])), num(float64(errs)))
	if l := r.Leave; l != nil && len(l.GoroutinesByCreator) > 0 {
		fmt.Fprintf(out, "Goroutines left after every client left, by creator: %s.\n", strings.Join(l.GoroutinesByCreator, "; "))
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintln(out, "  error:", e)
	}
}

// write saves latest.json and latency.svg in dir.
func (r *Results) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(dir, "latest.json")
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	svgPath := filepath.Join(dir, "latency.svg")
	if err := os.WriteFile(svgPath, []byte(r.svg()), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s and %s\n", jsonPath, svgPath)
	return nil
}

// Plot series: histogram name, label, colour.
var plotSeries = [][3]string{
	{"visitor_to_agent", "visitor→agent message (open loop)", "#d62728"},
	{"ack_L", "SendMessage acknowledged (open loop)", "#ff7f0e"},
	{"agent_to_visitor", "agent→visitor reply", "#9467bd"},
	{"visitor_to_agent_closed_loop", "visitor→agent (closed loop, max rate)", "#8c564b"},
	{"invitation", "invitation (criteria met → stream)", "#2ca02c"},
	{"queue_assignment", "queue assignment (form → alert)", "#17becf"},
	{"echo_1_stream", "floor: connect-go echo, 1 stream", "#1f77b4"},
	{"echo_100_streams", "floor: connect-go echo, 100 streams", "#7f7f7f"},
}

// svg draws the latency distributions: the percentile spectrum (left) and
// the histogram on a log scale (right).
func (r *Results) svg() string {
	const W, H = 1280, 630
	const top, bottom = 70, 470
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="20" y="24" font-size="16" font-weight="bold">Proactive Chat latency distribution — %d visitors, %d chats, %s msg/s open loop</text>`+"\n",
		r.Config.Visitors, r.Chatting, num(r.Config.Rate))
	fmt.Fprintf(&b, `<text x="20" y="44" fill="#555">%s; %s. Open-loop latency counts from each message's scheduled send time.</text>`+"\n", esc(r.Start), esc(r.Pinning))

	// Shared y range (ms, log10) over the series present.
	lo, hi := math.Inf(1), math.Inf(-1)
	var present [][3]string
	for _, s := range plotSeries {
		h := r.Hists[s[0]]
		if h == nil || h.Count() == 0 {
			continue
		}
		present = append(present, s)
		lo = math.Min(lo, math.Max(float64(h.Min()), 1000)/1e6)
		hi = math.Max(hi, float64(h.Max())/1e6)
	}
	if len(present) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi <= ylo {
		yhi = ylo + 1
	}

	// Left: percentile spectrum.
	lx0, lx1 := 80.0, 600.0
	const xmax = 5.0 // up to 99.999 %
	yOf := func(msv float64) float64 {
		v := (math.Log10(math.Max(msv, 1e-9)) - ylo) / (yhi - ylo)
		return bottom - v*(bottom-top)
	}
	axes := func(x0, x1 float64, title, xlabel string) {
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" font-weight="bold">%s</text>`+"\n", x0, top-10, title)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="%.0f" height="%d" fill="none" stroke="#333"/>`+"\n", x0, top, x1-x0, bottom-top)
		for e := ylo; e <= yhi; e++ {
			y := yOf(math.Pow(10, e))
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, x1, y, y)
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, esc(msLabel(math.Pow(10, e))))
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, bottom+36, xlabel)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle" transform="rotate(-90 %.0f %d)">latency (ms, log scale)</text>`+"\n",
			x0-52, (top+bottom)/2, x0-52, (top+bottom)/2)
	}
	axes(lx0, lx1, "Percentile spectrum", "percentile")
	xOfP := func(x float64) float64 { return lx0 + x/xmax*(lx1-lx0) }
	for i, label := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		x := xOfP(float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>`+"\n", x, x, top, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, bottom+16, label)
	}
	for _, s := range present {
		h := r.Hists[s[0]]
		limit := math.Min(xmax, math.Log10(float64(h.Count())))
		var pts []string
		for i := 0; i <= 200; i++ {
			x := limit * float64(i) / 200
			q := 1 - math.Pow(10, -x)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOfP(x), yOf(float64(h.Quantile(q))/1e6)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s[2], strings.Join(pts, " "))
	}

	// Right: histogram, fraction of each series per log bin (10 per decade).
	rx0, rx1 := 700.0, 1240.0
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" font-weight="bold">Histogram (share of each series per bin, 10 bins per decade)</text>`+"\n", rx0, top-10)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%d" width="%.0f" height="%d" fill="none" stroke="#333"/>`+"\n", rx0, top, rx1-rx0, bottom-top)
	xOfMs := func(msv float64) float64 {
		v := (math.Log10(math.Max(msv, 1e-9)) - ylo) / (yhi - ylo)
		return rx0 + v*(rx1-rx0)
	}
	for e := ylo; e <= yhi; e++ {
		x := xOfMs(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>`+"\n", x, x, top, bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, bottom+16, esc(msLabel(math.Pow(10, e))))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">latency (ms, log scale)</text>`+"\n", (rx0+rx1)/2, bottom+36)
	nb := int((yhi - ylo) * 10)
	shares := map[string][]float64{}
	peak := 0.0
	for _, s := range present {
		h := r.Hists[s[0]]
		bins := make([]float64, nb)
		for _, bk := range h.Buckets() {
			mid := float64(bk.Lo+bk.Hi) / 2 / 1e6
			i := int((math.Log10(math.Max(mid, 1e-9)) - ylo) * 10)
			i = min(max(i, 0), nb-1)
			bins[i] += float64(bk.Count) / float64(h.Count())
		}
		for _, v := range bins {
			peak = math.Max(peak, v)
		}
		shares[s[0]] = bins
	}
	for _, s := range present {
		var pts []string
		for i, v := range shares[s[0]] {
			x := rx0 + (float64(i)+0.5)/float64(nb)*(rx1-rx0)
			y := bottom - v/peak*(bottom-top-10)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s[2], strings.Join(pts, " "))
	}

	// Legend.
	for i, s := range present {
		x := 80.0 + float64(i%2)*620
		y := float64(bottom + 62 + (i/2)*20)
		h := r.Hists[s[0]]
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="3"/>`+"\n", x, x+20, y-4, y-4, s[2])
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s (p50 %s ms)</text>`+"\n", x+26, y, esc(s[1]), ms(float64(h.Quantile(0.5))/1e6))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func msLabel(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%g s", v/1000)
	case v >= 1:
		return fmt.Sprintf("%g ms", v)
	default:
		return fmt.Sprintf("%g µs", v*1000)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
