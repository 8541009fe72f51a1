package rpc

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

type agentServer struct {
	svc *domain.Service
	log *slog.Logger
	// fanout encodes once what every agent of a site is sent.
	fanout *fanout
}

var _ proactivechatv1connect.AgentServiceHandler = (*agentServer)(nil)

func (s *agentServer) SetAgentStatus(ctx context.Context, req *connect.Request[pb.SetAgentStatusRequest]) (*connect.Response[pb.SetAgentStatusResponse], error) {
	agent, err := s.svc.SetAgentStatus(ctx, req.Msg.GetAgentId(), protoconv.AgentStatusFromProto(req.Msg.GetStatus()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SetAgentStatusResponse{Agent: protoconv.AgentToProto(agent)}), nil
}

func (s *agentServer) WatchPresence(ctx context.Context, req *connect.Request[pb.WatchPresenceRequest], stream *connect.ServerStream[pb.WatchPresenceResponse]) error {
	// Send the response headers now: a client opening a quiet stream
	// must not wait for the first event to know it is connected.
	if err := stream.Send(nil); err != nil {
		return err
	}
	err := s.svc.WatchPresence(ctx, req.Msg.GetAgentId(), func(u domain.PresenceUpdate) error {
		if u.Event != nil {
			shared := s.fanout.message(u.Event, func() proto.Message { return presenceUpdateToProto(u) })
			return stream.Send(shared.(*pb.WatchPresenceResponse))
		}
		return stream.Send(presenceUpdateToProto(u))
	})
	return toConnectError(ctx, s.log, err)
}

func presenceUpdateToProto(u domain.PresenceUpdate) *pb.WatchPresenceResponse {
	switch {
	case u.Snapshot != nil:
		snap := &pb.PresenceSnapshot{}
		for _, p := range u.Snapshot {
			snap.Visitors = append(snap.Visitors, presenceToProto(p))
		}
		return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_Snapshot{Snapshot: snap}}
	case u.Event != nil:
		p := presenceToProto(u.Event.Presence)
		switch u.Event.Change {
		case domain.PresenceArrived:
			return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_Arrived{Arrived: p}}
		case domain.PresenceDeparted:
			return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_Departed{Departed: p}}
		default:
			return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_Changed{Changed: p}}
		}
	default:
		return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}}
	}
}

func (s *agentServer) StartChat(ctx context.Context, req *connect.Request[pb.StartChatRequest]) (*connect.Response[pb.StartChatResponse], error) {
	chat, err := s.svc.StartChat(ctx, req.Msg.GetAgentId(), req.Msg.GetVisitorId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.StartChatResponse{Chat: protoconv.ChatToProto(chat)}), nil
}

func (s *agentServer) WatchAgent(ctx context.Context, req *connect.Request[pb.WatchAgentRequest], stream *connect.ServerStream[pb.WatchAgentResponse]) error {
	// Send the response headers now: a client opening a quiet stream
	// must not wait for the first event to know it is connected.
	if err := stream.Send(nil); err != nil {
		return err
	}
	err := s.svc.WatchAgent(ctx, req.Msg.GetAgentId(), func(u domain.AgentUpdate) error {
		if u.QueueChanged != nil {
			shared := s.fanout.message(u.QueueChanged, func() proto.Message { return agentUpdateToProto(u) })
			return stream.Send(shared.(*pb.WatchAgentResponse))
		}
		return stream.Send(agentUpdateToProto(u))
	})
	return toConnectError(ctx, s.log, err)
}

func alertToProto(a domain.Alert) *pb.Alert {
	out := &pb.Alert{ChatRequest: protoconv.ChatRequestToProto(&a.Request), Reason: a.Reason}
	if a.Visitor.VisitorID != "" {
		out.Visitor = presenceToProto(a.Visitor)
	}
	return out
}

func agentUpdateToProto(u domain.AgentUpdate) *pb.WatchAgentResponse {
	switch {
	case u.Snapshot != nil:
		snap := &pb.AgentSnapshot{Agent: protoconv.AgentToProto(u.Snapshot.Agent)}
		for _, r := range u.Snapshot.Queue {
			snap.Queue = append(snap.Queue, protoconv.ChatRequestToProto(r))
		}
		for _, a := range u.Snapshot.Alerts {
			snap.Alerts = append(snap.Alerts, alertToProto(a))
		}
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_Snapshot{Snapshot: snap}}
	case u.Alert != nil:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_Alert{Alert: alertToProto(*u.Alert)}}
	case u.AlertWithdrawn != nil:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_AlertWithdrawn{AlertWithdrawn: &pb.AlertWithdrawn{
			ChatRequestId: u.AlertWithdrawn.RequestID, Reason: u.AlertWithdrawn.Reason}}}
	case u.QueueChanged != nil:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_QueueChanged{QueueChanged: protoconv.ChatRequestToProto(u.QueueChanged)}}
	case u.AgentChanged != nil:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_AgentChanged{AgentChanged: protoconv.AgentToProto(u.AgentChanged)}}
	case u.Whisper != nil:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_Whisper{Whisper: protoconv.WhisperToProto(*u.Whisper)}}
	default:
		return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}}
	}
}

