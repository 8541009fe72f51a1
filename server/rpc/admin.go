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

type adminServer struct {
	svc *domain.Service
	log *slog.Logger
}

var _ proactivechatv1connect.AdminServiceHandler = (*adminServer)(nil)

func (s *adminServer) CreateSite(ctx context.Context, req *connect.Request[pb.CreateSiteRequest]) (*connect.Response[pb.CreateSiteResponse], error) {
	site, err := s.svc.CreateSite(ctx, domain.SiteSpec{
		Name:            req.Msg.GetName(),
		AllowedOrigins:  req.Msg.GetAllowedOrigins(),
		ProactiveChat:   protoconv.ProactiveChatSettingsFromProto(req.Msg.GetProactiveChat()),
		Retention:       protoconv.RetentionSettingsFromProto(req.Msg.GetRetention()),
		VisitorLauncher: protoconv.VisitorLauncherFromProto(req.Msg.GetVisitorLauncher()),
		BusinessHours:   protoconv.BusinessHoursFromProto(req.Msg.GetBusinessHours()),
		OfflineMessage:  protoconv.OfflineMessageSettingsFromProto(req.Msg.GetOfflineMessage()),
	})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.CreateSiteResponse{Site: protoconv.SiteToProto(site)}), nil
}

func (s *adminServer) GetSite(ctx context.Context, req *connect.Request[pb.GetSiteRequest]) (*connect.Response[pb.GetSiteResponse], error) {
	site, err := s.svc.GetSite(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetSiteResponse{Site: protoconv.SiteToProto(site)}), nil
}

func (s *adminServer) ListSites(ctx context.Context, req *connect.Request[pb.ListSitesRequest]) (*connect.Response[pb.ListSitesResponse], error) {
	sites, err := s.svc.ListSites(ctx)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListSitesResponse{}
	for _, site := range sites {
		// Agents see the sites they serve or supervise; admins see all.
		if s.svc.CanReadSite(ctx, principalFrom(ctx), site.ID) != nil {
			continue
		}
		out.Sites = append(out.Sites, protoconv.SiteToProto(site))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) UpdateSite(ctx context.Context, req *connect.Request[pb.UpdateSiteRequest]) (*connect.Response[pb.UpdateSiteResponse], error) {
	if req.Msg.GetSite() == nil {
		return nil, toConnectError(ctx, s.log, invalidField("site", "is required"))
	}
	site, err := s.svc.UpdateSite(ctx, protoconv.SiteFromProto(req.Msg.GetSite()), req.Msg.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.UpdateSiteResponse{Site: protoconv.SiteToProto(site)}), nil
}

func (s *adminServer) CreateAgent(ctx context.Context, req *connect.Request[pb.CreateAgentRequest]) (*connect.Response[pb.CreateAgentResponse], error) {
	agent, err := s.svc.CreateAgent(ctx, domain.AgentSpec{
		DisplayName:        req.Msg.GetDisplayName(),
		SiteIDs:            req.Msg.GetSiteIds(),
		MaxConcurrentChats: req.Msg.GetMaxConcurrentChats(),
		Login:              req.Msg.GetLogin(),
		SupervisedSiteIDs:  req.Msg.GetSupervisedSiteIds(),
	})
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.CreateAgentResponse{Agent: protoconv.AgentToProto(agent)}), nil
}

func (s *adminServer) GetAgent(ctx context.Context, req *connect.Request[pb.GetAgentRequest]) (*connect.Response[pb.GetAgentResponse], error) {
	agent, err := s.svc.GetAgent(ctx, req.Msg.GetAgentId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetAgentResponse{Agent: protoconv.AgentToProto(agent)}), nil
}

