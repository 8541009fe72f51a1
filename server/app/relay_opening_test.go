package app_test

import (
	"encoding/binary"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
)

// TestNode_ARelayOpensAFewStreamsAtTheLeaderAtOnce: widgets that all
// reach a follower at once (a node back after a crash, all its visitors
// reconnecting to it) are opened at the leader at most
// app.RelayOpening at a time; the others wait at the follower, and every
// one is opened in the end. Before, only re-opens were bounded, and a
// burst of first opens reached the leader all at once, which starved a
// leader of 55,000 visitors until another node deposed it.
func TestNode_ARelayOpensAFewStreamsAtTheLeaderAtOnce(t *testing.T) {
	const widgets = 3 * app.RelayOpening
	var inflight, most atomic.Int64
	release := make(chan struct{})
	first, err := proto.Marshal(&pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_KeepAlive{KeepAlive: &pb.KeepAlive{}}})
	if err != nil {
		t.Fatal(err)
	}
	leader := fakeLeader(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
			inflight.Add(-1)
			return
		}
		// Done opening: the relay may open the next one once it has the
		// first message.
		inflight.Add(-1)
		w.Header().Set("Content-Type", "application/grpc+proto")
		w.WriteHeader(http.StatusOK)
		env := make([]byte, 5, 5+len(first))
		binary.BigEndian.PutUint32(env[1:], uint32(len(first)))
		w.Write(append(env, first...))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.SetLeader("n2", leader)
	visitors := proactivechatv1connect.NewVisitorServiceClient(h2cClient(t), "http://"+node.Addr().String(), connect.WithGRPC())
	ctx := testContext(t)

	var opened sync.WaitGroup
	for i := range widgets {
		opened.Add(1)
		go func() {
			s, err := visitors.WatchVisitor(ctx, connect.NewRequest(&pb.WatchVisitorRequest{VisitorId: "visitor_" + string(rune('a'+i%26))}))
			if err != nil {
				t.Error(err)
				opened.Done()
				return
			}
			if !s.Receive() {
				t.Errorf("widget %d: %v", i, s.Err())
			}
			opened.Done()
			<-ctx.Done()
		}()
	}
	// Every widget reached the follower: opening at the leader, or waiting.
	for inflight.Load()+node.RelayWaiting() < widgets {
		select {
		case <-ctx.Done():
			t.Fatalf("%d opening at the leader and %d waiting, of %d", inflight.Load(), node.RelayWaiting(), widgets)
		case <-time.After(time.Millisecond):
		}
	}
	if got := most.Load(); got > app.RelayOpening {
		t.Fatalf("%d streams opening at the leader at once, want at most %d", got, app.RelayOpening)
	}
	for range widgets {
		select {
		case release <- struct{}{}:
		case <-ctx.Done():
			t.Fatalf("the leader got %d opens in all, of %d", most.Load(), widgets)
		}
	}
	opened.Wait()
	if got := most.Load(); got > app.RelayOpening {
		t.Errorf("%d streams opening at the leader at once, want at most %d", got, app.RelayOpening)
	}
}
