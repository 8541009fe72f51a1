package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// TestProactiveChatWithoutInvite walks the whole proactive chat (mode
// without invite) over every protocol: presence across a page load, the
// chat seen by both sides, a visitor stream that resumes after a gap, both
// leaving, and the stored transcript.
func TestProactiveChatWithoutInvite(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) { storyProactiveChatWithoutInvite(t, onOneServer(t, p)) })
}

// storyProactiveChatWithoutInvite is TestProactiveChatWithoutInvite's
// story, in env: the agent's calls (and the admin's) through env.agent,
// the visitor's through env.visitor.
func storyProactiveChatWithoutInvite(t *testing.T, env *e2eEnv) {
	c, v, clock, t0 := env.agent, env.visitor, env.clock, env.start
	ctx := testContext(t)

	// An integrator sets up a site with proactive chat and an agent.
	site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
	if pc := site.GetProactiveChat(); !pc.GetEnabled() || pc.GetMode() != pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE {
		t.Fatalf("site's proactive chat is %v, want enabled without invite", pc)
	}
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())

	// The agent watches who is on the site: a snapshot comes first.
	presence, snapshot := openPresenceStream(t, ctx, c, agent.GetId())
	if n := len(snapshot.GetVisitors()); n != 0 {
		t.Fatalf("snapshot has %d visitors, want 0", n)
	}

	// A visitor lands on page 1; the agent sees it arrive.
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(v.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	visitorID := session.GetVisitor().GetId()
	vs := openVisitorStream(t, ctx, v, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page1, PageTitle: "Home"})
	state := recvNext(t, vs).GetState()
	if state.GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_BROWSING || state.GetVisitor().GetCurrentPage().GetUrl() != page1 {
		t.Fatalf("first visitor message: got state %v, want BROWSING on %s", state, page1)
	}
	arrived := recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
		return m.GetArrived().GetVisitorId() == visitorID
	}).GetArrived()
	if arrived.GetCurrentPage().GetUrl() != page1 || arrived.GetSiteId() != site.GetId() ||
		arrived.GetOpenStreams() != 1 || arrived.GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_BROWSING ||
		!arrived.GetVisitStartTime().AsTime().Equal(t0) || arrived.GetTimeOnSite().AsDuration() != 0 {
		t.Fatalf("arrival: %v", arrived)
	}

	// 30 s later the visitor moves to page 2: the old page's stream
	// closes and the new page's opens, within the grace period.
	clock.Advance(30 * time.Second)
	vs.Close()
	// The new page's widget resumes the session with its token.
	again := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(v.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{
		SiteId: site.GetId(), ResumeToken: session.GetToken(),
	}))
	if !again.GetResumed() || again.GetVisitor().GetId() != visitorID {
		t.Fatalf("resuming the session: resumed %v as %s, want %s", again.GetResumed(), again.GetVisitor().GetId(), visitorID)
	}
	vs = openVisitorStream(t, ctx, v, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page2, PageTitle: "Shoes"})
	if state := recvNext(t, vs).GetState(); state.GetVisitor().GetCurrentPage().GetUrl() != page2 {
		t.Fatalf("visitor state after navigation: %v, want page %s", state, page2)
	}
	moved := recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
		if m.GetDeparted().GetVisitorId() == visitorID || m.GetArrived().GetVisitorId() == visitorID {
			t.Fatalf("a page load must not be a departure nor a new visit: %v", m)
		}
		return m.GetChanged().GetVisitorId() == visitorID && m.GetChanged().GetCurrentPage().GetUrl() == page2
	}).GetChanged()
	onSite := moved.GetTimeOnSite().AsDuration()
	if onSite < 30*time.Second {
		t.Errorf("time on site after the page load is %v, want at least 30s (it counts across page loads)", onSite)
	}
	if !moved.GetVisitStartTime().AsTime().Equal(arrived.GetVisitStartTime().AsTime()) {
		t.Errorf("visit start moved from %v to %v on a page load", arrived.GetVisitStartTime().AsTime(), moved.GetVisitStartTime().AsTime())
	}
	if got := moved.GetObserveTime().AsTime().Sub(moved.GetVisitStartTime().AsTime()); got != onSite {
		t.Errorf("time_on_site %v is not observe_time - visit_start_time = %v", onSite, got)
	}

	// The agent starts the chat; the widget switches to it.
	chat := must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: agent.GetId(), VisitorId: visitorID})).GetChat()
	if chat.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chat.GetAgent().GetDisplayName() != "Dana" ||
		chat.GetVisitor().GetId() != visitorID || chat.GetSiteId() != site.GetId() || chat.GetLastSeq() != 1 {
		t.Fatalf("StartChat returned %v", chat)
	}
	// (The launching criteria were met at 30 s: the agent was alerted,
	// in the background, which the widget may see as a repeated
	// BROWSING state.)
	state = recvState(t, vs, pb.EngagementState_ENGAGEMENT_STATE_CHATTING)
	if state.GetChat().GetId() != chat.GetId() {
		t.Fatalf("visitor state after StartChat: %v, want CHATTING in %s", state, chat.GetId())
	}
	started := nextVisitorChatEvent(t, vs)
	if started.GetSeq() != 1 || started.GetStarted().GetAgent().GetDisplayName() != "Dana" ||
		started.GetStarted().GetVisitor().GetDisplayName() != "Visitor" {
		t.Fatalf("first chat event on the visitor stream: %v, want seq 1 started by Dana", started)
	}
	recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
		return m.GetChanged().GetVisitorId() == visitorID && m.GetChanged().GetEngagement() == pb.EngagementState_ENGAGEMENT_STATE_CHATTING &&
			m.GetChanged().GetActiveChatId() == chat.GetId()
	})

	// The agent's console follows the chat.
	cs := openChatStream(t, ctx, c, chat.GetId(), 0)
	var agentSaw []*pb.ChatEvent
	agentSaw = append(agentSaw, nextChatEvent(t, cs))
	checkContiguous(t, agentSaw, chat.GetId(), 1)

	// The agent types, then writes; the visitor answers.
	must[*pb.SetTypingResponse](t, "SetTyping")(c.SetTyping(ctx, &pb.SetTypingRequest{ChatId: chat.GetId(), SenderId: agent.GetId(), Typing: true}))
	for name, m := range map[string]*pb.Typing{"visitor": recvNext(t, vs).GetTyping(), "agent": recvNext(t, cs).GetTyping()} {
		if !m.GetTyping() || m.GetParticipant().GetId() != agent.GetId() || m.GetChatId() != chat.GetId() {
			t.Fatalf("%s stream: got typing %v, want the agent typing", name, m)
		}
	}
	texts := map[uint32]string{}
	expect := func(ev *pb.ChatEvent, seq uint32) {
		t.Helper()
		if ev.GetSeq() != seq {
			t.Fatalf("SendMessage %q got seq %d, want %d", ev.GetMessage().GetText(), ev.GetSeq(), seq)
		}
		texts[seq] = ev.GetMessage().GetText()
	}
	expect(send(t, ctx, c, chat.GetId(), agent.GetId(), "Hello! Looking for a size?"), 2)
	if ev := nextVisitorChatEvent(t, vs); ev.GetSeq() != 2 || ev.GetMessage().GetText() != texts[2] || ev.GetMessage().GetSender().GetRole() != pb.ParticipantRole_PARTICIPANT_ROLE_AGENT {
		t.Fatalf("visitor got %v, want the agent's message 2", ev)
	}
	expect(send(t, ctx, v, chat.GetId(), visitorID, "Yes, 42 please"), 3)
	if ev := nextVisitorChatEvent(t, vs); ev.GetSeq() != 3 || ev.GetMessage().GetSender().GetId() != visitorID {
		t.Fatalf("visitor got %v, want its own message 3", ev)
	}
	agentSaw = append(agentSaw, nextChatEvent(t, cs), nextChatEvent(t, cs))
	checkContiguous(t, agentSaw, chat.GetId(), 1)

	// The widget's stream drops; the agent writes twice meanwhile.
	vs.Close()
	expect(send(t, ctx, c, chat.GetId(), agent.GetId(), "We have it in black"), 4)
	expect(send(t, ctx, c, chat.GetId(), agent.GetId(), "and in blue"), 5)
	agentSaw = append(agentSaw, nextChatEvent(t, cs), nextChatEvent(t, cs))

	// The widget resumes after the last event it showed: exactly the
	// missed events, in order, then live ones.
	vs = openVisitorStream(t, ctx, v, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page2, ResumeChatId: chat.GetId(), ResumeAfterSeq: 3})
	state = recvNext(t, vs).GetState()
	if state.GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_CHATTING || state.GetChat().GetLastSeq() != 5 {
		t.Fatalf("resumed visitor state: %v, want CHATTING with last_seq 5", state)
	}
	expect(send(t, ctx, c, chat.GetId(), agent.GetId(), "Which one do you prefer?"), 6)
	agentSaw = append(agentSaw, nextChatEvent(t, cs))
	resumed := []*pb.ChatEvent{nextVisitorChatEvent(t, vs), nextVisitorChatEvent(t, vs), nextVisitorChatEvent(t, vs)}
	checkContiguous(t, resumed, chat.GetId(), 4)
	for _, ev := range resumed {
		if got := ev.GetMessage().GetText(); got != texts[ev.GetSeq()] {
			t.Fatalf("resumed event %d has text %q, want %q", ev.GetSeq(), got, texts[ev.GetSeq()])
		}
	}

	// Both close their chat windows, the agent first.
	if got := leave(t, ctx, c, chat.GetId(), agent.GetId()); got.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || got.GetAgentLeftTime() == nil {
		t.Fatalf("after the agent left: %v, want still active with agent_left_time", got)
	}
	agentSaw = append(agentSaw, nextChatEvent(t, cs))
	if ev := nextVisitorChatEvent(t, vs); ev.GetSeq() != 7 || ev.GetParticipantLeft().GetParticipant().GetId() != agent.GetId() {
		t.Fatalf("visitor got %v, want event 7: the agent left", ev)
	}
	ended := leave(t, ctx, v, chat.GetId(), visitorID)
	if ended.GetState() != pb.ChatState_CHAT_STATE_ENDED || ended.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
		t.Fatalf("after both left: %v, want ENDED with BOTH_LEFT", ended)
	}
	agentSaw = append(agentSaw, nextChatEvent(t, cs), nextChatEvent(t, cs))
	checkContiguous(t, agentSaw, chat.GetId(), 1)
	if last := agentSaw[len(agentSaw)-1]; last.GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
		t.Fatalf("last event on WatchChat: %v, want ChatEnded BOTH_LEFT", last)
	}
	if err := recvEnd(t, cs); !isEOF(err) {
		t.Fatalf("WatchChat after ChatEnded ended with %v, want a clean end", err)
	}
	// The widget shows the end of the chat, then goes back to browsing.
	visitorTail := []*pb.ChatEvent{nextVisitorChatEvent(t, vs), nextVisitorChatEvent(t, vs)}
	checkContiguous(t, visitorTail, chat.GetId(), 8)
	if visitorTail[1].GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
		t.Fatalf("visitor got %s, want [8 left visitor] [9 ended BOTH_LEFT]", describe(visitorTail))
	}
	if state := recvNext(t, vs).GetState(); state.GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_BROWSING || state.GetChat() != nil {
		t.Fatalf("visitor state after the chat: %v, want BROWSING without a chat", state)
	}
	recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
		return m.GetChanged().GetVisitorId() == visitorID && m.GetChanged().GetEngagement() == pb.EngagementState_ENGAGEMENT_STATE_BROWSING &&
			m.GetChanged().GetActiveChatId() == ""
	})

	// The chat is stored as ended, with its whole transcript.
	got := must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat()
	if got.GetState() != pb.ChatState_CHAT_STATE_ENDED || got.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT ||
		got.GetLastSeq() != 9 || got.GetEndTime() == nil || got.GetVisitorLeftTime() == nil || got.GetAgentLeftTime() == nil {
		t.Fatalf("GetChat: %v, want ENDED, BOTH_LEFT, last_seq 9 with end and left times", got)
	}
	events := transcript(t, ctx, c, chat.GetId(), 4)
	checkContiguous(t, events, chat.GetId(), 1)
	if len(events) != 9 {
		t.Fatalf("transcript has %d events, want 9: %s", len(events), describe(events))
	}
	for seq, text := range texts {
		if got := events[seq-1].GetMessage().GetText(); got != text {
			t.Errorf("transcript event %d has text %q, want %q", seq, got, text)
		}
	}
	if events[0].GetStarted() == nil || events[6].GetParticipantLeft() == nil || events[7].GetParticipantLeft() == nil ||
		events[8].GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
		t.Errorf("transcript: %s", describe(events))
	}
	for i := range events {
		protoEqual(t, "event seen live vs stored", agentSaw[i], events[i])
	}
	a := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: agent.GetId()})).GetAgent()
	if len(a.GetActiveChatIds()) != 0 || a.GetLastChatEndTime() == nil {
		t.Errorf("agent after the chat: %v, want no active chat and a last_chat_end_time", a)
	}

	// Native clients can do the same over one bidirectional stream.
	if cv, ok := c.(converser); ok {
		t.Run("Converse", func(t *testing.T) {
			testConverse(t, c, v, cv, agent.GetId(), visitorID, vs)
		})
	}
}

