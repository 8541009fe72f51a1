package proactivechat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
)

// watcher runs Events in a goroutine and hands its events to the test.
type watcher struct {
	events chan *pb.Event
	done   chan error
}

func startWatcher(ctx context.Context, c api, after uint64, opts ...proactivechat.WatchOption) *watcher {
	w := &watcher{events: make(chan *pb.Event), done: make(chan error, 1)}
	go func() {
		for ev, err := range c.Events(ctx, after, opts...) {
			if err != nil {
				w.done <- err
				return
			}
			select {
			case w.events <- ev:
			case <-ctx.Done():
			}
		}
		w.done <- nil
	}()
	return w
}

// until reads events up to and including position end.
func (w *watcher) until(t *testing.T, ctx context.Context, end uint64) []*pb.Event {
	t.Helper()
	var got []*pb.Event
	for len(got) == 0 || got[len(got)-1].GetPosition() < end {
		select {
		case ev := <-w.events:
			got = append(got, ev)
		case err := <-w.done:
			t.Fatalf("Events ended after %d events: %v", len(got), err)
		case <-ctx.Done():
			t.Fatalf("waiting for position %d after %d events: %v", end, len(got), ctx.Err())
		}
	}
	return got
}

// logEnd returns the whole log and its last position.
func logEnd(t *testing.T, ctx context.Context, c api) ([]*pb.Event, uint64) {
	t.Helper()
	res, err := c.ListEvents(ctx, 0)
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if res.GetHasMore() {
		t.Fatal("ListEvents: more than a page")
	}
	return res.GetEvents(), res.GetNextAfter()
}

// TestEvents: over both transports, Events yields the log in order, skips
// keep-alives, and when the server restarts resumes after the last event
// it yielded: the events committed while it was away arrive, none twice.
func TestEvents(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		// Keep-alives every few milliseconds, for Events to skip.
		srv := startServer(t, func(c *app.Config) { c.KeepAliveInterval = 5 * time.Millisecond })
		ctx := testContext(t)
		admin := tr.dial(t, srv, srv.key)
		agent, err := admin.CreateAgent(ctx, "Dana")
		if err != nil {
			t.Fatal(err)
		}
		token, err := admin.CreateAgentSession(ctx, agent.GetId())
		if err != nil {
			t.Fatal(err)
		}
		dana := tr.dial(t, srv, token)
		status := pb.AgentStatus_AGENT_STATUS_AWAY
		toggle := func() { // each change records agent.status_changed
			t.Helper()
			status = map[pb.AgentStatus]pb.AgentStatus{
				pb.AgentStatus_AGENT_STATUS_AWAY:      pb.AgentStatus_AGENT_STATUS_AVAILABLE,
				pb.AgentStatus_AGENT_STATUS_AVAILABLE: pb.AgentStatus_AGENT_STATUS_AWAY,
			}[status]
			if err := dana.SetAgentStatus(ctx, agent.GetId(), status); err != nil {
				t.Fatalf("SetAgentStatus: %v", err)
			}
		}

		// The retry wait of the first failure tells the test and waits
		// for its go-ahead; later ones retry at once.
		retrying := make(chan error, 1)
		resume := make(chan struct{})
		wait := func(ctx context.Context, attempt int, err error) error {
			if attempt > 1 {
				t.Logf("retry %d after %v", attempt, err)
				return proactivechat.Backoff(time.Millisecond, 10*time.Millisecond)(ctx, attempt, err)
			}
			retrying <- err
			select {
			case <-resume:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		wctx, stop := context.WithCancel(ctx)
		w := startWatcher(wctx, admin, 0, proactivechat.WithRetryWait(wait))

		toggle()
		toggle()
		toggle()
		_, end := logEnd(t, ctx, admin)
		got := w.until(t, ctx, end)

		// The server goes away; the stream ends.
		stopped := make(chan error, 1)
		go func() { stopped <- srv.stop() }()
		select {
		case err := <-retrying:
			t.Logf("stream ended: %v", err)
		case err := <-w.done:
			t.Fatalf("Events ended on the restart: %v", err)
		case <-ctx.Done():
			t.Fatal("the stream did not end when the server stopped")
		}
		admin.closeIdle()
		dana.closeIdle()
		if err := <-stopped; err != nil {
			t.Fatalf("stop: %v", err)
		}
		// It comes back, and events commit before Events reconnects.
		if err := srv.restart(); err != nil {
			t.Fatalf("restart: %v", err)
		}
		toggle()
		toggle()
		close(resume)
		toggle() // and one while it watches
		all, end := logEnd(t, ctx, admin)
		got = append(got, w.until(t, ctx, end)...)

		if len(got) != len(all) {
			t.Fatalf("Events yielded %d events, the log holds %d", len(got), len(all))
		}
		for i := range all {
			if got[i].GetPosition() != uint64(i+1) || !proto.Equal(got[i], all[i]) {
				t.Fatalf("event %d = %v, want %v", i, got[i], all[i])
			}
		}
		if n := countType(got, "agent.status_changed"); n < 6 {
			t.Fatalf("%d agent.status_changed events, want at least 6", n)
		}

		stop()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Events after its context ended: %v, want context.Canceled", err)
		}
	})
}

