package app_test

// The same events three ways: the durable log (ListEvents), the webhook
// deliveries made from it and the WatchEvents stream must carry the same
// events in the same order. The mode tests record a story with witnesses
// opened before it and check them after it.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// newWebhookServer is newServer with webhooks allowed to loopback
// receivers over http.
func newWebhookServer(t *testing.T) (*testServer, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.New(t0)
	return startWebhookServer(t, filepath.Join(t.TempDir(), "proactivechat.db"), clock), clock
}

// hookRecorder is a loopback webhook receiver that answers every request
// 204 and hands it on, in the order received, on got.
type hookRecorder struct {
	*httptest.Server
	got chan hookRequest
}

func newHookRecorder(t *testing.T) *hookRecorder {
	r := &hookRecorder{got: make(chan hookRequest, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case r.got <- hookRequest{header: req.Header.Clone(), body: body}:
			w.WriteHeader(http.StatusNoContent)
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// eventWitnesses watch the log from a position: a webhook endpoint for
// every event type, and a WatchEvents stream.
type eventWitnesses struct {
	after  uint64 // the log's end when the witnesses were opened
	watch  stream[pb.WatchEventsResponse]
	hooks  *hookRecorder
	secret string
}

// logEnd is the log's last position (0 when it is empty).
func logEnd(t *testing.T, ctx context.Context, c api) uint64 {
	t.Helper()
	req := &pb.ListEventsRequest{PageSize: 1000}
	for {
		res := must[*pb.ListEventsResponse](t, "ListEvents")(c.ListEvents(ctx, req))
		if !res.GetHasMore() {
			return res.GetNextAfter()
		}
		req.After = res.GetNextAfter()
	}
}

// witnessEvents registers a webhook endpoint for every event type at a
// loopback receiver and opens a WatchEvents stream, both from the log's
// current end. The server must allow loopback webhooks
// (newWebhookServer). Nothing may write to the log meanwhile.
func witnessEvents(t *testing.T, ctx context.Context, c api) *eventWitnesses {
	t.Helper()
	w := &eventWitnesses{after: logEnd(t, ctx, c), hooks: newHookRecorder(t)}
	hook := must[*pb.CreateWebhookResponse](t, "CreateWebhook")(c.CreateWebhook(ctx, &pb.CreateWebhookRequest{
		Url: w.hooks.URL + "/hooks", StartAfter: w.after,
	})).GetWebhook()
	if len(hook.GetEventTypes()) != 0 || !hook.GetEnabled() || hook.GetSiteId() != "" {
		t.Fatalf("CreateWebhook returned %v, want an enabled endpoint for every event of every site", hook)
	}
	w.secret = hook.GetSecret()
	w.watch = must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(c.WatchEvents(ctx, &pb.WatchEventsRequest{After: w.after}))
	t.Cleanup(w.watch.Close)
	return w
}

// nextHook waits, up to testTimeout, for the receiver's next request.
func (w *eventWitnesses) nextHook(t *testing.T, n int) hookRequest {
	t.Helper()
	select {
	case req := <-w.hooks.got:
		return req
	case <-time.After(testTimeout):
		t.Fatalf("the webhook receiver got %d requests, still waiting for the next", n)
		return hookRequest{}
	}
}

// checkSameEvents ends the story's record with a last change of its own
// (the agent going away: an agent.status_changed event, after which nothing
// more is written), reads the events logged since the witnesses were opened
// with ListEvents, and checks that the WatchEvents stream and the webhook
// receiver got exactly those events, in the log's order: the same events
// (ids, types, positions) on the stream, and deliveries with the event's id
// as webhook-id, its type and time in the body, each signed with the
// endpoint's secret (checked with the Standard Webhooks library). It
// returns the events.
func (w *eventWitnesses) checkSameEvents(t *testing.T, ctx context.Context, c api, agentID string) []*pb.Event {
	t.Helper()
	// The end of the record: with it on the stream and at the receiver,
	// nothing of the story can still be on its way to either.
	must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agentID, Status: away}))
	var watched []*pb.Event
	for {
		ev := nextEvent(t, w.watch)
		watched = append(watched, ev)
		if ev.GetType() == "agent.status_changed" && ev.GetAgentStatusChanged().GetAgentId() == agentID &&
			ev.GetAgentStatusChanged().GetStatus() == away {
			break
		}
	}
	logged := listAll(t, c, &pb.ListEventsRequest{After: w.after})
	if len(logged) < 2 {
		t.Fatalf("the log holds %d events since position %d, want the story's and the last", len(logged), w.after)
	}
	if last := logged[len(logged)-1]; last.GetType() != "agent.status_changed" || last.GetAgentStatusChanged().GetAgentId() != agentID {
		t.Fatalf("the log's last event is %v, want the agent going away", last)
	}

	// (1) WatchEvents: the same events, in the same order.
	if len(watched) != len(logged) {
		t.Errorf("WatchEvents delivered %d events, ListEvents has %d:\n watched %v\n  logged %v", len(watched), len(logged), eventTypes(watched), eventTypes(logged))
	}
	for i := range min(len(watched), len(logged)) {
		got, want := watched[i], logged[i]
		if got.GetId() != want.GetId() || got.GetType() != want.GetType() || got.GetPosition() != want.GetPosition() {
			t.Fatalf("WatchEvents event %d is %s %s at %d, ListEvents has %s %s at %d",
				i, got.GetId(), got.GetType(), got.GetPosition(), want.GetId(), want.GetType(), want.GetPosition())
		}
		protoEqual(t, "WatchEvents event "+want.GetId(), got, want)
	}
	for i := 1; i < len(logged); i++ {
		if logged[i].GetPosition() <= logged[i-1].GetPosition() {
			t.Fatalf("ListEvents positions %d then %d, want increasing", logged[i-1].GetPosition(), logged[i].GetPosition())
		}
	}

	// (2) Webhooks: one delivery per event, in the same order.
	for i, want := range logged {
		req := w.nextHook(t, i)
		body := decodeHook(t, req)
		if id := req.header.Get("webhook-id"); id != want.GetId() || body.Type != want.GetType() {
			t.Fatalf("webhook delivery %d is %s %s, ListEvents has %s %s (logged: %v)", i, id, body.Type, want.GetId(), want.GetType(), eventTypes(logged))
		}
		if ts, err := time.Parse(time.RFC3339Nano, body.Timestamp); err != nil || !ts.Equal(want.GetTime().AsTime()) {
			t.Errorf("webhook delivery of %s has timestamp %q, want %v", want.GetId(), body.Timestamp, want.GetTime().AsTime())
		}
		if want.GetSiteId() != "" && body.Data["siteId"] != want.GetSiteId() {
			t.Errorf("webhook delivery of %s is of site %v, want %s", want.GetId(), body.Data["siteId"], want.GetSiteId())
		}
		if !strings.HasPrefix(req.header.Get("webhook-signature"), "v1,") {
			t.Errorf("webhook delivery of %s signed %q", want.GetId(), req.header.Get("webhook-signature"))
		}
		verify(t, req, w.secret)
	}
	// Every delivery of the story came before the last event's.
	select {
	case req := <-w.hooks.got:
		t.Fatalf("the receiver got %s %s after the last event", req.header.Get("webhook-id"), decodeHook(t, req).Type)
	default:
	}
	return logged
}

