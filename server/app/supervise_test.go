package app_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestSupervisor: a supervisor of a site lists its live chats, follows one
// as it happens without joining it, and whispers to its agent; the agent's
// console gets the whisper, and nothing the visitor can read ever carries
// it (WatchVisitor, WatchChat and Converse with the visitor's token, the
// transcript, ExportVisitor).
func TestSupervisor(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		c := p.newClient(t, srv)
		raw := rawClientFor(t, p, srv)
		sign := c.(interface{ signer() *signedClient }).signer()

		w := newWorld(t, ctx, c, enabledWithoutInvite())
		other := createSite(t, ctx, c, "Hat shop", nil)
		sam := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{
			DisplayName: "Sam", SiteIds: []string{other.GetId()}, SupervisedSiteIds: []string{w.site.GetId()},
		})).GetAgent()
		if got := sam.GetSupervisedSiteIds(); len(got) != 1 || got[0] != w.site.GetId() {
			t.Fatalf("CreateAgent returned supervised sites %v", got)
		}
		t.Run("ErrSupervisedSiteMissing", func(t *testing.T) {
			_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Nope", SupervisedSiteIds: []string{"site_nope"}})
			wantCode(t, err, connect.CodeInvalidArgument)
			if fields := badRequestFields(err); len(fields) != 1 || fields[0] != "supervised_site_ids[0]" {
				t.Fatalf("fields = %v", fields)
			}
		})
		supCtx := withToken(ctx, tokenFrom(sign.as(ctx, sam.GetId())))
		visitorCtx := withToken(ctx, tokenFrom(sign.as(ctx, w.visitor.GetId())))

		console := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: w.agent.GetId()}))
		t.Cleanup(console.Close)
		recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil })
		chat := w.startChat(t, ctx, c)

		live := must[*pb.ListLiveChatsResponse](t, "ListLiveChats")(raw.ListLiveChats(supCtx, &pb.ListLiveChatsRequest{SiteId: w.site.GetId()})).GetChats()
		if len(live) != 1 || live[0].GetId() != chat.GetId() || live[0].GetAgent().GetDisplayName() != "Dana" {
			t.Fatalf("ListLiveChats = %v", live)
		}
		_, err := raw.ListLiveChats(supCtx, &pb.ListLiveChatsRequest{SiteId: other.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)

		// The supervisor reads the chat as it happens.
		watch := must[stream[pb.WatchChatResponse]](t, "WatchChat")(raw.WatchChat(supCtx, &pb.WatchChatRequest{ChatId: chat.GetId()}))
		t.Cleanup(watch.Close)
		if ev := nextChatEvent(t, watch); ev.GetStarted() == nil {
			t.Fatalf("first event %v, want the start", ev)
		}
		// The visitor's own readers, each checked below.
		visitorWatch := must[stream[pb.WatchChatResponse]](t, "WatchChat")(raw.WatchChat(visitorCtx, &pb.WatchChatRequest{ChatId: chat.GetId()}))
		t.Cleanup(visitorWatch.Close)
		var conv conversation
		if cv, ok := raw.(converser); ok {
			conv = must[conversation](t, "Converse")(cv.Converse(visitorCtx))
			t.Cleanup(conv.Close)
			if err := conv.Send(&pb.ConverseRequest{CommandId: "j", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: w.visitor.GetId()}}}); err != nil {
				t.Fatal(err)
			}
		}

		send(t, ctx, c, chat.GetId(), w.visitor.GetId(), "Do you ship to Norway?")
		if ev := nextChatEvent(t, watch); ev.GetMessage().GetText() != "Do you ship to Norway?" {
			t.Fatalf("the supervisor got %v, want the visitor's message", ev)
		}

		const secret = "Offer free shipping"
		wh := must[*pb.WhisperResponse](t, "Whisper")(raw.Whisper(supCtx, &pb.WhisperRequest{ChatId: chat.GetId(), SupervisorId: sam.GetId(), Text: secret})).GetWhisper()
		if wh.GetFromName() != "Sam" || wh.GetSeq() != 1 || wh.GetChatId() != chat.GetId() {
			t.Fatalf("Whisper returned %v", wh)
		}
		got := recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetWhisper() != nil }).GetWhisper()
		protoEqual(t, "the agent's whisper", got, wh)
		_, err = raw.Whisper(supCtx, &pb.WhisperRequest{ChatId: chat.GetId(), SupervisorId: sam.GetId(), Text: " "})
		wantCode(t, err, connect.CodeInvalidArgument)

		// The agent answers: everything the visitor reads up to that
		// answer must be free of the whisper, and no one joined (the
		// answer is event 3: start, question, answer).
		answer := send(t, ctx, c, chat.GetId(), w.agent.GetId(), "Yes, and shipping is free")
		if answer.GetSeq() != 3 {
			t.Fatalf("the answer is event %d, want 3: something was added to the chat", answer.GetSeq())
		}
		isAnswer := func(ev *pb.ChatEvent) bool { return ev.GetSeq() == answer.GetSeq() }
		noWhisper := func(what string, m proto.Message) {
			t.Helper()
			if strings.Contains(prototext.Format(m), secret) {
				t.Fatalf("%s carried the whisper: %v", what, m)
			}
		}
		recvUntil(t, w.visitorStream, func(m *pb.WatchVisitorResponse) bool {
			noWhisper("WatchVisitor", m)
			return isAnswer(m.GetChatEvent())
		})
		recvUntil(t, visitorWatch, func(m *pb.WatchChatResponse) bool {
			noWhisper("the visitor's WatchChat", m)
			return isAnswer(m.GetChatEvent())
		})
		if conv != nil {
			recvUntil[pb.ConverseResponse](t, conv, func(m *pb.ConverseResponse) bool {
				noWhisper("Converse", m)
				return isAnswer(m.GetChatEvent())
			})
		}
		if ev := nextChatEvent(t, watch); ev.GetSeq() != answer.GetSeq() {
			t.Fatalf("the supervisor got %v, want the answer", ev)
		}
		noWhisper("the transcript", must[*pb.GetChatTranscriptResponse](t, "GetChatTranscript")(raw.GetChatTranscript(visitorCtx, &pb.GetChatTranscriptRequest{ChatId: chat.GetId()})))
		noWhisper("the chat's events", must[*pb.ListChatEventsResponse](t, "ListChatEvents")(raw.ListChatEvents(visitorCtx, &pb.ListChatEventsRequest{ChatId: chat.GetId()})))
		noWhisper("ExportVisitor", must[*pb.ExportVisitorResponse](t, "ExportVisitor")(c.ExportVisitor(ctx, &pb.ExportVisitorRequest{VisitorId: w.visitor.GetId()})))
		_, err = raw.ListWhispers(visitorCtx, &pb.ListWhispersRequest{ChatId: chat.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)

		// The agent and the supervisor read the whispers again.
		for _, who := range []context.Context{withToken(ctx, tokenFrom(sign.as(ctx, w.agent.GetId()))), supCtx} {
			list := must[*pb.ListWhispersResponse](t, "ListWhispers")(raw.ListWhispers(who, &pb.ListWhispersRequest{ChatId: chat.GetId()})).GetWhispers()
			if len(list) != 1 {
				t.Fatalf("ListWhispers = %v", list)
			}
			protoEqual(t, "ListWhispers", list[0], wh)
		}

		// No longer a supervisor of the site: the open WatchChat ends, as
		// any stream whose rights went (rights.go).
		must[*pb.UpdateAgentResponse](t, "UpdateAgent")(c.UpdateAgent(ctx, &pb.UpdateAgentRequest{
			Agent:      &pb.Agent{Id: sam.GetId()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"supervised_site_ids"}},
		}))
		wantCode(t, recvEnd(t, watch), connect.CodePermissionDenied)
		_, err = raw.ListLiveChats(supCtx, &pb.ListLiveChatsRequest{SiteId: w.site.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)
	})
}
