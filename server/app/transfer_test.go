package app_test

import (
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// secretNote is in every note of these tests, so that a search of what a
// visitor gets finds any note that slipped through.
const secretNote = "NOTE-7f3a-for-agents"

func carriesNote(m proto.Message) bool {
	return strings.Contains(protojson.Format(m), secretNote)
}

// TestTransferChat hands a chat from one agent to another with a note, on
// every protocol: the visitor sees who took over, the chat goes on in the
// same sequence, the new agent's console gets the chat, and the notes
// reach no view of the chat a visitor can get.
func TestTransferChat(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)

		w := newWorld(t, ctx, c, enabledWithoutInvite())
		sam := createAvailableAgent(t, ctx, c, "Sam", w.site.GetId())
		chat := w.startChat(t, ctx, c)
		send(t, ctx, c, chat.GetId(), w.visitor.GetId(), "I want a refund")
		chatStream := openChatStream(t, ctx, c, chat.GetId(), 0)
		console := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: sam.GetId()}))
		t.Cleanup(console.Close)
		recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil })

		// Where the protocol has it, the visitor also talks over Converse.
		var conv conversation
		if cv, ok := c.(converser); ok {
			conv = must[conversation](t, "Converse")(cv.Converse(ctx))
			t.Cleanup(conv.Close)
			join := &pb.ConverseRequest{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: w.visitor.GetId()}}}
			if err := conv.Send(join); err != nil {
				t.Fatal(err)
			}
		}
		notesStream := must[stream[pb.WatchNotesResponse]](t, "WatchNotes")(c.WatchNotes(ctx, &pb.WatchNotesRequest{ChatId: chat.GetId()}))
		t.Cleanup(notesStream.Close)

		note := must[*pb.AddNoteResponse](t, "AddNote")(c.AddNote(ctx, &pb.AddNoteRequest{
			ChatId: chat.GetId(), AuthorId: w.agent.GetId(), Text: secretNote + " order 42",
		})).GetNote()
		if note.GetSeq() != 1 || note.GetAuthor().GetId() != w.agent.GetId() {
			t.Fatalf("AddNote returned %v", note)
		}

		t.Run("ErrInvalid", func(t *testing.T) {
			_, err := c.TransferChat(ctx, &pb.TransferChatRequest{ChatId: chat.GetId(), FromAgentId: w.agent.GetId()})
			wantCode(t, err, connect.CodeInvalidArgument)
			if f := badRequestFields(err); !slices.Contains(f, "to_agent_id") {
				t.Errorf("fields %v, want to_agent_id", f)
			}
		})
		t.Run("ErrTargetAway", func(t *testing.T) {
			must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: sam.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AWAY}))
			_, err := c.TransferChat(ctx, &pb.TransferChatRequest{ChatId: chat.GetId(), FromAgentId: w.agent.GetId(), ToAgentId: sam.GetId()})
			wantCode(t, err, connect.CodeFailedPrecondition)
			must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: sam.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE}))
		})

		// Dana sees whom the chat can go to.
		cs := must[*pb.ListColleaguesResponse](t, "ListColleagues")(c.ListColleagues(ctx, &pb.ListColleaguesRequest{AgentId: w.agent.GetId(), SiteId: w.site.GetId()})).GetColleagues()
		if len(cs) != 1 || cs[0].GetAgentId() != sam.GetId() || cs[0].GetStatus() != pb.AgentStatus_AGENT_STATUS_AVAILABLE || !cs[0].GetCanTakeChat() || cs[0].GetFreeChats() == 0 {
			t.Fatalf("ListColleagues = %v, want Sam, available", cs)
		}

		res := must[*pb.TransferChatResponse](t, "TransferChat")(c.TransferChat(ctx, &pb.TransferChatRequest{
			ChatId: chat.GetId(), FromAgentId: w.agent.GetId(), ToAgentId: sam.GetId(), Note: secretNote + " be gentle",
		}))
		if got := res.GetChat(); got.GetId() != chat.GetId() || got.GetAgent().GetId() != sam.GetId() || got.GetLastSeq() != 3 {
			t.Fatalf("TransferChat returned chat %v", got)
		}
		if res.GetNote().GetSeq() != 2 {
			t.Fatalf("TransferChat returned note %v, want note 2", res.GetNote())
		}

		// The new agent's console gets the chat as it gets one it started.
		recvUntil(t, console, func(m *pb.WatchAgentResponse) bool {
			return slices.Contains(m.GetAgentChanged().GetActiveChatIds(), chat.GetId())
		})
		// The chat goes on with Sam, in the same sequence.
		if ev := send(t, ctx, c, chat.GetId(), sam.GetId(), "Sam here"); ev.GetSeq() != 4 {
			t.Fatalf("Sam's message has seq %d, want 4", ev.GetSeq())
		}
		_, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: "still me"})
		wantCode(t, err, connect.CodePermissionDenied)

		// The visitor's stream says Sam took over; no note on it.
		for {
			m := recvNext(t, w.visitorStream)
			if carriesNote(m) {
				t.Fatalf("the visitor's stream carried a note: %v", m)
			}
			if ev := m.GetChatEvent(); ev.GetTransferred() != nil {
				if ev.GetSeq() != 3 || ev.GetTransferred().GetTo().GetDisplayName() != "Sam" || ev.GetTransferred().GetFrom().GetId() != w.agent.GetId() {
					t.Fatalf("transferred event %v", ev)
				}
			}
			if m.GetChatEvent().GetMessage().GetText() == "Sam here" {
				break
			}
		}
		for {
			m := recvNext(t, chatStream)
			if carriesNote(m) {
				t.Fatalf("WatchChat carried a note: %v", m)
			}
			if m.GetChatEvent().GetMessage().GetText() == "Sam here" {
				break
			}
		}
		if conv != nil {
			for {
				m, err := conv.Recv()
				if err != nil {
					t.Fatalf("Converse ended: %v", err)
				}
				if carriesNote(m) {
					t.Fatalf("Converse carried a note: %v", m)
				}
				if m.GetChatEvent().GetMessage().GetText() == "Sam here" {
					break
				}
			}
		}
		events := transcript(t, ctx, c, chat.GetId(), 0)
		checkContiguous(t, events, chat.GetId(), 1)
		for _, ev := range events {
			if carriesNote(ev) {
				t.Fatalf("ListChatEvents carried a note: %v", ev)
			}
		}
		tr := must[*pb.GetChatTranscriptResponse](t, "GetChatTranscript")(c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: chat.GetId()}))
		if strings.Contains(tr.GetText(), secretNote) || !strings.Contains(tr.GetText(), "Dana handed the chat to Sam") {
			t.Fatalf("transcript:\n%s", tr.GetText())
		}
		export := must[*pb.ExportVisitorResponse](t, "ExportVisitor")(c.ExportVisitor(ctx, &pb.ExportVisitorRequest{VisitorId: w.visitor.GetId()}))
		if carriesNote(export) {
			t.Fatalf("ExportVisitor carried a note: %v", export)
		}

		// The agents get both notes live, in their own sequence.
		for want := uint32(1); want <= 2; want++ {
			if n := recvNext(t, notesStream).GetNote(); n.GetSeq() != want || !strings.Contains(n.GetText(), secretNote) {
				t.Fatalf("WatchNotes sent %v, want note %d", n, want)
			}
		}
		// They read both notes.
		notes := must[*pb.ListNotesResponse](t, "ListNotes")(c.ListNotes(ctx, &pb.ListNotesRequest{ChatId: chat.GetId()})).GetNotes()
		if len(notes) != 2 || !strings.HasSuffix(notes[1].GetText(), "be gentle") || notes[1].GetAuthor().GetDisplayName() != "Dana" {
			t.Fatalf("ListNotes = %v", notes)
		}
		t.Run("AddNoteErrInvalid", func(t *testing.T) {
			_, err := c.AddNote(ctx, &pb.AddNoteRequest{ChatId: chat.GetId(), AuthorId: sam.GetId(), Text: "  "})
			wantCode(t, err, connect.CodeInvalidArgument)
			if f := badRequestFields(err); !slices.Contains(f, "text") {
				t.Errorf("fields %v, want text", f)
			}
		})
	})
}
