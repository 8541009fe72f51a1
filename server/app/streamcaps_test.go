package app_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestStreamCapsPerCredential: over every protocol, one agent session may
// hold domain.StreamCap WatchPresence and WatchAgent streams, an admin key
// WatchEvents streams, and a visitor WatchChat streams; the next is refused with ResourceExhausted,
// while another session of the same agent still gets in, and streams that
// end make room again.
func TestStreamCapsPerCredential(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		w := authzSetup(t, ctx, p.newClient(t, srv))
		raw := rawClientFor(t, p, srv)
		agentCtx := withToken(ctx, w.tokens[siteAgent])
		visitorCtx := withToken(ctx, w.tokens[visitor])

		// The streams are opened and read up to their first message, by
		// when the server has counted them; they stay open until the test
		// ends.
		presence := func(ctx context.Context) (func() error, error) {
			return firstOf(t, raw.WatchPresence, ctx, &pb.WatchPresenceRequest{AgentId: w.agentA})
		}
		console := func(ctx context.Context) (func() error, error) {
			return firstOf(t, raw.WatchAgent, ctx, &pb.WatchAgentRequest{AgentId: w.agentA})
		}
		chat := func(ctx context.Context) (func() error, error) {
			return firstOf(t, raw.WatchChat, ctx, &pb.WatchChatRequest{ChatId: w.chat})
		}
		wantCapped := func(what string, err error) {
			t.Helper()
			if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "the most it may hold at once") {
				t.Fatalf("%s: %v, want resource_exhausted for too many streams", what, err)
			}
		}

		for _, k := range []struct {
			kind domain.StreamKind
			open func(context.Context) (func() error, error)
		}{{domain.StreamWatchPresence, presence}, {domain.StreamWatchAgent, console}} {
			for i := range domain.StreamCapOf(k.kind).PerAgentSession {
				if _, err := k.open(agentCtx); err != nil {
					t.Fatalf("%s %d: %v", k.kind, i+1, err)
				}
			}
			_, err := k.open(agentCtx)
			wantCapped(k.kind.String()+" past the cap", err)
			_, err = k.open(agentCtx) // the refused one took no room
			wantCapped(k.kind.String()+" past the cap, again", err)
		}
		// Another session of the same agent has its own room.
		sess, err := raw.CreateAgentSession(withToken(ctx, w.tokens[admin]), &pb.CreateAgentSessionRequest{AgentId: w.agentA})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := presence(withToken(ctx, sess.GetToken())); err != nil {
			t.Fatalf("WatchPresence with another session: %v", err)
		}

		// An admin key holds its cap of WatchEvents streams.
		adminCtx := withToken(ctx, w.tokens[admin])
		for i := range domain.StreamCapOf(domain.StreamWatchEvents).PerAdminKey {
			if _, err := firstOf(t, raw.WatchEvents, adminCtx, &pb.WatchEventsRequest{}); err != nil {
				t.Fatalf("WatchEvents %d: %v", i+1, err)
			}
		}
		_, err = firstOf(t, raw.WatchEvents, adminCtx, &pb.WatchEventsRequest{})
		wantCapped("WatchEvents past the admin key's cap", err)

		limit := domain.StreamCapOf(domain.StreamWatchChat).PerVisitor
		var ends []func() error
		for i := range limit {
			end, err := chat(visitorCtx)
			if err != nil {
				t.Fatalf("WatchChat %d: %v", i+1, err)
			}
			ends = append(ends, end)
		}
		_, err = chat(visitorCtx)
		wantCapped("WatchChat past the visitor's cap", err)

		// The chat ends, and with it its streams: a stream's room is given
		// back before the client sees its end. Each stream opened on the
		// ended chat then ends by itself, so more than the cap of them open
		// one after the other.
		for _, who := range []struct {
			ctx context.Context
			id  string
		}{{visitorCtx, w.visitor}, {agentCtx, w.agentA}} {
			if _, err := raw.LeaveChat(who.ctx, &pb.LeaveChatRequest{ChatId: w.chat, ParticipantId: who.id}); err != nil {
				t.Fatal(err)
			}
		}
		for i, end := range ends {
			if err := end(); !isEOF(err) {
				t.Fatalf("WatchChat %d as the chat ended: %v", i+1, err)
			}
		}
		for i := range limit + 2 {
			end, err := chat(visitorCtx)
			if err == nil {
				err = end()
			}
			if !isEOF(err) {
				t.Fatalf("WatchChat %d of the ended chat: %v", i+1, err)
			}
		}
	})
}

// firstOf opens a server stream and reads its first message. It returns a
// function that reads the stream to its end and returns how it ended (io.EOF
// for a clean end); the stream is closed when the test ends.
func firstOf[Req, T any](t *testing.T, open func(context.Context, *Req) (stream[T], error), ctx context.Context, req *Req) (func() error, error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := open(ctx, req)
	if err == nil {
		_, err = s.Recv()
	}
	if err != nil {
		if s != nil {
			s.Close()
		}
		cancel()
		return nil, err
	}
	t.Cleanup(func() { s.Close(); cancel() })
	return func() error {
		for {
			if _, err := s.Recv(); err != nil {
				return err
			}
		}
	}, nil
}