// checkStoryEvents is checkSameEvents for a mode's story on a site created
// after the witnesses were opened: the site's events among those the three
// witnesses agree on are exactly the ones ListEvents gives for the site,
// which the funnel's counts were checked against (wantFunnelIsEvents).
func checkStoryEvents(t *testing.T, ctx context.Context, c api, w *eventWitnesses, siteID, agentID string) {
	t.Helper()
	events := w.checkSameEvents(t, ctx, c, agentID)
	var ofSite []*pb.Event
	for _, ev := range events {
		if ev.GetSiteId() == siteID {
			ofSite = append(ofSite, ev)
		}
	}
	funnelCounted := listAll(t, c, &pb.ListEventsRequest{SiteId: siteID})
	if len(ofSite) != len(funnelCounted) {
		t.Fatalf("the witnesses saw %d events of the site, the funnel was checked against %d:\n witnessed %v\n   counted %v",
			len(ofSite), len(funnelCounted), eventTypes(ofSite), eventTypes(funnelCounted))
	}
	for i, ev := range funnelCounted {
		protoEqual(t, "the site's event "+ev.GetId(), ofSite[i], ev)
	}
	for _, typ := range []string{"visitor.arrived", "request.alerted", "request.accepted", "chat.started", "chat.message", "chat.ended"} {
		found := false
		for _, ev := range ofSite {
			found = found || ev.GetType() == typ
		}
		if !found {
			t.Errorf("the story logged no %s event: %v", typ, eventTypes(ofSite))
		}
	}
}