func (s *adminServer) ListAgents(ctx context.Context, req *connect.Request[pb.ListAgentsRequest]) (*connect.Response[pb.ListAgentsResponse], error) {
	agents, err := s.svc.ListAgents(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListAgentsResponse{}
	for _, a := range agents {
		out.Agents = append(out.Agents, protoconv.AgentToProto(a))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) UpdateAgent(ctx context.Context, req *connect.Request[pb.UpdateAgentRequest]) (*connect.Response[pb.UpdateAgentResponse], error) {
	if req.Msg.GetAgent() == nil {
		return nil, toConnectError(ctx, s.log, invalidField("agent", "is required"))
	}
	agent, err := s.svc.UpdateAgent(ctx, protoconv.AgentFromProto(req.Msg.GetAgent()), req.Msg.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.UpdateAgentResponse{Agent: protoconv.AgentToProto(agent)}), nil
}

func (s *adminServer) ListOnlineVisitors(ctx context.Context, req *connect.Request[pb.ListOnlineVisitorsRequest]) (*connect.Response[pb.ListOnlineVisitorsResponse], error) {
	visitors, err := s.svc.ListOnlineVisitors(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListOnlineVisitorsResponse{}
	for _, p := range visitors {
		out.Visitors = append(out.Visitors, presenceToProto(p))
	}
	return connect.NewResponse(out), nil
}

func invalidField(field, description string) error {
	v := domain.Violations{{Field: field, Description: description}}
	return v.Err()
}

func (s *adminServer) ListQueue(ctx context.Context, req *connect.Request[pb.ListQueueRequest]) (*connect.Response[pb.ListQueueResponse], error) {
	reqs, err := s.svc.ListQueue(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListQueueResponse{}
	for _, r := range reqs {
		out.ChatRequests = append(out.ChatRequests, protoconv.ChatRequestToProto(r))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) ListRoutingDecisions(ctx context.Context, req *connect.Request[pb.ListRoutingDecisionsRequest]) (*connect.Response[pb.ListRoutingDecisionsResponse], error) {
	ds, err := s.svc.ListRoutingDecisions(ctx, req.Msg.GetSiteId(), int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListRoutingDecisionsResponse{}
	for _, d := range ds {
		out.Decisions = append(out.Decisions, protoconv.RoutingDecisionToProto(d))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) ExportVisitor(ctx context.Context, req *connect.Request[pb.ExportVisitorRequest]) (*connect.Response[pb.ExportVisitorResponse], error) {
	x, err := s.svc.ExportVisitor(ctx, req.Msg.GetVisitorId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ExportVisitorResponse{Visitor: protoconv.VisitorToProto(x.Visitor)}
	for _, i := range x.Invitations {
		out.Invitations = append(out.Invitations, protoconv.InvitationToProto(i))
	}
	for _, r := range x.ChatRequests {
		out.ChatRequests = append(out.ChatRequests, protoconv.ChatRequestToProto(r))
	}
	for _, c := range x.Chats {
		out.Chats = append(out.Chats, protoconv.ChatToProto(c))
	}
	for _, ev := range x.ChatEvents {
		out.ChatEvents = append(out.ChatEvents, protoconv.ChatEventToProto(ev))
	}
	for _, m := range x.OfflineMessages {
		out.OfflineMessages = append(out.OfflineMessages, protoconv.OfflineMessageToProto(m))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) EraseVisitor(ctx context.Context, req *connect.Request[pb.EraseVisitorRequest]) (*connect.Response[pb.EraseVisitorResponse], error) {
	if err := s.svc.EraseVisitor(ctx, req.Msg.GetVisitorId()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.EraseVisitorResponse{}), nil
}

func (s *adminServer) CreateApiKey(ctx context.Context, req *connect.Request[pb.CreateApiKeyRequest]) (*connect.Response[pb.CreateApiKeyResponse], error) {
	key, token, err := s.svc.CreateAPIKey(ctx, req.Msg.GetName())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.CreateApiKeyResponse{ApiKey: protoconv.APIKeyToProto(key), Key: token}), nil
}

func (s *adminServer) ListApiKeys(ctx context.Context, _ *connect.Request[pb.ListApiKeysRequest]) (*connect.Response[pb.ListApiKeysResponse], error) {
	keys, err := s.svc.ListAPIKeys(ctx)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListApiKeysResponse{}
	for _, k := range keys {
		out.ApiKeys = append(out.ApiKeys, protoconv.APIKeyToProto(k))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) RevokeApiKey(ctx context.Context, req *connect.Request[pb.RevokeApiKeyRequest]) (*connect.Response[pb.RevokeApiKeyResponse], error) {
	if err := s.svc.RevokeAPIKey(ctx, req.Msg.GetApiKeyId()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RevokeApiKeyResponse{}), nil
}

func (s *adminServer) SetAgentPassword(ctx context.Context, req *connect.Request[pb.SetAgentPasswordRequest]) (*connect.Response[pb.SetAgentPasswordResponse], error) {
	if err := s.svc.SetAgentPassword(ctx, req.Msg.GetAgentId(), req.Msg.GetPassword()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SetAgentPasswordResponse{}), nil
}

func (s *adminServer) CreateAgentSession(ctx context.Context, req *connect.Request[pb.CreateAgentSessionRequest]) (*connect.Response[pb.CreateAgentSessionResponse], error) {
	var ttl time.Duration
	if d := req.Msg.GetTtl(); d != nil {
		if err := d.CheckValid(); err != nil {
			return nil, toConnectError(ctx, s.log, invalidField("ttl", err.Error()))
		}
		ttl = d.AsDuration()
		if ttl <= 0 {
			return nil, toConnectError(ctx, s.log, invalidField("ttl", "must be positive"))
		}
	}
	sess, token, err := s.svc.CreateAgentSession(ctx, req.Msg.GetAgentId(), ttl)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.CreateAgentSessionResponse{Session: protoconv.AgentSessionToProto(sess), Token: token}), nil
}

func (s *adminServer) RevokeAgentSessions(ctx context.Context, req *connect.Request[pb.RevokeAgentSessionsRequest]) (*connect.Response[pb.RevokeAgentSessionsResponse], error) {
	n, err := s.svc.RevokeAgentSessions(ctx, req.Msg.GetAgentId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RevokeAgentSessionsResponse{Revoked: uint32(n)}), nil
}

func (s *adminServer) GetSiteIdentitySecret(ctx context.Context, req *connect.Request[pb.GetSiteIdentitySecretRequest]) (*connect.Response[pb.GetSiteIdentitySecretResponse], error) {
	secret, err := s.svc.GetSiteIdentitySecret(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetSiteIdentitySecretResponse{Secret: secret}), nil
}

func (s *adminServer) RotateSiteIdentitySecret(ctx context.Context, req *connect.Request[pb.RotateSiteIdentitySecretRequest]) (*connect.Response[pb.RotateSiteIdentitySecretResponse], error) {
	secret, err := s.svc.RotateSiteIdentitySecret(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RotateSiteIdentitySecretResponse{Secret: secret}), nil
}

func (s *adminServer) GetRatingSummary(ctx context.Context, req *connect.Request[pb.GetRatingSummaryRequest]) (*connect.Response[pb.GetRatingSummaryResponse], error) {
	m := req.Msg
	var v domain.Violations
	if ts := m.GetStartTime(); ts != nil && !ts.IsValid() {
		v.Add("start_time", "is not a valid time")
	}
	if ts := m.GetEndTime(); ts != nil && !ts.IsValid() {
		v.Add("end_time", "is not a valid time")
	}
	if err := v.Err(); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	sum, err := s.svc.GetRatingSummary(ctx, m.GetSiteId(), m.GetAgentId(),
		protoconv.TimeFromProto(m.GetStartTime()), protoconv.TimeFromProto(m.GetEndTime()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetRatingSummaryResponse{Summary: &pb.RatingSummary{
		Count:   sum.Count,
		Average: sum.Average,
		Counts:  sum.Counts[:],
	}}), nil
}

func (s *adminServer) CreateCannedReply(ctx context.Context, req *connect.Request[pb.CreateCannedReplyRequest]) (*connect.Response[pb.CreateCannedReplyResponse], error) {
	c, err := s.svc.CreateCannedReply(ctx, *protoconv.CannedReplyFromProto(req.Msg.GetCannedReply()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.CreateCannedReplyResponse{CannedReply: protoconv.CannedReplyToProto(c)}), nil
}

func (s *adminServer) UpdateCannedReply(ctx context.Context, req *connect.Request[pb.UpdateCannedReplyRequest]) (*connect.Response[pb.UpdateCannedReplyResponse], error) {
	c, err := s.svc.UpdateCannedReply(ctx, *protoconv.CannedReplyFromProto(req.Msg.GetCannedReply()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.UpdateCannedReplyResponse{CannedReply: protoconv.CannedReplyToProto(c)}), nil
}

func (s *adminServer) DeleteCannedReply(ctx context.Context, req *connect.Request[pb.DeleteCannedReplyRequest]) (*connect.Response[pb.DeleteCannedReplyResponse], error) {
	if err := s.svc.DeleteCannedReply(ctx, req.Msg.GetSiteId(), req.Msg.GetCannedReplyId()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.DeleteCannedReplyResponse{}), nil
}

func (s *adminServer) ListCannedReplies(ctx context.Context, req *connect.Request[pb.ListCannedRepliesRequest]) (*connect.Response[pb.ListCannedRepliesResponse], error) {
	cs, err := s.svc.ListCannedReplies(ctx, req.Msg.GetSiteId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListCannedRepliesResponse{}
	for _, c := range cs {
		out.CannedReplies = append(out.CannedReplies, protoconv.CannedReplyToProto(c))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) GetFunnel(ctx context.Context, req *connect.Request[pb.GetFunnelRequest]) (*connect.Response[pb.GetFunnelResponse], error) {
	m := req.Msg
	var v domain.Violations
	if ts := m.GetStartTime(); ts != nil && !ts.IsValid() {
		v.Add("start_time", "is not a valid time")
	}
	if ts := m.GetEndTime(); ts != nil && !ts.IsValid() {
		v.Add("end_time", "is not a valid time")
	}
	if err := v.Err(); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	f, err := s.svc.GetFunnel(ctx, m.GetSiteId(), protoconv.TimeFromProto(m.GetStartTime()), protoconv.TimeFromProto(m.GetEndTime()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetFunnelResponse{Funnel: protoconv.FunnelToProto(f)}), nil
}

func (s *adminServer) PreviewTriggerRule(ctx context.Context, req *connect.Request[pb.PreviewTriggerRuleRequest]) (*connect.Response[pb.PreviewTriggerRuleResponse], error) {
	evs, online, err := s.svc.PreviewTriggerRule(ctx, req.Msg.GetSiteId(), protoconv.TriggerRuleFromProto(req.Msg.GetRule()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.PreviewTriggerRuleResponse{OnlineVisitors: uint32(online)}
	for _, e := range evs {
		out.Evaluations = append(out.Evaluations, &pb.RuleEvaluation{
			Visitor: presenceToProto(e.Visitor), Matches: e.Matches, FailedConditions: e.Failed, CappedBy: e.CappedBy,
		})
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) GetTriggerRuleReport(ctx context.Context, req *connect.Request[pb.GetTriggerRuleReportRequest]) (*connect.Response[pb.GetTriggerRuleReportResponse], error) {
	m := req.Msg
	var v domain.Violations
	if ts := m.GetStartTime(); ts != nil && !ts.IsValid() {
		v.Add("start_time", "is not a valid time")
	}
	if ts := m.GetEndTime(); ts != nil && !ts.IsValid() {
		v.Add("end_time", "is not a valid time")
	}
	if err := v.Err(); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	r, err := s.svc.GetTriggerRuleReport(ctx, m.GetSiteId(), protoconv.TimeFromProto(m.GetStartTime()), protoconv.TimeFromProto(m.GetEndTime()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.TriggerRuleReport{SiteId: r.SiteID, StartTime: protoconv.TimeToProto(r.Start), EndTime: protoconv.TimeToProto(r.End),
		PredictedWait: durationpb.New(r.PredictedWait)}
	for _, f := range r.Rules {
		out.Rules = append(out.Rules, &pb.RuleFunnel{RuleId: f.RuleID, VariantId: f.VariantID, Matched: f.Matched, HeldOut: f.HeldOut,
			Invited: f.Invited, Accepted: f.Accepted, FormsSubmitted: f.Forms, Queued: f.Queued, Chatted: f.Chatted, Rated: f.Rated,
			HeldOutChatted: f.HeldOutChatted})
	}
	return connect.NewResponse(&pb.GetTriggerRuleReportResponse{Report: out}), nil
}
