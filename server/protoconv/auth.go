package protoconv

import (
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// APIKeyToProto leaves out the hash: it is only ever a storage key.
func APIKeyToProto(k *domain.APIKey) *pb.ApiKey {
	if k == nil {
		return nil
	}
	return &pb.ApiKey{Id: k.ID, Name: k.Name, CreateTime: TimeToProto(k.CreateTime), SiteIds: k.SiteIDs}
}

// APIKeyFromProto leaves Hash for the caller to fill in.
func APIKeyFromProto(k *pb.ApiKey) *domain.APIKey {
	return &domain.APIKey{ID: k.GetId(), Name: k.GetName(), CreateTime: TimeFromProto(k.GetCreateTime()), SiteIDs: k.GetSiteIds()}
}

// AgentSessionToProto leaves out the hash.
func AgentSessionToProto(s *domain.AgentSession) *pb.AgentSession {
	if s == nil {
		return nil
	}
	return &pb.AgentSession{Id: s.ID, AgentId: s.AgentID, CreateTime: TimeToProto(s.CreateTime), ExpireTime: TimeToProto(s.ExpireTime)}
}

// AgentSessionFromProto leaves Hash for the caller to fill in.
func AgentSessionFromProto(s *pb.AgentSession) *domain.AgentSession {
	return &domain.AgentSession{ID: s.GetId(), AgentID: s.GetAgentId(),
		CreateTime: TimeFromProto(s.GetCreateTime()), ExpireTime: TimeFromProto(s.GetExpireTime())}
}
