package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/proactivechat/proactivechat/bench/hist"
)

func TestMessageText(t *testing.T) {
	sched := time.Date(2026, 11, 24, 12, 0, 0, 123456789, time.UTC).UnixNano()
	text := messageText('L', sched, 42, 64)
	if len(text) != 64 {
		t.Fatalf("len %d, want 64: %q", len(text), text)
	}
	phase, got, ok := parseMessage(text)
	if !ok || phase != 'L' || got != sched {
		t.Fatalf("parseMessage(%q) = %c, %d, %v", text, phase, got, ok)
	}
	for _, bad := range []string{"", "hello", "L t=x", "Lxt=1"} {
		if _, _, ok := parseMessage(bad); ok {
			t.Errorf("parseMessage(%q) accepted", bad)
		}
	}
}

func TestReportRenders(t *testing.T) {
	r := &Results{Config: Config{Visitors: 10, Rate: 100, Mode: "both"}, Hists: map[string]*hist.Histogram{}}
	h := hist.New()
	for i := range int64(1000) {
		h.Record(1e6 + i*1000)
	}
	r.Hists["visitor_to_agent"] = h
	r.Floor.Echo = &EchoFloor{RoundTripsPerS: 1000, OneStream: hist.Summary{P50Ms: 0.1, P99Ms: 0.2}}
	r.Floor.Bolt = &BoltFloor{PutsPerS: 1000, BatchPutsPerS: 10000}
	r.ClosedLoop = &PhaseResult{Seconds: 1, AckedPerS: 500}
	r.finish()
	var out bytes.Buffer
	r.printTable(&out)
	if !strings.Contains(out.String(), "visitor→agent message") {
		t.Errorf("table lacks the latency row:\n%s", out.String())
	}
	if got := r.Ratios["durable_msgs_per_s / echo_round_trips_per_s"]; got != 0.5 {
		t.Errorf("ratio to echo = %v, want 0.5", got)
	}
	svg := r.svg()
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "polyline") {
		t.Errorf("svg has no plot: %.200s", svg)
	}
}

func TestReportRendersMuxAndLeave(t *testing.T) {
	r := &Results{Config: Config{Visitors: 10, Rate: 100, Mode: "both"}, Hists: map[string]*hist.Histogram{}}
	r.PresenceHold = &PresenceCheck{Expected: 9, ServerOnline: 9, Agents: 2, AgentsMin: 9, AgentsMax: 9, Correct: true}
	r.Mux = &MuxResult{Streams: 100, Conns: 2, Held: 100, KBPerStream: 20,
		Presence: &PresenceCheck{Expected: 109, ServerOnline: 109, Agents: 2, AgentsMin: 108, AgentsMax: 109}}
	r.Leave = &LeaveResult{Seconds: 15, After: MemSample{Goroutines: 17}, GoroutinesByCreator: []string{"main: 1"}}
	r.Baseline = MemSample{Goroutines: 15}
	r.finish()
	var out bytes.Buffer
	r.printTable(&out)
	for _, want := range []string{
		"correct: 9 online on the server, 9–9 in each of 2 agents' views",
		"multiplexed streams held",
		"WRONG: 109 online on the server, 108–109",
		"after every client left",
		"17 goroutines (15 at start)",
		"by creator: main: 1.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWithToken(t *testing.T) {
	ctx := context.Background()
	if got := withToken(ctx, ""); got != ctx || authenticated(got) {
		t.Errorf("withToken without a token changed the context")
	}
	authed := withToken(ctx, "pcs_abc")
	if !authenticated(authed) {
		t.Fatal("withToken: the context carries no credential")
	}
	// Calls derive their contexts from the principal's: the header goes along.
	call, cancel := context.WithTimeout(authed, time.Second)
	defer cancel()
	md, _ := metadata.FromOutgoingContext(call)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer pcs_abc" {
		t.Errorf("authorization metadata = %q, want one \"Bearer pcs_abc\"", got)
	}
}