// testConverse runs a second chat with the agent on ChatService.Converse
// (cv, c's converser); the visitor answers and leaves through v.
func testConverse(t *testing.T, c, v api, cv converser, agentID, visitorID string, vs stream[pb.WatchVisitorResponse]) {
	ctx := testContext(t)
	chat := must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: agentID, VisitorId: visitorID})).GetChat()
	recvUntil(t, vs, func(m *pb.WatchVisitorResponse) bool { return m.GetState().GetChat().GetId() == chat.GetId() })
	conv := must[conversation](t, "Converse")(cv.Converse(ctx))
	t.Cleanup(conv.Close)
	cmd := func(r *pb.ConverseRequest) {
		t.Helper()
		if err := conv.Send(r); err != nil {
			t.Fatalf("send command %s: %v", r.GetCommandId(), err)
		}
	}
	next := uint32(1) // the next chat event the conversation must carry
	// await reads until the result of commandID arrived and the chat has
	// reached seq; events must come in order, and nothing else may come.
	await := func(commandID string, seq uint32) *pb.CommandResult {
		t.Helper()
		var result *pb.CommandResult
		for result == nil || next <= seq {
			m, err := conv.Recv()
			if err != nil {
				t.Fatalf("Converse ended waiting for %s and event %d: %v", commandID, seq, err)
			}
			switch {
			case m.GetKeepAlive() != nil || m.GetTyping() != nil:
			case m.GetChatEvent() != nil:
				if ev := m.GetChatEvent(); ev.GetSeq() != next || ev.GetChatId() != chat.GetId() {
					t.Fatalf("Converse event %v, want seq %d", ev, next)
				}
				next++
			case m.GetResult().GetCommandId() == commandID && result == nil:
				result = m.GetResult()
			default:
				t.Fatalf("unexpected Converse message %v waiting for %s", m, commandID)
			}
		}
		return result
	}
	ok := func(r *pb.CommandResult, seq uint32) {
		t.Helper()
		if r.GetErrorCode() != "" || r.GetSeq() != seq {
			t.Fatalf("result %v, want success with seq %d", r, seq)
		}
	}

	cmd(&pb.ConverseRequest{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: agentID}}})
	ok(await("join", 1), 0)

	cmd(&pb.ConverseRequest{CommandId: "send-1", Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: "Hi again, over Converse"}}})
	ok(await("send-1", 2), 2)

	// A bad command is answered with an error and the stream goes on.
	cmd(&pb.ConverseRequest{CommandId: "bad", Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: ""}}})
	bad := await("bad", 0)
	if bad.GetErrorCode() != "invalid_argument" || !strings.Contains(bad.GetErrorMessage(), "text") || bad.GetSeq() != 0 {
		t.Fatalf("result of an empty message: %v, want invalid_argument naming text", bad)
	}
	cmd(&pb.ConverseRequest{CommandId: "send-2", Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: "still there?", IdempotencyKey: "k-2"}}})
	ok(await("send-2", 3), 3)

	// The visitor answers with a plain SendMessage: the conversation carries it.
	send(t, ctx, v, chat.GetId(), visitorID, "yes")
	for next <= 4 {
		m, err := conv.Recv()
		if err != nil {
			t.Fatalf("Converse: %v", err)
		}
		if ev := m.GetChatEvent(); ev != nil {
			if ev.GetSeq() != next || ev.GetMessage().GetText() != "yes" {
				t.Fatalf("Converse event %v, want the visitor's message %d", ev, next)
			}
			next++
		}
	}

	cmd(&pb.ConverseRequest{CommandId: "leave", Command: &pb.ConverseRequest_Leave{Leave: &pb.ConverseLeave{}}})
	ok(await("leave", 5), 0)
	if err := conv.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	// The visitor leaves too: the conversation shows the end, then ends.
	leave(t, ctx, v, chat.GetId(), visitorID)
	var tail []*pb.ChatEvent
	for {
		m, err := conv.Recv()
		if isEOF(err) {
			break
		}
		if err != nil {
			t.Fatalf("Converse ended with %v, want a clean end after ChatEnded", err)
		}
		if ev := m.GetChatEvent(); ev != nil {
			tail = append(tail, ev)
		}
	}
	checkContiguous(t, tail, chat.GetId(), 6)
	if len(tail) != 2 || tail[1].GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
		t.Fatalf("Converse ended after %s, want the visitor leaving then ChatEnded", describe(tail))
	}
	events := transcript(t, ctx, c, chat.GetId(), 0)
	checkContiguous(t, events, chat.GetId(), 1)
	if len(events) != 7 || events[1].GetMessage().GetText() != "Hi again, over Converse" || events[2].GetMessage().GetIdempotencyKey() != "k-2" {
		t.Fatalf("transcript of the conversation: %s", describe(events))
	}
}

