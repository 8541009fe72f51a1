package crashtest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestWebhookDeliveriesSurviveKill: the server is killed with SIGKILL while
// a webhook delivery is in flight (the receiver holds it) and events wait
// behind it; once restarted it delivers every event of the log to the
// receiver at least once, each with its webhook-id, the interrupted one
// again.
func TestWebhookDeliveriesSurviveKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kills the server with POSIX signals")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	s := newServer(t, serverBinary(t), transport)
	s.args = []string{"-webhooks-allow-http", "-webhooks-allow-private"}
	adminKey, err := s.createAPIKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.stop(syscall.SIGTERM)
		s.scanLogs(t)
	}()
	api := newClients(&http.Client{Transport: transport}, s.url(), adminKey)

	// The receiver checks each signature, counts each webhook-id, and holds
	// the first request it is told to until the server is gone.
	var (
		mu       sync.Mutex
		secret   string
		received = map[string]int{}
		badSigs  []string
	)
	var hold atomic.Bool
	held := make(chan string, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		mu.Lock()
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.%s", id, r.Header.Get("webhook-timestamp"), body)
		if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			badSigs = append(badSigs, id)
		}
		received[id]++
		mu.Unlock()
		if hold.CompareAndSwap(true, false) {
			held <- id
			<-r.Context().Done() // the server is killed
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	hook := must(api.admin.CreateWebhook(ctx, as(adminKey, &pb.CreateWebhookRequest{
		Url: recv.URL, EventTypes: []string{"agent.status_changed"},
	})))(t).Msg.GetWebhook()
	mu.Lock()
	secret = hook.GetSecret()
	mu.Unlock()
	agent := must(api.admin.CreateAgent(ctx, as(adminKey, &pb.CreateAgentRequest{DisplayName: "Hook"})))(t).Msg.GetAgent()
	token := must(api.admin.CreateAgentSession(ctx, as(adminKey, &pb.CreateAgentSessionRequest{AgentId: agent.GetId()})))(t).Msg.GetToken()
	toggle := func(n int) {
		for i := range n {
			status := pb.AgentStatus_AGENT_STATUS_AVAILABLE
			if i%2 == 1 {
				status = pb.AgentStatus_AGENT_STATUS_AWAY
			}
			must(api.agent.SetAgentStatus(ctx, as(token, &pb.SetAgentStatusRequest{AgentId: agent.GetId(), Status: status})))(t)
		}
	}

	toggle(4) // delivered
	hold.Store(true)
	toggle(20) // the first is held, the rest wait behind it
	var heldID string
	select {
	case heldID = <-held:
	case <-ctx.Done():
		t.Fatal("no delivery was held")
	}
	s.kill()
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	toggle(6)

	// Every event of the log reaches the receiver, the held one twice.
	var want []string
	for after := uint64(0); ; {
		res := must(api.admin.ListEvents(ctx, as(adminKey, &pb.ListEventsRequest{After: after, Types: []string{"agent.status_changed"}})))(t).Msg
		for _, ev := range res.GetEvents() {
			want = append(want, ev.GetId())
		}
		if !res.GetHasMore() {
			break
		}
		after = res.GetNextAfter()
	}
	if len(want) < 30 {
		t.Fatalf("%d events in the log, want at least 30", len(want))
	}
	for {
		mu.Lock()
		var missing []string
		for _, id := range want {
			if received[id] == 0 {
				missing = append(missing, id)
			}
		}
		again := received[heldID]
		mu.Unlock()
		if len(missing) == 0 && again >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after the kill: %d events never delivered (%v); the held one delivered %d times", len(missing), missing, again)
		case <-time.After(10 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(badSigs) > 0 {
		t.Errorf("bad signatures on %v", badSigs)
	}
}
