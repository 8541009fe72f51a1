package app_test

// The two modes of the specification, end to end over the API, driven by
// the fake clock: every wait is a read of a stream (under testContext's
// deadline), never a sleep. Timers run inside clock.Advance, but routing runs
// in the background after commits, so whatever routing does is waited for
// on a stream.

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// Short names for the states the stories go through.
const (
	browsing    = pb.EngagementState_ENGAGEMENT_STATE_BROWSING
	chatting    = pb.EngagementState_ENGAGEMENT_STATE_CHATTING
	invited     = pb.EngagementState_ENGAGEMENT_STATE_INVITED
	declined    = pb.EngagementState_ENGAGEMENT_STATE_DECLINED
	fillingForm = pb.EngagementState_ENGAGEMENT_STATE_FILLING_FORM
	queued      = pb.EngagementState_ENGAGEMENT_STATE_QUEUED
	alerting    = pb.EngagementState_ENGAGEMENT_STATE_ALERTING

	requestQueued   = pb.ChatRequestState_CHAT_REQUEST_STATE_QUEUED
	requestAlerting = pb.ChatRequestState_CHAT_REQUEST_STATE_ALERTING

	available = pb.AgentStatus_AGENT_STATUS_AVAILABLE
	away      = pb.AgentStatus_AGENT_STATUS_AWAY
)

const inviteText = "Hi! Can we help you find the right pair of shoes?"

// withInvite is mode 1 as the specification describes it: an invitation
// after 30 s on the site, then a data-collection form with two required
// fields and an optional one.
func withInvite() *pb.ProactiveChatSettings {
	return &pb.ProactiveChatSettings{
		Enabled:            true,
		Mode:               pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE,
		LaunchAfterSeconds: 30,
		InviteText:         inviteText,
		FormFields: []*pb.FormField{
			{Key: "name", Label: "Name", Type: pb.FormFieldType_FORM_FIELD_TYPE_TEXT, Required: true},
			{Key: "email", Label: "E-mail", Type: pb.FormFieldType_FORM_FIELD_TYPE_EMAIL, Required: true},
			{Key: "phone", Label: "Phone", Type: pb.FormFieldType_FORM_FIELD_TYPE_PHONE},
		},
	}
}

// adasForm is a valid submission of withInvite's form.
func adasForm() map[string]string {
	return map[string]string{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958"}
}

// step runs one step of a story as a subtest of the story's test; the
// first step that fails ends the story, since the next ones build on it.
// Streams a step opens to outlive it are closed by the story's Cleanup.
func step(story *testing.T, name string, f func(t *testing.T)) {
	story.Helper()
	if !story.Run(name, f) {
		story.FailNow()
	}
}

// openAgentStream opens the agent console's WatchAgent stream, closed when
// t ends, and returns it with its first message, the snapshot.
func openAgentStream(t *testing.T, ctx context.Context, c api, agentID string) (stream[pb.WatchAgentResponse], *pb.AgentSnapshot) {
	t.Helper()
	s := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: agentID}))
	t.Cleanup(s.Close)
	first := recvNext(t, s)
	if first.GetSnapshot() == nil {
		t.Fatalf("first message of WatchAgent is %v, want a snapshot", first)
	}
	return s, first.GetSnapshot()
}

// settle returns once every commit made so far has run its OnCommit hooks,
// the timers they arm included. An alert, say, is published from its
// commit's hook just before the hook arms the alert's deadline, so a test
// that saw the alert and advances the fake clock past the deadline at once
// could do so before the timer exists (and it would then wait for the next
// Advance). The store has one writer, which runs a commit's hooks before it
// takes the next one, so any write of ours is such a barrier: settle
// re-states the status an agent already has, which changes nothing.
func settle(t *testing.T, ctx context.Context, c api, agent *pb.Agent) {
	t.Helper()
	must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agent.GetId(), Status: agent.GetStatus()}))
}

// recvAlert reads an agent's stream until the agent is alerted.
func recvAlert(t *testing.T, console stream[pb.WatchAgentResponse]) *pb.Alert {
	t.Helper()
	return recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetAlert() != nil }).GetAlert()
}

// recvWithdrawn reads an agent's stream until an alert is withdrawn.
func recvWithdrawn(t *testing.T, console stream[pb.WatchAgentResponse]) *pb.AlertWithdrawn {
	t.Helper()
	return recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetAlertWithdrawn() != nil }).GetAlertWithdrawn()
}

func listQueue(t *testing.T, ctx context.Context, c api, siteID string) []*pb.ChatRequest {
	t.Helper()
	return must[*pb.ListQueueResponse](t, "ListQueue")(c.ListQueue(ctx, &pb.ListQueueRequest{SiteId: siteID})).GetChatRequests()
}

func routingDecisions(t *testing.T, ctx context.Context, c api, siteID string) []*pb.RoutingDecision {
	t.Helper()
	return must[*pb.ListRoutingDecisionsResponse](t, "ListRoutingDecisions")(c.ListRoutingDecisions(ctx, &pb.ListRoutingDecisionsRequest{SiteId: siteID})).GetDecisions()
}

// engagementOnSite is the visitor's engagement as the site's presence list
// shows it. Timers run inside clock.Advance and their commits publish
// before they return, so right after an Advance it tells whether a launch
// fired.
func engagementOnSite(t *testing.T, ctx context.Context, c api, siteID, visitorID string) pb.EngagementState {
	t.Helper()
	res := must[*pb.ListOnlineVisitorsResponse](t, "ListOnlineVisitors")(c.ListOnlineVisitors(ctx, &pb.ListOnlineVisitorsRequest{SiteId: siteID}))
	for _, v := range res.GetVisitors() {
		if v.GetVisitorId() == visitorID {
			return v.GetEngagement()
		}
	}
	t.Fatalf("visitor %s is not online on site %s: %v", visitorID, siteID, res.GetVisitors())
	return 0
}

// currentState opens one more widget stream (another tab) and returns its
// first message: what the widget shows now. Unlike a stream that has been
// open for a while, it has no backlog of earlier states.
func currentState(t *testing.T, ctx context.Context, c api, visitorID string) *pb.VisitorState {
	t.Helper()
	tab := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: visitorID}))
	defer tab.Close()
	state := recvNext(t, tab).GetState()
	if state == nil {
		t.Fatal("first message of WatchVisitor is not a state")
	}
	return state
}

// recvVisitorChatUntilEnd reads chat events from the widget's stream
// (skipping keep-alives, failing on anything else) up to and including the
// chat's ChatEnded event.
func recvVisitorChatUntilEnd(t *testing.T, widget stream[pb.WatchVisitorResponse]) []*pb.ChatEvent {
	t.Helper()
	var events []*pb.ChatEvent
	for {
		ev := nextVisitorChatEvent(t, widget)
		events = append(events, ev)
		if ev.GetEnded() != nil {
			return events
		}
	}
}

