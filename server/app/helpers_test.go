package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

const (
	origin = "https://shop.example.com"
	page1  = origin + "/"
	page2  = origin + "/shoes"
)

// recvUntil reads s until pred accepts a message, skipping keep-alives,
// and returns that message. It fails the test if the stream ends first.
func recvUntil[T any](t *testing.T, s stream[T], pred func(*T) bool) *T {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("stream ended before the expected message: %v", err)
		}
		if isKeepAlive(m) {
			continue
		}
		if pred(m) {
			return m
		}
	}
}

// recvNext returns the next message of s that is not a keep-alive.
func recvNext[T any](t *testing.T, s stream[T]) *T {
	t.Helper()
	return recvUntil(t, s, func(*T) bool { return true })
}

// recvEnd reads s until it ends and returns how it ended (io.EOF for a
// clean end); it fails on any message other than a keep-alive.
func recvEnd[T any](t *testing.T, s stream[T]) error {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			return err
		}
		if !isKeepAlive(m) {
			t.Fatalf("got %v, want the end of the stream", m)
		}
	}
}

func isKeepAlive(m any) bool {
	switch m := m.(type) {
	case *pb.WatchVisitorResponse:
		return m.GetKeepAlive() != nil
	case *pb.WatchPresenceResponse:
		return m.GetKeepAlive() != nil
	case *pb.WatchAgentResponse:
		return m.GetKeepAlive() != nil
	case *pb.WatchChatResponse:
		return m.GetKeepAlive() != nil
	case *pb.ConverseResponse:
		return m.GetKeepAlive() != nil
	case *pb.WatchNotesResponse:
		return m.GetKeepAlive() != nil
	}
	return false
}

// must fails the test on err, naming what was being done.
func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// wantCode checks that err has the given code.
func wantCode(t *testing.T, err error, want connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != want {
		t.Fatalf("got error %v (code %v), want code %v", err, got, want)
	}
}

// errorMessage is the message of a *connect.Error without its code prefix.
func errorMessage(err error) string {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// badRequestFields returns the fields of the google.rpc.BadRequest details
// of err.
func badRequestFields(err error) []string {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil
	}
	var fields []string
	for _, d := range cerr.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		if br, ok := v.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				fields = append(fields, fv.GetField())
			}
		}
	}
	return fields
}

// world is what most tests start from: a site with proactive chat enabled
// (or not), an available agent serving it, and an online visitor.
type world struct {
	site    *pb.Site
	agent   *pb.Agent
	visitor *pb.Visitor
	// visitorStream keeps the visitor online; its first message, the
	// BROWSING state, has been read.
	visitorStream stream[pb.WatchVisitorResponse]
}

func createSite(t *testing.T, ctx context.Context, c api, name string, proactive *pb.ProactiveChatSettings) *pb.Site {
	t.Helper()
	res := must[*pb.CreateSiteResponse](t, "CreateSite")(c.CreateSite(ctx, &pb.CreateSiteRequest{
		Name:           name,
		AllowedOrigins: []string{origin},
		ProactiveChat:  proactive,
	}))
	if res.GetSite().GetId() == "" || res.GetSite().GetName() != name {
		t.Fatalf("CreateSite returned %v", res.GetSite())
	}
	return res.GetSite()
}

func enabledWithoutInvite() *pb.ProactiveChatSettings {
	return &pb.ProactiveChatSettings{
		Enabled:            true,
		Mode:               pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
		LaunchAfterSeconds: 30,
	}
}

// createAvailableAgent creates an agent serving the sites and makes it
// available.
func createAvailableAgent(t *testing.T, ctx context.Context, c api, name string, siteIDs ...string) *pb.Agent {
	t.Helper()
	agent := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{
		DisplayName: name,
		SiteIds:     siteIDs,
	})).GetAgent()
	if agent.GetStatus() != pb.AgentStatus_AGENT_STATUS_OFFLINE {
		t.Fatalf("new agent has status %v, want OFFLINE", agent.GetStatus())
	}
	agent = must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{
		AgentId: agent.GetId(),
		Status:  pb.AgentStatus_AGENT_STATUS_AVAILABLE,
	})).GetAgent()
	if agent.GetStatus() != pb.AgentStatus_AGENT_STATUS_AVAILABLE {
		t.Fatalf("SetAgentStatus returned status %v, want AVAILABLE", agent.GetStatus())
	}
	return agent
}

