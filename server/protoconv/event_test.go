package protoconv_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// TestEventRoundTrip checks that every event type has a payload and that
// the fields it carries survive the conversion both ways.
func TestEventRoundTrip(t *testing.T) {
	agent := domain.Participant{Role: domain.RoleAgent, ID: "agent-a", DisplayName: "Ada"}
	events := map[domain.EventType]domain.Event{
		domain.EventVisitorArrived:        {VisitorID: "v1"},
		domain.EventVisitorLeft:           {VisitorID: "v1"},
		domain.EventVisitorPageViewed:     {VisitorID: "v1", URL: "https://a.example/", Title: "A"},
		domain.EventLaunchFired:           {VisitorID: "v1", RequestID: "req1", RuleID: "rule1", VariantID: "var1"},
		domain.EventInvitationSent:        {VisitorID: "v1", InvitationID: "inv1", AgentID: "agent-a", RuleID: "rule1", VariantID: "var1"},
		domain.EventInvitationAccepted:    {VisitorID: "v1", InvitationID: "inv1", RuleID: "rule1", VariantID: "var1"},
		domain.EventInvitationDeclined:    {VisitorID: "v1", InvitationID: "inv1"},
		domain.EventInvitationExpired:     {VisitorID: "v1", InvitationID: "inv1"},
		domain.EventInvitationWithdrawn:   {VisitorID: "v1", InvitationID: "inv1"},
		domain.EventFormSubmitted:         {VisitorID: "v1", RequestID: "req1", FormValues: map[string]string{"name": "Ann"}, RuleID: "rule1", VariantID: "var1"},
		domain.EventRequestQueued:         {VisitorID: "v1", RequestID: "req1", Kind: domain.RequestInvited, RuleID: "rule1", VariantID: "var1"},
		domain.EventRequestAlerted:        {VisitorID: "v1", RequestID: "req1", AgentID: "agent-a", Reason: "longest idle"},
		domain.EventRequestAlertExpired:   {VisitorID: "v1", RequestID: "req1", AgentID: "agent-a"},
		domain.EventRequestDeclined:       {VisitorID: "v1", RequestID: "req1", AgentID: "agent-a"},
		domain.EventRequestAlertWithdrawn: {VisitorID: "v1", RequestID: "req1", AgentID: "agent-a", Reason: "agent is away"},
		domain.EventRequestAccepted: {VisitorID: "v1", RequestID: "req1", AgentID: "agent-a", ChatID: "chat1", Wait: 42 * time.Second,
			RuleID: "rule1", VariantID: "var1", HeldOut: true},
		domain.EventRequestAbandoned:    {VisitorID: "v1", RequestID: "req1", Reason: "visitor left"},
		domain.EventChatStarted:         {VisitorID: "v1", ChatID: "chat1", AgentID: "agent-a", RequestID: "req1"},
		domain.EventChatMessage:         {VisitorID: "v1", ChatID: "chat1", Seq: 2, Participant: agent, Text: "Hello"},
		domain.EventChatParticipantLeft: {VisitorID: "v1", ChatID: "chat1", Participant: agent},
		domain.EventChatEnded:           {VisitorID: "v1", ChatID: "chat1", EndReason: domain.EndInactive},
		domain.EventAgentStatusChanged:  {AgentID: "agent-a", Status: domain.StatusAway},
		domain.EventVisitorIdentified: {VisitorID: "v1", Identity: domain.VisitorIdentity{
			Name: "Ann", Email: "ann@example.com", ExternalID: "u-1", Verified: true, Attributes: map[string]string{"plan": "pro"},
		}},
		domain.EventChatRated:             {VisitorID: "v1", ChatID: "chat1", AgentID: "agent-a", Score: 4, Text: "Thanks", RuleID: "rule1", VariantID: "var1"},
		domain.EventChatTransferred:       {VisitorID: "v1", ChatID: "chat1", FromAgentID: "agent-a", AgentID: "agent-b"},
		domain.EventOfflineMessageLeft:    {VisitorID: "v1", OfflineMessageID: "msg1"},
		domain.EventOfflineMessageHandled: {VisitorID: "v1", OfflineMessageID: "msg1", AgentID: "agent-a"},
		domain.EventRuleHeldOut:           {VisitorID: "v1", RuleID: "rule1"},
	}
	for _, typ := range domain.EventTypes {
		t.Run(string(typ), func(t *testing.T) {
			ev, ok := events[typ]
			if !ok {
				t.Fatal("no test event")
			}
			ev.Type, ev.Position, ev.ID, ev.Time, ev.SiteID = typ, 7, domain.EventID(7), at(3), "shop"
			m := protoconv.EventToProto(&ev)
			if m.GetPayload() == nil {
				t.Fatal("no payload")
			}
			if got := protoconv.EventFromProto(m); !reflect.DeepEqual(*got, ev) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", *got, ev)
			}
		})
	}
}
