package domain

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/url"
	"slices"
	"time"
)

// Webhook is an endpoint receiving the event log's events (Standard
// Webhooks v1). Its delivery state — the cursor in the log and the retry
// schedule of the event at its head — is stored with it, so a restart
// resumes where the last one stopped.
type Webhook struct {
	ID         string
	URL        string
	EventTypes []EventType
	SiteID     string
	Enabled    bool
	// DisabledReason says why the server disabled the endpoint.
	DisabledReason string
	// Secret signs deliveries ("whsec_…"); PreviousSecret also does until
	// PreviousSecretUntil, after a rotation.
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil time.Time
	CreateTime          time.Time

	// After is the position of the last event the endpoint is done with:
	// delivered, filtered out, or given up.
	After uint64
	// Attempts counts the failed attempts at the event at RetryPosition,
	// the first the endpoint receives after After; FirstFailure is the
	// first of them, NextAttempt when to try again.
	RetryPosition uint64
	Attempts      int
	FirstFailure  time.Time
	NextAttempt   time.Time
	LastDelivery  *WebhookDelivery
}

// RetryOf is the state of the retries of the event at position: zero
// unless the endpoint's failed attempts were at that event (one erased
// meanwhile leaves the next to start afresh).
func (w *Webhook) RetryOf(position uint64) (attempts int, first, next time.Time) {
	if w.Attempts == 0 || w.RetryPosition != position {
		return 0, time.Time{}, time.Time{}
	}
	return w.Attempts, w.FirstFailure, w.NextAttempt
}

// Filter selects the events the endpoint receives.
func (w *Webhook) Filter() EventFilter {
	return EventFilter{SiteID: w.SiteID, Types: w.EventTypes}
}

// Secrets are the secrets deliveries are signed with at now.
func (w *Webhook) Secrets(now time.Time) []string {
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretUntil) {
		return []string{w.Secret, w.PreviousSecret}
	}
	return []string{w.Secret}
}

// WebhookDelivery is one attempt to deliver an event.
type WebhookDelivery struct {
	WebhookID     string
	EventID       string
	EventType     EventType
	EventPosition uint64
	Time          time.Time
	Attempt       int
	StatusCode    int
	Latency       time.Duration
	Error         string
	Success       bool
	ResponseBody  string
	NextAttempt   time.Time
}

// WebhookSpec is what CreateWebhook and UpdateWebhook take.
type WebhookSpec struct {
	ID         string // UpdateWebhook only
	URL        string
	EventTypes []EventType
	SiteID     string
	Enabled    bool
	// StartAfter: CreateWebhook only.
	StartAfter uint64
}

// WebhookPolicy is what endpoints' URLs may be.
type WebhookPolicy struct {
	// AllowHTTP accepts http URLs besides https.
	AllowHTTP bool
	// AllowPrivate accepts hosts on loopback, private and link-local
	// addresses.
	AllowPrivate bool
}

// SecretOverlap is how long a rotated-out secret still signs deliveries.
const SecretOverlap = 24 * time.Hour

// webhooksTopic carries a hint (the webhook's id) when an endpoint is
// created, changed or deleted.
const webhooksTopic = "webhooks"

// SubscribeEventHints subscribes to the event log's commits: hints for a
// reader of the log to read on (the payloads are *Event).
func (s *Service) SubscribeEventHints() Subscription {
	return s.broker.SubscribeBuffer(eventsTopic, hintBuffer)
}

// SubscribeWebhookChanges subscribes to hints that endpoints changed.
func (s *Service) SubscribeWebhookChanges() Subscription {
	return s.broker.SubscribeBuffer(webhooksTopic, hintBuffer)
}

