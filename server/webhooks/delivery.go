package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// message is one webhook message: its id (webhook-id) and body.
type message struct {
	id       string
	typ      string
	position uint64
	body     []byte
}

// body is a delivery's JSON body.
type body struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// eventMessage is the message of an event of the log: its data is the
// Event message of the API as JSON (lowerCamelCase field names).
func eventMessage(ev *domain.Event) message {
	data, err := protojson.Marshal(protoconv.EventToProto(ev))
	if err != nil { // cannot happen with a valid message
		data = []byte("{}")
	}
	b, _ := json.Marshal(body{Type: string(ev.Type), Timestamp: ev.Time.UTC().Format(time.RFC3339Nano), Data: data})
	return message{id: ev.ID, typ: string(ev.Type), position: ev.Position, body: b}
}

// attempt POSTs m to the endpoint once. The retry-after is that of a
// failed answer's Retry-After header, 0 without one.
func (e *Engine) attempt(ctx context.Context, wh *domain.Webhook, m message, n int) (*domain.WebhookDelivery, time.Duration) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		return &domain.WebhookDelivery{}, 0
	}
	now := e.clock.Now()
	d := &domain.WebhookDelivery{
		WebhookID: wh.ID, EventID: m.id, EventType: domain.EventType(m.typ),
		EventPosition: m.position, Time: now, Attempt: n,
	}
	code, latency, respBody, retryAfter, err := e.post(ctx, wh, m, now)
	d.StatusCode, d.Latency, d.ResponseBody = code, latency, respBody
	switch {
	case err != nil:
		d.Error = err.Error()
	case code < 200 || code > 299:
		d.Error = fmt.Sprintf("the endpoint answered %d", code)
	default:
		d.Success = true
	}
	if d.Success {
		e.successes.Add(1)
	} else if ctx.Err() == nil {
		e.failures.Add(1)
	}
	return d, retryAfter
}

func (e *Engine) post(ctx context.Context, wh *domain.Webhook, m message, now time.Time) (code int, latency time.Duration, respBody string, retryAfter time.Duration, err error) {
	sig, err := Sign(wh.Secrets(now), m.id, now, m.body)
	if err != nil {
		return 0, 0, "", 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(m.body))
	if err != nil {
		return 0, 0, "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ProactiveChat-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, m.id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	start := time.Now() // latency on the real clock, whatever e.clock
	resp, err := e.client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			err = fmt.Errorf("no answer within %s", e.cfg.Timeout)
		}
		return 0, time.Since(start), "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	latency = time.Since(start)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return resp.StatusCode, latency, strings.ToValidUTF8(string(b), "\uFFFD"), retryAfter, nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(maxDelay/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Sign is the webhook-signature header of a message: one "v1,<base64>"
// signature per secret, space-separated.
func Sign(secrets []string, id string, t time.Time, payload []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("webhook secret: %w", err)
		}
		sig, err := wh.Sign(id, t, payload)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Ping sends a "webhook.ping" message to the endpoint now, once, and
// logs and returns the attempt.
func (e *Engine) Ping(ctx context.Context, id string) (*domain.WebhookDelivery, error) {
	wh, err := e.svc.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	var b [10]byte
	rand.Read(b[:])
	now := e.clock.Now()
	data, _ := json.Marshal(map[string]string{"webhookId": wh.ID})
	b2, _ := json.Marshal(body{Type: PingType, Timestamp: now.UTC().Format(time.RFC3339Nano), Data: data})
	return e.once(ctx, wh, message{id: "ping_" + hex.EncodeToString(b[:]), typ: PingType, body: b2})
}

// Redeliver sends an event of the log to the endpoint now, once, whatever
// its filter and cursor, and logs and returns the attempt.
func (e *Engine) Redeliver(ctx context.Context, id, eventID string) (*domain.WebhookDelivery, error) {
	wh, err := e.svc.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	ev, err := e.svc.EventByID(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return e.once(ctx, wh, eventMessage(ev))
}

func (e *Engine) once(ctx context.Context, wh *domain.Webhook, m message) (*domain.WebhookDelivery, error) {
	d, _ := e.attempt(ctx, wh, m, 1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.svc.RecordWebhookAttempt(ctx, d, 0, nil); err != nil {
		return nil, err
	}
	return d, nil
}
