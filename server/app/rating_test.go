package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestRequestChatAfterNo: a visitor who said No to the invitation asks for
// a chat with the launcher, fills the form, waits in the queue and the
// agent is alerted of a VISITOR request.
func TestRequestChatAfterNo(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) {
		t := story
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shoe shop", withInvite())
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
		console, _ := openAgentStream(t, ctx, c, agent.GetId())
		session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
		visitorID := session.GetVisitor().GetId()
		widget := openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page1})
		if st := recvState(t, widget, browsing); st.GetLauncher() != nil {
			t.Fatalf("launcher %v while the site has none", st.GetLauncher())
		}

		step(story, "the launcher off: refused", func(t *testing.T) {
			_, err := c.RequestChat(ctx, &pb.RequestChatRequest{VisitorId: visitorID})
			wantCode(t, err, connect.CodeFailedPrecondition)
			_, err = c.UpdateSite(ctx, &pb.UpdateSiteRequest{
				Site:       &pb.Site{Id: site.GetId(), VisitorLauncher: &pb.VisitorLauncherSettings{Label: strings.Repeat("x", 41)}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visitor_launcher"}},
			})
			wantCode(t, err, connect.CodeInvalidArgument)
			if !strings.Contains(errorMessage(err), "visitor_launcher.label") {
				t.Fatalf("message %q does not name visitor_launcher.label", errorMessage(err))
			}
		})

		step(story, "turning it on shows it", func(t *testing.T) {
			updated := must[*pb.UpdateSiteResponse](t, "UpdateSite")(c.UpdateSite(ctx, &pb.UpdateSiteRequest{
				Site:       &pb.Site{Id: site.GetId(), VisitorLauncher: &pb.VisitorLauncherSettings{Enabled: true}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"visitor_launcher.enabled"}},
			})).GetSite()
			if !updated.GetVisitorLauncher().GetEnabled() {
				t.Fatalf("site %v, want the launcher on", updated)
			}
			st := recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool { return m.GetState().GetLauncher() != nil }).GetState()
			if st.GetLauncher().GetLabel() != "Chat with us" {
				t.Fatalf("launcher %v, want the default label", st.GetLauncher())
			}
		})

		step(story, "No to the invitation keeps the launcher", func(t *testing.T) {
			clock.Advance(30 * time.Second)
			inv := recvState(t, widget, invited)
			if inv.GetLauncher() != nil {
				t.Fatalf("launcher shown with the invitation")
			}
			res := must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
				VisitorId: visitorID, InvitationId: inv.GetInvitation().GetId(), Accept: false,
			}))
			if res.GetState().GetEngagement() != declined || res.GetState().GetLauncher() == nil {
				t.Fatalf("after No: %v, want DECLINED with the launcher", res.GetState())
			}
		})

		var requestID string
		step(story, "the launcher shows the form, then the queue", func(t *testing.T) {
			res := must[*pb.RequestChatResponse](t, "RequestChat")(c.RequestChat(ctx, &pb.RequestChatRequest{VisitorId: visitorID}))
			if st := res.GetState(); st.GetEngagement() != fillingForm || len(st.GetForm().GetFields()) != 3 || st.GetLauncher() != nil {
				t.Fatalf("RequestChat: %v, want the form", st)
			}
			_, err := c.RequestChat(ctx, &pb.RequestChatRequest{VisitorId: visitorID})
			wantCode(t, err, connect.CodeFailedPrecondition)
			sub := must[*pb.SubmitFormResponse](t, "SubmitForm")(c.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: visitorID, Values: adasForm()}))
			checkWaitingInQueue(t, "SubmitForm", sub.GetState(), clock.Now())
			requestID = sub.GetState().GetQueue().GetChatRequestId()
		})

		step(story, "the agent is alerted of a VISITOR request", func(t *testing.T) {
			req := recvAlert(t, console).GetChatRequest()
			if req.GetId() != requestID || req.GetKind() != pb.ChatRequestKind_CHAT_REQUEST_KIND_VISITOR || req.GetFormValues()["name"] != "Ada Lovelace" {
				t.Fatalf("alert for %v, want request %s of kind VISITOR", req, requestID)
			}
			_, err := c.RequestChat(ctx, &pb.RequestChatRequest{VisitorId: visitorID})
			wantCode(t, err, connect.CodeFailedPrecondition)
		})
	})
}

