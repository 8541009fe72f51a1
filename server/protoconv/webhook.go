package protoconv

import (
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// WebhookToProto converts an endpoint, without its secret: the caller
// that may show it (CreateWebhook) sets it.
func WebhookToProto(w *domain.Webhook) *pb.Webhook {
	out := &pb.Webhook{
		Id:               w.ID,
		Url:              w.URL,
		SiteId:           w.SiteID,
		Enabled:          w.Enabled,
		DisabledReason:   w.DisabledReason,
		CreateTime:       TimeToProto(w.CreateTime),
		DeliveredThrough: w.After,
	}
	for _, t := range w.EventTypes {
		out.EventTypes = append(out.EventTypes, string(t))
	}
	if w.LastDelivery != nil {
		out.LastDelivery = WebhookDeliveryToProto(w.LastDelivery)
	}
	return out
}

// WebhookDeliveryToProto converts a delivery attempt.
func WebhookDeliveryToProto(d *domain.WebhookDelivery) *pb.WebhookDelivery {
	out := &pb.WebhookDelivery{
		WebhookId:     d.WebhookID,
		EventId:       d.EventID,
		EventType:     string(d.EventType),
		EventPosition: d.EventPosition,
		Time:          TimeToProto(d.Time),
		Attempt:       uint32(d.Attempt),
		StatusCode:    uint32(d.StatusCode),
		Latency:       durationpb.New(d.Latency),
		Error:         d.Error,
		Success:       d.Success,
		ResponseBody:  d.ResponseBody,
	}
	if !d.NextAttempt.IsZero() {
		out.NextAttemptTime = TimeToProto(d.NextAttempt)
	}
	return out
}

// WebhookSpecFromProto is what CreateWebhook and UpdateWebhook take of
// an endpoint.
func WebhookSpecFromProto(w *pb.Webhook) domain.WebhookSpec {
	spec := domain.WebhookSpec{ID: w.GetId(), URL: w.GetUrl(), SiteID: w.GetSiteId(), Enabled: w.GetEnabled()}
	for _, t := range w.GetEventTypes() {
		spec.EventTypes = append(spec.EventTypes, domain.EventType(t))
	}
	return spec
}