// recvChatUntilEnd is recvVisitorChatUntilEnd for a WatchChat stream.
func recvChatUntilEnd(t *testing.T, s stream[pb.WatchChatResponse]) []*pb.ChatEvent {
	t.Helper()
	var events []*pb.ChatEvent
	for {
		ev := nextChatEvent(t, s)
		events = append(events, ev)
		if ev.GetEnded() != nil {
			return events
		}
	}
}

// checkWaitingInQueue checks a state shows "Waiting in Queue" at position 1.
// Routing runs right after the request is queued, so by the time a state
// is read the first available agent may already be alerted: QUEUED and
// ALERTING both show the queue.
func checkWaitingInQueue(t *testing.T, what string, st *pb.VisitorState, enqueued time.Time) {
	t.Helper()
	q := st.GetQueue()
	if e := st.GetEngagement(); (e != queued && e != alerting) || q == nil {
		t.Fatalf("%s: %v, want QUEUED (or ALERTING) with a queue status", what, st)
	}
	if q.GetPosition() != 1 || q.GetChatRequestId() == "" || q.GetChatRequestId() != st.GetVisitor().GetChatRequestId() ||
		!q.GetEnqueueTime().AsTime().Equal(enqueued) || q.GetEstimatedWait().AsDuration() != 0 {
		t.Fatalf("%s: queue status %v, want position 1 since %v, no estimate yet (no history)", what, q, enqueued)
	}
	if st.GetInvitation() != nil || st.GetForm() != nil || st.GetChat() != nil {
		t.Fatalf("%s: %v, want only the queue shown", what, st)
	}
}

// TestModeWithInvite is mode 1 of the specification, steps 1 to 10, over
// every protocol: invitation → Yes → data-collection form (refused while a
// required field is blank or the e-mail is bad) → "Waiting in Queue" → the
// first available agent alerted → the agent starts the chat → messages
// both ways → both leave. The events of the story are the same, in the same
// order, in the log (ListEvents), at a webhook endpoint and on a WatchEvents
// stream opened before it, and the funnel counts them.
func TestModeWithInvite(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) { storyModeWithInvite(story, onOneServer(story, p)) })
}

