package app_test

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestLeaveMessage: outside business hours the widget is told the site is
// closed and offered to leave a message; the visitor leaves one (once,
// however often the call is retried), agents of the site list it and mark
// it handled — on every protocol.
func TestLeaveMessage(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		sign := c.(interface{ signer() *signedClient }).signer()

		site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
		today := clock.Now().UTC().Format(time.DateOnly)
		hours := &pb.BusinessHours{TimeZone: "Europe/Berlin",
			Weekly:   []*pb.WeeklyInterval{{DayOfWeek: pb.DayOfWeek_DAY_OF_WEEK_MONDAY, Open: "09:00", Close: "17:00"}},
			Holidays: []*pb.Holiday{{StartDate: today, Name: "Closed today"}}}
		_, err := c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: site.GetId(), BusinessHours: &pb.BusinessHours{TimeZone: "Mars/Base"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"business_hours"}}})
		wantCode(t, err, connect.CodeInvalidArgument)
		if !strings.Contains(err.Error(), "business_hours.time_zone") {
			t.Errorf("error %q does not name business_hours.time_zone", err)
		}
		updated := must[*pb.UpdateSiteResponse](t, "UpdateSite")(c.UpdateSite(ctx, &pb.UpdateSiteRequest{
			Site:       &pb.Site{Id: site.GetId(), BusinessHours: hours, OfflineMessage: &pb.OfflineMessageSettings{MaxWaitSeconds: 300}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"business_hours", "offline_message.max_wait_seconds"}}})).GetSite()
		protoEqual(t, "business hours", updated.GetBusinessHours(), hours)
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())

		session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
		vid := session.GetVisitor().GetId()
		s := openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: vid, PageUrl: page1})
		st := recvNext(t, s).GetState().GetSiteStatus()
		if st.GetOpen() || !st.GetAgentsAvailable() || !st.GetOfferMessage() || st.GetNextChangeTime() == nil {
			t.Fatalf("site status = %v, want closed with an agent available, offering a message, with the next opening", st)
		}

		leave := &pb.LeaveMessageRequest{VisitorId: vid, Name: "Grace", Email: "grace@example.com",
			Text: "Do you have these in 38?", PageUrl: page1, RequestId: "r1"}
		bad := &pb.LeaveMessageRequest{VisitorId: vid, Name: "Grace", Email: "grace", Text: "x", RequestId: "r0"}
		_, err = c.LeaveMessage(ctx, bad)
		wantCode(t, err, connect.CodeInvalidArgument)
		if !strings.Contains(err.Error(), "email") {
			t.Errorf("error %q does not name email", err)
		}
		first := must[*pb.LeaveMessageResponse](t, "LeaveMessage")(c.LeaveMessage(ctx, leave)).GetMessage()
		if first.GetState() != pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_NEW || first.GetSiteId() != site.GetId() || first.GetPage() != page1 {
			t.Fatalf("message = %v", first)
		}
		retry := must[*pb.LeaveMessageResponse](t, "LeaveMessage")(c.LeaveMessage(ctx, leave)).GetMessage()
		protoEqual(t, "retried message", retry, first)

		list := must[*pb.ListOfflineMessagesResponse](t, "ListOfflineMessages")(c.ListOfflineMessages(ctx, &pb.ListOfflineMessagesRequest{
			SiteId: site.GetId(), State: pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_NEW}))
		if len(list.GetMessages()) != 1 || list.GetNewCount() != 1 {
			t.Fatalf("list = %v, want the one message", list)
		}
		protoEqual(t, "listed message", list.GetMessages()[0], first)

		clock.Advance(time.Minute)
		asAgent := sign.as(ctx, agent.GetId())
		handled := must[*pb.MarkOfflineMessageHandledResponse](t, "MarkOfflineMessageHandled")(c.MarkOfflineMessageHandled(asAgent,
			&pb.MarkOfflineMessageHandledRequest{OfflineMessageId: first.GetId()})).GetMessage()
		if handled.GetState() != pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_HANDLED || handled.GetHandledBy() != agent.GetId() ||
			!handled.GetHandledTime().AsTime().Equal(clock.Now()) {
			t.Fatalf("handled = %v", handled)
		}
		list = must[*pb.ListOfflineMessagesResponse](t, "ListOfflineMessages")(c.ListOfflineMessages(asAgent, &pb.ListOfflineMessagesRequest{
			SiteId: site.GetId(), State: pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_NEW}))
		if len(list.GetMessages()) != 0 || list.GetNewCount() != 0 {
			t.Fatalf("new messages after handling = %v, want none", list)
		}
		_, err = c.MarkOfflineMessageHandled(ctx, &pb.MarkOfflineMessageHandledRequest{OfflineMessageId: "msg_missing"})
		wantCode(t, err, connect.CodeNotFound)
	})
}
