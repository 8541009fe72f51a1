package protoconv

import (
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// VisitorToProto converts a visitor; nil gives nil.
func VisitorToProto(v *domain.Visitor) *pb.Visitor {
	if v == nil {
		return nil
	}
	return &pb.Visitor{
		Id:             v.ID,
		SiteId:         v.SiteID,
		CreateTime:     TimeToProto(v.CreateTime),
		CurrentPage:    PageViewToProto(v.CurrentPage),
		ActiveChatId:   v.ActiveChatID,
		Engagement:     EngagementToProto(v.Engagement),
		InvitationId:   v.InvitationID,
		ChatRequestId:  v.ChatRequestID,
		DeclineTime:    TimeToProto(v.DeclineTime),
		VisitStartTime: TimeToProto(v.VisitStartTime),
		VisitEndTime:   TimeToProto(v.VisitEndTime),
		LastLaunchTime: TimeToProto(v.LastLaunchTime),
		Identity:       IdentityToProto(v.Identity),
		ChatRequested:  v.ChatRequested,
		VisitCount:     v.VisitCount,
		ChatCount:      v.ChatCount,
		Device:         DeviceClassToProto(v.Device),
		Language:       v.Language,
		VisitReferrer:  v.VisitReferrer,
		LandingPageUrl: v.LandingPageURL,
		Launches:       ruleLaunchesToProto(v.Launches),
	}
}

// VisitorFromProto converts a visitor; nil gives nil.
func VisitorFromProto(v *pb.Visitor) *domain.Visitor {
	if v == nil {
		return nil
	}
	return &domain.Visitor{
		ID:             v.GetId(),
		SiteID:         v.GetSiteId(),
		CreateTime:     TimeFromProto(v.GetCreateTime()),
		CurrentPage:    PageViewFromProto(v.GetCurrentPage()),
		ActiveChatID:   v.GetActiveChatId(),
		Engagement:     EngagementFromProto(v.GetEngagement()),
		InvitationID:   v.GetInvitationId(),
		ChatRequestID:  v.GetChatRequestId(),
		DeclineTime:    TimeFromProto(v.GetDeclineTime()),
		VisitStartTime: TimeFromProto(v.GetVisitStartTime()),
		VisitEndTime:   TimeFromProto(v.GetVisitEndTime()),
		LastLaunchTime: TimeFromProto(v.GetLastLaunchTime()),
		Identity:       IdentityFromProto(v.GetIdentity()),
		ChatRequested:  v.GetChatRequested(),
		VisitCount:     v.GetVisitCount(),
		ChatCount:      v.GetChatCount(),
		Device:         DeviceClassFromProto(v.GetDevice()),
		Language:       v.GetLanguage(),
		VisitReferrer:  v.GetVisitReferrer(),
		LandingPageURL: v.GetLandingPageUrl(),
		Launches:       ruleLaunchesFromProto(v.GetLaunches()),
	}
}

// PageViewToProto converts a page view.
func PageViewToProto(p domain.PageView) *pb.PageView {
	return &pb.PageView{
		Url:      p.URL,
		Title:    p.Title,
		ViewTime: TimeToProto(p.ViewTime),
	}
}

// PageViewFromProto converts a page view; nil gives the zero value.
func PageViewFromProto(p *pb.PageView) domain.PageView {
	return domain.PageView{
		URL:      p.GetUrl(),
		Title:    p.GetTitle(),
		ViewTime: TimeFromProto(p.GetViewTime()),
	}
}

// EngagementToProto converts where a visitor is in the proactive chat flow.
func EngagementToProto(e domain.Engagement) pb.EngagementState {
	switch e {
	case domain.EngagementBrowsing:
		return pb.EngagementState_ENGAGEMENT_STATE_BROWSING
	case domain.EngagementChatting:
		return pb.EngagementState_ENGAGEMENT_STATE_CHATTING
	case domain.EngagementInvited:
		return pb.EngagementState_ENGAGEMENT_STATE_INVITED
	case domain.EngagementDeclined:
		return pb.EngagementState_ENGAGEMENT_STATE_DECLINED
	case domain.EngagementFillingForm:
		return pb.EngagementState_ENGAGEMENT_STATE_FILLING_FORM
	case domain.EngagementQueued:
		return pb.EngagementState_ENGAGEMENT_STATE_QUEUED
	case domain.EngagementAlerting:
		return pb.EngagementState_ENGAGEMENT_STATE_ALERTING
	}
	return pb.EngagementState_ENGAGEMENT_STATE_UNSPECIFIED
}

// EngagementFromProto converts where a visitor is in the proactive chat flow.
func EngagementFromProto(e pb.EngagementState) domain.Engagement {
	switch e {
	case pb.EngagementState_ENGAGEMENT_STATE_BROWSING:
		return domain.EngagementBrowsing
	case pb.EngagementState_ENGAGEMENT_STATE_CHATTING:
		return domain.EngagementChatting
	case pb.EngagementState_ENGAGEMENT_STATE_INVITED:
		return domain.EngagementInvited
	case pb.EngagementState_ENGAGEMENT_STATE_DECLINED:
		return domain.EngagementDeclined
	case pb.EngagementState_ENGAGEMENT_STATE_FILLING_FORM:
		return domain.EngagementFillingForm
	case pb.EngagementState_ENGAGEMENT_STATE_QUEUED:
		return domain.EngagementQueued
	case pb.EngagementState_ENGAGEMENT_STATE_ALERTING:
		return domain.EngagementAlerting
	}
	return domain.EngagementUnspecified
}

// IdentityToProto converts who a visitor is; nothing known gives nil.
func IdentityToProto(id domain.VisitorIdentity) *pb.VisitorIdentity {
	// Verified alone is not "nothing known", for this conversion: a stored
	// record must read back as it was written.
	if id.IsZero() && !id.Verified {
		return nil
	}
	return &pb.VisitorIdentity{
		Name:       id.Name,
		Email:      id.Email,
		ExternalId: id.ExternalID,
		Attributes: id.Attributes,
		Verified:   id.Verified,
	}
}

// IdentityFromProto converts who a visitor is, as stored; nil gives the
// zero value. Its identity_hash and verified are not a claim: see
// IdentityClaimFromProto.
func IdentityFromProto(id *pb.VisitorIdentity) domain.VisitorIdentity {
	if id == nil {
		return domain.VisitorIdentity{}
	}
	return domain.VisitorIdentity{
		Name:       id.GetName(),
		Email:      id.GetEmail(),
		ExternalID: id.GetExternalId(),
		Attributes: id.GetAttributes(),
		Verified:   id.GetVerified(),
	}
}

// IdentityClaimFromProto converts what a page says of its visitor; nil
// gives nil. verified is the server's to say, so it is ignored.
func IdentityClaimFromProto(id *pb.VisitorIdentity) *domain.IdentityClaim {
	if id == nil {
		return nil
	}
	c := &domain.IdentityClaim{Identity: IdentityFromProto(id), Hash: id.GetIdentityHash()}
	c.Identity.Verified = false
	return c
}