// storyModeWithInvite is TestModeWithInvite's story, in env: the agent's
// calls (and the admin's) through env.agent, the visitor's through
// env.visitor.
func storyModeWithInvite(story *testing.T, env *e2eEnv) {
	t := story
	c, v, clock, t0 := env.agent, env.visitor, env.clock, env.start
	ctx := testContext(t)
	witnesses := witnessEvents(t, ctx, c)

	site := createSite(t, ctx, c, "Shoe shop", withInvite())
	if pc := site.GetProactiveChat(); !pc.GetEnabled() || pc.GetMode() != pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE || len(pc.GetFormFields()) != 3 {
		t.Fatalf("site's proactive chat is %v, want enabled with invite and a form", pc)
	}
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	console, snapshot := openAgentStream(t, ctx, c, agent.GetId())
	if snapshot.GetAgent().GetId() != agent.GetId() || snapshot.GetAgent().GetStatus() != available ||
		len(snapshot.GetQueue()) != 0 || len(snapshot.GetAlerts()) != 0 {
		t.Fatalf("agent snapshot %v, want the available agent, no queue, no alerts", snapshot)
	}
	visitor, widget := visitorOnline(t, ctx, v, site.GetId(), page1)
	visitorID := visitor.GetId()
	form := adasForm()

	var invitation *pb.Invitation
	step(story, "1 invited after 30 s on the site", func(t *testing.T) {
		clock.Advance(29 * time.Second)
		if e := engagementOnSite(t, ctx, c, site.GetId(), visitorID); e != browsing {
			t.Fatalf("after 29 s the visitor is %v, want still BROWSING", e)
		}
		clock.Advance(time.Second)
		state := recvState(t, widget, invited)
		invitation = state.GetInvitation()
		if invitation.GetId() == "" || invitation.GetText() != inviteText ||
			invitation.GetState() != pb.InvitationState_INVITATION_STATE_PENDING ||
			invitation.GetVisitorId() != visitorID || invitation.GetSiteId() != site.GetId() ||
			invitation.GetInvitedByAgentId() != "" || state.GetVisitor().GetInvitationId() != invitation.GetId() {
			t.Fatalf("INVITED state %v, want the site's pending invitation %q", state, inviteText)
		}
		if got, want := invitation.GetCreateTime().AsTime(), t0.Add(30*time.Second); !got.Equal(want) {
			t.Errorf("invitation created at %v, want %v", got, want)
		}
		if state.GetForm() != nil || state.GetQueue() != nil || state.GetChat() != nil {
			t.Fatalf("INVITED state %v shows more than the invitation", state)
		}
	})

	step(story, "2-3 Yes shows the data-collection form", func(t *testing.T) {
		res := must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(v.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
			VisitorId: visitorID, InvitationId: invitation.GetId(), Accept: true,
		}))
		for what, st := range map[string]*pb.VisitorState{
			"RespondToInvitation": res.GetState(),
			"widget":              recvState(t, widget, fillingForm),
		} {
			if st.GetEngagement() != fillingForm || st.GetInvitation() != nil || st.GetQueue() != nil {
				t.Fatalf("%s: %v, want FILLING_FORM showing only the form", what, st)
			}
			protoEqual(t, what+": form", st.GetForm(), &pb.FormDefinition{Fields: site.GetProactiveChat().GetFormFields()})
			var required []string
			for _, f := range st.GetForm().GetFields() {
				if f.GetRequired() {
					required = append(required, f.GetKey())
				}
			}
			if !slices.Equal(required, []string{"name", "email"}) {
				t.Fatalf("%s: required fields (red asterisk) %v, want name and email", what, required)
			}
		}
	})

	step(story, "4 Send with a blank required field and a bad e-mail is refused", func(t *testing.T) {
		_, err := v.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: map[string]string{
			"name": "   ", "email": "ada@", "phone": "",
		}})
		wantCode(t, err, connect.CodeInvalidArgument)
		msg := errorMessage(err)
		for _, field := range []string{"values.name", "values.email"} {
			if !strings.Contains(msg, field) {
				t.Errorf("message %q does not name %s", msg, field)
			}
		}
		if strings.Contains(msg, "values.phone") {
			t.Errorf("message %q names the optional, blank phone", msg)
		}
		fields := badRequestFields(err)
		slices.Sort(fields)
		if !slices.Equal(fields, []string{"values.email", "values.name"}) {
			t.Errorf("BadRequest fields %v, want values.name and values.email", fields)
		}
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
			t.Fatalf("queue after a refused form: %v, want empty", q)
		}
	})

	var requestID string
	var widgetSaw *pb.VisitorState
	step(story, "5 Send queues the request: Waiting in Queue", func(t *testing.T) {
		res := must[*pb.SubmitFormResponse](t, "SubmitForm")(v.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: form}))
		checkWaitingInQueue(t, "SubmitForm", res.GetState(), clock.Now())
		requestID = res.GetState().GetQueue().GetChatRequestId()
		widgetSaw = recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool {
			if m.GetChatEvent() != nil {
				t.Fatalf("chat event %v before any chat", m.GetChatEvent())
			}
			return m.GetState().GetQueue() != nil
		}).GetState()
		checkWaitingInQueue(t, "widget", widgetSaw, clock.Now())
		if widgetSaw.GetQueue().GetChatRequestId() != requestID {
			t.Fatalf("widget waits for %s, SubmitForm queued %s", widgetSaw.GetQueue().GetChatRequestId(), requestID)
		}
		queue := listQueue(t, ctx, c, site.GetId())
		if len(queue) != 1 || queue[0].GetId() != requestID || queue[0].GetVisitorId() != visitorID ||
			queue[0].GetKind() != pb.ChatRequestKind_CHAT_REQUEST_KIND_INVITED || !maps.Equal(queue[0].GetFormValues(), form) ||
			queue[0].GetPage().GetUrl() != page1 {
			t.Fatalf("queue %v, want the one invited request from %s with the form", queue, page1)
		}
	})

	var alert *pb.Alert
	step(story, "6 the first available agent is alerted", func(t *testing.T) {
		alert = recvAlert(t, console)
		req := alert.GetChatRequest()
		if req.GetId() != requestID || req.GetState() != requestAlerting || req.GetAlertedAgentId() != agent.GetId() ||
			req.GetKind() != pb.ChatRequestKind_CHAT_REQUEST_KIND_INVITED || req.GetVisitorId() != visitorID || req.GetSiteId() != site.GetId() {
			t.Fatalf("alert for %v, want request %s alerting %s", req, requestID, agent.GetId())
		}
		if !maps.Equal(req.GetFormValues(), form) {
			t.Errorf("alert carries form values %v, want %v", req.GetFormValues(), form)
		}
		if got, want := req.GetAlertDeadline().AsTime(), clock.Now().Add(30*time.Second); !got.Equal(want) {
			t.Errorf("alert deadline %v, want %v (the default 30 s alert timeout)", got, want)
		}
		if alert.GetReason() == "" {
			t.Error("the alert does not say why this agent was chosen")
		}
		if av := alert.GetVisitor(); av.GetVisitorId() != visitorID || av.GetCurrentPage().GetUrl() != page1 || av.GetOpenStreams() != 1 {
			t.Errorf("alert's visitor %v, want %s online on %s", av, visitorID, page1)
		}
		if widgetSaw.GetEngagement() != alerting {
			widgetSaw = recvState(t, widget, alerting)
			checkWaitingInQueue(t, "widget while the agent is alerted", widgetSaw, t0.Add(30*time.Second))
		}
	})

	var chat *pb.Chat
	step(story, "7 the agent initiates the chat", func(t *testing.T) {
		chat = must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
			AgentId: agent.GetId(), ChatRequestId: requestID,
		})).GetChat()
		if chat.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chat.GetAgent().GetId() != agent.GetId() ||
			chat.GetAgent().GetDisplayName() != "Dana" || chat.GetVisitor().GetId() != visitorID ||
			chat.GetChatRequestId() != requestID || chat.GetLastSeq() != 1 {
			t.Fatalf("AcceptChatRequest returned %v", chat)
		}
		if w := recvWithdrawn(t, console); w.GetChatRequestId() != requestID || w.GetReason() != "accepted" {
			t.Errorf("alert withdrawn: %v, want %s accepted", w, requestID)
		}
		state := recvState(t, widget, chatting)
		if state.GetChat().GetId() != chat.GetId() || state.GetQueue() != nil {
			t.Fatalf("widget state %v, want CHATTING in %s", state, chat.GetId())
		}
		started := nextVisitorChatEvent(t, widget)
		if started.GetSeq() != 1 || started.GetStarted().GetAgent().GetDisplayName() != "Dana" ||
			started.GetStarted().GetAgent().GetId() != agent.GetId() {
			t.Fatalf("widget got %v, want ChatStarted with Dana", started)
		}
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
			t.Fatalf("queue after the chat started: %v, want empty", q)
		}
	})

	var agentWindow stream[pb.WatchChatResponse]
	step(story, "8 the agent's message appears in the visitor's window", func(t *testing.T) {
		agentWindow = must[stream[pb.WatchChatResponse]](t, "WatchChat")(c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: chat.GetId()}))
		story.Cleanup(agentWindow.Close)
		if ev := nextChatEvent(t, agentWindow); ev.GetStarted() == nil {
			t.Fatalf("agent's window starts with %v, want ChatStarted", ev)
		}
		hello := send(t, ctx, c, chat.GetId(), agent.GetId(), "Hi Ada, I'm Dana. Which size do you need?")
		ev := nextVisitorChatEvent(t, widget)
		if ev.GetSeq() != 2 || ev.GetMessage().GetText() != hello.GetMessage().GetText() ||
			ev.GetMessage().GetSender().GetRole() != pb.ParticipantRole_PARTICIPANT_ROLE_AGENT ||
			ev.GetMessage().GetSender().GetDisplayName() != "Dana" {
			t.Fatalf("widget got %v, want Dana's message 2", ev)
		}
		protoEqual(t, "agent's window", nextChatEvent(t, agentWindow), hello)
	})

	step(story, "9 they chat until the issue is resolved", func(t *testing.T) {
		for i, m := range []struct {
			by         api
			from, text string
		}{
			{v, visitorID, "42, in black please"},
			{c, agent.GetId(), "Done: they are in your basket."},
			{v, visitorID, "Perfect, thank you!"},
		} {
			sent := send(t, ctx, m.by, chat.GetId(), m.from, m.text)
			if want := uint32(3 + i); sent.GetSeq() != want {
				t.Fatalf("message %q has seq %d, want %d", m.text, sent.GetSeq(), want)
			}
			protoEqual(t, "widget", nextVisitorChatEvent(t, widget), sent)
			protoEqual(t, "agent's window", nextChatEvent(t, agentWindow), sent)
		}
	})

	step(story, "10 both leave by closing their chat windows", func(t *testing.T) {
		if got := leave(t, ctx, c, chat.GetId(), agent.GetId()); got.GetState() != pb.ChatState_CHAT_STATE_ACTIVE {
			t.Fatalf("after the agent left: %v, want still active", got)
		}
		ended := leave(t, ctx, v, chat.GetId(), visitorID)
		if ended.GetState() != pb.ChatState_CHAT_STATE_ENDED || ended.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
			t.Fatalf("after both left: %v, want ENDED with BOTH_LEFT", ended)
		}
		for name, events := range map[string][]*pb.ChatEvent{
			"widget":         recvVisitorChatUntilEnd(t, widget),
			"agent's window": recvChatUntilEnd(t, agentWindow),
		} {
			checkContiguous(t, events, chat.GetId(), 6)
			if len(events) != 3 || events[0].GetParticipantLeft().GetParticipant().GetId() != agent.GetId() ||
				events[1].GetParticipantLeft().GetParticipant().GetId() != visitorID ||
				events[2].GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT {
				t.Fatalf("%s got %s, want [6 left agent] [7 left visitor] [8 ended BOTH_LEFT]", name, describe(events))
			}
		}
		if err := recvEnd(t, agentWindow); !isEOF(err) {
			t.Fatalf("agent's window after ChatEnded: %v, want a clean end", err)
		}
		if st := recvState(t, widget, browsing); st.GetChat() != nil || st.GetQueue() != nil {
			t.Fatalf("widget after the chat: %v, want BROWSING with nothing shown", st)
		}
	})

	step(story, "once a visit: browsing on, the visitor is not invited again", func(t *testing.T) {
		must[*pb.ReportPageViewResponse](t, "ReportPageView")(v.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: visitorID, Url: page2}))
		clock.Advance(time.Hour)
		if e := engagementOnSite(t, ctx, c, site.GetId(), visitorID); e != browsing {
			t.Fatalf("an hour after the chat the visitor is %v, want BROWSING", e)
		}
		if st := currentState(t, ctx, v, visitorID); st.GetEngagement() != browsing || st.GetInvitation() != nil {
			t.Fatalf("widget an hour after the chat: %v, want BROWSING with no invitation", st)
		}
	})

	step(story, "the routing decision is on record", func(t *testing.T) {
		ds := routingDecisions(t, ctx, c, site.GetId())
		if len(ds) != 1 {
			t.Fatalf("routing decisions %v, want one", ds)
		}
		d := ds[0]
		if d.GetChatRequestId() != requestID || d.GetSiteId() != site.GetId() || d.GetAgentId() != agent.GetId() ||
			d.GetReason() != alert.GetReason() || !d.GetTime().AsTime().Equal(t0.Add(30*time.Second)) {
			t.Fatalf("routing decision %v, want %s to %s at %v because %q", d, requestID, agent.GetId(), t0.Add(30*time.Second), alert.GetReason())
		}
	})

	step(story, "the funnel counts the events", func(t *testing.T) {
		wantFunnelIsEvents(t, ctx, c, clock, site.GetId())
	})

	step(story, "the log, the webhooks and WatchEvents carry the same events", func(t *testing.T) {
		checkStoryEvents(t, ctx, c, witnesses, site.GetId(), agent.GetId())
	})
}