// TestVisitorStreamShowsChatEndWhenVisitorLeavesLast: when the agent has
// left and the visitor then closes its chat window, the chat ends; the
// widget's stream must carry the chat's last events (the visitor leaving,
// ChatEnded) before it switches back to BROWSING, like WatchChat does.
// Several chats in a row, because the order is decided by a race.
func TestVisitorStreamShowsChatEndWhenVisitorLeavesLast(t *testing.T) {
	srv, _ := newServer(t)
	c := newConnectClient(t, srv)
	ctx := testContext(t)
	w := newWorld(t, ctx, c, enabledWithoutInvite())
	const rounds = 20
	missed := 0
	for i := range rounds {
		chat := w.startChat(t, ctx, c)
		recvUntil(t, w.visitorStream, func(m *pb.WatchVisitorResponse) bool { return m.GetChatEvent().GetSeq() == 1 })
		leave(t, ctx, c, chat.GetId(), w.agent.GetId())
		if ev := nextVisitorChatEvent(t, w.visitorStream); ev.GetSeq() != 2 || ev.GetParticipantLeft() == nil {
			t.Fatalf("round %d: visitor got %v, want event 2: the agent left", i, ev)
		}
		leave(t, ctx, c, chat.GetId(), w.visitor.GetId())
		var tail []*pb.ChatEvent
		recvUntil(t, w.visitorStream, func(m *pb.WatchVisitorResponse) bool {
			if ev := m.GetChatEvent(); ev != nil {
				tail = append(tail, ev)
			}
			return m.GetState().GetEngagement() == pb.EngagementState_ENGAGEMENT_STATE_BROWSING
		})
		checkContiguous(t, tail, chat.GetId(), 3)
		if len(tail) != 2 {
			missed++
			t.Logf("round %d: before BROWSING the visitor got %q, want [3 left visitor] [4 ended]", i, describe(tail))
		}
	}
	if missed > 0 {
		t.Errorf("in %d of %d chats the widget never got the chat's last events", missed, rounds)
	}
}

