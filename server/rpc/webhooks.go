package rpc

import (
	"context"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

func (s *adminServer) CreateWebhook(ctx context.Context, req *connect.Request[pb.CreateWebhookRequest]) (*connect.Response[pb.CreateWebhookResponse], error) {
	m := req.Msg
	spec := protoconv.WebhookSpecFromProto(&pb.Webhook{Url: m.GetUrl(), EventTypes: m.GetEventTypes(), SiteId: m.GetSiteId()})
	spec.Enabled = !m.GetDisabled()
	spec.StartAfter = m.GetStartAfter()
	w, err := s.svc.CreateWebhook(ctx, spec)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := protoconv.WebhookToProto(w)
	out.Secret = w.Secret // shown this once
	return connect.NewResponse(&pb.CreateWebhookResponse{Webhook: out}), nil
}

func (s *adminServer) GetWebhook(ctx context.Context, req *connect.Request[pb.GetWebhookRequest]) (*connect.Response[pb.GetWebhookResponse], error) {
	w, err := s.svc.GetWebhook(ctx, req.Msg.GetWebhookId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetWebhookResponse{Webhook: protoconv.WebhookToProto(w)}), nil
}

func (s *adminServer) ListWebhooks(ctx context.Context, req *connect.Request[pb.ListWebhooksRequest]) (*connect.Response[pb.ListWebhooksResponse], error) {
	ws, err := s.svc.ListWebhooks(ctx)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListWebhooksResponse{}
	p := principalFrom(ctx)
	for _, w := range ws {
		if !p.InScope(w.SiteID) {
			continue // a scoped key sees only its sites' endpoints
		}
		out.Webhooks = append(out.Webhooks, protoconv.WebhookToProto(w))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) UpdateWebhook(ctx context.Context, req *connect.Request[pb.UpdateWebhookRequest]) (*connect.Response[pb.UpdateWebhookResponse], error) {
	w, err := s.svc.UpdateWebhook(ctx, protoconv.WebhookSpecFromProto(req.Msg.GetWebhook()), req.Msg.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.UpdateWebhookResponse{Webhook: protoconv.WebhookToProto(w)}), nil
}

func (s *adminServer) DeleteWebhook(ctx context.Context, req *connect.Request[pb.DeleteWebhookRequest]) (*connect.Response[pb.DeleteWebhookResponse], error) {
	if err := s.svc.DeleteWebhook(ctx, req.Msg.GetWebhookId()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.DeleteWebhookResponse{}), nil
}

func (s *adminServer) RotateWebhookSecret(ctx context.Context, req *connect.Request[pb.RotateWebhookSecretRequest]) (*connect.Response[pb.RotateWebhookSecretResponse], error) {
	secret, err := s.svc.RotateWebhookSecret(ctx, req.Msg.GetWebhookId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RotateWebhookSecretResponse{Secret: secret}), nil
}

func (s *adminServer) ListWebhookDeliveries(ctx context.Context, req *connect.Request[pb.ListWebhookDeliveriesRequest]) (*connect.Response[pb.ListWebhookDeliveriesResponse], error) {
	ds, err := s.svc.ListWebhookDeliveries(ctx, req.Msg.GetWebhookId(), int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListWebhookDeliveriesResponse{}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, protoconv.WebhookDeliveryToProto(d))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) RedeliverWebhookEvent(ctx context.Context, req *connect.Request[pb.RedeliverWebhookEventRequest]) (*connect.Response[pb.RedeliverWebhookEventResponse], error) {
	d, err := s.svc.RedeliverWebhookEvent(ctx, req.Msg.GetWebhookId(), req.Msg.GetEventId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RedeliverWebhookEventResponse{Delivery: protoconv.WebhookDeliveryToProto(d)}), nil
}

func (s *adminServer) PingWebhook(ctx context.Context, req *connect.Request[pb.PingWebhookRequest]) (*connect.Response[pb.PingWebhookResponse], error) {
	d, err := s.svc.PingWebhook(ctx, req.Msg.GetWebhookId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.PingWebhookResponse{Delivery: protoconv.WebhookDeliveryToProto(d)}), nil
}
