package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestTriggerRules walks both modes of proactive chat launched by trigger
// rules with several conditions each, over every protocol: what the widget
// reports (page views with the referrer, the device and language, the
// page's attributes, scroll depth, exit intent) makes the first matching
// rule launch; its invitation, request and chat carry the rule, whose
// funnel the report counts; the preview says who matches a rule being
// edited and what fails for the others.
func TestTriggerRules(t *testing.T) {
	forEachProtocol(t, func(story *testing.T, p protocol) {
		srv, clock := newServer(story)
		c := p.newClient(story, srv)
		ctx := testContext(story)
		landing := page1 + "?utm_source=news&utm_campaign=spring-sale"

		site := createSite(story, ctx, c, "Shoe shop", &pb.ProactiveChatSettings{Enabled: true, Rules: []*pb.TriggerRule{
			{Name: "Big carts from Google", Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE, InviteText: "Questions about your cart?",
				Conditions: &pb.TriggerConditions{
					MinPagesViewed: 2, MinScrollPercent: 50,
					Attributes:    []*pb.AttributeCondition{{Key: "cart_value", Operator: pb.AttributeOperator_ATTRIBUTE_OPERATOR_GREATER_THAN, Value: "100"}},
					Devices:       []pb.DeviceClass{pb.DeviceClass_DEVICE_CLASS_DESKTOP},
					ReferrerHosts: []string{"*.google.com"},
					Utm:           []*pb.UtmCondition{{Parameter: "utm_campaign", Value: "spring*"}},
				}},
			{Name: "Leaving German speakers", Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
				Conditions: &pb.TriggerConditions{MinSecondsOnPage: 20, ExitIntent: true, Languages: []string{"de"}}},
		}})
		rules := site.GetProactiveChat().GetRules()
		if len(rules) != 2 || rules[0].GetId() == "" || rules[1].GetId() == "" || site.GetProactiveChat().GetMode() != rules[0].GetMode() ||
			site.GetProactiveChat().GetInviteText() != rules[0].GetInviteText() {
			story.Fatalf("site's rules %v: want two with ids, the first mirrored by the settings", site.GetProactiveChat())
		}
		agent := createAvailableAgent(story, ctx, c, "Dana", site.GetId())
		console, _ := openAgentStream(story, ctx, c, agent.GetId())

		start := func(t *testing.T, device pb.DeviceClass, lang string) string {
			t.Helper()
			s := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{
				SiteId: site.GetId(), ClientInfo: &pb.ClientInfo{Device: device, Language: lang}}))
			if s.GetVisitor().GetDevice() != device || s.GetVisitor().GetLanguage() != lang {
				t.Fatalf("visitor %v, want the client info kept", s.GetVisitor())
			}
			return s.GetVisitor().GetId()
		}
		var shopper, leaver string
		var shopperWidget stream[pb.WatchVisitorResponse]

		step(story, "WithInvite: the last condition to hold launches the first rule", func(t *testing.T) {
			shopper = start(t, pb.DeviceClass_DEVICE_CLASS_DESKTOP, "en-GB")
			shopperWidget = openVisitorStream(story, ctx, c, &pb.WatchVisitorRequest{VisitorId: shopper, PageUrl: landing,
				PageReferrer: "https://www.google.com/search?q=shoes"})
			recvState(t, shopperWidget, browsing)
			must[*pb.ReportPageViewResponse](t, "ReportPageView")(c.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: shopper, Url: page2, Title: "Shoes"}))
			v := must[*pb.UpdateVisitorAttributesResponse](t, "UpdateVisitorAttributes")(c.UpdateVisitorAttributes(ctx, &pb.UpdateVisitorAttributesRequest{
				VisitorId: shopper, Set: map[string]string{"cart_value": "149.90", "plan": "free"}, Remove: []string{"none"}})).GetVisitor()
			if v.GetIdentity().GetAttributes()["cart_value"] != "149.90" || v.GetVisitCount() != 1 || v.GetLandingPageUrl() != landing ||
				v.GetVisitReferrer() != "https://www.google.com/search?q=shoes" {
				t.Fatalf("visitor %v, want the attributes set, visit 1 from Google on the landing page", v)
			}
			must[*pb.ReportActivityResponse](t, "ReportActivity")(c.ReportActivity(ctx, &pb.ReportActivityRequest{VisitorId: shopper, PageUrl: page2,
				Activity: &pb.VisitorActivity{ScrollPercent: 70, Interacted: true}}))
			clock.Advance(0)
			inv := recvState(t, shopperWidget, pb.EngagementState_ENGAGEMENT_STATE_INVITED).GetInvitation()
			if inv.GetText() != "Questions about your cart?" || inv.GetRuleId() != rules[0].GetId() {
				t.Fatalf("invitation %v, want the first rule's", inv)
			}
			req := must[*pb.RespondToInvitationResponse](t, "RespondToInvitation")(c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{
				VisitorId: shopper, InvitationId: inv.GetId(), Accept: true})).GetState().GetVisitor().GetChatRequestId()
			q := listQueue(t, ctx, c, site.GetId())
			if len(q) != 1 || q[0].GetId() != req || q[0].GetRuleId() != rules[0].GetId() {
				t.Fatalf("queue %v, want the shopper's request from the first rule", q)
			}
			chat := must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
				AgentId: agent.GetId(), ChatRequestId: req})).GetChat()
			if chat.GetRuleId() != rules[0].GetId() {
				t.Fatalf("chat %v, want the first rule's", chat)
			}
		})

		step(story, "WithoutInvite: a German speaker leaving after 20 s on the page alerts the agent", func(t *testing.T) {
			leaver = start(t, pb.DeviceClass_DEVICE_CLASS_PHONE, "de-AT")
			recvState(t, openVisitorStream(story, ctx, c, &pb.WatchVisitorRequest{VisitorId: leaver, PageUrl: page1}), browsing)
			clock.Advance(20 * time.Second)
			must[*pb.ReportActivityResponse](t, "ReportActivity")(c.ReportActivity(ctx, &pb.ReportActivityRequest{VisitorId: leaver, PageUrl: page1,
				Activity: &pb.VisitorActivity{ExitIntent: true}}))
			clock.Advance(0)
			alert := recvUntil(t, console, func(m *pb.WatchAgentResponse) bool {
				return m.GetAlert().GetChatRequest().GetVisitorId() == leaver
			}).GetAlert()
			req := alert.GetChatRequest()
			if req.GetKind() != pb.ChatRequestKind_CHAT_REQUEST_KIND_PRESENCE || req.GetRuleId() != rules[1].GetId() ||
				alert.GetVisitor().GetLanguage() != "de-AT" || alert.GetVisitor().GetDevice() != pb.DeviceClass_DEVICE_CLASS_PHONE {
				t.Fatalf("alert %v, want the second rule's presence request with the visitor's language and device", alert)
			}
			must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
				AgentId: agent.GetId(), ChatRequestId: req.GetId()}))
		})

		step(story, "The report counts each rule's funnel", func(t *testing.T) {
			rep := must[*pb.GetTriggerRuleReportResponse](t, "GetTriggerRuleReport")(c.GetTriggerRuleReport(ctx, &pb.GetTriggerRuleReportRequest{
				SiteId: site.GetId()})).GetReport()
			want := []*pb.RuleFunnel{
				{RuleId: rules[0].GetId(), Matched: 1, Invited: 1, Accepted: 1, Queued: 1, Chatted: 1},
				{RuleId: rules[1].GetId(), Matched: 1, Queued: 1, Chatted: 1},
			}
			if len(rep.GetRules()) != 2 {
				t.Fatalf("report %v, want two rules", rep)
			}
			for i := range want {
				protoEqual(t, "rule funnel", rep.GetRules()[i], want[i])
			}
			if rep.GetSiteId() != site.GetId() || rep.GetEndTime() == nil || rep.GetPredictedWait() == nil {
				t.Fatalf("report %v", rep)
			}
		})

		step(story, "The preview shows who matches a rule being edited", func(t *testing.T) {
			res := must[*pb.PreviewTriggerRuleResponse](t, "PreviewTriggerRule")(c.PreviewTriggerRule(ctx, &pb.PreviewTriggerRuleRequest{
				SiteId: site.GetId(), Rule: &pb.TriggerRule{Name: "Desktop scrollers", Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
					Conditions: &pb.TriggerConditions{MinScrollPercent: 50, Devices: []pb.DeviceClass{pb.DeviceClass_DEVICE_CLASS_DESKTOP}}},
			}))
			if res.GetOnlineVisitors() != 2 || len(res.GetEvaluations()) != 2 {
				t.Fatalf("preview %v, want both visitors online", res)
			}
			for _, e := range res.GetEvaluations() {
				switch e.GetVisitor().GetVisitorId() {
				case shopper:
					if !e.GetMatches() || len(e.GetFailedConditions()) != 0 || !strings.HasPrefix(e.GetCappedBy(), "once a visit") ||
						e.GetVisitor().GetPagesViewed() != 2 || e.GetVisitor().GetReferrer() == "" {
						t.Fatalf("shopper %v, want a match, capped (chatting already this visit)", e)
					}
				case leaver:
					var fields []string
					for _, f := range e.GetFailedConditions() {
						fields = append(fields, f[:strings.Index(f, ":")])
					}
					if e.GetMatches() || !slices.Equal(fields, []string{"devices", "min_scroll_percent"}) && !slices.Equal(fields, []string{"min_scroll_percent", "devices"}) {
						t.Fatalf("leaver %v, want scroll and device failing", e)
					}
				default:
					t.Fatalf("evaluation of %v", e)
				}
			}
			_, err := c.PreviewTriggerRule(ctx, &pb.PreviewTriggerRuleRequest{SiteId: site.GetId(), Rule: &pb.TriggerRule{Name: "No mode",
				Conditions: &pb.TriggerConditions{Attributes: []*pb.AttributeCondition{{Key: "Bad Key", Operator: pb.AttributeOperator_ATTRIBUTE_OPERATOR_PRESENT}}}}})
			wantCode(t, err, connect.CodeInvalidArgument)
			if fields := badRequestFields(err); !slices.Contains(fields, "rule.mode") || !slices.Contains(fields, "rule.conditions.attributes[0].key") {
				t.Fatalf("preview of a bad rule names %v, want rule.mode and rule.conditions.attributes[0].key", fields)
			}
		})
	})
}

