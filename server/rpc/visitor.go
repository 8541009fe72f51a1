package rpc

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

type visitorServer struct {
	svc *domain.Service
	log *slog.Logger
}

var _ proactivechatv1connect.VisitorServiceHandler = (*visitorServer)(nil)

func (s *visitorServer) StartVisitorSession(ctx context.Context, req *connect.Request[pb.StartVisitorSessionRequest]) (*connect.Response[pb.StartVisitorSessionResponse], error) {
	// Same-origin pages (the server's own demo) reach here without an
	// Origin: the CORS middleware removes it, as nothing is cross-origin.
	if err := s.svc.CheckWidgetOrigin(ctx, req.Msg.GetSiteId(), req.Header().Get("Origin")); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	ci := req.Msg.GetClientInfo()
	visitor, token, resumed, err := s.svc.StartVisitorSessionWithClient(ctx, req.Msg.GetSiteId(), req.Msg.GetResumeToken(),
		protoconv.IdentityClaimFromProto(req.Msg.GetIdentity()),
		domain.ClientInfo{Device: protoconv.DeviceClassFromProto(ci.GetDevice()), Language: ci.GetLanguage()})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.StartVisitorSessionResponse{
		Visitor: protoconv.VisitorToProto(visitor),
		Token:   token,
		Resumed: resumed,
	}), nil
}

func (s *visitorServer) ReportPageView(ctx context.Context, req *connect.Request[pb.ReportPageViewRequest]) (*connect.Response[pb.ReportPageViewResponse], error) {
	visitor, err := s.svc.RecordPageViewFrom(ctx, req.Msg.GetVisitorId(), req.Msg.GetUrl(), req.Msg.GetTitle(), req.Msg.GetReferrer())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.ReportPageViewResponse{Visitor: protoconv.VisitorToProto(visitor)}), nil
}

func (s *visitorServer) WatchVisitor(ctx context.Context, req *connect.Request[pb.WatchVisitorRequest], stream *connect.ServerStream[pb.WatchVisitorResponse]) error {
	// Send the response headers now: a client opening a quiet stream
	// must not wait for the first event to know it is connected.
	if err := stream.Send(nil); err != nil {
		return err
	}
	err := s.svc.WatchVisitor(ctx, domain.VisitorWatch{
		VisitorID:      req.Msg.GetVisitorId(),
		PageURL:        req.Msg.GetPageUrl(),
		PageTitle:      req.Msg.GetPageTitle(),
		PageReferrer:   req.Msg.GetPageReferrer(),
		ResumeChatID:   req.Msg.GetResumeChatId(),
		ResumeAfterSeq: req.Msg.GetResumeAfterSeq(),
	}, func(u domain.VisitorUpdate) error {
		return stream.Send(visitorUpdateToProto(u))
	})
	return toConnectError(ctx, s.log, err)
}

func visitorUpdateToProto(u domain.VisitorUpdate) *pb.WatchVisitorResponse {
	switch {
	case u.State != nil:
		return &pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_State{State: visitorStateToProto(u.State)}}
	case u.Event != nil:
		return &pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_ChatEvent{ChatEvent: protoconv.ChatEventToProto(*u.Event)}}
	case u.Typing != nil:
		return &pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_Typing{Typing: protoconv.TypingToProto(*u.Typing)}}
	default:
		return &pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}}
	}
}

func visitorStateToProto(st *domain.VisitorState) *pb.VisitorState {
	out := &pb.VisitorState{
		Visitor:    protoconv.VisitorToProto(st.Visitor),
		Engagement: protoconv.EngagementToProto(st.Engagement),
		Chat:       protoconv.ChatToProto(st.Chat),
		Invitation: protoconv.InvitationToProto(st.Invitation),
	}
	if l := st.Launcher; l != nil {
		out.Launcher = &pb.VisitorLauncherSettings{Enabled: l.Enabled, Label: l.Label}
	}
	if st.Engagement == domain.EngagementFillingForm {
		out.Form = &pb.FormDefinition{}
		for _, f := range st.Form {
			out.Form.Fields = append(out.Form.Fields, protoconv.FormFieldToProto(f))
		}
	}
	out.SiteStatus = &pb.SiteStatus{
		Open:            st.Site.Open,
		AgentsAvailable: st.Site.AgentsAvailable,
		OfferMessage:    st.Site.OfferMessage,
		NextChangeTime:  protoconv.TimeToProto(st.Site.NextChange),
	}
	if q := st.Queue; q != nil {
		out.Queue = &pb.QueueStatus{
			ChatRequestId: q.RequestID,
			Position:      uint32(q.Position),
			EstimatedWait: durationpb.New(q.EstimatedWait),
			EnqueueTime:   protoconv.TimeToProto(q.EnqueueTime),
		}
	}
	return out
}