// TestModeWithInviteRefused: a visitor who clicks No sees the invitation
// disappear and is not invited again, neither later in the visit nor on a
// later visit (the site sets no re-invite cooldown).
func TestModeWithInviteRefused(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) {
		t := story
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shoe shop", withInvite())
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
		presence, _ := openPresenceStream(t, ctx, c, agent.GetId())
		session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
		visitorID := session.GetVisitor().GetId()
		widget := openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page1})
		recvState(t, widget, browsing)

		var invitation *pb.Invitation
		step(story, "invited after 30 s on the site", func(t *testing.T) {
			clock.Advance(30 * time.Second)
			invitation = recvState(t, widget, invited).GetInvitation()
			if invitation.GetText() != inviteText {
				t.Fatalf("invitation %v, want %q", invitation, inviteText)
			}
		})

		step(story, "No hides the invitation", func(t *testing.T) {
			res := must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
				VisitorId: visitorID, InvitationId: invitation.GetId(), Accept: false,
			}))
			for what, st := range map[string]*pb.VisitorState{
				"RespondToInvitation": res.GetState(),
				"widget":              recvState(t, widget, declined),
			} {
				if st.GetEngagement() != declined || st.GetInvitation() != nil || st.GetForm() != nil || st.GetQueue() != nil {
					t.Fatalf("%s: %v, want DECLINED with nothing shown", what, st)
				}
			}
			// A Yes clicked after the No (a second tab, say) does not count.
			_, err := c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{VisitorId: visitorID, InvitationId: invitation.GetId(), Accept: true})
			wantCode(t, err, connect.CodeFailedPrecondition)
			if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
				t.Fatalf("queue after a refusal: %v", q)
			}
		})

		step(story, "not invited again later in the visit", func(t *testing.T) {
			clock.Advance(time.Hour)
			if e := engagementOnSite(t, ctx, c, site.GetId(), visitorID); e != declined {
				t.Fatalf("an hour after refusing the visitor is %v, want DECLINED", e)
			}
			if st := currentState(t, ctx, c, visitorID); st.GetEngagement() != declined || st.GetInvitation() != nil {
				t.Fatalf("widget an hour after refusing: %v, want DECLINED with no invitation", st)
			}
		})

		step(story, "not invited again on a later visit", func(t *testing.T) {
			widget.Close()
			// The visit ends once the server has seen the widget go and the
			// grace period has passed.
			recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
				return m.GetChanged().GetVisitorId() == visitorID && m.GetChanged().GetOpenStreams() == 0
			})
			clock.Advance(presenceGrace)
			recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool { return m.GetDeparted().GetVisitorId() == visitorID })
			clock.Advance(24 * time.Hour)

			again := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{
				SiteId: site.GetId(), ResumeToken: session.GetToken(),
			}))
			if !again.GetResumed() || again.GetVisitor().GetId() != visitorID {
				t.Fatalf("the next day's session: %v, want %s resumed", again, visitorID)
			}
			back := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page2}))
			story.Cleanup(back.Close)
			if st := recvNext(t, back).GetState(); st.GetEngagement() != declined || st.GetInvitation() != nil {
				t.Fatalf("back the next day: %v, want DECLINED with no invitation", st)
			}
			arrived := recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool { return m.GetArrived().GetVisitorId() == visitorID }).GetArrived()
			if !arrived.GetVisitStartTime().AsTime().Equal(clock.Now()) {
				t.Fatalf("visit started %v, want a new visit at %v", arrived.GetVisitStartTime().AsTime(), clock.Now())
			}
			clock.Advance(10 * time.Minute)
			if e := engagementOnSite(t, ctx, c, site.GetId(), visitorID); e != declined {
				t.Fatalf("10 minutes into the next visit the visitor is %v, want DECLINED", e)
			}
			if st := currentState(t, ctx, c, visitorID); st.GetEngagement() != declined || st.GetInvitation() != nil {
				t.Fatalf("widget 10 minutes into the next visit: %v, want DECLINED with no invitation", st)
			}
		})
	})
}

