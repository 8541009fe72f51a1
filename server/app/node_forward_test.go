package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
)

// TestNode_ForwardedRequestsEndWhenTheLeaderChanges: a leader that takes
// requests and never answers (paused with SIGSTOP, or cut off) would hold
// what followers forwarded to it until the proxy's pings give up on the
// connection. Once the follower reads that another node leads, what it
// forwarded to the old one ends at once with UNAVAILABLE, for the client
// to retry through the new leader.
func TestNode_ForwardedRequestsEndWhenTheLeaderChanges(t *testing.T) {
	arrived := make(chan struct{}, 1)
	hold := make(chan struct{})
	stuck := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	stuck.Config.Protocols = &protocols
	stuck.Start()
	defer stuck.Close()
	defer close(hold)

	// A node whose NATS is nowhere: it never joins, so only the test says
	// who leads.
	node, err := app.OpenNode(app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "n1.db")},
		app.ClusterConfig{Node: "n1", NATSURL: "nats://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	node.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		node.Shutdown(ctx)
	}()
	if !node.SetLeader("n2", strings.TrimPrefix(stuck.URL, "http://")) {
		t.Fatal("the first leader was not a change")
	}
	res := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		node.ServeHTTP(res, httptest.NewRequest(http.MethodGet, "/v1/sites", nil))
	}()
	select {
	case <-arrived:
	case <-time.After(converge):
		t.Fatal("the request was not forwarded to the leader")
	}
	if node.SetLeader("n2", strings.TrimPrefix(stuck.URL, "http://")) {
		t.Fatal("the same leader read again was a change")
	}
	node.SetLeader("n3", "127.0.0.1:9")
	select {
	case <-done:
	case <-time.After(converge):
		t.Fatal("the request forwarded to the old leader still waits for it")
	}
	if res.Code != http.StatusServiceUnavailable || res.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d (Retry-After %q), want 503 with Retry-After", res.Code, res.Header().Get("Retry-After"))
	}
}