func (s *visitorServer) RespondToInvitation(ctx context.Context, req *connect.Request[pb.RespondToInvitationRequest]) (*connect.Response[pb.RespondToInvitationResponse], error) {
	st, err := s.svc.RespondToInvitation(ctx, req.Msg.GetVisitorId(), req.Msg.GetInvitationId(), req.Msg.GetAccept())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RespondToInvitationResponse{State: visitorStateToProto(st)}), nil
}

func (s *visitorServer) RequestChat(ctx context.Context, req *connect.Request[pb.RequestChatRequest]) (*connect.Response[pb.RequestChatResponse], error) {
	st, err := s.svc.RequestChat(ctx, req.Msg.GetVisitorId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RequestChatResponse{State: visitorStateToProto(st)}), nil
}

func (s *visitorServer) SubmitForm(ctx context.Context, req *connect.Request[pb.SubmitFormRequest]) (*connect.Response[pb.SubmitFormResponse], error) {
	st, err := s.svc.SubmitForm(ctx, req.Msg.GetVisitorId(), req.Msg.GetValues())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SubmitFormResponse{State: visitorStateToProto(st)}), nil
}

func (s *visitorServer) LeaveQueue(ctx context.Context, req *connect.Request[pb.LeaveQueueRequest]) (*connect.Response[pb.LeaveQueueResponse], error) {
	st, err := s.svc.LeaveQueue(ctx, req.Msg.GetVisitorId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.LeaveQueueResponse{State: visitorStateToProto(st)}), nil
}

func (s *visitorServer) IdentifyVisitor(ctx context.Context, req *connect.Request[pb.IdentifyVisitorRequest]) (*connect.Response[pb.IdentifyVisitorResponse], error) {
	claim := protoconv.IdentityClaimFromProto(req.Msg.GetIdentity())
	if claim == nil {
		claim = &domain.IdentityClaim{}
	}
	visitor, err := s.svc.IdentifyVisitor(ctx, req.Msg.GetVisitorId(), *claim)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.IdentifyVisitorResponse{Visitor: protoconv.VisitorToProto(visitor)}), nil
}

func keepAlive(t time.Time) *pb.KeepAlive {
	return &pb.KeepAlive{ServerTime: protoconv.TimeToProto(t)}
}

func presenceToProto(p domain.Presence) *pb.VisitorPresence {
	return &pb.VisitorPresence{
		VisitorId:      p.VisitorID,
		SiteId:         p.SiteID,
		CurrentPage:    protoconv.PageViewToProto(p.CurrentPage),
		VisitStartTime: protoconv.TimeToProto(p.VisitStartTime),
		TimeOnSite:     durationpb.New(p.TimeOnSite),
		ObserveTime:    protoconv.TimeToProto(p.ObserveTime),
		OpenStreams:    uint32(p.OpenStreams),
		Engagement:     protoconv.EngagementToProto(p.Engagement),
		ActiveChatId:   p.ActiveChatID,
		Identity:       protoconv.IdentityToProto(p.Identity),
		PagesViewed:    p.PagesViewed,
		Referrer:       p.Referrer,
		Device:         protoconv.DeviceClassToProto(p.Device),
		Language:       p.Language,
		VisitCount:     p.VisitCount,
	}
}

func (s *visitorServer) ReportActivity(ctx context.Context, req *connect.Request[pb.ReportActivityRequest]) (*connect.Response[pb.ReportActivityResponse], error) {
	a := req.Msg.GetActivity()
	err := s.svc.ReportActivity(ctx, req.Msg.GetVisitorId(), req.Msg.GetPageUrl(), domain.VisitorActivity{
		ScrollPercent: a.GetScrollPercent(), ExitIntent: a.GetExitIntent(), Interacted: a.GetInteracted(),
	})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.ReportActivityResponse{}), nil
}

func (s *visitorServer) UpdateVisitorAttributes(ctx context.Context, req *connect.Request[pb.UpdateVisitorAttributesRequest]) (*connect.Response[pb.UpdateVisitorAttributesResponse], error) {
	visitor, err := s.svc.UpdateVisitorAttributes(ctx, req.Msg.GetVisitorId(), req.Msg.GetSet(), req.Msg.GetRemove())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.UpdateVisitorAttributesResponse{Visitor: protoconv.VisitorToProto(visitor)}), nil
}

func (s *visitorServer) LeaveMessage(ctx context.Context, req *connect.Request[pb.LeaveMessageRequest]) (*connect.Response[pb.LeaveMessageResponse], error) {
	m := req.Msg
	msg, err := s.svc.LeaveMessage(ctx, m.GetVisitorId(), domain.OfflineMessageInput{
		Name: m.GetName(), Email: m.GetEmail(), Text: m.GetText(), PageURL: m.GetPageUrl(), RequestID: m.GetRequestId(),
	})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.LeaveMessageResponse{Message: protoconv.OfflineMessageToProto(msg)}), nil
}
