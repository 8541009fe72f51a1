package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// webhookTimeout is the delivery timeout of the servers under test.
const webhookTimeout = 300 * time.Millisecond

// hookRequest is one request the receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on loopback receiving deliveries: each
// request is sent on got, then answered by the next answer queued (200
// when none). An answer of 0 holds the request until the client gives up.
type receiver struct {
	*httptest.Server
	got     chan hookRequest
	answers chan answer
}

type answer struct {
	code       int
	retryAfter string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: make(chan hookRequest, 100), answers: make(chan answer, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		a := answer{code: 200}
		select {
		case a = <-r.answers:
		default:
		}
		r.got <- hookRequest{header: req.Header.Clone(), body: body}
		if a.code == 0 {
			<-req.Context().Done() // the sender timed out
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.code)
		fmt.Fprintf(w, "answered %d", a.code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) answer(codes ...int) {
	for _, c := range codes {
		r.answers <- answer{code: c}
	}
}

// next waits for the receiver's next request.
func (r *receiver) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(testTimeout):
		t.Fatal("the receiver got no request")
		return hookRequest{}
	}
}

// startWebhookServer is startServer with webhooks allowed on loopback over
// http, a short delivery timeout and no jitter.
func startWebhookServer(t *testing.T, dbPath string, clock *fakeclock.Clock) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	a, err := app.Open(app.Config{
		Addr: "127.0.0.1:0", DBPath: dbPath, Clock: clock,
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PresenceGrace:     presenceGrace,
		KeepAliveInterval: keepAliveInterval,
		WebhooksAllowHTTP: true, WebhooksAllowPrivate: true,
		WebhookTimeout: webhookTimeout,
		WebhookJitter:  func() float64 { return 1 }, // the full delay
	})
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if err := a.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	a.Start()
	s := &testServer{App: a, addr: a.Addr().String(), url: "http://" + a.Addr().String(), logs: logs}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s
}

// adminClient is an AdminService Connect client signed with the admin key.
func adminClient(t *testing.T, s *testServer) (proactivechatv1connect.AdminServiceClient, context.Context) {
	c := proactivechatv1connect.NewAdminServiceClient(http.DefaultClient, s.url, connect.WithInterceptors(connectTokenInterceptor{}))
	return c, withToken(testContext(t), keyringOf(t, s.App).admin)
}

// createWebhookREST creates an endpoint with POST /v1/webhooks and returns
// its id and secret.
func createWebhookREST(t *testing.T, s *testServer, url string, types ...string) (id, secret string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "eventTypes": types})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+keyringOf(t, s.App).admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Webhook struct {
			ID, Secret, URL string
			EventTypes      []string
			Enabled         bool
		}
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/webhooks: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	w := out.Webhook
	if !strings.HasPrefix(w.ID, "wh_") || !strings.HasPrefix(w.Secret, "whsec_") || w.URL != url || !w.Enabled || strings.Join(w.EventTypes, ",") != strings.Join(types, ",") {
		t.Fatalf("POST /v1/webhooks answered %s", b)
	}
	return w.ID, w.Secret
}