func newWebhookSecret() string {
	var b [24]byte
	rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// IsPrivateIP reports whether ip is one an endpoint must not reach
// without WebhookPolicy.AllowPrivate: loopback, private, link-local,
// unspecified, multicast or carrier-grade NAT.
func IsPrivateIP(ip net.IP) bool {
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
		if ip4[0] == 100 && ip4[1]&0xc0 == 64 { // 100.64.0.0/10
			return true
		}
		if ip4[0] == 0 { // this network
			return true
		}
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified()
}

func (p WebhookPolicy) checkURL(v *Violations, raw string) {
	if raw == "" {
		v.Add("url", "is required")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		v.Add("url", "is not an absolute URL")
	case u.Scheme != "https" && !(u.Scheme == "http" && p.AllowHTTP):
		if u.Scheme == "http" {
			v.Add("url", "must be https (the server does not allow http: -webhooks-allow-http)")
		} else {
			v.Add("url", "must be https")
		}
	case u.User != nil:
		v.Add("url", "must not carry credentials")
	case len(raw) > 2048:
		v.Add("url", "is longer than 2048 bytes")
	case !p.AllowPrivate:
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil && IsPrivateIP(ip) {
			v.Add("url", "is on a loopback, private or link-local address (the server does not allow it: -webhooks-allow-private)")
		} else if host == "localhost" || len(host) > 10 && host[len(host)-10:] == ".localhost" {
			v.Add("url", "is on a loopback address (the server does not allow it: -webhooks-allow-private)")
		}
	}
}

func (s *Service) checkWebhookSpec(v *Violations, spec WebhookSpec, paths []string) {
	all := paths == nil
	if all || slices.Contains(paths, "url") {
		s.webhookPolicy.checkURL(v, spec.URL)
	}
	if all || slices.Contains(paths, "event_types") {
		for _, t := range spec.EventTypes {
			if !t.Valid() {
				v.Add("event_types", "unknown event type %q", t)
				break
			}
		}
	}
}

// CreateWebhook registers an endpoint and returns it with its secret.
func (s *Service) CreateWebhook(ctx context.Context, spec WebhookSpec) (*Webhook, error) {
	var v Violations
	s.checkWebhookSpec(&v, spec, nil)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	w := &Webhook{
		ID: newID("wh"), URL: spec.URL, EventTypes: spec.EventTypes, SiteID: spec.SiteID,
		Enabled: spec.Enabled, Secret: newWebhookSecret(), CreateTime: now,
	}
	err := s.update(ctx, func(tx WriteTx) error {
		if spec.SiteID != "" {
			if _, err := tx.Site(spec.SiteID); err != nil {
				return err
			}
		}
		last := tx.LastEventPosition()
		if spec.StartAfter > last {
			return afterTheEnd(spec.StartAfter, last)
		}
		// The endpoint starts after its own webhook.created.
		if err := s.record(tx, Event{Type: EventWebhookCreated, WebhookID: w.ID}); err != nil {
			return err
		}
		w.After = tx.LastEventPosition()
		if spec.StartAfter != 0 {
			w.After = spec.StartAfter
		}
		return tx.PutWebhook(w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// GetWebhook returns an endpoint, with its secrets: callers showing it
// blank them.
func (s *Service) GetWebhook(ctx context.Context, id string) (w *Webhook, err error) {
	if id == "" {
		return nil, invalid("webhook_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		w, err = tx.Webhook(id)
		return err
	})
	return w, err
}

// ListWebhooks returns every endpoint, with their secrets.
func (s *Service) ListWebhooks(ctx context.Context) (ws []*Webhook, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		ws, err = tx.Webhooks()
		return err
	})
	return ws, err
}

var webhookUpdatePaths = []string{"url", "event_types", "site_id", "enabled"}

// UpdateWebhook changes the paths of an endpoint. A change of its filter
// or URL, or enabling it, restarts the retry schedule of the event at its
// head.
func (s *Service) UpdateWebhook(ctx context.Context, spec WebhookSpec, paths []string) (*Webhook, error) {
	var v Violations
	if spec.ID == "" {
		v.Add("webhook.id", "is required")
	}
	if len(paths) == 0 {
		v.Add("update_mask", "is required")
	}
	for _, p := range paths {
		if !slices.Contains(webhookUpdatePaths, p) {
			v.Add("update_mask", "unknown path %q (one of %v)", p, webhookUpdatePaths)
		}
	}
	s.checkWebhookSpec(&v, spec, append([]string{}, paths...))
	if err := v.Err(); err != nil {
		return nil, err
	}
	var w *Webhook
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if w, err = tx.Webhook(spec.ID); err != nil {
			return err
		}
		before := *w
		for _, p := range paths {
			switch p {
			case "url":
				w.URL = spec.URL
			case "event_types":
				w.EventTypes = spec.EventTypes
			case "site_id":
				if spec.SiteID != "" {
					if _, err := tx.Site(spec.SiteID); err != nil {
						return err
					}
				}
				w.SiteID = spec.SiteID
			case "enabled":
				if spec.Enabled {
					w.DisabledReason = ""
				}
				w.Enabled = spec.Enabled
			}
		}
		w.Attempts, w.FirstFailure, w.NextAttempt = 0, time.Time{}, time.Time{}
		if err := s.record(tx, Event{Type: EventWebhookUpdated, WebhookID: w.ID, Fields: webhookChangedFields(&before, w)}); err != nil {
			return err
		}
		return tx.PutWebhook(w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// DeleteWebhook deletes an endpoint and its delivery log.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	if id == "" {
		return invalid("webhook_id", "is required")
	}
	return s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Webhook(id); err != nil {
			return err
		}
		if err := tx.DeleteWebhook(id); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventWebhookDeleted, WebhookID: id})
	})
}

