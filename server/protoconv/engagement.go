package protoconv

import (
	"maps"
	"slices"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// InvitationToProto converts an invitation; nil gives nil.
func InvitationToProto(i *domain.Invitation) *pb.Invitation {
	if i == nil {
		return nil
	}
	return &pb.Invitation{
		Id:               i.ID,
		SiteId:           i.SiteID,
		VisitorId:        i.VisitorID,
		State:            InvitationStateToProto(i.State),
		Text:             i.Text,
		CreateTime:       TimeToProto(i.CreateTime),
		ExpireTime:       TimeToProto(i.ExpireTime),
		RespondTime:      TimeToProto(i.RespondTime),
		InvitedByAgentId: i.InvitedByAgentID,
		RuleId:           i.RuleID,
		VariantId:        i.VariantID,
	}
}

// InvitationFromProto converts an invitation; nil gives nil.
func InvitationFromProto(i *pb.Invitation) *domain.Invitation {
	if i == nil {
		return nil
	}
	return &domain.Invitation{
		ID:               i.GetId(),
		SiteID:           i.GetSiteId(),
		VisitorID:        i.GetVisitorId(),
		State:            InvitationStateFromProto(i.GetState()),
		Text:             i.GetText(),
		CreateTime:       TimeFromProto(i.GetCreateTime()),
		ExpireTime:       TimeFromProto(i.GetExpireTime()),
		RespondTime:      TimeFromProto(i.GetRespondTime()),
		InvitedByAgentID: i.GetInvitedByAgentId(),
		RuleID:           i.GetRuleId(),
		VariantID:        i.GetVariantId(),
	}
}

// ChatRequestToProto converts a chat request; nil gives nil. The page is
// left unset when both its URL and title are empty.
func ChatRequestToProto(r *domain.ChatRequest) *pb.ChatRequest {
	if r == nil {
		return nil
	}
	var page *pb.PageSnapshot
	if r.PageURL != "" || r.PageTitle != "" {
		page = &pb.PageSnapshot{Url: r.PageURL, Title: r.PageTitle}
	}
	return &pb.ChatRequest{
		Id:               r.ID,
		SiteId:           r.SiteID,
		VisitorId:        r.VisitorID,
		Kind:             ChatRequestKindToProto(r.Kind),
		State:            ChatRequestStateToProto(r.State),
		FormValues:       maps.Clone(r.FormValues),
		EnqueueTime:      TimeToProto(r.EnqueueTime),
		AlertedAgentId:   r.AlertedAgentID,
		AlertDeadline:    TimeToProto(r.AlertDeadline),
		PassedAgentIds:   slices.Clone(r.PassedAgentIDs),
		ChatId:           r.ChatID,
		CloseTime:        TimeToProto(r.CloseTime),
		Page:             page,
		VisitStartTime:   TimeToProto(r.VisitStartTime),
		HoldUntil:        TimeToProto(r.HoldUntil),
		AlertReason:      r.AlertReason,
		AlertedAgentName: r.AlertedAgentName,
		VisitorIdentity:  IdentityToProto(r.VisitorIdentity),
		RuleId:           r.RuleID,
		VariantId:        r.VariantID,
		HeldOut:          r.HeldOut,
	}
}

// ChatRequestFromProto converts a chat request; nil gives nil.
func ChatRequestFromProto(r *pb.ChatRequest) *domain.ChatRequest {
	if r == nil {
		return nil
	}
	return &domain.ChatRequest{
		ID:               r.GetId(),
		SiteID:           r.GetSiteId(),
		VisitorID:        r.GetVisitorId(),
		Kind:             ChatRequestKindFromProto(r.GetKind()),
		State:            ChatRequestStateFromProto(r.GetState()),
		FormValues:       maps.Clone(r.GetFormValues()),
		EnqueueTime:      TimeFromProto(r.GetEnqueueTime()),
		AlertedAgentID:   r.GetAlertedAgentId(),
		AlertDeadline:    TimeFromProto(r.GetAlertDeadline()),
		PassedAgentIDs:   slices.Clone(r.GetPassedAgentIds()),
		ChatID:           r.GetChatId(),
		CloseTime:        TimeFromProto(r.GetCloseTime()),
		PageURL:          r.GetPage().GetUrl(),
		PageTitle:        r.GetPage().GetTitle(),
		VisitStartTime:   TimeFromProto(r.GetVisitStartTime()),
		HoldUntil:        TimeFromProto(r.GetHoldUntil()),
		AlertReason:      r.GetAlertReason(),
		AlertedAgentName: r.GetAlertedAgentName(),
		VisitorIdentity:  IdentityFromProto(r.GetVisitorIdentity()),
		RuleID:           r.GetRuleId(),
		VariantID:        r.GetVariantId(),
		HeldOut:          r.GetHeldOut(),
	}
}

// RoutingDecisionToProto converts a routing decision; nil gives nil.
func RoutingDecisionToProto(d *domain.RoutingDecision) *pb.RoutingDecision {
	if d == nil {
		return nil
	}
	return &pb.RoutingDecision{
		ChatRequestId: d.ChatRequestID,
		SiteId:        d.SiteID,
		Time:          TimeToProto(d.Time),
		AgentId:       d.AgentID,
		Reason:        d.Reason,
	}
}

// RoutingDecisionFromProto converts a routing decision; nil gives nil.
func RoutingDecisionFromProto(d *pb.RoutingDecision) *domain.RoutingDecision {
	if d == nil {
		return nil
	}
	return &domain.RoutingDecision{
		ChatRequestID: d.GetChatRequestId(),
		SiteID:        d.GetSiteId(),
		Time:          TimeFromProto(d.GetTime()),
		AgentID:       d.GetAgentId(),
		Reason:        d.GetReason(),
	}
}

// InvitationStateToProto converts an invitation state.
func InvitationStateToProto(s domain.InvitationState) pb.InvitationState {
	switch s {
	case domain.InvitationPending:
		return pb.InvitationState_INVITATION_STATE_PENDING
	case domain.InvitationAccepted:
		return pb.InvitationState_INVITATION_STATE_ACCEPTED
	case domain.InvitationDeclined:
		return pb.InvitationState_INVITATION_STATE_DECLINED
	case domain.InvitationExpired:
		return pb.InvitationState_INVITATION_STATE_EXPIRED
	case domain.InvitationWithdrawn:
		return pb.InvitationState_INVITATION_STATE_WITHDRAWN
	}
	return pb.InvitationState_INVITATION_STATE_UNSPECIFIED
}

// InvitationStateFromProto converts an invitation state.
func InvitationStateFromProto(s pb.InvitationState) domain.InvitationState {
	switch s {
	case pb.InvitationState_INVITATION_STATE_PENDING:
		return domain.InvitationPending
	case pb.InvitationState_INVITATION_STATE_ACCEPTED:
		return domain.InvitationAccepted
	case pb.InvitationState_INVITATION_STATE_DECLINED:
		return domain.InvitationDeclined
	case pb.InvitationState_INVITATION_STATE_EXPIRED:
		return domain.InvitationExpired
	case pb.InvitationState_INVITATION_STATE_WITHDRAWN:
		return domain.InvitationWithdrawn
	}
	return domain.InvitationUnspecified
}

// ChatRequestKindToProto converts a chat request kind.
func ChatRequestKindToProto(k domain.ChatRequestKind) pb.ChatRequestKind {
	switch k {
	case domain.RequestInvited:
		return pb.ChatRequestKind_CHAT_REQUEST_KIND_INVITED
	case domain.RequestPresence:
		return pb.ChatRequestKind_CHAT_REQUEST_KIND_PRESENCE
	case domain.RequestVisitor:
		return pb.ChatRequestKind_CHAT_REQUEST_KIND_VISITOR
	}
	return pb.ChatRequestKind_CHAT_REQUEST_KIND_UNSPECIFIED
}

// ChatRequestKindFromProto converts a chat request kind.
func ChatRequestKindFromProto(k pb.ChatRequestKind) domain.ChatRequestKind {
	switch k {
	case pb.ChatRequestKind_CHAT_REQUEST_KIND_INVITED:
		return domain.RequestInvited
	case pb.ChatRequestKind_CHAT_REQUEST_KIND_PRESENCE:
		return domain.RequestPresence
	case pb.ChatRequestKind_CHAT_REQUEST_KIND_VISITOR:
		return domain.RequestVisitor
	}
	return domain.RequestKindUnspecified
}

// ChatRequestStateToProto converts a chat request state.
func ChatRequestStateToProto(s domain.ChatRequestState) pb.ChatRequestState {
	switch s {
	case domain.RequestQueued:
		return pb.ChatRequestState_CHAT_REQUEST_STATE_QUEUED
	case domain.RequestAlerting:
		return pb.ChatRequestState_CHAT_REQUEST_STATE_ALERTING
	case domain.RequestAccepted:
		return pb.ChatRequestState_CHAT_REQUEST_STATE_ACCEPTED
	case domain.RequestAbandoned:
		return pb.ChatRequestState_CHAT_REQUEST_STATE_ABANDONED
	}
	return pb.ChatRequestState_CHAT_REQUEST_STATE_UNSPECIFIED
}

// ChatRequestStateFromProto converts a chat request state.
func ChatRequestStateFromProto(s pb.ChatRequestState) domain.ChatRequestState {
	switch s {
	case pb.ChatRequestState_CHAT_REQUEST_STATE_QUEUED:
		return domain.RequestQueued
	case pb.ChatRequestState_CHAT_REQUEST_STATE_ALERTING:
		return domain.RequestAlerting
	case pb.ChatRequestState_CHAT_REQUEST_STATE_ACCEPTED:
		return domain.RequestAccepted
	case pb.ChatRequestState_CHAT_REQUEST_STATE_ABANDONED:
		return domain.RequestAbandoned
	}
	return domain.RequestStateUnspecified
}
