package protoconv

import (
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// EventToProto converts a log event, setting the payload its type names
// from the domain event's fields. An unknown type gets no payload.
func EventToProto(e *domain.Event) *pb.Event {
	out := &pb.Event{
		Position: e.Position,
		Id:       e.ID,
		Type:     string(e.Type),
		Time:     TimeToProto(e.Time),
		SiteId:   e.SiteID,
	}
	closed := func() *pb.InvitationClosed {
		return &pb.InvitationClosed{InvitationId: e.InvitationID, VisitorId: e.VisitorID, RuleId: e.RuleID, VariantId: e.VariantID}
	}
	agent := func() *pb.RequestAgent {
		return &pb.RequestAgent{ChatRequestId: e.RequestID, VisitorId: e.VisitorID, AgentId: e.AgentID}
	}
	switch e.Type {
	case domain.EventVisitorArrived:
		out.Payload = &pb.Event_VisitorArrived{VisitorArrived: &pb.VisitorArrived{VisitorId: e.VisitorID}}
	case domain.EventVisitorLeft:
		out.Payload = &pb.Event_VisitorLeft{VisitorLeft: &pb.VisitorLeft{VisitorId: e.VisitorID}}
	case domain.EventVisitorPageViewed:
		out.Payload = &pb.Event_VisitorPageViewed{VisitorPageViewed: &pb.VisitorPageViewed{
			VisitorId: e.VisitorID, Url: e.URL, Title: e.Title,
		}}
	case domain.EventLaunchFired:
		out.Payload = &pb.Event_LaunchFired{LaunchFired: &pb.LaunchFired{
			VisitorId: e.VisitorID, ChatRequestId: e.RequestID, RuleId: e.RuleID, VariantId: e.VariantID,
		}}
	case domain.EventInvitationSent:
		out.Payload = &pb.Event_InvitationSent{InvitationSent: &pb.InvitationSent{
			InvitationId: e.InvitationID, VisitorId: e.VisitorID, AgentId: e.AgentID, RuleId: e.RuleID, VariantId: e.VariantID,
		}}
	case domain.EventInvitationAccepted:
		out.Payload = &pb.Event_InvitationAccepted{InvitationAccepted: closed()}
	case domain.EventInvitationDeclined:
		out.Payload = &pb.Event_InvitationDeclined{InvitationDeclined: closed()}
	case domain.EventInvitationExpired:
		out.Payload = &pb.Event_InvitationExpired{InvitationExpired: closed()}
	case domain.EventInvitationWithdrawn:
		out.Payload = &pb.Event_InvitationWithdrawn{InvitationWithdrawn: closed()}
	case domain.EventFormSubmitted:
		out.Payload = &pb.Event_FormSubmitted{FormSubmitted: &pb.FormSubmitted{
			VisitorId: e.VisitorID, ChatRequestId: e.RequestID, Values: e.FormValues, RuleId: e.RuleID, VariantId: e.VariantID,
		}}
	case domain.EventRequestQueued:
		out.Payload = &pb.Event_RequestQueued{RequestQueued: &pb.RequestQueued{
			ChatRequestId: e.RequestID, VisitorId: e.VisitorID, Kind: ChatRequestKindToProto(e.Kind), RuleId: e.RuleID, VariantId: e.VariantID,
		}}
	case domain.EventRequestAlerted:
		out.Payload = &pb.Event_RequestAlerted{RequestAlerted: &pb.RequestAlerted{
			ChatRequestId: e.RequestID, VisitorId: e.VisitorID, AgentId: e.AgentID, Reason: e.Reason,
		}}
	case domain.EventRequestAlertExpired:
		out.Payload = &pb.Event_RequestAlertExpired{RequestAlertExpired: agent()}
	case domain.EventRequestDeclined:
		out.Payload = &pb.Event_RequestDeclined{RequestDeclined: agent()}
	case domain.EventRequestAccepted:
		ra := &pb.RequestAccepted{
			ChatRequestId: e.RequestID, VisitorId: e.VisitorID, AgentId: e.AgentID, ChatId: e.ChatID,
			RuleId: e.RuleID, VariantId: e.VariantID, HeldOut: e.HeldOut,
		}
		if e.Wait >= 0 {
			ra.Wait = durationpb.New(e.Wait)
		}
		out.Payload = &pb.Event_RequestAccepted{RequestAccepted: ra}
	case domain.EventRequestAlertWithdrawn:
		out.Payload = &pb.Event_RequestAlertWithdrawn{RequestAlertWithdrawn: &pb.RequestAlertWithdrawn{
			ChatRequestId: e.RequestID, VisitorId: e.VisitorID, AgentId: e.AgentID, Reason: e.Reason,
		}}
	case domain.EventRequestAbandoned:
		out.Payload = &pb.Event_RequestAbandoned{RequestAbandoned: &pb.RequestAbandoned{
			ChatRequestId: e.RequestID, VisitorId: e.VisitorID, Reason: e.Reason,
		}}
	case domain.EventChatStarted:
		out.Payload = &pb.Event_ChatStarted{ChatStarted: &pb.ChatStartedEvent{
			ChatId: e.ChatID, VisitorId: e.VisitorID, AgentId: e.AgentID, ChatRequestId: e.RequestID,
		}}
	case domain.EventChatMessage:
		out.Payload = &pb.Event_ChatMessage{ChatMessage: &pb.ChatMessageEvent{
			ChatId: e.ChatID, Seq: e.Seq, Sender: ParticipantToProto(e.Participant), Text: e.Text,
			VisitorId: e.VisitorID,
		}}
	case domain.EventChatParticipantLeft:
		out.Payload = &pb.Event_ChatParticipantLeft{ChatParticipantLeft: &pb.ChatParticipantLeft{
			ChatId: e.ChatID, Participant: ParticipantToProto(e.Participant), VisitorId: e.VisitorID,
		}}
	case domain.EventChatEnded:
		out.Payload = &pb.Event_ChatEnded{ChatEnded: &pb.ChatEndedEvent{
			ChatId: e.ChatID, Reason: ChatEndReasonToProto(e.EndReason), VisitorId: e.VisitorID,
		}}
	case domain.EventAgentStatusChanged:
		out.Payload = &pb.Event_AgentStatusChanged{AgentStatusChanged: &pb.AgentStatusChanged{
			AgentId: e.AgentID, Status: AgentStatusToProto(e.Status),
		}}
	case domain.EventVisitorIdentified:
		id := e.Identity
		out.Payload = &pb.Event_VisitorIdentified{VisitorIdentified: &pb.VisitorIdentified{
			VisitorId: e.VisitorID, Name: id.Name, Email: id.Email, ExternalId: id.ExternalID,
			Verified: id.Verified, Attributes: id.Attributes,
		}}
	case domain.EventChatRated:
		out.Payload = &pb.Event_ChatRated{ChatRated: &pb.ChatRated{
			ChatId: e.ChatID, VisitorId: e.VisitorID, AgentId: e.AgentID, Score: e.Score, Comment: e.Text,
			RuleId: e.RuleID, VariantId: e.VariantID,
		}}
	case domain.EventChatTransferred:
		out.Payload = &pb.Event_ChatTransferred{ChatTransferred: &pb.ChatTransferredEvent{
			ChatId: e.ChatID, VisitorId: e.VisitorID, FromAgentId: e.FromAgentID, ToAgentId: e.AgentID,
		}}
	case domain.EventOfflineMessageLeft:
		out.Payload = &pb.Event_OfflineMessageLeft{OfflineMessageLeft: &pb.OfflineMessageLeft{
			OfflineMessageId: e.OfflineMessageID, VisitorId: e.VisitorID,
		}}
	case domain.EventOfflineMessageHandled:
		out.Payload = &pb.Event_OfflineMessageHandled{OfflineMessageHandled: &pb.OfflineMessageHandledEvent{
			OfflineMessageId: e.OfflineMessageID, VisitorId: e.VisitorID, HandledBy: e.AgentID,
		}}
	case domain.EventRuleHeldOut:
		out.Payload = &pb.Event_RuleHeldOut{RuleHeldOut: &pb.RuleHeldOut{VisitorId: e.VisitorID, RuleId: e.RuleID}}
	}
	return out
}

// EventFromProto converts a log event back; fields of the payload that
// the domain event has no place for are dropped. nil gives a zero event.
func EventFromProto(e *pb.Event) *domain.Event {
	out := &domain.Event{
		Position: e.GetPosition(),
		ID:       e.GetId(),
		Type:     domain.EventType(e.GetType()),
		Time:     TimeFromProto(e.GetTime()),
		SiteID:   e.GetSiteId(),
	}
	closed := func(c *pb.InvitationClosed) {
		out.InvitationID, out.VisitorID = c.GetInvitationId(), c.GetVisitorId()
		out.RuleID, out.VariantID = c.GetRuleId(), c.GetVariantId()
	}
	agent := func(a *pb.RequestAgent) {
		out.RequestID, out.VisitorID, out.AgentID = a.GetChatRequestId(), a.GetVisitorId(), a.GetAgentId()
	}
	switch p := e.GetPayload().(type) {
	case *pb.Event_VisitorArrived:
		out.VisitorID = p.VisitorArrived.GetVisitorId()
	case *pb.Event_VisitorLeft:
		out.VisitorID = p.VisitorLeft.GetVisitorId()
	case *pb.Event_VisitorPageViewed:
		v := p.VisitorPageViewed
		out.VisitorID, out.URL, out.Title = v.GetVisitorId(), v.GetUrl(), v.GetTitle()
	case *pb.Event_LaunchFired:
		out.VisitorID, out.RequestID = p.LaunchFired.GetVisitorId(), p.LaunchFired.GetChatRequestId()
		out.RuleID, out.VariantID = p.LaunchFired.GetRuleId(), p.LaunchFired.GetVariantId()
	case *pb.Event_InvitationSent:
		v := p.InvitationSent
		out.InvitationID, out.VisitorID, out.AgentID = v.GetInvitationId(), v.GetVisitorId(), v.GetAgentId()
		out.RuleID, out.VariantID = v.GetRuleId(), v.GetVariantId()
	case *pb.Event_InvitationAccepted:
		closed(p.InvitationAccepted)
	case *pb.Event_InvitationDeclined:
		closed(p.InvitationDeclined)
	case *pb.Event_InvitationExpired:
		closed(p.InvitationExpired)
	case *pb.Event_InvitationWithdrawn:
		closed(p.InvitationWithdrawn)
	case *pb.Event_FormSubmitted:
		v := p.FormSubmitted
		out.VisitorID, out.RequestID, out.FormValues = v.GetVisitorId(), v.GetChatRequestId(), v.GetValues()
		out.RuleID, out.VariantID = v.GetRuleId(), v.GetVariantId()
	case *pb.Event_RequestQueued:
		v := p.RequestQueued
		out.RequestID, out.VisitorID, out.Kind = v.GetChatRequestId(), v.GetVisitorId(), ChatRequestKindFromProto(v.GetKind())
		out.RuleID, out.VariantID = v.GetRuleId(), v.GetVariantId()
	case *pb.Event_RequestAlerted:
		v := p.RequestAlerted
		out.RequestID, out.VisitorID, out.AgentID, out.Reason = v.GetChatRequestId(), v.GetVisitorId(), v.GetAgentId(), v.GetReason()
	case *pb.Event_RequestAlertExpired:
		agent(p.RequestAlertExpired)
	case *pb.Event_RequestDeclined:
		agent(p.RequestDeclined)
	case *pb.Event_RequestAccepted:
		v := p.RequestAccepted
		out.RequestID, out.VisitorID, out.AgentID, out.ChatID = v.GetChatRequestId(), v.GetVisitorId(), v.GetAgentId(), v.GetChatId()
		out.RuleID, out.VariantID, out.HeldOut = v.GetRuleId(), v.GetVariantId(), v.GetHeldOut()
		out.Wait = -1
		if v.GetWait() != nil {
			out.Wait = v.GetWait().AsDuration()
		}
	case *pb.Event_RequestAlertWithdrawn:
		v := p.RequestAlertWithdrawn
		out.RequestID, out.VisitorID, out.AgentID, out.Reason = v.GetChatRequestId(), v.GetVisitorId(), v.GetAgentId(), v.GetReason()
	case *pb.Event_RequestAbandoned:
		v := p.RequestAbandoned
		out.RequestID, out.VisitorID, out.Reason = v.GetChatRequestId(), v.GetVisitorId(), v.GetReason()
	case *pb.Event_ChatStarted:
		v := p.ChatStarted
		out.ChatID, out.VisitorID, out.AgentID, out.RequestID = v.GetChatId(), v.GetVisitorId(), v.GetAgentId(), v.GetChatRequestId()
	case *pb.Event_ChatMessage:
		v := p.ChatMessage
		out.ChatID, out.Seq, out.Participant, out.Text = v.GetChatId(), v.GetSeq(), ParticipantFromProto(v.GetSender()), v.GetText()
		out.VisitorID = v.GetVisitorId()
	case *pb.Event_ChatParticipantLeft:
		v := p.ChatParticipantLeft
		out.ChatID, out.Participant, out.VisitorID = v.GetChatId(), ParticipantFromProto(v.GetParticipant()), v.GetVisitorId()
	case *pb.Event_ChatEnded:
		out.ChatID, out.EndReason, out.VisitorID = p.ChatEnded.GetChatId(), ChatEndReasonFromProto(p.ChatEnded.GetReason()), p.ChatEnded.GetVisitorId()
	case *pb.Event_AgentStatusChanged:
		v := p.AgentStatusChanged
		out.AgentID, out.Status = v.GetAgentId(), AgentStatusFromProto(v.GetStatus())
	case *pb.Event_VisitorIdentified:
		v := p.VisitorIdentified
		out.VisitorID = v.GetVisitorId()
		out.Identity = domain.VisitorIdentity{
			Name: v.GetName(), Email: v.GetEmail(), ExternalID: v.GetExternalId(),
			Verified: v.GetVerified(), Attributes: v.GetAttributes(),
		}
		if len(out.Identity.Attributes) == 0 {
			out.Identity.Attributes = nil
		}
	case *pb.Event_ChatRated:
		v := p.ChatRated
		out.ChatID, out.VisitorID, out.AgentID = v.GetChatId(), v.GetVisitorId(), v.GetAgentId()
		out.Score, out.Text = v.GetScore(), v.GetComment()
		out.RuleID, out.VariantID = v.GetRuleId(), v.GetVariantId()
	case *pb.Event_ChatTransferred:
		v := p.ChatTransferred
		out.ChatID, out.VisitorID = v.GetChatId(), v.GetVisitorId()
		out.FromAgentID, out.AgentID = v.GetFromAgentId(), v.GetToAgentId()
	case *pb.Event_OfflineMessageLeft:
		v := p.OfflineMessageLeft
		out.OfflineMessageID, out.VisitorID = v.GetOfflineMessageId(), v.GetVisitorId()
	case *pb.Event_OfflineMessageHandled:
		v := p.OfflineMessageHandled
		out.OfflineMessageID, out.VisitorID, out.AgentID = v.GetOfflineMessageId(), v.GetVisitorId(), v.GetHandledBy()
	case *pb.Event_RuleHeldOut:
		out.VisitorID, out.RuleID = p.RuleHeldOut.GetVisitorId(), p.RuleHeldOut.GetRuleId()
	}
	return out
}