// visitorOnline starts a visitor session on the site and opens its widget
// stream from page, returning once the stream's first message (the
// visitor's state) has arrived, so the visitor is online.
func visitorOnline(t *testing.T, ctx context.Context, c api, siteID, page string) (*pb.Visitor, stream[pb.WatchVisitorResponse]) {
	t.Helper()
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: siteID}))
	if session.GetToken() == "" || session.GetResumed() {
		t.Fatalf("StartVisitorSession returned token %q, resumed %v", session.GetToken(), session.GetResumed())
	}
	s := openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: session.GetVisitor().GetId(), PageUrl: page})
	state := recvNext(t, s).GetState()
	if state.GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_BROWSING {
		t.Fatalf("first message of WatchVisitor is %v, want a BROWSING state", state)
	}
	return session.GetVisitor(), s
}

func openVisitorStream(t *testing.T, ctx context.Context, c api, req *pb.WatchVisitorRequest) stream[pb.WatchVisitorResponse] {
	t.Helper()
	s := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(ctx, req))
	t.Cleanup(s.Close)
	return s
}

func openChatStream(t *testing.T, ctx context.Context, c api, chatID string, afterSeq uint32) stream[pb.WatchChatResponse] {
	t.Helper()
	s := must[stream[pb.WatchChatResponse]](t, "WatchChat")(c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: chatID, AfterSeq: afterSeq}))
	t.Cleanup(s.Close)
	return s
}

func openPresenceStream(t *testing.T, ctx context.Context, c api, agentID string) (stream[pb.WatchPresenceResponse], *pb.PresenceSnapshot) {
	t.Helper()
	s := must[stream[pb.WatchPresenceResponse]](t, "WatchPresence")(c.WatchPresence(ctx, &pb.WatchPresenceRequest{AgentId: agentID}))
	t.Cleanup(s.Close)
	first := recvNext(t, s)
	if first.GetSnapshot() == nil {
		t.Fatalf("first message of WatchPresence is %v, want a snapshot", first)
	}
	return s, first.GetSnapshot()
}

// newWorld creates a site (proactive chat as given), an available agent
// serving it and an online visitor.
func newWorld(t *testing.T, ctx context.Context, c api, proactive *pb.ProactiveChatSettings) *world {
	t.Helper()
	w := &world{}
	w.site = createSite(t, ctx, c, "Shoe shop", proactive)
	w.agent = createAvailableAgent(t, ctx, c, "Dana", w.site.GetId())
	w.visitor, w.visitorStream = visitorOnline(t, ctx, c, w.site.GetId(), page1)
	return w
}

// startChat has the world's agent start a chat with its visitor.
func (w *world) startChat(t *testing.T, ctx context.Context, c api) *pb.Chat {
	t.Helper()
	chat := must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{
		AgentId: w.agent.GetId(), VisitorId: w.visitor.GetId(),
	})).GetChat()
	if chat.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chat.GetLastSeq() != 1 {
		t.Fatalf("StartChat returned %v, want an active chat at seq 1", chat)
	}
	return chat
}

func send(t *testing.T, ctx context.Context, c api, chatID, senderID, text string) *pb.ChatEvent {
	t.Helper()
	ev := must[*pb.SendMessageResponse](t, "SendMessage "+text)(c.SendMessage(ctx, &pb.SendMessageRequest{
		ChatId: chatID, SenderId: senderID, Text: text,
	})).GetEvent()
	if ev.GetMessage().GetText() != text || ev.GetMessage().GetSender().GetId() != senderID {
		t.Fatalf("SendMessage returned %v", ev)
	}
	return ev
}