// TestSendMessageIsIdempotent: a retry with the same idempotency key
// returns the original message and adds nothing; another key adds one.
func TestSendMessageIsIdempotent(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)

		req := &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: "Hello!", IdempotencyKey: "msg-1"}
		first := must[*pb.SendMessageResponse](t, "SendMessage")(c.SendMessage(ctx, req)).GetEvent()
		if first.GetSeq() != 2 || first.GetMessage().GetIdempotencyKey() != "msg-1" {
			t.Fatalf("first send: %v, want seq 2 with key msg-1", first)
		}
		retry := must[*pb.SendMessageResponse](t, "SendMessage retry")(c.SendMessage(ctx, req)).GetEvent()
		protoEqual(t, "retry with the same key", retry, first)
		// Even a retry whose text changed returns the original message.
		changed := must[*pb.SendMessageResponse](t, "SendMessage retry")(c.SendMessage(ctx, &pb.SendMessageRequest{
			ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: "Hello!!", IdempotencyKey: "msg-1",
		})).GetEvent()
		protoEqual(t, "retry with the same key and another text", changed, first)

		// Retries racing each other still add one message.
		var wg sync.WaitGroup
		raced := make([]*pb.ChatEvent, 8)
		errs := make([]error, len(raced))
		for i := range raced {
			wg.Go(func() {
				res, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: w.visitor.GetId(), Text: "Hi!", IdempotencyKey: "tap"})
				raced[i], errs[i] = res.GetEvent(), err
			})
		}
		wg.Wait()
		for i := range raced {
			if errs[i] != nil {
				t.Fatalf("concurrent retry: %v", errs[i])
			}
			protoEqual(t, "concurrent retries", raced[i], raced[0])
		}
		if raced[0].GetSeq() != 3 {
			t.Fatalf("concurrent retries got seq %d, want 3", raced[0].GetSeq())
		}

		other := must[*pb.SendMessageResponse](t, "SendMessage")(c.SendMessage(ctx, &pb.SendMessageRequest{
			ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: "Hello!", IdempotencyKey: "msg-2",
		})).GetEvent()
		if other.GetSeq() != 4 {
			t.Fatalf("send with another key: seq %d, want 4", other.GetSeq())
		}

		events := transcript(t, ctx, c, chat.GetId(), 0)
		checkContiguous(t, events, chat.GetId(), 1)
		if len(events) != 4 {
			t.Fatalf("transcript: %s, want started and three messages", describe(events))
		}
		protoEqual(t, "stored message", events[1], first)
		protoEqual(t, "stored message", events[2], raced[0])
		protoEqual(t, "stored message", events[3], other)
		if got := must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat().GetLastSeq(); got != 4 {
			t.Fatalf("last_seq %d, want 4", got)
		}
	})
}

// TestRestartKeepsEverything: what was acknowledged before a restart is
// there after it, and chat streams resume across it.
func TestRestartKeepsEverything(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		clock := fakeclock.New(t0)
		dbPath := filepath.Join(t.TempDir(), "proactivechat.db")
		srv := startServer(t, dbPath, clock)
		c := p.newClient(t, srv)
		ctx := testContext(t)

		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "one")
		send(t, ctx, c, chat.GetId(), w.visitor.GetId(), "two")
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "three")
		site := must[*pb.GetSiteResponse](t, "GetSite")(c.GetSite(ctx, &pb.GetSiteRequest{SiteId: w.site.GetId()})).GetSite()
		agent := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: w.agent.GetId()})).GetAgent()
		chat = must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat()
		events := transcript(t, ctx, c, chat.GetId(), 0)
		if chat.GetLastSeq() != 4 || len(events) != 4 {
			t.Fatalf("before the restart: last_seq %d, transcript %s", chat.GetLastSeq(), describe(events))
		}

		if err := srv.shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		srv = startServer(t, dbPath, clock)
		c = p.newClient(t, srv)

		protoEqual(t, "site after restart",
			must[*pb.GetSiteResponse](t, "GetSite")(c.GetSite(ctx, &pb.GetSiteRequest{SiteId: site.GetId()})).GetSite(), site)
		protoEqual(t, "agent after restart",
			must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: agent.GetId()})).GetAgent(), agent)
		protoEqual(t, "chat after restart",
			must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat(), chat)
		after := transcript(t, ctx, c, chat.GetId(), 0)
		if len(after) != len(events) {
			t.Fatalf("transcript after restart: %s, want %s", describe(after), describe(events))
		}
		for i := range events {
			protoEqual(t, "event after restart", after[i], events[i])
		}
		sites := must[*pb.ListSitesResponse](t, "ListSites")(c.ListSites(ctx, &pb.ListSitesRequest{})).GetSites()
		if len(sites) != 1 || !proto.Equal(sites[0], site) {
			t.Fatalf("ListSites after restart: %v, want only %v", sites, site)
		}

		// A chat stream resumes after event 2: 3 and 4 from the store,
		// then a new message live.
		cs := openChatStream(t, ctx, c, chat.GetId(), 2)
		protoEqual(t, "resumed event 3", nextChatEvent(t, cs), events[2])
		protoEqual(t, "resumed event 4", nextChatEvent(t, cs), events[3])
		sent := send(t, ctx, c, chat.GetId(), w.agent.GetId(), "after the restart")
		if sent.GetSeq() != 5 {
			t.Fatalf("first message after restart has seq %d, want 5", sent.GetSeq())
		}
		protoEqual(t, "live event 5", nextChatEvent(t, cs), sent)
	})
}