func (s *agentServer) AcceptChatRequest(ctx context.Context, req *connect.Request[pb.AcceptChatRequestRequest]) (*connect.Response[pb.AcceptChatRequestResponse], error) {
	chat, err := s.svc.AcceptChatRequest(ctx, req.Msg.GetAgentId(), req.Msg.GetChatRequestId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.AcceptChatRequestResponse{Chat: protoconv.ChatToProto(chat)}), nil
}

func (s *agentServer) DeclineChatRequest(ctx context.Context, req *connect.Request[pb.DeclineChatRequestRequest]) (*connect.Response[pb.DeclineChatRequestResponse], error) {
	if err := s.svc.DeclineChatRequest(ctx, req.Msg.GetAgentId(), req.Msg.GetChatRequestId()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.DeclineChatRequestResponse{}), nil
}

func (s *agentServer) InviteVisitor(ctx context.Context, req *connect.Request[pb.InviteVisitorRequest]) (*connect.Response[pb.InviteVisitorResponse], error) {
	inv, err := s.svc.InviteVisitor(ctx, req.Msg.GetAgentId(), req.Msg.GetVisitorId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.InviteVisitorResponse{Invitation: protoconv.InvitationToProto(inv)}), nil
}

func (s *agentServer) ListColleagues(ctx context.Context, req *connect.Request[pb.ListColleaguesRequest]) (*connect.Response[pb.ListColleaguesResponse], error) {
	cs, err := s.svc.ListColleagues(ctx, req.Msg.GetAgentId(), req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListColleaguesResponse{}
	for _, c := range cs {
		out.Colleagues = append(out.Colleagues, &pb.Colleague{
			AgentId:     c.AgentID,
			DisplayName: c.DisplayName,
			Status:      protoconv.AgentStatusToProto(c.Status),
			FreeChats:   c.FreeChats,
			CanTakeChat: c.CanTakeChat,
		})
	}
	return connect.NewResponse(out), nil
}

func (s *agentServer) SignIn(ctx context.Context, req *connect.Request[pb.SignInRequest]) (*connect.Response[pb.SignInResponse], error) {
	agent, sess, token, err := s.svc.SignIn(ctx, domain.SignInCredentials{
		AgentID:  req.Msg.GetAgentId(),
		Login:    req.Msg.GetLogin(),
		Password: req.Msg.GetPassword(),
	})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SignInResponse{
		Agent:   protoconv.AgentToProto(agent),
		Session: protoconv.AgentSessionToProto(sess),
		Token:   token,
	}), nil
}

func (s *agentServer) SignOut(ctx context.Context, _ *connect.Request[pb.SignOutRequest]) (*connect.Response[pb.SignOutResponse], error) {
	if err := s.svc.SignOut(ctx, principalFrom(ctx)); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SignOutResponse{}), nil
}

func (s *agentServer) ListLiveChats(ctx context.Context, req *connect.Request[pb.ListLiveChatsRequest]) (*connect.Response[pb.ListLiveChatsResponse], error) {
	chats, err := s.svc.ListLiveChats(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListLiveChatsResponse{Chats: make([]*pb.Chat, 0, len(chats))}
	for _, c := range chats {
		out.Chats = append(out.Chats, protoconv.ChatToProto(c))
	}
	return connect.NewResponse(out), nil
}
func (s *agentServer) ListOfflineMessages(ctx context.Context, req *connect.Request[pb.ListOfflineMessagesRequest]) (*connect.Response[pb.ListOfflineMessagesResponse], error) {
	m := req.Msg
	msgs, next, newCount, err := s.svc.ListOfflineMessages(ctx, m.GetSiteId(), protoconv.OfflineMessageStateFromProto(m.GetState()), int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListOfflineMessagesResponse{NextPageToken: next, NewCount: uint32(newCount)}
	for _, msg := range msgs {
		out.Messages = append(out.Messages, protoconv.OfflineMessageToProto(msg))
	}
	return connect.NewResponse(out), nil
}

func (s *agentServer) MarkOfflineMessageHandled(ctx context.Context, req *connect.Request[pb.MarkOfflineMessageHandledRequest]) (*connect.Response[pb.MarkOfflineMessageHandledResponse], error) {
	msg, err := s.svc.MarkOfflineMessageHandled(ctx, principalFrom(ctx), req.Msg.GetOfflineMessageId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.MarkOfflineMessageHandledResponse{Message: protoconv.OfflineMessageToProto(msg)}), nil
}