// verify checks a delivery's signature twice: by hand, computing the
// HMAC-SHA256 of "id.timestamp.body" as the spec says, and with the Standard
// Webhooks library's verifier.
func verify(t *testing.T, req hookRequest, secret string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", req.header.Get("webhook-id"), req.header.Get("webhook-timestamp"), req.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	found := false
	for _, sig := range strings.Fields(req.header.Get("webhook-signature")) {
		found = found || hmac.Equal([]byte(sig), []byte(want))
	}
	if !found {
		t.Errorf("webhook-signature %q lacks %q", req.header.Get("webhook-signature"), want)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	// The timestamps are the fake clock's, years ahead.
	if err := wh.VerifyIgnoringTimestamp(req.body, req.header); err != nil {
		t.Errorf("standardwebhooks: %v", err)
	}
}

type hookBody struct {
	Type      string
	Timestamp string
	Data      map[string]any
}

func decodeHook(t *testing.T, req hookRequest) hookBody {
	t.Helper()
	var b hookBody
	if err := json.Unmarshal(req.body, &b); err != nil {
		t.Fatalf("body %s: %v", req.body, err)
	}
	return b
}

// arrive brings a visitor onto the site: a visitor.arrived event.
func arrive(t *testing.T, ctx context.Context, c api, siteID string) string {
	t.Helper()
	v, _ := visitorOnline(t, ctx, c, siteID, "https://shop.example/")
	return v.GetId()
}

func lastDeliveries(t *testing.T, ctx context.Context, c proactivechatv1connect.AdminServiceClient, id string) []*pb.WebhookDelivery {
	t.Helper()
	res, err := c.ListWebhookDeliveries(ctx, connect.NewRequest(&pb.ListWebhookDeliveriesRequest{WebhookId: id}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetDeliveries()
}

// waitDeliveries waits for the endpoint's delivery log to hold n entries:
// a delivery is logged just after the receiver answered.
func waitDeliveries(t *testing.T, ctx context.Context, c proactivechatv1connect.AdminServiceClient, id string, n int) []*pb.WebhookDelivery {
	t.Helper()
	for {
		ds := lastDeliveries(t, ctx, c, id)
		if len(ds) >= n {
			return ds
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d deliveries logged, want %d", len(ds), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestWebhookDeliveries: deliveries to a real receiver on loopback are
// signed (checked by hand and by the library), retried on the schedule
// with the same webhook-id when the receiver answers 500 or times out,
// delayed by Retry-After, in log order, logged, counted in /metrics; a
// failing endpoint does not hold up another; 410 disables the endpoint.
func TestWebhookDeliveries(t *testing.T) {
	clock := fakeclock.New(t0)
	srv := startWebhookServer(t, filepath.Join(t.TempDir(), "proactivechat.db"), clock)
	c := newConnectClient(t, srv)
	admin, ctx := adminClient(t, srv)
	site := createSite(t, ctx, c, "Hooks", enabledWithoutInvite())

	recv := newReceiver(t)
	id, secret := createWebhookREST(t, srv, recv.URL, "visitor.arrived")
	other := newReceiver(t)
	otherID, _ := createWebhookREST(t, srv, other.URL, "visitor.arrived")

	// 500, then a timeout, then 200: three attempts of the same event.
	recv.answer(500, 0)
	visitor := arrive(t, ctx, c, site.GetId())
	first := recv.next(t)
	verify(t, first, secret)
	body := decodeHook(t, first)
	if body.Type != "visitor.arrived" || body.Data["visitorArrived"].(map[string]any)["visitorId"] != visitor || body.Data["siteId"] != site.GetId() {
		t.Fatalf("body %s", first.body)
	}
	if ts, _ := strconv.ParseInt(first.header.Get("webhook-timestamp"), 10, 64); ts != clock.Now().Unix() {
		t.Errorf("webhook-timestamp %d, want %d", ts, clock.Now().Unix())
	}
	evID := first.header.Get("webhook-id")
	if !strings.HasPrefix(evID, "evt_") {
		t.Fatalf("webhook-id %q", evID)
	}
	// The other endpoint got the event meanwhile.
	if got := other.next(t).header.Get("webhook-id"); got != evID {
		t.Errorf("other endpoint got %q, want %q", got, evID)
	}
	ds := waitDeliveries(t, ctx, admin, id, 1)
	if d := ds[0]; d.GetStatusCode() != 500 || d.GetSuccess() || d.GetAttempt() != 1 || d.GetEventId() != evID ||
		!d.GetNextAttemptTime().AsTime().Equal(clock.Now().Add(5*time.Second)) || d.GetResponseBody() != "answered 500" {
		t.Fatalf("first delivery %v", d)
	}
	clock.Advance(5 * time.Second)
	if got := recv.next(t).header.Get("webhook-id"); got != evID {
		t.Fatalf("retry webhook-id %q, want %q", got, evID)
	}
	ds = waitDeliveries(t, ctx, admin, id, 2)
	if d := ds[0]; d.GetStatusCode() != 0 || !strings.Contains(d.GetError(), "no answer within") || d.GetAttempt() != 2 {
		t.Fatalf("timed-out delivery %v", d)
	}
	clock.Advance(30 * time.Second)
	third := recv.next(t)
	verify(t, third, secret)
	if got := third.header.Get("webhook-id"); got != evID {
		t.Fatalf("second retry webhook-id %q, want %q", got, evID)
	}
	if d := waitDeliveries(t, ctx, admin, id, 3)[0]; !d.GetSuccess() || d.GetStatusCode() != 200 || d.GetAttempt() != 3 {
		t.Fatalf("third delivery %v", d)
	}

	// Retry-After replaces the schedule's delay; the events behind the
	// failing one wait, then come in log order.
	recv.answers <- answer{code: 503, retryAfter: "120"}
	var visitors []string
	for range 3 {
		visitors = append(visitors, arrive(t, ctx, c, site.GetId()))
	}
	head := recv.next(t)
	ds = waitDeliveries(t, ctx, admin, id, 4)
	if d := ds[0]; d.GetStatusCode() != 503 || !d.GetNextAttemptTime().AsTime().Equal(clock.Now().Add(2*time.Minute)) {
		t.Fatalf("delivery answered 503 Retry-After: 120: %v", d)
	}
	for _, v := range visitors { // the other endpoint is not held up
		if got := decodeHook(t, other.next(t)).Data["visitorArrived"].(map[string]any)["visitorId"]; got != v {
			t.Errorf("other endpoint got visitor %v, want %s", got, v)
		}
	}
	clock.Advance(2 * time.Minute)
	for i, v := range visitors {
		req := recv.next(t)
		if got := decodeHook(t, req).Data["visitorArrived"].(map[string]any)["visitorId"]; got != v {
			t.Fatalf("delivery %d is of visitor %v, want %s", i, got, v)
		}
		if i == 0 && req.header.Get("webhook-id") != head.header.Get("webhook-id") {
			t.Fatalf("webhook-id changed on retry")
		}
	}

	// Ping and Redeliver: once, now, logged.
	ping, err := admin.PingWebhook(ctx, connect.NewRequest(&pb.PingWebhookRequest{WebhookId: id}))
	if err != nil || !ping.Msg.GetDelivery().GetSuccess() || ping.Msg.GetDelivery().GetEventType() != "webhook.ping" {
		t.Fatalf("PingWebhook: %v %v", ping, err)
	}
	if b := decodeHook(t, recv.next(t)); b.Type != "webhook.ping" || b.Data["webhookId"] != id {
		t.Fatalf("ping body %v", b)
	}
	re, err := admin.RedeliverWebhookEvent(ctx, connect.NewRequest(&pb.RedeliverWebhookEventRequest{WebhookId: id, EventId: evID}))
	if err != nil || !re.Msg.GetDelivery().GetSuccess() {
		t.Fatalf("RedeliverWebhookEvent: %v %v", re, err)
	}
	if got := recv.next(t).header.Get("webhook-id"); got != evID {
		t.Fatalf("redelivered webhook-id %q, want %q", got, evID)
	}

	// Rotation: both secrets sign during the overlap.
	rot, err := admin.RotateWebhookSecret(ctx, connect.NewRequest(&pb.RotateWebhookSecretRequest{WebhookId: id}))
	if err != nil {
		t.Fatal(err)
	}
	arrive(t, ctx, c, site.GetId())
	req := recv.next(t)
	verify(t, req, secret)
	verify(t, req, rot.Msg.GetSecret())
	if n := len(strings.Fields(req.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the overlap, want 2", n)
	}

	// 410 Gone disables the endpoint, and nothing more is sent to it.
	recv.answer(410)
	arrive(t, ctx, c, site.GetId())
	recv.next(t)
	for {
		got, err := admin.GetWebhook(ctx, connect.NewRequest(&pb.GetWebhookRequest{WebhookId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if w := got.Msg.GetWebhook(); !w.GetEnabled() {
			if !strings.Contains(w.GetDisabledReason(), "410") || w.GetSecret() != "" {
				t.Fatalf("disabled webhook %v", w)
			}
			break
		}
		time.Sleep(5 * time.Millisecond) // polls the API: the engine's write is not observable otherwise
	}
	// Enabled again, it resumes with the event it was refused.
	_, err = admin.UpdateWebhook(ctx, connect.NewRequest(&pb.UpdateWebhookRequest{
		Webhook: &pb.Webhook{Id: id, Enabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enabled"}}}))
	if err != nil {
		t.Fatal(err)
	}
	recv.next(t)

	// Metrics count the failures.
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `proactivechat_webhook_deliveries_total{outcome="failure"} 4`) {
		t.Errorf("metrics lack 4 failures:\n%s", m)
	}

	if _, err := admin.DeleteWebhook(ctx, connect.NewRequest(&pb.DeleteWebhookRequest{WebhookId: otherID})); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetWebhook(ctx, connect.NewRequest(&pb.GetWebhookRequest{WebhookId: otherID}))
	wantCode(t, err, connect.CodeNotFound)
}

// TestWebhookEndpoints: over every protocol, endpoints are created (the
// secret shown once), read, listed, updated and deleted by admins; URLs
// that are not https, or on loopback or private addresses, are refused
// naming the field when the server does not allow them.
func TestWebhookEndpoints(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		for _, tc := range []struct {
			req   *pb.CreateWebhookRequest
			field string
		}{
			{&pb.CreateWebhookRequest{}, "url"},
			{&pb.CreateWebhookRequest{Url: "http://hooks.example/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "ftp://hooks.example/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://127.0.0.1/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://10.1.2.3/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://[::1]:8443/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://169.254.169.254/latest"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://localhost/in"}, "url"},
			{&pb.CreateWebhookRequest{Url: "https://hooks.example/in", EventTypes: []string{"chat.nope"}}, "event_types"},
		} {
			_, err := c.CreateWebhook(ctx, tc.req)
			wantCode(t, err, connect.CodeInvalidArgument)
			if f := badRequestFields(err); len(f) != 1 || f[0] != tc.field {
				t.Errorf("CreateWebhook(%v): fields %v, want %s", tc.req, f, tc.field)
			}
		}
		created := must[*pb.CreateWebhookResponse](t, "CreateWebhook")(c.CreateWebhook(ctx, &pb.CreateWebhookRequest{
			Url: "https://hooks.invalid/in", EventTypes: []string{"chat.started", "chat.ended"}, Disabled: true})).GetWebhook()
		if !strings.HasPrefix(created.GetSecret(), "whsec_") || created.GetEnabled() || len(created.GetEventTypes()) != 2 {
			t.Fatalf("CreateWebhook returned %v", created)
		}
		got := must[*pb.GetWebhookResponse](t, "GetWebhook")(c.GetWebhook(ctx, &pb.GetWebhookRequest{WebhookId: created.GetId()})).GetWebhook()
		if got.GetSecret() != "" || got.GetUrl() != created.GetUrl() {
			t.Errorf("GetWebhook returned %v", got)
		}
		list := must[*pb.ListWebhooksResponse](t, "ListWebhooks")(c.ListWebhooks(ctx, &pb.ListWebhooksRequest{})).GetWebhooks()
		if len(list) != 1 || list[0].GetSecret() != "" {
			t.Errorf("ListWebhooks returned %v", list)
		}
		upd := must[*pb.UpdateWebhookResponse](t, "UpdateWebhook")(c.UpdateWebhook(ctx, &pb.UpdateWebhookRequest{
			Webhook:    &pb.Webhook{Id: created.GetId(), Url: "https://hooks2.invalid/in", EventTypes: []string{"visitor.left"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url"}},
		})).GetWebhook()
		if upd.GetUrl() != "https://hooks2.invalid/in" || len(upd.GetEventTypes()) != 2 || upd.GetSecret() != "" {
			t.Errorf("UpdateWebhook returned %v", upd)
		}
		_, err := c.UpdateWebhook(ctx, &pb.UpdateWebhookRequest{
			Webhook: &pb.Webhook{Id: created.GetId(), Url: "https://192.168.1.1/"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"url"}}})
		wantCode(t, err, connect.CodeInvalidArgument)
		rot := must[*pb.RotateWebhookSecretResponse](t, "RotateWebhookSecret")(c.RotateWebhookSecret(ctx, &pb.RotateWebhookSecretRequest{WebhookId: created.GetId()}))
		if !strings.HasPrefix(rot.GetSecret(), "whsec_") || rot.GetSecret() == created.GetSecret() {
			t.Errorf("RotateWebhookSecret returned %q", rot.GetSecret())
		}
		_, err = c.RedeliverWebhookEvent(ctx, &pb.RedeliverWebhookEventRequest{WebhookId: created.GetId(), EventId: "nope"})
		wantCode(t, err, connect.CodeInvalidArgument)
		must[*pb.DeleteWebhookResponse](t, "DeleteWebhook")(c.DeleteWebhook(ctx, &pb.DeleteWebhookRequest{WebhookId: created.GetId()}))
		_, err = c.GetWebhook(ctx, &pb.GetWebhookRequest{WebhookId: created.GetId()})
		wantCode(t, err, connect.CodeNotFound)
	})
}

// TestWebhookRetriesSurviveRestart: an event whose delivery failed is
// retried after a restart on the schedule stored with the endpoint, with
// the same webhook-id; after 24 h of failures it is given up and the
// endpoint goes on with its next event.
func TestWebhookRetriesSurviveRestart(t *testing.T) {
	clock := fakeclock.New(t0)
	dbPath := filepath.Join(t.TempDir(), "proactivechat.db")
	srv := startWebhookServer(t, dbPath, clock)
	c := newConnectClient(t, srv)
	ctx := testContext(t)
	site := createSite(t, ctx, c, "Hooks", enabledWithoutInvite())
	recv := newReceiver(t)
	id, _ := createWebhookREST(t, srv, recv.URL, "visitor.arrived")

	recv.answer(500)
	arrive(t, ctx, c, site.GetId())
	evID := recv.next(t).header.Get("webhook-id")
	admin, actx := adminClient(t, srv)
	waitDeliveries(t, actx, admin, id, 1)
	if err := srv.shutdown(); err != nil {
		t.Fatal(err)
	}

	srv = startWebhookServer(t, dbPath, clock)
	c = newConnectClient(t, srv)
	admin, actx = adminClient(t, srv)
	// Failing for 24 h: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every
	// 2 h (no jitter here).
	failures := 1
	for elapsed := time.Duration(0); ; failures++ {
		delay := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}[min(failures, 7)-1]
		recv.answer(500)
		clock.Advance(delay)
		elapsed += delay
		if got := recv.next(t).header.Get("webhook-id"); got != evID {
			t.Fatalf("attempt %d: webhook-id %q, want %q", failures+1, got, evID)
		}
		d := waitDeliveries(t, actx, admin, id, failures+1)[0]
		if d.GetAttempt() != uint32(failures+1) {
			t.Fatalf("delivery %v, want attempt %d", d, failures+1)
		}
		if elapsed >= 24*time.Hour {
			if !strings.Contains(d.GetError(), "given up") || d.GetNextAttemptTime() != nil {
				t.Fatalf("attempt after 24 h: %v", d)
			}
			break
		}
	}
	if failures+1 != 19 { // the 19th at 25 h 42 min 35 s
		t.Errorf("%d attempts, want 19", failures+1)
	}
	// The endpoint goes on with the next event.
	v := arrive(t, ctx, c, site.GetId())
	if got := decodeHook(t, recv.next(t)).Data["visitorArrived"].(map[string]any)["visitorId"]; got != v {
		t.Fatalf("after giving up, got visitor %v, want %s", got, v)
	}
}
