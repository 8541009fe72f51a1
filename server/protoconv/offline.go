package protoconv

import (
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// OfflineMessageToProto converts a message a visitor left; nil gives nil.
func OfflineMessageToProto(m *domain.OfflineMessage) *pb.OfflineMessage {
	if m == nil {
		return nil
	}
	return &pb.OfflineMessage{
		Id:          m.ID,
		SiteId:      m.SiteID,
		VisitorId:   m.VisitorID,
		Name:        m.Name,
		Email:       m.Email,
		Text:        m.Text,
		Page:        m.Page,
		CreateTime:  TimeToProto(m.CreateTime),
		State:       OfflineMessageStateToProto(m.State),
		HandledBy:   m.HandledBy,
		HandledTime: TimeToProto(m.HandledTime),
		RequestId:   m.RequestID,
	}
}

// OfflineMessageFromProto converts a message a visitor left; nil gives nil.
func OfflineMessageFromProto(m *pb.OfflineMessage) *domain.OfflineMessage {
	if m == nil {
		return nil
	}
	return &domain.OfflineMessage{
		ID:          m.GetId(),
		SiteID:      m.GetSiteId(),
		VisitorID:   m.GetVisitorId(),
		Name:        m.GetName(),
		Email:       m.GetEmail(),
		Text:        m.GetText(),
		Page:        m.GetPage(),
		CreateTime:  TimeFromProto(m.GetCreateTime()),
		State:       OfflineMessageStateFromProto(m.GetState()),
		HandledBy:   m.GetHandledBy(),
		HandledTime: TimeFromProto(m.GetHandledTime()),
		RequestID:   m.GetRequestId(),
	}
}

// OfflineMessageStateToProto converts an offline message's state.
func OfflineMessageStateToProto(s domain.OfflineMessageState) pb.OfflineMessageState {
	switch s {
	case domain.OfflineMessageNew:
		return pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_NEW
	case domain.OfflineMessageHandled:
		return pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_HANDLED
	}
	return pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_UNSPECIFIED
}

// OfflineMessageStateFromProto converts an offline message's state.
func OfflineMessageStateFromProto(s pb.OfflineMessageState) domain.OfflineMessageState {
	switch s {
	case pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_NEW:
		return domain.OfflineMessageNew
	case pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_HANDLED:
		return domain.OfflineMessageHandled
	}
	return domain.OfflineMessageUnspecified
}
