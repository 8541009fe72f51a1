package proactivechat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// WebhookTolerance is how far a webhook's timestamp may be from now, in
// either direction, for VerifyWebhook to accept it: older deliveries may
// be replays.
const WebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook, for errors.Is.
var (
	// ErrWebhookHeaders: webhook-id, webhook-timestamp or
	// webhook-signature is missing or malformed.
	ErrWebhookHeaders = errors.New("proactivechat: missing or invalid webhook headers")
	// ErrWebhookTimestamp: the timestamp is more than WebhookTolerance
	// from now.
	ErrWebhookTimestamp = errors.New("proactivechat: webhook timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches the secret and the body.
	ErrWebhookSignature = errors.New("proactivechat: no matching webhook signature")
)

// VerifyWebhook checks a webhook request by Standard Webhooks v1: its
// webhook-timestamp is within WebhookTolerance of now, and one of the
// space-separated signatures of webhook-signature ("v1,<base64>") is the
// HMAC-SHA256 with secret ("whsec_<base64>") of "id.timestamp.body".
// Several signatures are sent while the endpoint's secret is being
// rotated; any one matching is enough. body must be the raw request body,
// before any JSON decoding.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("proactivechat: webhook secret: %w", err)
	}
	if header.Get(standardwebhooks.HeaderWebhookID) == "" || header.Get(standardwebhooks.HeaderWebhookSignature) == "" {
		return ErrWebhookHeaders
	}
	sec, err := strconv.ParseInt(header.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64)
	if err != nil {
		return ErrWebhookHeaders
	}
	// The library checks the timestamp against time.Now; ours takes now.
	if d := now.Sub(time.Unix(sec, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("%w: %s off", ErrWebhookTimestamp, d.Round(time.Second))
	}
	err = wh.VerifyIgnoringTimestamp(body, header)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, standardwebhooks.ErrNoMatchingSignature):
		return ErrWebhookSignature
	case errors.Is(err, standardwebhooks.ErrRequiredHeaders), errors.Is(err, standardwebhooks.ErrInvalidHeaders):
		return ErrWebhookHeaders
	}
	return fmt.Errorf("proactivechat: verify webhook: %w", err)
}

// WebhookEvent is the body of a webhook delivery.
type WebhookEvent struct {
	// Type is the event's type, e.g. "chat.message".
	Type      string
	Timestamp time.Time
	// Event is the event of the log (its data), with its position.
	Event *pb.Event
}

// ParseWebhook decodes a verified webhook body:
// {"type": …, "timestamp": …, "data": <the Event in protojson>}. Fields
// this version does not know are ignored.
func ParseWebhook(body []byte) (*WebhookEvent, error) {
	var raw struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("proactivechat: parse webhook: %w", err)
	}
	ev := &pb.Event{}
	if len(raw.Data) > 0 {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw.Data, ev); err != nil {
			return nil, fmt.Errorf("proactivechat: parse webhook data: %w", err)
		}
	}
	return &WebhookEvent{Type: raw.Type, Timestamp: raw.Timestamp, Event: ev}, nil
}