// TestAgentInvitesByHand covers the rest of the engine's calls over every
// protocol: an agent invites a visitor chosen from the presence list
// (InviteVisitor), passes on the alert (DeclineChatRequest), and the
// visitor closes the widget while waiting (LeaveQueue).
func TestAgentInvitesByHand(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) {
		t := story
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		settings := withInvite()
		settings.LaunchAfterSeconds = 3600 // the launching criteria stay out of it
		site := createSite(t, ctx, c, "Shoe shop", settings)
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
		console, _ := openAgentStream(t, ctx, c, agent.GetId())
		visitor, widget := visitorOnline(t, ctx, c, site.GetId(), page1)
		visitorID := visitor.GetId()

		var requestID string
		step(story, "the agent invites the visitor", func(t *testing.T) {
			inv := must[*pb.InviteVisitorResponse](t, "InviteVisitor")(c.InviteVisitor(ctx, &pb.InviteVisitorRequest{AgentId: agent.GetId(), VisitorId: visitorID})).GetInvitation()
			if inv.GetInvitedByAgentId() != agent.GetId() || inv.GetVisitorId() != visitorID || inv.GetText() != inviteText ||
				inv.GetState() != pb.InvitationState_INVITATION_STATE_PENDING {
				t.Fatalf("InviteVisitor returned %v", inv)
			}
			protoEqual(t, "widget's invitation", recvState(t, widget, invited).GetInvitation(), inv)
			_, err := c.InviteVisitor(ctx, &pb.InviteVisitorRequest{AgentId: agent.GetId(), VisitorId: visitorID})
			wantCode(t, err, connect.CodeFailedPrecondition) // already invited
			must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
				VisitorId: visitorID, InvitationId: inv.GetId(), Accept: true,
			}))
			requestID = must[*pb.SubmitFormResponse](t, "SubmitForm")(c.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: adasForm()})).GetState().GetQueue().GetChatRequestId()
			if alert := recvAlert(t, console); alert.GetChatRequest().GetId() != requestID {
				t.Fatalf("alert for %v, want %s", alert.GetChatRequest(), requestID)
			}
		})

		step(story, "the agent passes on the alert", func(t *testing.T) {
			must[*pb.DeclineChatRequestResponse](t, "DeclineChatRequest")(c.DeclineChatRequest(ctx, &pb.DeclineChatRequestRequest{AgentId: agent.GetId(), ChatRequestId: requestID}))
			if w := recvWithdrawn(t, console); w.GetChatRequestId() != requestID || w.GetReason() != "declined" {
				t.Fatalf("alert withdrawn: %v, want %s declined", w, requestID)
			}
			q := listQueue(t, ctx, c, site.GetId())
			if len(q) != 1 || q[0].GetState() != requestQueued || !slices.Equal(q[0].GetPassedAgentIds(), []string{agent.GetId()}) {
				t.Fatalf("queue after the decline: %v, want %s queued, passed on by Dana", q, requestID)
			}
		})

		step(story, "the visitor closes the widget while waiting", func(t *testing.T) {
			st := must[*pb.LeaveQueueResponse](t, "LeaveQueue")(c.LeaveQueue(ctx, &pb.LeaveQueueRequest{VisitorId: visitorID})).GetState()
			if st.GetEngagement() != browsing || st.GetQueue() != nil {
				t.Fatalf("LeaveQueue returned %v, want BROWSING", st)
			}
			if st := recvState(t, widget, browsing); st.GetQueue() != nil {
				t.Fatalf("widget after leaving the queue: %v", st)
			}
			clock.Advance(domain.DefaultAgentQueueInterval) // queue changes reach consoles in batches
			closed := recvUntil(t, console, func(m *pb.WatchAgentResponse) bool {
				return m.GetQueueChanged().GetId() == requestID && m.GetQueueChanged().GetState() == pb.ChatRequestState_CHAT_REQUEST_STATE_ABANDONED
			}).GetQueueChanged()
			if closed.GetCloseTime() == nil {
				t.Fatalf("abandoned request %v has no close time", closed)
			}
			if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
				t.Fatalf("queue after LeaveQueue: %v", q)
			}
			_, err := c.LeaveQueue(ctx, &pb.LeaveQueueRequest{VisitorId: visitorID})
			wantCode(t, err, connect.CodeFailedPrecondition)
		})
	})
}

// TestModeWithoutInvite is mode 2 of the specification, steps 1 to 4, over
// every protocol: after the launching criteria's seconds on the site the
// first available agent is alerted of the visitor's presence (the visitor
// sees nothing: no invitation, no form, no queue), the agent starts the
// chat and writes, and the visitor closes the window without answering.
// The log, a webhook endpoint and a WatchEvents stream carry the same
// events of it, and the funnel counts them.
func TestModeWithoutInvite(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) { storyModeWithoutInvite(story, onOneServer(story, p)) })
}