// RotateWebhookSecret makes a new secret; the old one goes on signing
// deliveries, besides the new, for SecretOverlap.
func (s *Service) RotateWebhookSecret(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", invalid("webhook_id", "is required")
	}
	secret := newWebhookSecret()
	err := s.update(ctx, func(tx WriteTx) error {
		w, err := tx.Webhook(id)
		if err != nil {
			return err
		}
		w.PreviousSecret, w.PreviousSecretUntil = w.Secret, s.clock.Now().Add(SecretOverlap)
		w.Secret = secret
		if err := tx.PutWebhook(w); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventWebhookSecretRotated, WebhookID: w.ID})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// ListWebhookDeliveries returns an endpoint's latest attempts, newest first.
func (s *Service) ListWebhookDeliveries(ctx context.Context, id string, pageSize int) (ds []*WebhookDelivery, err error) {
	var v Violations
	if id == "" {
		v.Add("webhook_id", "is required")
	}
	if pageSize < 0 || pageSize > MaxPageSize {
		v.Add("page_size", "must be between 1 and %d", MaxPageSize)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Webhook(id); err != nil {
			return err
		}
		ds, err = tx.WebhookDeliveries(id, pageSize)
		return err
	})
	return ds, err
}

// EventByID reads one event of the log.
func (s *Service) EventByID(ctx context.Context, id string) (*Event, error) {
	pos, ok := ParseEventID(id)
	if !ok {
		return nil, invalid("event_id", "is not an event id (evt_…)")
	}
	var ev *Event
	err := s.store.View(ctx, func(tx ReadTx) error {
		evs, err := tx.Events(pos-1, 1)
		if err != nil {
			return err
		}
		if len(evs) == 1 && evs[0].Position == pos {
			ev = evs[0]
			return nil
		}
		return Errorf(CodeNotFound, "event %q not found", id)
	})
	return ev, err
}