func leave(t *testing.T, ctx context.Context, c api, chatID, participantID string) *pb.Chat {
	t.Helper()
	return must[*pb.LeaveChatResponse](t, "LeaveChat")(c.LeaveChat(ctx, &pb.LeaveChatRequest{
		ChatId: chatID, ParticipantId: participantID,
	})).GetChat()
}

// transcript reads all of a chat's events, page by page.
func transcript(t *testing.T, ctx context.Context, c api, chatID string, pageSize uint32) []*pb.ChatEvent {
	t.Helper()
	var all []*pb.ChatEvent
	var after uint32
	for {
		res := must[*pb.ListChatEventsResponse](t, "ListChatEvents")(c.ListChatEvents(ctx, &pb.ListChatEventsRequest{
			ChatId: chatID, AfterSeq: after, PageSize: pageSize,
		}))
		all = append(all, res.GetEvents()...)
		if res.GetNextAfterSeq() == 0 {
			return all
		}
		if res.GetNextAfterSeq() <= after {
			t.Fatalf("ListChatEvents after %d returned next_after_seq %d", after, res.GetNextAfterSeq())
		}
		after = res.GetNextAfterSeq()
	}
}

// checkContiguous checks that events are numbered from..from+len-1 and all
// belong to chatID.
func checkContiguous(t *testing.T, events []*pb.ChatEvent, chatID string, from uint32) {
	t.Helper()
	for i, ev := range events {
		if want := from + uint32(i); ev.GetSeq() != want || ev.GetChatId() != chatID {
			t.Fatalf("event %d is %v, want seq %d of chat %s (all: %s)", i, ev, want, chatID, describe(events))
		}
	}
}

// describe lists events compactly for failure messages.
func describe(events []*pb.ChatEvent) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "[%d %s] ", ev.GetSeq(), eventKind(ev))
	}
	return b.String()
}

func eventKind(ev *pb.ChatEvent) string {
	switch {
	case ev.GetStarted() != nil:
		return "started"
	case ev.GetMessage() != nil:
		return "message " + ev.GetMessage().GetSender().GetId() + ": " + ev.GetMessage().GetText()
	case ev.GetParticipantLeft() != nil:
		return "left " + ev.GetParticipantLeft().GetParticipant().GetId()
	case ev.GetEnded() != nil:
		return "ended " + ev.GetEnded().GetReason().String()
	}
	return "unknown"
}

// recvState reads the visitor's stream until its state has the given
// engagement. Other states may come first; chat events may not.
func recvState(t *testing.T, s stream[pb.WatchVisitorResponse], want pb.EngagementState) *pb.VisitorState {
	t.Helper()
	return recvUntil(t, s, func(m *pb.WatchVisitorResponse) bool {
		if m.GetChatEvent() != nil {
			t.Fatalf("got chat event %v waiting for the %v state", m.GetChatEvent(), want)
		}
		return m.GetState().GetEngagement() == want
	}).GetState()
}

// nextChatEvent returns the next chat event of a chat stream, failing on
// anything else but keep-alives.
func nextChatEvent(t *testing.T, s stream[pb.WatchChatResponse]) *pb.ChatEvent {
	t.Helper()
	m := recvNext(t, s)
	if m.GetChatEvent() == nil {
		t.Fatalf("got %v, want a chat event", m)
	}
	return m.GetChatEvent()
}

// nextVisitorChatEvent is nextChatEvent for the visitor's stream.
func nextVisitorChatEvent(t *testing.T, s stream[pb.WatchVisitorResponse]) *pb.ChatEvent {
	t.Helper()
	m := recvNext(t, s)
	if m.GetChatEvent() == nil {
		t.Fatalf("got %v, want a chat event", m)
	}
	return m.GetChatEvent()
}

// protoEqual fails the test when got and want differ.
func protoEqual(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// isEOF reports a clean end of stream.
func isEOF(err error) bool { return errors.Is(err, io.EOF) }