// TestRateChat: after the chat the visitor rates it; the chat, its
// transcript and the summaries show the rating.
func TestRateChat(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) {
		t := story
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, withInvite())
		chat := w.startChat(t, ctx, c)
		vid, aid := w.visitor.GetId(), w.agent.GetId()
		send(t, ctx, c, chat.GetId(), vid, "Do you have size 44?")

		step(story, "not before the chat ends", func(t *testing.T) {
			_, err := c.RateChat(ctx, &pb.RateChatRequest{ChatId: chat.GetId(), VisitorId: vid, Score: 5})
			wantCode(t, err, connect.CodeFailedPrecondition)
			_, err = c.RateChat(ctx, &pb.RateChatRequest{ChatId: chat.GetId(), VisitorId: vid, Score: 9, Comment: strings.Repeat("é", 1001)})
			wantCode(t, err, connect.CodeInvalidArgument)
			fields := badRequestFields(err)
			slices.Sort(fields)
			if !slices.Equal(fields, []string{"comment", "score"}) {
				t.Fatalf("BadRequest fields %v, want comment and score", fields)
			}
		})

		step(story, "the visitor rates the ended chat", func(t *testing.T) {
			leave(t, ctx, c, chat.GetId(), aid)
			leave(t, ctx, c, chat.GetId(), vid)
			clock.Advance(time.Minute)
			got := must[*pb.RateChatResponse](t, "RateChat")(c.RateChat(ctx, &pb.RateChatRequest{
				ChatId: chat.GetId(), VisitorId: vid, Score: 5, Comment: "Found my shoes!",
			})).GetChat()
			if r := got.GetRating(); r.GetScore() != 5 || r.GetComment() != "Found my shoes!" || !r.GetTime().AsTime().Equal(clock.Now()) {
				t.Fatalf("rating %v", r)
			}
			_, err := c.RateChat(ctx, &pb.RateChatRequest{ChatId: chat.GetId(), VisitorId: vid, Score: 2})
			wantCode(t, err, connect.CodeFailedPrecondition)
			again := must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat()
			if again.GetRating().GetScore() != 5 {
				t.Fatalf("GetChat rating %v", again.GetRating())
			}
			text := must[*pb.GetChatTranscriptResponse](t, "GetChatTranscript")(c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: chat.GetId()})).GetText()
			if !strings.Contains(text, "Rating: 5/5") || !strings.Contains(text, "Comment: Found my shoes!") {
				t.Fatalf("transcript does not show the rating:\n%s", text)
			}
		})

		step(story, "summaries per site and agent", func(t *testing.T) {
			for what, req := range map[string]*pb.GetRatingSummaryRequest{
				"site":          {SiteId: w.site.GetId()},
				"agent":         {AgentId: aid},
				"agent on site": {SiteId: w.site.GetId(), AgentId: aid, StartTime: timestamppb.New(clock.Now().Add(-time.Hour)), EndTime: timestamppb.New(clock.Now())},
			} {
				s := must[*pb.GetRatingSummaryResponse](t, "GetRatingSummary")(c.GetRatingSummary(ctx, req)).GetSummary()
				if s.GetCount() != 1 || s.GetAverage() != 5 || !slices.Equal(s.GetCounts(), []uint32{0, 0, 0, 0, 1}) {
					t.Fatalf("%s: %v, want one 5", what, s)
				}
			}
			s := must[*pb.GetRatingSummaryResponse](t, "GetRatingSummary")(c.GetRatingSummary(ctx, &pb.GetRatingSummaryRequest{
				SiteId: w.site.GetId(), StartTime: timestamppb.New(clock.Now().Add(48 * time.Hour)), EndTime: timestamppb.New(clock.Now().Add(72 * time.Hour)),
			})).GetSummary()
			if s.GetCount() != 0 || len(s.GetCounts()) != 5 {
				t.Fatalf("later days: %v, want none", s)
			}
			_, err := c.GetRatingSummary(ctx, &pb.GetRatingSummaryRequest{})
			wantCode(t, err, connect.CodeInvalidArgument)
		})
	})
}