// storyModeWithoutInvite is TestModeWithoutInvite's story, in env (as
// storyModeWithInvite).
func storyModeWithoutInvite(story *testing.T, env *e2eEnv) {
	t := story
	c, v, clock, t0 := env.agent, env.visitor, env.clock, env.start
	ctx := testContext(t)
	witnesses := witnessEvents(t, ctx, c)
	site := createSite(t, ctx, c, "Shoe shop", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 20,
	})
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	console, _ := openAgentStream(t, ctx, c, agent.GetId())
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(v.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	visitorID := session.GetVisitor().GetId()
	widget := openVisitorStream(t, ctx, v, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page2, PageTitle: "Shoes"})

	// quiet checks that the widget has nothing to show: a BROWSING
	// state, or a keep-alive.
	quiet := func(t *testing.T, what string, st *pb.VisitorState) {
		t.Helper()
		if st.GetEngagement() != browsing || st.GetInvitation() != nil || st.GetForm() != nil || st.GetQueue() != nil ||
			st.GetChat() != nil || st.GetVisitor().GetChatRequestId() != "" ||
			(st.GetVisitor().GetEngagement() != browsing && st.GetVisitor().GetEngagement() != pb.EngagementState_ENGAGEMENT_STATE_UNSPECIFIED) {
			t.Fatalf("%s: %v, want a quiet BROWSING state (no invitation, form or queue)", what, st)
		}
	}
	quiet(t, "first state", recvNext(t, widget).GetState())

	var alert *pb.Alert
	step(story, "1 after 20 s on the site the first available agent is alerted", func(t *testing.T) {
		clock.Advance(19 * time.Second)
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
			t.Fatalf("queue after 19 s: %v, want empty", q)
		}
		clock.Advance(time.Second)
		alert = recvAlert(t, console)
		req := alert.GetChatRequest()
		if req.GetKind() != pb.ChatRequestKind_CHAT_REQUEST_KIND_PRESENCE || req.GetState() != requestAlerting ||
			req.GetAlertedAgentId() != agent.GetId() || req.GetVisitorId() != visitorID || len(req.GetFormValues()) != 0 ||
			req.GetPage().GetUrl() != page2 || req.GetPage().GetTitle() != "Shoes" {
			t.Fatalf("alert for %v, want the visitor's presence on %s, alerting %s", req, page2, agent.GetId())
		}
		if alert.GetReason() == "" {
			t.Error("the alert does not say why this agent was chosen")
		}
		av := alert.GetVisitor()
		if av.GetVisitorId() != visitorID || av.GetSiteId() != site.GetId() || av.GetCurrentPage().GetUrl() != page2 ||
			av.GetCurrentPage().GetTitle() != "Shoes" || !av.GetVisitStartTime().AsTime().Equal(t0) {
			t.Fatalf("alert's visitor %v, want %s on %s since %v", av, visitorID, page2, t0)
		}
		if d := av.GetTimeOnSite().AsDuration(); d < 20*time.Second {
			t.Fatalf("alert's visitor has been on the site %v, want at least 20s", d)
		}
	})

	step(story, "the visitor's widget stays quiet", func(t *testing.T) {
		quiet(t, "a new tab's first state", currentState(t, ctx, v, visitorID))
	})

	var chat *pb.Chat
	step(story, "2 the agent initiates the chat", func(t *testing.T) {
		chat = must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
			AgentId: agent.GetId(), ChatRequestId: alert.GetChatRequest().GetId(),
		})).GetChat()
		if chat.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chat.GetAgent().GetDisplayName() != "Dana" || chat.GetVisitor().GetId() != visitorID {
			t.Fatalf("AcceptChatRequest returned %v", chat)
		}
		// Everything the widget got before the chat must have been quiet.
		state := recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool {
			if m.GetChatEvent() != nil || m.GetTyping() != nil {
				t.Fatalf("widget got %v before the CHATTING state", m)
			}
			if m.GetState().GetEngagement() == chatting {
				return true
			}
			quiet(t, "widget before the chat", m.GetState())
			return false
		}).GetState()
		if state.GetChat().GetId() != chat.GetId() {
			t.Fatalf("widget state %v, want CHATTING in %s", state, chat.GetId())
		}
		if started := nextVisitorChatEvent(t, widget); started.GetSeq() != 1 || started.GetStarted().GetAgent().GetDisplayName() != "Dana" {
			t.Fatalf("widget got %v, want ChatStarted with Dana", started)
		}
	})

	var agentWindow stream[pb.WatchChatResponse]
	step(story, "3 the agent's message appears in the visitor's window", func(t *testing.T) {
		agentWindow = must[stream[pb.WatchChatResponse]](t, "WatchChat")(c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: chat.GetId(), AfterSeq: 1}))
		story.Cleanup(agentWindow.Close)
		hello := send(t, ctx, c, chat.GetId(), agent.GetId(), "Hello! Can I help you choose?")
		protoEqual(t, "widget", nextVisitorChatEvent(t, widget), hello)
		protoEqual(t, "agent's window", nextChatEvent(t, agentWindow), hello)
	})

	step(story, "4 the visitor closes the window without writing: no assistance required", func(t *testing.T) {
		ended := leave(t, ctx, v, chat.GetId(), visitorID)
		if ended.GetState() != pb.ChatState_CHAT_STATE_ENDED || ended.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_VISITOR_DECLINED {
			t.Fatalf("after the visitor closed the window: %v, want ENDED with VISITOR_DECLINED", ended)
		}
		for name, events := range map[string][]*pb.ChatEvent{
			"agent's window": recvChatUntilEnd(t, agentWindow),
			"widget":         recvVisitorChatUntilEnd(t, widget),
		} {
			checkContiguous(t, events, chat.GetId(), 3)
			if events[0].GetParticipantLeft().GetParticipant().GetId() != visitorID ||
				events[len(events)-1].GetEnded().GetReason() != pb.ChatEndReason_CHAT_END_REASON_VISITOR_DECLINED {
				t.Fatalf("%s got %s, want the visitor leaving, then ChatEnded VISITOR_DECLINED", name, describe(events))
			}
		}
		if err := recvEnd(t, agentWindow); !isEOF(err) {
			t.Fatalf("agent's window after ChatEnded: %v, want a clean end", err)
		}
		got := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: agent.GetId()})).GetAgent()
		if len(got.GetActiveChatIds()) != 0 {
			t.Fatalf("agent still in chats %v after the chat ended", got.GetActiveChatIds())
		}
	})

	step(story, "the funnel counts the events", func(t *testing.T) {
		wantFunnelIsEvents(t, ctx, c, clock, site.GetId())
	})

	step(story, "the log, the webhooks and WatchEvents carry the same events", func(t *testing.T) {
		checkStoryEvents(t, ctx, c, witnesses, site.GetId(), agent.GetId())
	})
}

// TestAlertFailover: an alert nobody accepts in alert_timeout_seconds moves
// to the next agent, a declined one goes back to the queue, and of two
// agents claiming a queued request at once exactly one gets it. gRPC only:
// the protocols themselves are covered by the mode tests.
func TestAlertFailover(t *testing.T) {
	story := t
	srv, clock := newServer(t)
	c := newGRPCClient(t, srv)
	ctx := testContext(t)
	site := createSite(t, ctx, c, "Shoe shop", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
		LaunchAfterSeconds: 20, AlertTimeoutSeconds: 30,
	})
	// Dana has been available longer, so routing picks her first.
	dana := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	clock.Advance(time.Second)
	eli := createAvailableAgent(t, ctx, c, "Eli", site.GetId())
	danaConsole, _ := openAgentStream(t, ctx, c, dana.GetId())
	eliConsole, _ := openAgentStream(t, ctx, c, eli.GetId())
	visitor, widget := visitorOnline(t, ctx, c, site.GetId(), page1)

	var requestID string
	step(story, "the first available agent is alerted", func(t *testing.T) {
		clock.Advance(20 * time.Second)
		alert := recvAlert(t, danaConsole)
		requestID = alert.GetChatRequest().GetId()
		if alert.GetChatRequest().GetVisitorId() != visitor.GetId() || alert.GetChatRequest().GetAlertedAgentId() != dana.GetId() {
			t.Fatalf("Dana's alert: %v", alert)
		}
		settle(t, ctx, c, dana) // the alert's deadline timer is armed
	})

	step(story, "not accepted within alert_timeout_seconds: the next agent is alerted", func(t *testing.T) {
		clock.Advance(29 * time.Second)
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 1 || q[0].GetAlertedAgentId() != dana.GetId() {
			t.Fatalf("queue 29 s into the alert: %v, want Dana still alerted", q)
		}
		clock.Advance(time.Second)
		if w := recvWithdrawn(t, danaConsole); w.GetChatRequestId() != requestID || w.GetReason() != "expired" {
			t.Fatalf("Dana's alert withdrawn: %v, want %s expired", w, requestID)
		}
		alert := recvAlert(t, eliConsole)
		req := alert.GetChatRequest()
		if req.GetId() != requestID || req.GetAlertedAgentId() != eli.GetId() || !slices.Equal(req.GetPassedAgentIds(), []string{dana.GetId()}) {
			t.Fatalf("Eli's alert: %v, want %s passed on by Dana", req, requestID)
		}
		if alert.GetReason() == "" {
			t.Error("Eli's alert has no reason")
		}
		ds := routingDecisions(t, ctx, c, site.GetId())
		if len(ds) != 2 || ds[0].GetAgentId() != eli.GetId() || ds[1].GetAgentId() != dana.GetId() || ds[0].GetReason() != alert.GetReason() {
			t.Fatalf("routing decisions %v, want Eli's then Dana's, newest first", ds)
		}
	})

	step(story, "declined: the request goes back to the queue", func(t *testing.T) {
		must[*pb.DeclineChatRequestResponse](t, "DeclineChatRequest")(c.DeclineChatRequest(ctx, &pb.DeclineChatRequestRequest{AgentId: eli.GetId(), ChatRequestId: requestID}))
		if w := recvWithdrawn(t, eliConsole); w.GetChatRequestId() != requestID || w.GetReason() != "declined" {
			t.Fatalf("Eli's alert withdrawn: %v, want %s declined", w, requestID)
		}
		q := listQueue(t, ctx, c, site.GetId())
		if len(q) != 1 || q[0].GetId() != requestID || q[0].GetState() != requestQueued || q[0].GetAlertedAgentId() != "" ||
			!slices.Equal(q[0].GetPassedAgentIds(), []string{dana.GetId(), eli.GetId()}) {
			t.Fatalf("queue after the decline: %v, want %s QUEUED, passed on by Dana and Eli", q, requestID)
		}
		// Declining what is no longer offered is a step out of order.
		_, err := c.DeclineChatRequest(ctx, &pb.DeclineChatRequestRequest{AgentId: eli.GetId(), ChatRequestId: requestID})
		wantCode(t, err, connect.CodeFailedPrecondition)
	})

	step(story, "two agents accept the queued request at once: exactly one wins", func(t *testing.T) {
		agents := []*pb.Agent{dana, eli}
		chats := make([]*pb.Chat, len(agents))
		errs := make([]error, len(agents))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, a := range agents {
			wg.Go(func() {
				<-start
				res, err := c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{AgentId: a.GetId(), ChatRequestId: requestID})
				chats[i], errs[i] = res.GetChat(), err
			})
		}
		close(start)
		wg.Wait()
		var winner, loser int
		switch {
		case errs[0] == nil && errs[1] != nil:
			winner, loser = 0, 1
		case errs[1] == nil && errs[0] != nil:
			winner, loser = 1, 0
		default:
			t.Fatalf("AcceptChatRequest results %v, %v: want exactly one success", errs[0], errs[1])
		}
		wantCode(t, errs[loser], connect.CodeFailedPrecondition)
		chat := chats[winner]
		if chat.GetAgent().GetId() != agents[winner].GetId() || chat.GetChatRequestId() != requestID || chat.GetVisitor().GetId() != visitor.GetId() {
			t.Fatalf("the winner's chat %v", chat)
		}
		if state := recvState(t, widget, chatting); state.GetChat().GetId() != chat.GetId() {
			t.Fatalf("visitor is in %v, want %s", state.GetChat(), chat.GetId())
		}
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
			t.Fatalf("queue after the accept: %v", q)
		}
		for i, a := range agents {
			got := must[*pb.GetAgentResponse](t, "GetAgent")(c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: a.GetId()})).GetAgent()
			want := []string(nil)
			if i == winner {
				want = []string{chat.GetId()}
			}
			if !slices.Equal(got.GetActiveChatIds(), want) {
				t.Errorf("%s is in chats %v, want %v", a.GetDisplayName(), got.GetActiveChatIds(), want)
			}
		}
	})
}

