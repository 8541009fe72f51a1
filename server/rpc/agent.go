package rpc

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

type agentServer struct {
	svc *domain.Service
	log *slog.Logger
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
	err := s.svc.WatchPresence(ctx, req.Msg.GetAgentId(), func(u domain.PresenceUpdate) error {
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
