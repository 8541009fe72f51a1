// Package webhooks delivers the event log to webhook endpoints as Standard
// Webhooks (https://www.standardwebhooks.com/) v1: at least once, in
// order per endpoint, from each endpoint's durable cursor in the log.
//
// Each enabled endpoint has its own goroutine reading the log after its
// cursor, so a failing endpoint never delays the others (the HTTP calls in
// flight are bounded overall by Config.MaxInFlight). An endpoint's events
// go out strictly in log order: the event at its head is retried on the
// schedule below, and the endpoint's later events wait behind it. Its
// cursor moves, in its own transaction, only once the endpoint answered
// 2xx (or the event was given up), and the attempt count and next attempt
// time are stored with it: a restart, even after SIGKILL, resumes the
// schedule and sends again an event whose answer it did not record, with
// the same webhook-id.
//
// Retry schedule after a failed attempt (any answer but 2xx, a timeout, a
// refused connection): 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every
// 2 h, each delay drawn at random between half and all of it (jitter);
// a Retry-After answer (seconds or an HTTP date) replaces the delay, up to
// 2 h. Once an attempt fails 24 h or more after the event's first failed
// attempt, the event is given up (logged as such) and the endpoint moves
// on to its next event. An answer of 410 Gone disables the endpoint
// (disabled_reason says so) without moving its cursor: enabling it again
// resumes with that event.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Defaults of Config.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxInFlight = 16
	// maxResponseBody is how much of a response body is read and logged.
	maxResponseBody = 4 << 10
	// GiveUpAfter is how long an event is retried after its first failure.
	GiveUpAfter = 24 * time.Hour
	// maxDelay caps the schedule and Retry-After.
	maxDelay = 2 * time.Hour
	// PingType is the type of PingWebhook's event.
	PingType = "webhook.ping"
)

// Schedule is the delay after the nth failed attempt (Schedule[n-1]);
// past its end, the last one.
var Schedule = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour, maxDelay}

// Config is how the engine runs.
type Config struct {
	Service *domain.Service
	// Clock defaults to the system clock.
	Clock  domain.Clock
	Logger *slog.Logger
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses; without it the dialer refuses them, whatever the URL's
	// host resolves to at the time.
	AllowPrivate bool
	// Timeout bounds each request, answer included (DefaultTimeout when 0).
	Timeout time.Duration
	// MaxInFlight bounds the requests in flight over all endpoints.
	MaxInFlight int
	// Jitter returns a fraction in [0, 1) of the second half of each
	// delay to wait; nil is random. Tests make it 0.
	Jitter func() float64
}

// Engine delivers events to the endpoints.
type Engine struct {
	cfg    Config
	svc    *domain.Service
	clock  domain.Clock
	log    *slog.Logger
	client *http.Client
	sem    chan struct{}

	successes, failures atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ws     map[string]*worker
}

type worker struct {
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}
}

// New builds an engine; Start runs it.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Jitter == nil {
		cfg.Jitter = rand.Float64
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	transport := &http.Transport{
		// No proxy: it would reach the addresses the dialer refuses.
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Engine{
		cfg: cfg, svc: cfg.Service, clock: cfg.Clock, log: cfg.Logger,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// Redirects are not followed: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		sem: make(chan struct{}, cfg.MaxInFlight),
		ws:  map[string]*worker{},
	}
}

// errPrivate is the error of a connection refused by the dialer.
var errPrivate = errors.New("refused: the address is loopback, private or link-local (the server allows them with -webhooks-allow-private)")

// refusePrivate is the dialer's Control: it sees the address after name
// resolution, so a name resolving to an internal address is refused too.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || domain.IsPrivateIP(ip) {
		return fmt.Errorf("%s: %w", address, errPrivate)
	}
	return nil
}

// Counts are the attempts that succeeded and failed since start.
func (e *Engine) Counts() (success, failure uint64) {
	return e.successes.Load(), e.failures.Load()
}

// Start begins delivering, until Close.
func (e *Engine) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	sub := e.svc.SubscribeWebhookChanges()
	e.reconcile(ctx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { sub.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-sub.Events():
				if !ok { // cut off for being slow: hints lost
					sub.Close()
					sub = e.svc.SubscribeWebhookChanges()
				}
				e.reconcile(ctx)
			}
		}
	}()
}

// Close stops the engine and waits for its goroutines; an attempt in
// flight is cut off (and made again at the next start).
func (e *Engine) Close() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
}