// TestTriggerRuleValidation: UpdateSite refuses bad rules naming the field,
// and a client written before rules edits the first rule through the
// settings it knows, keeping the others.
func TestTriggerRuleValidation(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shoe shop", nil)
		rule := func(name string) *pb.TriggerRule {
			return &pb.TriggerRule{Name: name, Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE}
		}
		bad := rule("c")
		bad.Conditions = &pb.TriggerConditions{Attributes: []*pb.AttributeCondition{{Key: "cart value", Operator: pb.AttributeOperator_ATTRIBUTE_OPERATOR_GREATER_THAN, Value: "lots"}}}
		bad.HoldoutPercent = 60
		_, err := c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: site.GetId(), ProactiveChat: &pb.ProactiveChatSettings{
			Rules: []*pb.TriggerRule{rule("a"), rule("b"), bad}}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proactive_chat.rules"}}})
		wantCode(t, err, connect.CodeInvalidArgument)
		fields := badRequestFields(err)
		for _, f := range []string{"proactive_chat.rules[2].conditions.attributes[0].key", "proactive_chat.rules[2].conditions.attributes[0].value",
			"proactive_chat.rules[2].holdout_percent"} {
			if !slices.Contains(fields, f) {
				t.Errorf("fields %v, want %s", fields, f)
			}
		}
		tooMany := make([]*pb.TriggerRule, 51)
		for i := range tooMany {
			tooMany[i] = rule(strings.Repeat("r", i+1))
		}
		_, err = c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: site.GetId(), ProactiveChat: &pb.ProactiveChatSettings{Rules: tooMany}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proactive_chat.rules"}}})
		wantCode(t, err, connect.CodeInvalidArgument)
		if fields := badRequestFields(err); !slices.Contains(fields, "proactive_chat.rules") {
			t.Errorf("51 rules: fields %v", fields)
		}

		// Two rules, then a legacy edit of the invite text.
		up := must[*pb.UpdateSiteResponse](t, "UpdateSite")(c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: site.GetId(),
			ProactiveChat: &pb.ProactiveChatSettings{Enabled: true, Rules: []*pb.TriggerRule{rule("first"), rule("second")}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proactive_chat"}}})).GetSite()
		ids := []string{up.GetProactiveChat().GetRules()[0].GetId(), up.GetProactiveChat().GetRules()[1].GetId()}
		up = must[*pb.UpdateSiteResponse](t, "UpdateSite")(c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: site.GetId(),
			ProactiveChat: &pb.ProactiveChatSettings{InviteText: "Edited", LaunchAfterSeconds: 45}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proactive_chat.invite_text", "proactive_chat.launch_after_seconds"}}})).GetSite()
		rs := up.GetProactiveChat().GetRules()
		if len(rs) != 2 || rs[0].GetId() != ids[0] || rs[0].GetInviteText() != "Edited" || rs[0].GetConditions().GetMinSecondsOnSite() != 45 ||
			rs[1].GetId() != ids[1] || rs[1].GetInviteText() != "" || up.GetProactiveChat().GetInviteText() != "Edited" {
			t.Fatalf("after a legacy edit: %v, want the first rule edited, the second kept", up.GetProactiveChat())
		}
	})
}