// TestProactiveChatIsDisabledByDefault: a site created without proactive
// settings has them, disabled, and no agent can start a chat there.
func TestProactiveChatIsDisabledByDefault(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, nil)
		for name, site := range map[string]*pb.Site{
			"CreateSite": w.site,
			"GetSite":    must[*pb.GetSiteResponse](t, "GetSite")(c.GetSite(ctx, &pb.GetSiteRequest{SiteId: w.site.GetId()})).GetSite(),
		} {
			pc := site.GetProactiveChat()
			if pc == nil || pc.GetEnabled() || pc.GetMode() != pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_UNSPECIFIED {
				t.Errorf("%s: proactive_chat = %v, want present and disabled", name, pc)
			}
		}

		_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.agent.GetId(), VisitorId: w.visitor.GetId()})
		wantCode(t, err, connect.CodeFailedPrecondition)
		if !strings.Contains(errorMessage(err), "disabled") {
			t.Errorf("message %q does not say proactive chat is disabled", errorMessage(err))
		}
		agent := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: w.agent.GetId()})).GetAgent()
		if len(agent.GetActiveChatIds()) != 0 {
			t.Errorf("agent has chats %v after a refused StartChat", agent.GetActiveChatIds())
		}

		if p.name == "REST" {
			// In JSON the default must be spelled out, not left out.
			for _, path := range []string{"/v1/sites/" + w.site.GetId(), "/v1/sites"} {
				body := getJSON(t, withToken(ctx, adminKey(t, srv.App)), srv.url+path)
				site, _ := body["site"].(map[string]any)
				if sites, ok := body["sites"].([]any); ok && len(sites) == 1 {
					site, _ = sites[0].(map[string]any)
				}
				pc, _ := site["proactiveChat"].(map[string]any)
				if enabled, ok := pc["enabled"]; !ok || enabled != false {
					t.Errorf("GET %s: proactiveChat = %v, want an explicit \"enabled\": false", path, site["proactiveChat"])
				}
			}
		}
	})
}

// getJSON GETs url, wants 200 and returns the body parsed as a JSON object.
func getJSON(t *testing.T, ctx context.Context, url string) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok := tokenFrom(ctx); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, res.Status, data)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("GET %s: not a JSON object: %v\n%s", url, err, data)
	}
	return out
}

// TestBadInput: every rule a request can break is reported with its code
// (and, for invalid arguments, the field) over every protocol, and a
// rejected request changes nothing.
func TestBadInput(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		badInput(t, p, srv)
	})
}

// TestBadInputThroughAFollower: a follower passes every refusal on as the
// leader gave it (code, field, message), its relayed widget streams too;
// and a Converse the leader ends while the client may still send ends for
// the client too (it hung through the proxy).
func TestBadInputThroughAFollower(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		follower, _ := followerOfOneServer(t)
		badInput(t, p, follower)
	})
}