// ParseEventID is the position of the event id names.
func ParseEventID(id string) (uint64, bool) {
	if len(id) != 20 || id[:4] != "evt_" {
		return 0, false
	}
	var pos uint64
	for _, c := range id[4:] {
		switch {
		case c >= '0' && c <= '9':
			pos = pos<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			pos = pos<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return pos, pos > 0
}

// WebhookOutcome is what RecordWebhookAttempt stores of an attempt at the
// event after the endpoint's cursor, together with the delivery.
type WebhookOutcome struct {
	// Done moves the cursor to the event (delivered or given up);
	// otherwise the attempt counts and NextAttempt is when to retry.
	Done        bool
	NextAttempt time.Time
	// Disable disables the endpoint with this reason.
	Disable string
}

// RecordWebhookAttempt stores an attempt of the delivery engine: the
// delivery in the endpoint's log and, when the endpoint's cursor is still
// before d's event (and keep is true), the cursor's move. An attempt of a
// Redeliver or a Ping (keep false) only logs the delivery.
func (s *Service) RecordWebhookAttempt(ctx context.Context, d *WebhookDelivery, cursorAfter uint64, out *WebhookOutcome) error {
	return s.update(ctx, func(tx WriteTx) error {
		w, err := tx.Webhook(d.WebhookID)
		if ErrorCode(err) == CodeNotFound {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		w.LastDelivery = d
		if out != nil && w.After == cursorAfter {
			if out.Done {
				w.After = d.EventPosition
				w.Attempts, w.FirstFailure, w.NextAttempt = 0, time.Time{}, time.Time{}
			} else {
				if w.Attempts == 0 || w.RetryPosition != d.EventPosition {
					w.Attempts, w.FirstFailure, w.RetryPosition = 0, d.Time, d.EventPosition
				}
				w.Attempts++
				w.NextAttempt = out.NextAttempt
			}
			if out.Disable != "" {
				w.Enabled, w.DisabledReason = false, out.Disable
				if err := s.record(tx, Event{Type: EventWebhookUpdated, WebhookID: w.ID, Fields: []string{"enabled"}}); err != nil {
					return err
				}
			}
		}
		// The engine's bookkeeping: the cursor, the retry schedule and the
		// delivery log (a disabled endpoint recorded webhook.updated).
		return quiet(tx, "webhook delivery", func() error {
			if err := tx.PutWebhook(w); err != nil {
				return err
			}
			return tx.AppendWebhookDelivery(d)
		})
	})
}

// AdvanceWebhookCursor moves an endpoint's cursor from after to to, past
// events its filter skips.
func (s *Service) AdvanceWebhookCursor(ctx context.Context, id string, after, to uint64) error {
	return s.update(ctx, func(tx WriteTx) error {
		w, err := tx.Webhook(id)
		if ErrorCode(err) == CodeNotFound {
			return nil
		}
		if err != nil || w.After != after {
			return err
		}
		w.After = to
		return quiet(tx, "webhook cursor", func() error { return tx.PutWebhook(w) })
	})
}

// WebhookSender sends one message to an endpoint at once: the delivery
// engine (server/webhooks), set with SetWebhookSender.
type WebhookSender interface {
	Ping(ctx context.Context, webhookID string) (*WebhookDelivery, error)
	Redeliver(ctx context.Context, webhookID, eventID string) (*WebhookDelivery, error)
}

// SetWebhookSender sets what PingWebhook and RedeliverWebhookEvent use;
// call it before serving.
func (s *Service) SetWebhookSender(w WebhookSender) { s.webhookSender = w }

func (s *Service) sender() (WebhookSender, error) {
	if s.webhookSender == nil {
		return nil, Errorf(CodeFailedPrecondition, "this server does not deliver webhooks")
	}
	return s.webhookSender, nil
}

// PingWebhook sends a "webhook.ping" message to an endpoint now.
func (s *Service) PingWebhook(ctx context.Context, id string) (*WebhookDelivery, error) {
	if id == "" {
		return nil, invalid("webhook_id", "is required")
	}
	w, err := s.sender()
	if err != nil {
		return nil, err
	}
	return w.Ping(ctx, id)
}

// RedeliverWebhookEvent sends an event of the log to an endpoint again,
// now, once.
func (s *Service) RedeliverWebhookEvent(ctx context.Context, id, eventID string) (*WebhookDelivery, error) {
	var v Violations
	if id == "" {
		v.Add("webhook_id", "is required")
	}
	if _, ok := ParseEventID(eventID); !ok {
		v.Add("event_id", "is not an event id (evt_…)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	w, err := s.sender()
	if err != nil {
		return nil, err
	}
	return w.Redeliver(ctx, id, eventID)
}

// webhookChangedFields names the fields an admin may set that differ
// between two versions of an endpoint, for webhook.updated.
func webhookChangedFields(old, w *Webhook) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("url", old.URL != w.URL)
	add("event_types", !slices.Equal(old.EventTypes, w.EventTypes))
	add("site_id", old.SiteID != w.SiteID)
	add("enabled", old.Enabled != w.Enabled)
	return out
}
