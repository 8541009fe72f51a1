package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// webhookAPI is the webhooks' part of api, on every protocol.
type webhookAPI interface {
	CreateWebhook(context.Context, *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error)
	GetWebhook(context.Context, *pb.GetWebhookRequest) (*pb.GetWebhookResponse, error)
	ListWebhooks(context.Context, *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error)
	UpdateWebhook(context.Context, *pb.UpdateWebhookRequest) (*pb.UpdateWebhookResponse, error)
	DeleteWebhook(context.Context, *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error)
	RotateWebhookSecret(context.Context, *pb.RotateWebhookSecretRequest) (*pb.RotateWebhookSecretResponse, error)
	ListWebhookDeliveries(context.Context, *pb.ListWebhookDeliveriesRequest) (*pb.ListWebhookDeliveriesResponse, error)
	RedeliverWebhookEvent(context.Context, *pb.RedeliverWebhookEventRequest) (*pb.RedeliverWebhookEventResponse, error)
	PingWebhook(context.Context, *pb.PingWebhookRequest) (*pb.PingWebhookResponse, error)
}

func (c *grpcClient) CreateWebhook(ctx context.Context, r *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error) {
	return grpcUnary(ctx, c.admin.CreateWebhook, r)
}

func (c *connectClient) CreateWebhook(ctx context.Context, r *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error) {
	return connectUnary(ctx, c.admin.CreateWebhook, r)
}

func (c *signedClient) CreateWebhook(ctx context.Context, r *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error) {
	return c.raw.CreateWebhook(c.asAdmin(ctx), r)
}

func (c *restClient) CreateWebhook(ctx context.Context, r *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error) {
	out := &pb.CreateWebhookResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/webhooks", nil, r, out)
}

func (c *grpcClient) GetWebhook(ctx context.Context, r *pb.GetWebhookRequest) (*pb.GetWebhookResponse, error) {
	return grpcUnary(ctx, c.admin.GetWebhook, r)
}

func (c *connectClient) GetWebhook(ctx context.Context, r *pb.GetWebhookRequest) (*pb.GetWebhookResponse, error) {
	return connectUnary(ctx, c.admin.GetWebhook, r)
}

func (c *signedClient) GetWebhook(ctx context.Context, r *pb.GetWebhookRequest) (*pb.GetWebhookResponse, error) {
	return c.raw.GetWebhook(c.asAdmin(ctx), r)
}

func (c *restClient) GetWebhook(ctx context.Context, r *pb.GetWebhookRequest) (*pb.GetWebhookResponse, error) {
	out := &pb.GetWebhookResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/webhooks/"+esc(r.GetWebhookId()), nil, nil, out)
}

func (c *grpcClient) ListWebhooks(ctx context.Context, r *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	return grpcUnary(ctx, c.admin.ListWebhooks, r)
}

func (c *connectClient) ListWebhooks(ctx context.Context, r *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	return connectUnary(ctx, c.admin.ListWebhooks, r)
}

func (c *signedClient) ListWebhooks(ctx context.Context, r *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	return c.raw.ListWebhooks(c.asAdmin(ctx), r)
}

func (c *restClient) ListWebhooks(ctx context.Context, r *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	out := &pb.ListWebhooksResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/webhooks", nil, nil, out)
}

func (c *grpcClient) UpdateWebhook(ctx context.Context, r *pb.UpdateWebhookRequest) (*pb.UpdateWebhookResponse, error) {
	return grpcUnary(ctx, c.admin.UpdateWebhook, r)
}

func (c *connectClient) UpdateWebhook(ctx context.Context, r *pb.UpdateWebhookRequest) (*pb.UpdateWebhookResponse, error) {
	return connectUnary(ctx, c.admin.UpdateWebhook, r)
}

func (c *signedClient) UpdateWebhook(ctx context.Context, r *pb.UpdateWebhookRequest) (*pb.UpdateWebhookResponse, error) {
	return c.raw.UpdateWebhook(c.asAdmin(ctx), r)
}

func (c *restClient) UpdateWebhook(ctx context.Context, r *pb.UpdateWebhookRequest) (*pb.UpdateWebhookResponse, error) {
	out := &pb.UpdateWebhookResponse{}
	q := url.Values{}
	if paths := r.GetUpdateMask().GetPaths(); len(paths) > 0 {
		q.Set("update_mask", strings.Join(paths, ","))
	}
	w := r.GetWebhook()
	if w == nil {
		w = &pb.Webhook{}
	}
	return out, c.call(ctx, http.MethodPatch, "/v1/webhooks/"+esc(w.GetId()), q, w, out)
}

func (c *grpcClient) DeleteWebhook(ctx context.Context, r *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error) {
	return grpcUnary(ctx, c.admin.DeleteWebhook, r)
}

func (c *connectClient) DeleteWebhook(ctx context.Context, r *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error) {
	return connectUnary(ctx, c.admin.DeleteWebhook, r)
}