// badInput makes every kind of bad request to srv with p's client and
// checks its code, and that it wrote nothing.
func badInput(t *testing.T, p protocol, srv *testServer) {
	t.Helper()
	c := p.newClient(t, srv)
	ctx := testContext(t)

	w := newWorld(t, ctx, c, enabledWithoutInvite())
	other := createAvailableAgent(t, ctx, c, "Sam", w.site.GetId())
	offline := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{
		DisplayName: "Off", SiteIds: []string{w.site.GetId()},
	})).GetAgent()
	endedChat := w.startChat(t, ctx, c)
	leave(t, ctx, c, endedChat.GetId(), w.agent.GetId())
	leave(t, ctx, c, endedChat.GetId(), w.visitor.GetId())
	chat := w.startChat(t, ctx, c)
	send(t, ctx, c, chat.GetId(), w.agent.GetId(), "Hello!")

	// state is everything a rejected request could have half-written.
	state := func() []proto.Message {
		t.Helper()
		out := []proto.Message{
			must[*pb.ListSitesResponse](t, "ListSites")(c.ListSites(ctx, &pb.ListSitesRequest{})),
			must[*pb.ListAgentsResponse](t, "ListAgents")(c.ListAgents(ctx, &pb.ListAgentsRequest{})),
		}
		for _, id := range []string{chat.GetId(), endedChat.GetId()} {
			out = append(out, must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: id})))
			out = append(out, must[*pb.ListChatEventsResponse](t, "ListChatEvents")(c.ListChatEvents(ctx, &pb.ListChatEventsRequest{ChatId: id})))
		}
		return out
	}
	message := func(chatID, senderID, text string) func() error {
		return func() error {
			_, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chatID, SenderId: senderID, Text: text})
			return err
		}
	}

	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
		// field is the field an invalid argument names.
		field string
		// mention is more text the message must contain.
		mention string
		// noREST: the request cannot be written as REST (an empty path
		// segment).
		noREST bool
	}{
		{name: "UnknownSite", code: connect.CodeNotFound, call: func() error {
			_, err := c.GetSite(ctx, &pb.GetSiteRequest{SiteId: "site_nope"})
			return err
		}},
		{name: "UnknownAgent", code: connect.CodeNotFound, call: func() error {
			_, err := c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: "agent_nope"})
			return err
		}},
		{name: "UnknownChat", code: connect.CodeNotFound, call: func() error {
			_, err := c.GetChat(ctx, &pb.GetChatRequest{ChatId: "chat_nope"})
			return err
		}},
		{name: "MessageToUnknownChat", code: connect.CodeNotFound, call: message("chat_nope", w.agent.GetId(), "hi")},
		{name: "WatchUnknownChat", code: connect.CodeNotFound, call: func() error {
			return firstRecvError(t, func() (stream[pb.WatchChatResponse], error) {
				return c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: "chat_nope"})
			})
		}},
		{name: "StartChatWithUnknownVisitor", code: connect.CodeNotFound, call: func() error {
			_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.agent.GetId(), VisitorId: "visitor_nope"})
			return err
		}},
		{name: "AgentOfUnknownSite", code: connect.CodeNotFound, call: func() error {
			_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Ghost", SiteIds: []string{"site_nope"}})
			return err
		}},
		{name: "SiteNameRequired", code: connect.CodeInvalidArgument, field: "name", call: func() error {
			_, err := c.CreateSite(ctx, &pb.CreateSiteRequest{AllowedOrigins: []string{origin}})
			return err
		}},
		{name: "SiteNameBlank", code: connect.CodeInvalidArgument, field: "name", call: func() error {
			_, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "  "})
			return err
		}},
		{name: "ModeRequiredWhenEnabled", code: connect.CodeInvalidArgument, field: "proactive_chat.mode", call: func() error {
			_, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Half set up", ProactiveChat: &pb.ProactiveChatSettings{Enabled: true}})
			return err
		}},
		{name: "ChatIDRequired", code: connect.CodeInvalidArgument, field: "chat_id", noREST: true, call: func() error {
			_, err := c.GetChat(ctx, &pb.GetChatRequest{})
			return err
		}},
		{name: "MessageChatIDRequired", code: connect.CodeInvalidArgument, field: "chat_id", noREST: true, call: message("", w.agent.GetId(), "hi")},
		{name: "VisitorIDRequired", code: connect.CodeInvalidArgument, field: "visitor_id", call: func() error {
			_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: other.GetId()})
			return err
		}},
		{name: "TextRequired", code: connect.CodeInvalidArgument, field: "text", call: message(chat.GetId(), w.agent.GetId(), "")},
		{name: "TextOnlyWhiteSpace", code: connect.CodeInvalidArgument, field: "text", call: message(chat.GetId(), w.agent.GetId(), " \n\t ")},
		{name: "TextTooLong", code: connect.CodeInvalidArgument, field: "text", mention: "4096",
			call: message(chat.GetId(), w.agent.GetId(), strings.Repeat("a", 4097))},
		{name: "TextTooLongInMultibyteCharacters", code: connect.CodeInvalidArgument, field: "text", mention: "4096",
			call: message(chat.GetId(), w.agent.GetId(), strings.Repeat("é", 2049))},
		{name: "IdempotencyKeyTooLong", code: connect.CodeInvalidArgument, field: "idempotency_key", call: func() error {
			_, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: "hi", IdempotencyKey: strings.Repeat("k", 129)})
			return err
		}},
		{name: "PageURLNotHTTP", code: connect.CodeInvalidArgument, field: "url", call: func() error {
			_, err := c.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: w.visitor.GetId(), Url: "javascript:alert(1)"})
			return err
		}},
		{name: "UnknownUpdateMaskPath", code: connect.CodeInvalidArgument, field: "update_mask", call: func() error {
			_, err := c.UpdateSite(ctx, &pb.UpdateSiteRequest{
				Site:       &pb.Site{Id: w.site.GetId(), Name: "Renamed"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "colour"}},
			})
			return err
		}},
		{name: "WatchAfterTheLastEvent", code: connect.CodeInvalidArgument, field: "after_seq", call: func() error {
			return firstRecvError(t, func() (stream[pb.WatchChatResponse], error) {
				return c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: chat.GetId(), AfterSeq: 99})
			})
		}},
		{name: "ResumeAfterTheLastEvent", code: connect.CodeInvalidArgument, field: "resume_after_seq", call: func() error {
			return firstRecvError(t, func() (stream[pb.WatchVisitorResponse], error) {
				return c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: w.visitor.GetId(), ResumeChatId: chat.GetId(), ResumeAfterSeq: 99})
			}, func(m *pb.WatchVisitorResponse) bool { return m.GetState() != nil })
		}},
		{name: "PageSizeTooLarge", code: connect.CodeInvalidArgument, field: "page_size", call: func() error {
			_, err := c.ListChatEvents(ctx, &pb.ListChatEventsRequest{ChatId: chat.GetId(), PageSize: 1001})
			return err
		}},
		{name: "MessageToEndedChat", code: connect.CodeFailedPrecondition, call: message(endedChat.GetId(), w.agent.GetId(), "still there?")},
		{name: "StartChatWithVisitorInChat", code: connect.CodeFailedPrecondition, call: func() error {
			_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: other.GetId(), VisitorId: w.visitor.GetId()})
			return err
		}},
		{name: "StartChatByOfflineAgent", code: connect.CodeFailedPrecondition, mention: "available", call: func() error {
			_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: offline.GetId(), VisitorId: w.visitor.GetId()})
			return err
		}},
		{name: "MessageByNonParticipant", code: connect.CodePermissionDenied, call: message(chat.GetId(), other.GetId(), "I'll take over")},
		{name: "LeaveByNonParticipant", code: connect.CodePermissionDenied, call: func() error {
			_, err := c.LeaveChat(ctx, &pb.LeaveChatRequest{ChatId: chat.GetId(), ParticipantId: other.GetId()})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noREST && p.name == "REST" {
				t.Skip("an empty id cannot be put in a REST path")
			}
			before := state()
			err := tc.call()
			wantCode(t, err, tc.code)
			msg := errorMessage(err)
			if tc.field != "" {
				if !strings.Contains(msg, tc.field) {
					t.Errorf("message %q does not name the field %s", msg, tc.field)
				}
				if fields := badRequestFields(err); !slices.Contains(fields, tc.field) {
					t.Errorf("google.rpc.BadRequest fields %v, want %s", fields, tc.field)
				}
			}
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("message %q does not mention %q", msg, tc.mention)
			}
			after := state()
			for i := range before {
				protoEqual(t, "state after a rejected request", after[i], before[i])
			}
		})
	}

	// The limit itself is allowed.
	t.Run("TextOfExactly4096Bytes", func(t *testing.T) {
		text := strings.Repeat("é", 2048)
		if ev := send(t, ctx, c, chat.GetId(), w.agent.GetId(), text); ev.GetSeq() != 3 {
			t.Fatalf("seq %d, want 3", ev.GetSeq())
		}
	})

	if cv, ok := c.(converser); ok {
		t.Run("Converse", func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				first *pb.ConverseRequest
				code  connect.Code
			}{
				{"FirstRequestNotJoin", &pb.ConverseRequest{Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: "hi"}}}, connect.CodeInvalidArgument},
				{"JoinUnknownChat", &pb.ConverseRequest{Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: "chat_nope", ParticipantId: w.agent.GetId()}}}, connect.CodeNotFound},
				{"JoinByNonParticipant", &pb.ConverseRequest{Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: other.GetId()}}}, connect.CodePermissionDenied},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// As the agent, whatever the join says.
					conv := must[conversation](t, "Converse")(cv.Converse(cv.(*signedConverser).as(ctx, w.agent.GetId())))
					defer conv.Close()
					if err := conv.Send(tc.first); err != nil && !isEOF(err) {
						t.Fatalf("send: %v", err)
					}
					for {
						m, err := conv.Recv()
						if err != nil {
							wantCode(t, err, tc.code)
							break
						}
						if !isKeepAlive(m) {
							t.Fatalf("got %v, want the stream to fail with %v", m, tc.code)
						}
					}
				})
			}
		})
	}
}

