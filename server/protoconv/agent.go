package protoconv

import (
	"slices"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// AgentToProto converts an agent; nil gives nil.
func AgentToProto(a *domain.Agent) *pb.Agent {
	if a == nil {
		return nil
	}
	return &pb.Agent{
		Id:                 a.ID,
		DisplayName:        a.DisplayName,
		SiteIds:            slices.Clone(a.SiteIDs),
		MaxConcurrentChats: a.MaxConcurrentChats,
		Status:             AgentStatusToProto(a.Status),
		StatusChangeTime:   TimeToProto(a.StatusChangeTime),
		ActiveChatIds:      slices.Clone(a.ActiveChatIDs),
		CreateTime:         TimeToProto(a.CreateTime),
		LastChatEndTime:    TimeToProto(a.LastChatEndTime),
		Login:              a.Login,
		SupervisedSiteIds:  slices.Clone(a.SupervisedSiteIDs),
	}
}

// AgentFromProto converts an agent; nil gives nil.
func AgentFromProto(a *pb.Agent) *domain.Agent {
	if a == nil {
		return nil
	}
	return &domain.Agent{
		ID:                 a.GetId(),
		DisplayName:        a.GetDisplayName(),
		SiteIDs:            slices.Clone(a.GetSiteIds()),
		MaxConcurrentChats: a.GetMaxConcurrentChats(),
		Status:             AgentStatusFromProto(a.GetStatus()),
		StatusChangeTime:   TimeFromProto(a.GetStatusChangeTime()),
		ActiveChatIDs:      slices.Clone(a.GetActiveChatIds()),
		CreateTime:         TimeFromProto(a.GetCreateTime()),
		LastChatEndTime:    TimeFromProto(a.GetLastChatEndTime()),
		Login:              a.GetLogin(),
		SupervisedSiteIDs:  slices.Clone(a.GetSupervisedSiteIds()),
	}
}

// AgentStatusToProto converts an agent status.
func AgentStatusToProto(s domain.AgentStatus) pb.AgentStatus {
	switch s {
	case domain.StatusAvailable:
		return pb.AgentStatus_AGENT_STATUS_AVAILABLE
	case domain.StatusAway:
		return pb.AgentStatus_AGENT_STATUS_AWAY
	case domain.StatusOffline:
		return pb.AgentStatus_AGENT_STATUS_OFFLINE
	}
	return pb.AgentStatus_AGENT_STATUS_UNSPECIFIED
}

// AgentStatusFromProto converts an agent status.
func AgentStatusFromProto(s pb.AgentStatus) domain.AgentStatus {
	switch s {
	case pb.AgentStatus_AGENT_STATUS_AVAILABLE:
		return domain.StatusAvailable
	case pb.AgentStatus_AGENT_STATUS_AWAY:
		return domain.StatusAway
	case pb.AgentStatus_AGENT_STATUS_OFFLINE:
		return domain.StatusOffline
	}
	return domain.StatusUnspecified
}