func (c *signedClient) DeleteWebhook(ctx context.Context, r *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error) {
	return c.raw.DeleteWebhook(c.asAdmin(ctx), r)
}

func (c *restClient) DeleteWebhook(ctx context.Context, r *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error) {
	out := &pb.DeleteWebhookResponse{}
	return out, c.call(ctx, http.MethodDelete, "/v1/webhooks/"+esc(r.GetWebhookId()), nil, nil, out)
}

func (c *grpcClient) RotateWebhookSecret(ctx context.Context, r *pb.RotateWebhookSecretRequest) (*pb.RotateWebhookSecretResponse, error) {
	return grpcUnary(ctx, c.admin.RotateWebhookSecret, r)
}

func (c *connectClient) RotateWebhookSecret(ctx context.Context, r *pb.RotateWebhookSecretRequest) (*pb.RotateWebhookSecretResponse, error) {
	return connectUnary(ctx, c.admin.RotateWebhookSecret, r)
}

func (c *signedClient) RotateWebhookSecret(ctx context.Context, r *pb.RotateWebhookSecretRequest) (*pb.RotateWebhookSecretResponse, error) {
	return c.raw.RotateWebhookSecret(c.asAdmin(ctx), r)
}

func (c *restClient) RotateWebhookSecret(ctx context.Context, r *pb.RotateWebhookSecretRequest) (*pb.RotateWebhookSecretResponse, error) {
	out := &pb.RotateWebhookSecretResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/webhooks/"+esc(r.GetWebhookId())+"/secret:rotate", nil, r, out)
}

func (c *grpcClient) ListWebhookDeliveries(ctx context.Context, r *pb.ListWebhookDeliveriesRequest) (*pb.ListWebhookDeliveriesResponse, error) {
	return grpcUnary(ctx, c.admin.ListWebhookDeliveries, r)
}

func (c *connectClient) ListWebhookDeliveries(ctx context.Context, r *pb.ListWebhookDeliveriesRequest) (*pb.ListWebhookDeliveriesResponse, error) {
	return connectUnary(ctx, c.admin.ListWebhookDeliveries, r)
}

func (c *signedClient) ListWebhookDeliveries(ctx context.Context, r *pb.ListWebhookDeliveriesRequest) (*pb.ListWebhookDeliveriesResponse, error) {
	return c.raw.ListWebhookDeliveries(c.asAdmin(ctx), r)
}

func (c *restClient) ListWebhookDeliveries(ctx context.Context, r *pb.ListWebhookDeliveriesRequest) (*pb.ListWebhookDeliveriesResponse, error) {
	out := &pb.ListWebhookDeliveriesResponse{}
	q := url.Values{}
	if r.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(r.GetPageSize())))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/webhooks/"+esc(r.GetWebhookId())+"/deliveries", q, nil, out)
}

func (c *grpcClient) RedeliverWebhookEvent(ctx context.Context, r *pb.RedeliverWebhookEventRequest) (*pb.RedeliverWebhookEventResponse, error) {
	return grpcUnary(ctx, c.admin.RedeliverWebhookEvent, r)
}

func (c *connectClient) RedeliverWebhookEvent(ctx context.Context, r *pb.RedeliverWebhookEventRequest) (*pb.RedeliverWebhookEventResponse, error) {
	return connectUnary(ctx, c.admin.RedeliverWebhookEvent, r)
}

func (c *signedClient) RedeliverWebhookEvent(ctx context.Context, r *pb.RedeliverWebhookEventRequest) (*pb.RedeliverWebhookEventResponse, error) {
	return c.raw.RedeliverWebhookEvent(c.asAdmin(ctx), r)
}

func (c *restClient) RedeliverWebhookEvent(ctx context.Context, r *pb.RedeliverWebhookEventRequest) (*pb.RedeliverWebhookEventResponse, error) {
	out := &pb.RedeliverWebhookEventResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/webhooks/"+esc(r.GetWebhookId())+"/events/"+esc(r.GetEventId())+":redeliver", nil, r, out)
}

func (c *grpcClient) PingWebhook(ctx context.Context, r *pb.PingWebhookRequest) (*pb.PingWebhookResponse, error) {
	return grpcUnary(ctx, c.admin.PingWebhook, r)
}

func (c *connectClient) PingWebhook(ctx context.Context, r *pb.PingWebhookRequest) (*pb.PingWebhookResponse, error) {
	return connectUnary(ctx, c.admin.PingWebhook, r)
}

func (c *signedClient) PingWebhook(ctx context.Context, r *pb.PingWebhookRequest) (*pb.PingWebhookResponse, error) {
	return c.raw.PingWebhook(c.asAdmin(ctx), r)
}

func (c *restClient) PingWebhook(ctx context.Context, r *pb.PingWebhookRequest) (*pb.PingWebhookResponse, error) {
	out := &pb.PingWebhookResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/webhooks/"+esc(r.GetWebhookId())+":ping", nil, r, out)
}