// firstRecvError opens a stream and returns the error it fails with,
// whether on opening or on receiving; it may first send messages that one
// of skip accepts.
func firstRecvError[T any](t *testing.T, open func() (stream[T], error), skip ...func(*T) bool) error {
	s, err := open()
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		m, err := s.Recv()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(skip, func(f func(*T) bool) bool { return f(m) }) {
			t.Errorf("stream sent %v, want it to fail", m)
		}
	}
}

// TestVisitorDepartsAfterGracePeriod: a visitor whose widget streams stay
// closed for the whole grace period has left the site, and its chat (which
// stays open for the agent, since the visitor had written).
func TestVisitorDepartsAfterGracePeriod(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		presence, snapshot := openPresenceStream(t, ctx, c, w.agent.GetId())
		if len(snapshot.GetVisitors()) != 1 || snapshot.GetVisitors()[0].GetVisitorId() != w.visitor.GetId() {
			t.Fatalf("snapshot %v, want the one visitor", snapshot)
		}
		send(t, ctx, c, chat.GetId(), w.visitor.GetId(), "Just looking, thanks")
		cs := openChatStream(t, ctx, c, chat.GetId(), 2)

		w.visitorStream.Close()
		// Once the agent sees no stream open, the grace period runs.
		recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
			return m.GetChanged().GetVisitorId() == w.visitor.GetId() && m.GetChanged().GetOpenStreams() == 0
		})
		online := func() int {
			res := must[*pb.ListOnlineVisitorsResponse](t, "ListOnlineVisitors")(c.ListOnlineVisitors(ctx, &pb.ListOnlineVisitorsRequest{SiteId: w.site.GetId()}))
			return len(res.GetVisitors())
		}
		clock.Advance(presenceGrace - time.Second)
		if n := online(); n != 1 {
			t.Fatalf("%d visitors online just before the grace period ended, want 1", n)
		}
		clock.Advance(time.Second)
		departed := recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
			return m.GetDeparted() != nil
		}).GetDeparted()
		if departed.GetVisitorId() != w.visitor.GetId() {
			t.Fatalf("departed: %v", departed)
		}
		if n := online(); n != 0 {
			t.Fatalf("%d visitors online after the grace period, want 0", n)
		}
		left := nextChatEvent(t, cs)
		if left.GetSeq() != 3 || left.GetParticipantLeft().GetParticipant().GetId() != w.visitor.GetId() {
			t.Fatalf("chat event after the departure: %v, want 3: the visitor left", left)
		}
		got := must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat()
		if got.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || got.GetVisitorLeftTime() == nil {
			t.Fatalf("chat after the departure: %v, want active (the agent is still in it) with visitor_left_time", got)
		}
		// The agent closes the chat; a departed visitor is offline, so no
		// new chat can start with it.
		if got := leave(t, ctx, c, chat.GetId(), w.agent.GetId()); got.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
			t.Fatalf("chat after the agent left too: %v, want ended with BOTH_LEFT", got)
		}
		_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.agent.GetId(), VisitorId: w.visitor.GetId()})
		wantCode(t, err, connect.CodeFailedPrecondition)
	})
}

// TestHealthReflectionAndDocuments: what operators and integrators probe.
func TestHealthReflectionAndDocuments(t *testing.T) {
	srv, _ := newServer(t)
	ctx := testContext(t)
	conn := dialGRPC(t, srv)

	t.Run("Health", func(t *testing.T) {
		health := healthpb.NewHealthClient(conn)
		for _, service := range []string{"", "proactivechat.v1.ChatService", "proactivechat.v1.VisitorService"} {
			res, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				t.Fatalf("Check(%q): %v", service, err)
			}
			if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("Check(%q) = %v, want SERVING", service, res.GetStatus())
			}
		}
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
		wantCode(t, fromGRPCError(err), connect.CodeNotFound)
	})

	t.Run("Reflection", func(t *testing.T) {
		info, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer info.CloseSend()
		if err := info.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
		}); err != nil {
			t.Fatal(err)
		}
		res, err := info.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range res.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		for _, want := range []string{"proactivechat.v1.AdminService", "proactivechat.v1.VisitorService", "proactivechat.v1.AgentService", "proactivechat.v1.ChatService"} {
			if !slices.Contains(names, want) {
				t.Errorf("reflection lists %v, missing %s", names, want)
			}
		}
	})

	t.Run("OpenAPI", func(t *testing.T) {
		doc := getJSON(t, ctx, srv.url+"/openapi.json")
		if doc["swagger"] != "2.0" {
			t.Errorf("swagger = %v, want 2.0", doc["swagger"])
		}
		paths, _ := doc["paths"].(map[string]any)
		for path, method := range map[string]string{
			"/v1/sites":                          "post",
			"/v1/chats":                          "post",
			"/v1/chats/{chatId}/messages":        "post",
			"/v1/chats/{chatId}/events":          "get",
			"/v1/chats/{chatId}/events:watch":    "get",
			"/v1/visitors/{visitorId}/events":    "get",
			"/v1/agents/{agentId}/presence":      "get",
			"/v1/agents/{agentId}/status":        "put",
			"/v1/sites/{siteId}/sessions":        "post",
			"/v1/visitors/{visitorId}/pageviews": "post",
		} {
			ops, _ := paths[path].(map[string]any)
			if ops[method] == nil {
				t.Errorf("OpenAPI document has no %s %s", strings.ToUpper(method), path)
			}
		}
		// Integrators' tools learn that calls need a bearer token, except
		// the two that hand tokens out.
		defs, _ := doc["securityDefinitions"].(map[string]any)
		if bearer, _ := defs["bearer"].(map[string]any); bearer["in"] != "header" || bearer["name"] != "Authorization" {
			t.Errorf("securityDefinitions = %v, want bearer in the Authorization header", doc["securityDefinitions"])
		}
		for path, open := range map[string]bool{"/v1/sites/{siteId}/sessions": true, "/v1/agents/{agentId}/sign-in": true, "/v1/chats/{chatId}/messages": false} {
			op, _ := paths[path].(map[string]any)["post"].(map[string]any)
			if sec, ok := op["security"].([]any); open != (ok && len(sec) == 0) {
				t.Errorf("POST %s security = %v, want open %v", path, op["security"], open)
			}
		}
	})

	t.Run("Index", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Proactive Chat") {
			t.Errorf("GET / = %s\n%s", res.Status, body)
		}
	})
}