// TestRestartMidQueue: a visitor waiting in the queue (mode 1) when the
// server restarts keeps its request: the agent reconnects and is offered it
// again once routing finds it available, and the visitor, back within the
// queue hold, still has its place. gRPC only.
func TestRestartMidQueue(t *testing.T) {
	story := t
	clock := fakeclock.New(t0)
	dbPath := filepath.Join(t.TempDir(), "proactivechat.db")
	srv := startServer(t, dbPath, clock)
	c := newGRPCClient(t, srv)
	ctx := testContext(t)
	settings := withInvite()
	settings.QueueHoldSeconds = 60
	// Long enough for the alert after the restart to outlive the hold
	// deadline the restart set, so the test can step past that deadline.
	settings.AlertTimeoutSeconds = 120
	site := createSite(t, ctx, c, "Shoe shop", settings)
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	console, _ := openAgentStream(t, ctx, c, agent.GetId())
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	visitorID := session.GetVisitor().GetId()
	widget := openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page1})
	recvState(t, widget, browsing)
	form := adasForm()

	var requestID string
	var enqueued time.Time
	step(story, "the visitor waits in the queue", func(t *testing.T) {
		clock.Advance(30 * time.Second)
		inv := recvState(t, widget, invited).GetInvitation()
		must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
			VisitorId: visitorID, InvitationId: inv.GetId(), Accept: true,
		}))
		recvState(t, widget, fillingForm)
		enqueued = clock.Now()
		requestID = must[*pb.SubmitFormResponse](t, "SubmitForm")(c.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: form})).GetState().GetQueue().GetChatRequestId()
		if alert := recvAlert(t, console); alert.GetChatRequest().GetId() != requestID {
			t.Fatalf("alert for %v, want %s", alert.GetChatRequest(), requestID)
		}
		recvState(t, widget, alerting)
		// The agent steps away before answering: the alert is withdrawn,
		// without holding it against her, and nobody else can take it.
		must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agent.GetId(), Status: away}))
		if w := recvWithdrawn(t, console); w.GetChatRequestId() != requestID {
			t.Fatalf("withdrawn %v, want %s", w, requestID)
		}
		checkWaitingInQueue(t, "widget", recvState(t, widget, queued), enqueued)
		q := listQueue(t, ctx, c, site.GetId())
		if len(q) != 1 || q[0].GetId() != requestID || q[0].GetState() != requestQueued || len(q[0].GetPassedAgentIds()) != 0 {
			t.Fatalf("queue before the restart: %v, want %s QUEUED, passed on by nobody", q, requestID)
		}
	})

	step(story, "the server shuts down", func(t *testing.T) {
		clock.Advance(5 * time.Second)
		if err := srv.shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		wantCode(t, recvError(widget), connect.CodeUnavailable)
		wantCode(t, recvError(console), connect.CodeUnavailable)
	})

	// It starts again on the same file, its fake clock going on from the
	// same time.
	srv = startServer(t, dbPath, clock)
	c = newGRPCClient(t, srv)
	restarted := clock.Now()

	step(story, "after the restart the request is still queued and its place held", func(t *testing.T) {
		q := listQueue(t, ctx, c, site.GetId())
		if len(q) != 1 || q[0].GetId() != requestID || q[0].GetState() != requestQueued || !maps.Equal(q[0].GetFormValues(), form) ||
			!q[0].GetEnqueueTime().AsTime().Equal(enqueued) {
			t.Fatalf("queue after the restart: %v, want %s QUEUED with the form, as before", q, requestID)
		}
		// Nobody's widget is connected yet: the place is held.
		if got, want := q[0].GetHoldUntil().AsTime(), restarted.Add(60*time.Second); !got.Equal(want) {
			t.Fatalf("request held until %v, want %v (queue_hold_seconds after the restart)", got, want)
		}
	})

	step(story, "the agent reconnects and is offered the request again", func(t *testing.T) {
		s := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: agent.GetId()}))
		story.Cleanup(s.Close)
		console = s
		snapshot := recvNext(t, console).GetSnapshot()
		if snapshot.GetAgent().GetStatus() != away || len(snapshot.GetQueue()) != 1 || snapshot.GetQueue()[0].GetId() != requestID || len(snapshot.GetAlerts()) != 0 {
			t.Fatalf("agent snapshot after the restart: %v, want Dana away with %s in the queue", snapshot, requestID)
		}
		must[*pb.SetAgentStatusResponse](t, "SetAgentStatus")(c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agent.GetId(), Status: available}))
		alert := recvAlert(t, console)
		req := alert.GetChatRequest()
		if req.GetId() != requestID || req.GetAlertedAgentId() != agent.GetId() || !maps.Equal(req.GetFormValues(), form) || alert.GetReason() == "" {
			t.Fatalf("alert after the restart: %v, want %s with the form and a reason", alert, requestID)
		}
		if ds := routingDecisions(t, ctx, c, site.GetId()); len(ds) != 2 || ds[0].GetAgentId() != agent.GetId() || ds[0].GetReason() != alert.GetReason() {
			t.Fatalf("routing decisions %v, want the new one first, then the one before the restart", ds)
		}
	})

	step(story, "the visitor is back within the hold and still has its place", func(t *testing.T) {
		clock.Advance(20 * time.Second)
		again := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{
			SiteId: site.GetId(), ResumeToken: session.GetToken(),
		}))
		if !again.GetResumed() || again.GetVisitor().GetId() != visitorID {
			t.Fatalf("session after the restart: %v, want %s resumed", again, visitorID)
		}
		s := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page2}))
		story.Cleanup(s.Close)
		widget = s
		state := recvNext(t, widget).GetState()
		checkWaitingInQueue(t, "widget back after the restart", state, enqueued)
		if state.GetEngagement() != alerting || state.GetQueue().GetChatRequestId() != requestID {
			t.Fatalf("widget back after the restart: %v, want ALERTING for %s", state, requestID)
		}
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 1 || q[0].GetHoldUntil() != nil {
			t.Fatalf("queue with the visitor back: %v, want %s no longer held", q, requestID)
		}
		// Past the hold deadline the restart set, the place is still there.
		clock.Advance(45 * time.Second)
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 1 || q[0].GetId() != requestID || q[0].GetState() != requestAlerting {
			t.Fatalf("queue past the old hold deadline: %v, want %s still alerting Dana", q, requestID)
		}
	})

	step(story, "the agent accepts and the chat starts", func(t *testing.T) {
		chat := must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
			AgentId: agent.GetId(), ChatRequestId: requestID,
		})).GetChat()
		if state := recvState(t, widget, chatting); state.GetChat().GetId() != chat.GetId() {
			t.Fatalf("widget state %v, want CHATTING in %s", state, chat.GetId())
		}
		if started := nextVisitorChatEvent(t, widget); started.GetStarted().GetAgent().GetDisplayName() != "Dana" {
			t.Fatalf("widget got %v, want ChatStarted with Dana", started)
		}
		must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()}))
		// The request was answered: it is no longer open.
		if q := listQueue(t, ctx, c, site.GetId()); len(q) != 0 {
			t.Fatalf("queue after the accept: %v", q)
		}
	})
}

