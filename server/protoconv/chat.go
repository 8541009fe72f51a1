package protoconv

import (
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// ChatToProto converts a chat; nil gives nil.
func ChatToProto(c *domain.Chat) *pb.Chat {
	if c == nil {
		return nil
	}
	return &pb.Chat{
		Id:                  c.ID,
		SiteId:              c.SiteID,
		Visitor:             ParticipantToProto(c.Visitor),
		Agent:               ParticipantToProto(c.Agent),
		State:               ChatStateToProto(c.State),
		EndReason:           ChatEndReasonToProto(c.EndReason),
		CreateTime:          TimeToProto(c.CreateTime),
		EndTime:             TimeToProto(c.EndTime),
		LastSeq:             c.LastSeq,
		VisitorLeftTime:     TimeToProto(c.VisitorLeftTime),
		AgentLeftTime:       TimeToProto(c.AgentLeftTime),
		ChatRequestId:       c.ChatRequestID,
		LastActivityTime:    TimeToProto(c.LastActivityTime),
		VisitorMessageCount: c.VisitorMessageCount,
		Rating:              RatingToProto(c.Rating),
		RuleId:              c.RuleID,
		VariantId:           c.VariantID,
	}
}

// RatingToProto converts a chat's rating; nil gives nil.
func RatingToProto(r *domain.Rating) *pb.ChatRating {
	if r == nil {
		return nil
	}
	return &pb.ChatRating{Score: r.Score, Comment: r.Comment, Time: TimeToProto(r.Time)}
}

// RatingFromProto converts a chat's rating; nil gives nil.
func RatingFromProto(r *pb.ChatRating) *domain.Rating {
	if r == nil {
		return nil
	}
	return &domain.Rating{Score: r.GetScore(), Comment: r.GetComment(), Time: TimeFromProto(r.GetTime())}
}

// ChatFromProto converts a chat; nil gives nil.
func ChatFromProto(c *pb.Chat) *domain.Chat {
	if c == nil {
		return nil
	}
	return &domain.Chat{
		ID:                  c.GetId(),
		SiteID:              c.GetSiteId(),
		Visitor:             ParticipantFromProto(c.GetVisitor()),
		Agent:               ParticipantFromProto(c.GetAgent()),
		State:               ChatStateFromProto(c.GetState()),
		EndReason:           ChatEndReasonFromProto(c.GetEndReason()),
		CreateTime:          TimeFromProto(c.GetCreateTime()),
		EndTime:             TimeFromProto(c.GetEndTime()),
		LastSeq:             c.GetLastSeq(),
		VisitorLeftTime:     TimeFromProto(c.GetVisitorLeftTime()),
		AgentLeftTime:       TimeFromProto(c.GetAgentLeftTime()),
		ChatRequestID:       c.GetChatRequestId(),
		LastActivityTime:    TimeFromProto(c.GetLastActivityTime()),
		VisitorMessageCount: c.GetVisitorMessageCount(),
		Rating:              RatingFromProto(c.GetRating()),
		RuleID:              c.GetRuleId(),
		VariantID:           c.GetVariantId(),
	}
}

// ParticipantToProto converts a chat participant.
func ParticipantToProto(p domain.Participant) *pb.Participant {
	return &pb.Participant{
		Role:        RoleToProto(p.Role),
		Id:          p.ID,
		DisplayName: p.DisplayName,
	}
}

// ParticipantFromProto converts a chat participant; nil gives the zero value.
func ParticipantFromProto(p *pb.Participant) domain.Participant {
	return domain.Participant{
		Role:        RoleFromProto(p.GetRole()),
		ID:          p.GetId(),
		DisplayName: p.GetDisplayName(),
	}
}

// ChatEventToProto converts a chat event. The domain promises exactly one
// kind; should more be set, the first of Started, Message, ParticipantLeft,
// Ended, InactivityWarning, Transferred wins, as a oneof holds only one.
func ChatEventToProto(e domain.ChatEvent) *pb.ChatEvent {
	out := &pb.ChatEvent{
		ChatId:      e.ChatID,
		Seq:         e.Seq,
		Time:        TimeToProto(e.Time),
		LogPosition: e.LogPosition,
	}
	switch {
	case e.Started != nil:
		out.Kind = &pb.ChatEvent_Started{Started: &pb.ChatStarted{
			Visitor: ParticipantToProto(e.Started.Visitor),
			Agent:   ParticipantToProto(e.Started.Agent),
		}}
	case e.Message != nil:
		out.Kind = &pb.ChatEvent_Message{Message: &pb.ChatMessage{
			Sender:         ParticipantToProto(e.Message.Sender),
			Text:           e.Message.Text,
			IdempotencyKey: e.Message.IdempotencyKey,
		}}
	case e.ParticipantLeft != nil:
		out.Kind = &pb.ChatEvent_ParticipantLeft{ParticipantLeft: &pb.ParticipantLeft{
			Participant: ParticipantToProto(*e.ParticipantLeft),
		}}
	case e.Ended != nil:
		out.Kind = &pb.ChatEvent_Ended{Ended: &pb.ChatEnded{
			Reason: ChatEndReasonToProto(e.Ended.Reason),
		}}
	case e.InactivityWarning != nil:
		out.Kind = &pb.ChatEvent_InactivityWarning{InactivityWarning: &pb.InactivityWarning{
			EndTime: TimeToProto(e.InactivityWarning.EndTime),
		}}
	case e.Transferred != nil:
		out.Kind = &pb.ChatEvent_Transferred{Transferred: &pb.ChatTransferred{
			From: ParticipantToProto(e.Transferred.From),
			To:   ParticipantToProto(e.Transferred.To),
		}}
	}
	return out
}

// ChatEventFromProto converts a chat event; nil gives the zero value. An
// event whose kind is unset, or unknown to this build, comes back with no
// kind set.
func ChatEventFromProto(e *pb.ChatEvent) domain.ChatEvent {
	out := domain.ChatEvent{
		ChatID:      e.GetChatId(),
		Seq:         e.GetSeq(),
		Time:        TimeFromProto(e.GetTime()),
		LogPosition: e.GetLogPosition(),
	}
	switch k := e.GetKind().(type) {
	case *pb.ChatEvent_Started:
		out.Started = &domain.ChatStarted{
			Visitor: ParticipantFromProto(k.Started.GetVisitor()),
			Agent:   ParticipantFromProto(k.Started.GetAgent()),
		}
	case *pb.ChatEvent_Message:
		out.Message = &domain.ChatMessage{
			Sender:         ParticipantFromProto(k.Message.GetSender()),
			Text:           k.Message.GetText(),
			IdempotencyKey: k.Message.GetIdempotencyKey(),
		}
	case *pb.ChatEvent_ParticipantLeft:
		p := ParticipantFromProto(k.ParticipantLeft.GetParticipant())
		out.ParticipantLeft = &p
	case *pb.ChatEvent_Ended:
		out.Ended = &domain.ChatEnded{
			Reason: ChatEndReasonFromProto(k.Ended.GetReason()),
		}
	case *pb.ChatEvent_InactivityWarning:
		out.InactivityWarning = &domain.InactivityWarning{
			EndTime: TimeFromProto(k.InactivityWarning.GetEndTime()),
		}
	case *pb.ChatEvent_Transferred:
		out.Transferred = &domain.ChatTransferred{
			From: ParticipantFromProto(k.Transferred.GetFrom()),
			To:   ParticipantFromProto(k.Transferred.GetTo()),
		}
	}
	return out
}

// TypingToProto converts a typing indicator.
func TypingToProto(t domain.Typing) *pb.Typing {
	return &pb.Typing{
		ChatId:      t.ChatID,
		Participant: ParticipantToProto(t.Participant),
		Typing:      t.Typing,
	}
}

// TypingFromProto converts a typing indicator; nil gives the zero value.
func TypingFromProto(t *pb.Typing) domain.Typing {
	return domain.Typing{
		ChatID:      t.GetChatId(),
		Participant: ParticipantFromProto(t.GetParticipant()),
		Typing:      t.GetTyping(),
	}
}

// ChatStateToProto converts a chat state.
func ChatStateToProto(s domain.ChatState) pb.ChatState {
	switch s {
	case domain.ChatStateActive:
		return pb.ChatState_CHAT_STATE_ACTIVE
	case domain.ChatStateEnded:
		return pb.ChatState_CHAT_STATE_ENDED
	}
	return pb.ChatState_CHAT_STATE_UNSPECIFIED
}

// ChatStateFromProto converts a chat state.
func ChatStateFromProto(s pb.ChatState) domain.ChatState {
	switch s {
	case pb.ChatState_CHAT_STATE_ACTIVE:
		return domain.ChatStateActive
	case pb.ChatState_CHAT_STATE_ENDED:
		return domain.ChatStateEnded
	}
	return domain.ChatStateUnspecified
}

// ChatEndReasonToProto converts a chat end reason.
func ChatEndReasonToProto(r domain.ChatEndReason) pb.ChatEndReason {
	switch r {
	case domain.EndBothLeft:
		return pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT
	case domain.EndVisitorDeclined:
		return pb.ChatEndReason_CHAT_END_REASON_VISITOR_DECLINED
	case domain.EndInactive:
		return pb.ChatEndReason_CHAT_END_REASON_INACTIVE
	}
	return pb.ChatEndReason_CHAT_END_REASON_UNSPECIFIED
}

// ChatEndReasonFromProto converts a chat end reason.
func ChatEndReasonFromProto(r pb.ChatEndReason) domain.ChatEndReason {
	switch r {
	case pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT:
		return domain.EndBothLeft
	case pb.ChatEndReason_CHAT_END_REASON_VISITOR_DECLINED:
		return domain.EndVisitorDeclined
	case pb.ChatEndReason_CHAT_END_REASON_INACTIVE:
		return domain.EndInactive
	}
	return domain.EndUnspecified
}

// RoleToProto converts a participant role to the proto ParticipantRole.
func RoleToProto(r domain.Role) pb.ParticipantRole {
	switch r {
	case domain.RoleVisitor:
		return pb.ParticipantRole_PARTICIPANT_ROLE_VISITOR
	case domain.RoleAgent:
		return pb.ParticipantRole_PARTICIPANT_ROLE_AGENT
	}
	return pb.ParticipantRole_PARTICIPANT_ROLE_UNSPECIFIED
}

// RoleFromProto converts a proto ParticipantRole to a participant role.
func RoleFromProto(r pb.ParticipantRole) domain.Role {
	switch r {
	case pb.ParticipantRole_PARTICIPANT_ROLE_VISITOR:
		return domain.RoleVisitor
	case pb.ParticipantRole_PARTICIPANT_ROLE_AGENT:
		return domain.RoleAgent
	}
	return domain.RoleUnspecified
}

// WhisperToProto converts a whisper.
func WhisperToProto(w domain.Whisper) *pb.Whisper {
	return &pb.Whisper{
		ChatId:   w.ChatID,
		Seq:      w.Seq,
		Time:     TimeToProto(w.Time),
		FromId:   w.FromID,
		FromName: w.FromName,
		Text:     w.Text,
	}
}

// WhisperFromProto converts a whisper.
func WhisperFromProto(w *pb.Whisper) domain.Whisper {
	return domain.Whisper{
		ChatID:   w.GetChatId(),
		Seq:      w.GetSeq(),
		Time:     TimeFromProto(w.GetTime()),
		FromID:   w.GetFromId(),
		FromName: w.GetFromName(),
		Text:     w.GetText(),
	}
}

// ChatNoteToProto converts an internal note.
func ChatNoteToProto(n domain.ChatNote) *pb.ChatNote {
	return &pb.ChatNote{
		ChatId: n.ChatID,
		Seq:    n.Seq,
		Time:   TimeToProto(n.Time),
		Author: ParticipantToProto(n.Author),
		Text:   n.Text,
	}
}

// ChatNoteFromProto converts an internal note; nil gives the zero value.
func ChatNoteFromProto(n *pb.ChatNote) domain.ChatNote {
	return domain.ChatNote{
		ChatID: n.GetChatId(),
		Seq:    n.GetSeq(),
		Time:   TimeFromProto(n.GetTime()),
		Author: ParticipantFromProto(n.GetAuthor()),
		Text:   n.GetText(),
	}
}