// TestGracefulShutdown: Shutdown does not wait for open streams; they end
// with Unavailable, so clients know to reconnect and resume.
func TestGracefulShutdown(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		cs := openChatStream(t, ctx, c, chat.GetId(), 0)
		nextChatEvent(t, cs) // the stream is being served

		if err := srv.shutdown(); err != nil {
			t.Fatalf("Shutdown with streams open did not finish within %v: %v", shutdownTimeout, err)
		}
		wantCode(t, recvError(cs), connect.CodeUnavailable)
		wantCode(t, recvError(w.visitorStream), connect.CodeUnavailable)
	})
}

// TestWatchPresenceEndsUnavailableOnShutdown: the agent's presence stream,
// which otherwise never ends, must end with Unavailable on shutdown like
// the chat and visitor streams, not as if the server had nothing more.
func TestWatchPresenceEndsUnavailableOnShutdown(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		presence, _ := openPresenceStream(t, ctx, c, w.agent.GetId())
		if err := srv.shutdown(); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		err := recvError(presence)
		if isEOF(err) {
			t.Fatal("WatchPresence ended cleanly on shutdown, want Unavailable")
		}
		wantCode(t, err, connect.CodeUnavailable)
	})
}

// recvError reads s until it ends, ignoring messages, and returns how it
// ended (io.EOF for a clean end).
func recvError[T any](s stream[T]) error {
	for {
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
}

// TestUpdateWithoutMask: with no update_mask an update sets every mutable
// field from the resource sent, so the read-modify-write an integrator does
// (get it, change a field, send it back) works over every protocol.
func TestUpdateWithoutMask(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shoe shop", nil)
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())

		t.Run("SiteAsRead", func(t *testing.T) {
			edit := must[*pb.GetSiteResponse](t, "GetSite")(c.GetSite(ctx, &pb.GetSiteRequest{SiteId: site.GetId()})).GetSite()
			edit.Name = "Shoe & boot shop"
			edit.ProactiveChat = &pb.ProactiveChatSettings{
				Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
				LaunchAfterSeconds: 20, AlertTimeoutSeconds: 45,
			}
			got, err := c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: edit})
			if err != nil {
				t.Fatalf("UpdateSite with the site as read, renamed and enabled: %v", err)
			}
			// The settings sent are the first trigger rule's, which the
			// update created (issue 19): the rest reads back as sent.
			gotPC := proto.Clone(got.GetSite().GetProactiveChat()).(*pb.ProactiveChatSettings)
			if rules := gotPC.GetRules(); len(rules) != 1 || rules[0].GetMode() != edit.GetProactiveChat().GetMode() ||
				rules[0].GetConditions().GetMinSecondsOnSite() != 20 {
				t.Fatalf("UpdateSite made rules %v, want one with the settings sent", rules)
			}
			gotPC.Rules = nil
			if got.GetSite().GetName() != edit.GetName() || !proto.Equal(gotPC, edit.GetProactiveChat()) ||
				!slices.Equal(got.GetSite().GetAllowedOrigins(), site.GetAllowedOrigins()) {
				t.Fatalf("UpdateSite returned %v, want %v", got.GetSite(), edit)
			}
		})

		t.Run("AgentAsRead", func(t *testing.T) {
			edit := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: agent.GetId()})).GetAgent()
			edit.DisplayName = "Dana S."
			edit.MaxConcurrentChats = 5
			got, err := c.UpdateAgent(ctx, &pb.UpdateAgentRequest{Agent: edit})
			if err != nil {
				t.Fatalf("UpdateAgent with the agent as read, renamed: %v", err)
			}
			if got.GetAgent().GetDisplayName() != "Dana S." || got.GetAgent().GetMaxConcurrentChats() != 5 ||
				!slices.Equal(got.GetAgent().GetSiteIds(), agent.GetSiteIds()) || got.GetAgent().GetStatus() != pb.AgentStatus_AGENT_STATUS_AVAILABLE {
				t.Fatalf("UpdateAgent returned %v", got.GetAgent())
			}
		})
	})
}

// TestRESTRejectsUnknownJSONFields: a misspelt field in a REST body is an
// error, not a silently lost setting.
func TestRESTRejectsUnknownJSONFields(t *testing.T) {
	srv, _ := newServer(t)
	ctx := testContext(t)
	c := newRESTClient(t, srv)
	body := `{"name": "Typo shop", "proactiveChat": {"enabeld": true}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/v1/sites", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /v1/sites with a misspelt field: %s\n%s", res.Status, data)
	}
	wantCode(t, restError(res.StatusCode, data), connect.CodeInvalidArgument)
	if sites := must[*pb.ListSitesResponse](t, "ListSites")(c.ListSites(ctx, &pb.ListSitesRequest{})).GetSites(); len(sites) != 0 {
		t.Fatalf("sites after a rejected create: %v", sites)
	}
}

// TestConcurrentStartChatOneWins: two agents reaching out to the same
// visitor at once start one chat, not two.
func TestConcurrentStartChatOneWins(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		agents := []*pb.Agent{w.agent, createAvailableAgent(t, ctx, c, "Sam", w.site.GetId()), createAvailableAgent(t, ctx, c, "Kim", w.site.GetId())}
		chats := make([]*pb.Chat, len(agents))
		errs := make([]error, len(agents))
		var wg sync.WaitGroup
		for i, a := range agents {
			wg.Go(func() {
				res, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: a.GetId(), VisitorId: w.visitor.GetId()})
				chats[i], errs[i] = res.GetChat(), err
			})
		}
		wg.Wait()
		var won []*pb.Chat
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, chats[i])
			case connect.CodeOf(err) != connect.CodeFailedPrecondition:
				t.Errorf("losing StartChat: %v, want FailedPrecondition", err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d chats started, want 1", len(won))
		}
		state := recvState(t, w.visitorStream, pb.EngagementState_ENGAGEMENT_STATE_CHATTING)
		if state.GetChat().GetId() != won[0].GetId() {
			t.Fatalf("visitor is in %s, want %s", state.GetChat().GetId(), won[0].GetId())
		}
	})
}
