package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
)

// TestMeasure_RelayedStreamsOnANodeThatBecomesTheLeader measures what a
// node pays for the widget streams it relayed once it leads itself: N
// widgets' streams are relayed by a follower to a leader (an App of the
// same process), then the follower leads with that App, and the relay
// opens every stream again, through the node's own port (as before) or in
// process. It reports the heap and goroutine stacks in use, and the
// goroutines, per stream, over what the process held before the streams
// (everything is in one process: the widgets' client ends, the relay and
// the leader's handlers count in both). Skipped unless
// PROACTIVECHAT_MEASURE_RELAY=N (e.g. 2000); bench/README.md has the
// figures:
//
//	PROACTIVECHAT_MEASURE_RELAY=2000 go test -run TestMeasure_RelayedStreams -v ./server/app
func TestMeasure_RelayedStreamsOnANodeThatBecomesTheLeader(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PROACTIVECHAT_MEASURE_RELAY"))
	if n <= 0 {
		t.Skip("PROACTIVECHAT_MEASURE_RELAY=N measures N relayed streams")
	}
	for _, mode := range []string{"own port", "in process", "own port", "in process", "own port", "in process"} {
		t.Run(mode, func(t *testing.T) {
			defer app.SetRelayInProcess(mode == "in process")()
			measureRelayedStreams(t, n, false)
		})
	}
}

// TestMeasure_TheLeadersOwnWidgets measures what a leader pays for
// relaying its own widgets' streams in process (so that they outlive its
// deposal) against its App serving them directly: N widgets' streams
// opened at a node that leads, each way in turn. Skipped unless
// PROACTIVECHAT_MEASURE_RELAY=N; bench/README.md has the figures:
//
//	PROACTIVECHAT_MEASURE_RELAY=2000 go test -run TestMeasure_TheLeadersOwnWidgets -v ./server/app
func TestMeasure_TheLeadersOwnWidgets(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PROACTIVECHAT_MEASURE_RELAY"))
	if n <= 0 {
		t.Skip("PROACTIVECHAT_MEASURE_RELAY=N measures N streams")
	}
	for _, mode := range []string{"direct", "relayed", "direct", "relayed", "direct", "relayed"} {
		t.Run(mode, func(t *testing.T) {
			defer app.SetRelayOwnStreams(mode == "relayed")()
			measureRelayedStreams(t, n, true)
		})
	}
}

// relayFigures is what the process holds, over its baseline, per stream.
type relayFigures struct{ heap, stacks, goroutines float64 }

func (f relayFigures) String() string {
	return fmt.Sprintf("heap %.1f KB, stacks %.1f KB, goroutines %.2f per stream", f.heap/1024, f.stacks/1024, f.goroutines)
}

func inUse(base runtime.MemStats, baseG int, n int) relayFigures {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return relayFigures{
		heap:       (float64(m.HeapInuse) - float64(base.HeapInuse)) / float64(n),
		stacks:     (float64(m.StackInuse) - float64(base.StackInuse)) / float64(n),
		goroutines: float64(runtime.NumGoroutine()-baseG) / float64(n),
	}
}

// measureRelayedStreams opens n widgets' streams at a node that follows
// (and then leads), or that leads from the start (own).
func measureRelayedStreams(t *testing.T, n int, own bool) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	leader, err := app.Open(app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "leader.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Listen(); err != nil {
		t.Fatal(err)
	}
	leader.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		leader.Shutdown(sctx)
	})
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.SetLeader("n2", leader.Addr().String())
	if own {
		node.LeadWith(leader)
	}

	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	direct := "http://" + leader.Addr().String()
	admin := proactivechatv1connect.NewAdminServiceClient(hc, direct)
	visitors := proactivechatv1connect.NewVisitorServiceClient(hc, direct)
	widgets := proactivechatv1connect.NewVisitorServiceClient(hc, "http://"+node.Addr().String())
	bearer := func(req connect.AnyRequest, token string) { req.Header().Set("Authorization", "Bearer "+token) }
	creq := connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop"})
	bearer(creq, leader.InitialAPIKey)
	site, err := admin.CreateSite(ctx, creq)
	if err != nil {
		t.Fatal(err)
	}
	type session struct{ id, token string }
	sessions := make([]session, n)
	for i := range sessions {
		s, err := visitors.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: site.Msg.GetSite().GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = session{s.Msg.GetVisitor().GetId(), s.Msg.GetToken()}
	}

	// What the runs before left behind settles first.
	for g := -1; g != runtime.NumGoroutine(); {
		g = runtime.NumGoroutine()
		time.Sleep(200 * time.Millisecond)
	}
	var base runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&base)
	baseG := runtime.NumGoroutine()

	// Each widget's stream is read on; states counts the states it got:
	// one when it opens, one more when the relay opens it again.
	var states atomic.Int64
	var failed atomic.Value // the first stream's error
	wctx, leave := context.WithCancel(ctx)
	defer leave()
	waitStates := func(want int64) {
		t.Helper()
		for states.Load() < want {
			if err := failed.Load(); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatalf("%d states of %d", states.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// One stream at a time: a burst of first requests would dial a
	// connection each.
	for i, s := range sessions {
		req := connect.NewRequest(&pb.WatchVisitorRequest{VisitorId: s.id})
		bearer(req, s.token)
		go func() {
			st, err := widgets.WatchVisitor(wctx, req)
			if err == nil {
				defer st.Close()
				for st.Receive() {
					if st.Msg().GetState() != nil {
						states.Add(1)
					}
				}
				err = st.Err()
			}
			if wctx.Err() == nil {
				failed.CompareAndSwap(nil, fmt.Errorf("a widget's stream ended: %v", err))
			}
		}()
		waitStates(int64(i + 1))
	}
	following := inUse(base, baseG, n)
	if own {
		t.Logf("%d widgets' streams at the leader: %v", n, following)
		return
	}
	start := time.Now()
	node.LeadWith(leader)
	waitStates(int64(2 * n))
	reopened := time.Since(start)
	leading := inUse(base, baseG, n)
	t.Logf("%d streams relayed to another node: %v", n, following)
	t.Logf("%d streams once the node leads (all opened again in %v): %v", n, reopened.Round(time.Millisecond), leading)
	t.Logf("the change: %v; self-forwarded requests: %d", relayFigures{leading.heap - following.heap,
		leading.stacks - following.stacks, leading.goroutines - following.goroutines}, node.SelfForwarded())
}
