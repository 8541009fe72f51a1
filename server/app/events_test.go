package app_test

import (
	"path/filepath"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// nextEvent reads a WatchEvents stream up to its next event.
func nextEvent(t *testing.T, s stream[pb.WatchEventsResponse]) *pb.Event {
	t.Helper()
	return recvUntil(t, s, func(m *pb.WatchEventsResponse) bool { return m.GetEvent() != nil }).GetEvent()
}

// listAll reads the whole log with ListEvents, page by page.
func listAll(t *testing.T, c api, req *pb.ListEventsRequest) []*pb.Event {
	t.Helper()
	ctx := testContext(t)
	var out []*pb.Event
	for {
		res := must[*pb.ListEventsResponse](t, "ListEvents")(c.ListEvents(ctx, req))
		out = append(out, res.GetEvents()...)
		if !res.GetHasMore() {
			return out
		}
		req = proto.CloneOf(req)
		req.After = res.GetNextAfter()
	}
}

func eventTypes(evs []*pb.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.GetType())
	}
	return out
}

// TestEventStream: over every protocol, the log's events are listed and
// watched in position order; a watch resumed after a position gets exactly
// the rest, live events follow the backlog without gap or duplicate, and
// both go on across a restart.
func TestEventStream(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		clock := fakeclock.New(t0)
		dbPath := filepath.Join(t.TempDir(), "proactivechat.db")
		srv := startServer(t, dbPath, clock)
		c := p.newClient(t, srv)
		ctx := testContext(t)

		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "Hello from Dana")
		all := listAll(t, c, &pb.ListEventsRequest{PageSize: 2})
		// The world's setup first: the server's first API key, the site,
		// the agent and its session.
		want := []string{"api_key.created", "site.created", "agent.created", "agent_session.created",
			"agent.status_changed", "visitor.arrived", "chat.started", "chat.message"}
		if got := eventTypes(all); !slices.Equal(got, want) {
			t.Fatalf("ListEvents = %v, want %v", got, want)
		}
		for i, ev := range all {
			if ev.GetPosition() != uint64(i+1) || ev.GetId() == "" || ev.GetTime() == nil {
				t.Fatalf("event %d = %v, want position %d with an id and a time", i, ev, i+1)
			}
		}
		msg := all[7].GetChatMessage()
		if msg.GetText() != "Hello from Dana" || msg.GetChatId() != chat.GetId() || msg.GetSender().GetId() != w.agent.GetId() || all[7].GetSiteId() != w.site.GetId() {
			t.Fatalf("message event = %v", all[7])
		}

		// Resumed after the sixth event: exactly the rest, then live.
		watch := must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(c.WatchEvents(ctx, &pb.WatchEventsRequest{After: 6}))
		defer watch.Close()
		for _, want := range all[6:] {
			if got := nextEvent(t, watch); !proto.Equal(got, want) {
				t.Fatalf("backlog event = %v, want %v", got, want)
			}
		}
		send(t, ctx, c, chat.GetId(), w.visitor.GetId(), "Hi Dana")
		if ev := nextEvent(t, watch); ev.GetPosition() != 9 || ev.GetChatMessage().GetText() != "Hi Dana" {
			t.Fatalf("live event = %v, want the visitor's message at 9", ev)
		}

		// Filters, over the wire.
		msgs := listAll(t, c, &pb.ListEventsRequest{Types: []string{"chat.message"}, SiteId: w.site.GetId()})
		if len(msgs) != 2 || msgs[0].GetPosition() != 8 || msgs[1].GetPosition() != 9 {
			t.Fatalf("chat.message events = %v, want positions 8 and 9", msgs)
		}
		// The time range, with times as every protocol carries them.
		last := all[len(all)-1].GetTime()
		if got := listAll(t, c, &pb.ListEventsRequest{StartTime: last}); len(got) == 0 || got[0].GetTime().AsTime().Before(last.AsTime()) {
			t.Fatalf("events from %v = %v, want only those at or after it", last.AsTime(), got)
		}
		if got := listAll(t, c, &pb.ListEventsRequest{EndTime: all[0].GetTime()}); len(got) != 0 {
			t.Fatalf("events before the first = %v, want none", got)
		}
		_, err := c.ListEvents(ctx, &pb.ListEventsRequest{Types: []string{"chat.danced"}})
		wantCode(t, err, connect.CodeInvalidArgument)
		if f := badRequestFields(err); !slices.Equal(f, []string{"types"}) {
			t.Fatalf("bad type: fields %v, want types", f)
		}
		_, err = c.ListEvents(ctx, &pb.ListEventsRequest{PageSize: 1001})
		if f := badRequestFields(err); !slices.Equal(f, []string{"page_size"}) {
			t.Fatalf("page_size 1001: %v, fields %v; want page_size", err, f)
		}

		// A restart: the log and its positions go on.
		watch.Close()
		if err := srv.shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		srv = startServer(t, dbPath, clock)
		c = p.newClient(t, srv)
		watch = must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(c.WatchEvents(ctx, &pb.WatchEventsRequest{After: 9}))
		defer watch.Close()
		leave(t, ctx, c, chat.GetId(), w.agent.GetId())
		ev := nextEvent(t, watch)
		if ev.GetPosition() <= 9 || ev.GetType() == "chat.message" {
			t.Fatalf("first event after the restart = %v, want a new one after 9", ev)
		}
		after := listAll(t, c, &pb.ListEventsRequest{After: 9})
		if len(after) == 0 || !proto.Equal(after[0], ev) {
			t.Fatalf("ListEvents after the restart = %v, want %v first", after, ev)
		}
		for i := 1; i < len(after); i++ {
			if after[i].GetPosition() != after[i-1].GetPosition()+1 {
				t.Fatalf("positions after the restart: %d then %d", after[i-1].GetPosition(), after[i].GetPosition())
			}
		}
	})
}