// reconcile runs a worker for each enabled endpoint and wakes them to
// read their endpoint again.
func (e *Engine) reconcile(ctx context.Context) {
	ws, err := e.svc.ListWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("webhooks: list endpoints", "err", err)
		}
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	live := map[string]bool{}
	for _, wh := range ws {
		if !wh.Enabled {
			continue
		}
		live[wh.ID] = true
		if w, ok := e.ws[wh.ID]; ok {
			select {
			case <-w.done: // ended (disabled, then enabled again)
			default:
				select {
				case w.wake <- struct{}{}:
				default:
				}
				continue
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{})}
		e.ws[wh.ID] = w
		e.wg.Add(1)
		go func(id string) {
			defer e.wg.Done()
			defer close(w.done)
			e.run(wctx, id, w.wake)
		}(wh.ID)
	}
	for id, w := range e.ws {
		if !live[id] {
			w.cancel()
			delete(e.ws, id)
		}
	}
}

// run delivers one endpoint's events until it is disabled or deleted.
func (e *Engine) run(ctx context.Context, id string, wake <-chan struct{}) {
	hints := e.svc.SubscribeEventHints()
	defer func() { hints.Close() }()
	timer := make(chan struct{}, 1)
	var pending domain.Timer
	defer func() {
		if pending != nil {
			pending.Stop()
		}
	}()
	// wait returns when something may have changed: a new event, a change
	// of the endpoint, the timer; false when ctx ended.
	wait := func(d time.Duration) bool {
		if d > 0 {
			if pending != nil {
				pending.Stop()
			}
			pending = e.clock.AfterFunc(d, func() {
				select {
				case timer <- struct{}{}:
				default:
				}
			})
		}
		select {
		case <-ctx.Done():
			return false
		case <-wake:
		case <-timer:
		case _, ok := <-hints.Events():
			if !ok {
				hints.Close()
				hints = e.svc.SubscribeEventHints()
			}
		}
		return true
	}
	for ctx.Err() == nil {
		wh, err := e.svc.GetWebhook(ctx, id)
		if domain.ErrorCode(err) == domain.CodeNotFound || err == nil && !wh.Enabled {
			return
		}
		if err != nil {
			e.log.Error("webhooks: read endpoint", "webhook_id", id, "err", err)
			wait(5 * time.Second)
			continue
		}
		page, err := e.svc.ListEvents(ctx, wh.After, 1, wh.Filter())
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("webhooks: read the event log", "webhook_id", id, "err", err)
			}
			wait(5 * time.Second)
			continue
		}
		if len(page.Events) == 0 {
			if page.NextAfter > wh.After {
				// Past events the filter skips, so the next read starts
				// after them.
				if err := e.svc.AdvanceWebhookCursor(ctx, id, wh.After, page.NextAfter); err != nil && ctx.Err() == nil {
					e.log.Error("webhooks: move cursor", "webhook_id", id, "err", err)
				}
				continue
			}
			wait(0)
			continue
		}
		ev := page.Events[0]
		attempts, _, next := wh.RetryOf(ev.Position)
		if d := next.Sub(e.clock.Now()); d > 0 {
			wait(d)
			continue
		}
		d, retryAfter := e.attempt(ctx, wh, eventMessage(ev), attempts+1)
		if ctx.Err() != nil {
			return // cut off by Close: not an answer
		}
		out := e.outcome(wh, d, retryAfter)
		if err := e.svc.RecordWebhookAttempt(ctx, d, wh.After, out); err != nil && ctx.Err() == nil {
			e.log.Error("webhooks: record attempt", "webhook_id", id, "err", err)
			wait(5 * time.Second)
		}
	}
}

// outcome decides what an attempt at an endpoint's head event means for
// its cursor, and sets d.NextAttempt or d.Error accordingly.
func (e *Engine) outcome(wh *domain.Webhook, d *domain.WebhookDelivery, retryAfter time.Duration) *domain.WebhookOutcome {
	if d.Success {
		return &domain.WebhookOutcome{Done: true}
	}
	if d.StatusCode == http.StatusGone {
		return &domain.WebhookOutcome{Disable: fmt.Sprintf("the endpoint answered 410 Gone at %s", d.Time.UTC().Format(time.RFC3339))}
	}
	_, first, _ := wh.RetryOf(d.EventPosition)
	if first.IsZero() {
		first = d.Time
	}
	if d.Time.Sub(first) >= GiveUpAfter {
		d.Error += fmt.Sprintf(" (given up after %d attempts over %s)", d.Attempt, d.Time.Sub(first).Round(time.Minute))
		return &domain.WebhookOutcome{Done: true}
	}
	delay := Schedule[min(d.Attempt, len(Schedule))-1]
	delay = delay/2 + time.Duration(e.cfg.Jitter()*float64(delay/2))
	if retryAfter > 0 {
		delay = min(retryAfter, maxDelay)
	}
	d.NextAttempt = d.Time.Add(delay)
	return &domain.WebhookOutcome{NextAttempt: d.NextAttempt}
}