// TestRestartKeepsAlertInFlight: an alert offered when the server stops is
// still the agent's after the restart, until its stored deadline, and the
// agent's reconnected console shows it in its snapshot. gRPC only.
func TestRestartKeepsAlertInFlight(t *testing.T) {
	story := t
	clock := fakeclock.New(t0)
	dbPath := filepath.Join(t.TempDir(), "proactivechat.db")
	srv := startServer(t, dbPath, clock)
	c := newGRPCClient(t, srv)
	ctx := testContext(t)
	site := createSite(t, ctx, c, "Shoe shop", withInvite())
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	console, _ := openAgentStream(t, ctx, c, agent.GetId())
	visitor, widget := visitorOnline(t, ctx, c, site.GetId(), page1)
	visitorID := visitor.GetId()

	var before *pb.ChatRequest
	step(story, "the agent is alerted of a queued visitor", func(t *testing.T) {
		clock.Advance(30 * time.Second)
		inv := recvState(t, widget, invited).GetInvitation()
		must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
			VisitorId: visitorID, InvitationId: inv.GetId(), Accept: true,
		}))
		must[*pb.SubmitFormResponse](t, "SubmitForm")(c.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: adasForm()}))
		before = recvAlert(t, console).GetChatRequest()
		clock.Advance(10 * time.Second)
		if err := srv.shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})

	srv = startServer(t, dbPath, clock)
	c = newGRPCClient(t, srv)

	step(story, "the reconnected console still has the alert, same deadline", func(t *testing.T) {
		s := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: agent.GetId()}))
		story.Cleanup(s.Close)
		console = s
		snapshot := recvNext(t, console).GetSnapshot()
		if len(snapshot.GetAlerts()) != 1 {
			t.Fatalf("snapshot after the restart: %v, want the alert in flight", snapshot)
		}
		req := snapshot.GetAlerts()[0].GetChatRequest()
		if req.GetId() != before.GetId() || req.GetState() != requestAlerting || req.GetAlertedAgentId() != agent.GetId() ||
			!req.GetAlertDeadline().AsTime().Equal(before.GetAlertDeadline().AsTime()) || !maps.Equal(req.GetFormValues(), adasForm()) {
			t.Fatalf("alert after the restart: %v, want %v", req, before)
		}
	})

	step(story, "the visitor comes back and the agent accepts", func(t *testing.T) {
		clock.Advance(10 * time.Second) // 20 s into the 30 s alert, 10 s into the 60 s hold
		s := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page1}))
		story.Cleanup(s.Close)
		widget = s
		state := recvNext(t, widget).GetState()
		checkWaitingInQueue(t, "widget back after the restart", state, before.GetEnqueueTime().AsTime())
		chat := must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
			AgentId: agent.GetId(), ChatRequestId: before.GetId(),
		})).GetChat()
		if state := recvState(t, widget, chatting); state.GetChat().GetId() != chat.GetId() {
			t.Fatalf("widget state %v, want CHATTING in %s", state, chat.GetId())
		}
	})
}

// TestReloadedConsoleAlertsSayWhy: the alerts of a WatchAgent snapshot (a
// console reload) carry why the agent was chosen, like live alerts do.
func TestReloadedConsoleAlertsSayWhy(t *testing.T) {
	srv, clock := newServer(t)
	c := newGRPCClient(t, srv)
	ctx := testContext(t)
	site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
	agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
	console, _ := openAgentStream(t, ctx, c, agent.GetId())
	visitorOnline(t, ctx, c, site.GetId(), page1)
	clock.Advance(30 * time.Second)
	live := recvAlert(t, console)
	if live.GetReason() == "" {
		t.Fatal("live alert has no reason")
	}
	_, snapshot := openAgentStream(t, ctx, c, agent.GetId())
	if len(snapshot.GetAlerts()) != 1 || snapshot.GetAlerts()[0].GetChatRequest().GetId() != live.GetChatRequest().GetId() {
		t.Fatalf("reloaded console's snapshot %v, want the pending alert", snapshot)
	}
	if got := snapshot.GetAlerts()[0].GetReason(); got != live.GetReason() {
		t.Errorf("reloaded console's alert has reason %q, want %q as when it was offered", got, live.GetReason())
	}
}