func countType(evs []*pb.Event, typ string) int {
	n := 0
	for _, ev := range evs {
		if ev.GetType() == typ {
			n++
		}
	}
	return n
}

// TestEventsStopsOnRefusal: Events ends with the server's error when
// retrying cannot help, without calling the retry wait.
func TestEventsStopsOnRefusal(t *testing.T) {
	srv := mustSharedServer(t)
	forEachTransport(t, func(t *testing.T, tr transport) {
		ctx := testContext(t)
		noRetry := proactivechat.WithRetryWait(func(_ context.Context, _ int, err error) error {
			t.Errorf("retry wait called after %v", err)
			return err
		})
		for _, tc := range []struct {
			name  string
			token string
			after uint64
			code  connect.Code
		}{
			{"Unauthenticated", "pca_wrong", 0, connect.CodeUnauthenticated},
			{"CursorPastTheEnd", srv.key, 1 << 40, connect.CodeInvalidArgument},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := startWatcher(ctx, tr.dial(t, srv, tc.token), tc.after, noRetry)
				select {
				case ev := <-w.events:
					t.Fatalf("got event %v", ev)
				case err := <-w.done:
					if e, ok := proactivechat.AsError(err); !ok || e.Code != tc.code {
						t.Fatalf("Events ended with %v, want %v", err, tc.code)
					}
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			})
		}
	})
}

// TestEventsBreak: breaking out of the loop closes the stream and ends
// Events without an error.
func TestEventsBreak(t *testing.T) {
	srv := mustSharedServer(t)
	forEachTransport(t, func(t *testing.T, tr transport) {
		ctx := testContext(t)
		c := tr.dial(t, srv, srv.key)
		agent, err := c.CreateAgent(ctx, "Dana "+tr.name)
		if err != nil {
			t.Fatal(err)
		}
		token, err := c.CreateAgentSession(ctx, agent.GetId())
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.dial(t, srv, token).SetAgentStatus(ctx, agent.GetId(), pb.AgentStatus_AGENT_STATUS_AVAILABLE); err != nil {
			t.Fatal(err)
		}
		n := 0
		for ev, err := range c.Events(ctx, 0, proactivechat.WithTypes("agent.status_changed")) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetAgentStatusChanged().GetAgentId() == agent.GetId() {
				n++
				break
			}
		}
		if n != 1 {
			t.Fatalf("found %d events of the agent, want 1", n)
		}
	})
}

// TestBackoffEndsWithContext: the default wait returns at once when its
// context has ended.
func TestBackoffEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := proactivechat.Backoff(time.Hour, time.Hour)(ctx, 3, errors.New("boom")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backoff = %v, want context.Canceled", err)
	}
}
