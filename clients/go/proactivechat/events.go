package proactivechat

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// Events watches the event log after position after (0: from its start)
// and yields each event once, in position order. When the stream
// breaks or ends (the server restarted, the network failed, a proxy cut
// it), Events waits (see WithRetryWait) and calls WatchEvents again after
// the last position it yielded. It ends, yielding a last error, when ctx
// ends, when the server refuses the watch for good (e.g. UNAUTHENTICATED,
// PERMISSION_DENIED, INVALID_ARGUMENT: a cursor from another server), or
// when the retry wait returns an error. Breaking out of the loop ends it
// too. The client's credential must be an admin API key.
//
// Persist each event's position once handled: it is the after of the next
// run. With WithSite or WithTypes, a reconnect starts after the last event
// yielded, so the server skips the others again; none is missed.
func (c *Client) Events(ctx context.Context, after uint64, opts ...WatchOption) iter.Seq2[*pb.Event, error] {
	return watch(ctx, c.watchConnect, after, opts)
}

// Events is Client.Events over grpc-go.
func (c *GRPCClient) Events(ctx context.Context, after uint64, opts ...WatchOption) iter.Seq2[*pb.Event, error] {
	return watch(ctx, c.watchGRPC, after, opts)
}

// WatchOption configures Events.
type WatchOption func(*watchConfig)

type watchConfig struct {
	siteID string
	types  []string
	wait   func(ctx context.Context, attempt int, err error) error
}

// WithSite watches only the events of one site.
func WithSite(siteID string) WatchOption {
	return func(c *watchConfig) { c.siteID = siteID }
}

// WithTypes watches only events of these types, e.g. "chat.message".
func WithTypes(types ...string) WatchOption {
	return func(c *watchConfig) { c.types = append(c.types, types...) }
}

// WithRetryWait replaces how Events waits before reconnecting. wait gets
// the number of consecutive failed attempts (1 for the first retry) and
// the error that ended the last one (ErrStreamEnded, a transport error,
// or the server's); a non-nil result ends Events with that error.
// The default is Backoff(100*time.Millisecond, 30*time.Second). Tests use
// it to control reconnection; applications may log from it.
func WithRetryWait(wait func(ctx context.Context, attempt int, err error) error) WatchOption {
	return func(c *watchConfig) { c.wait = wait }
}

// Backoff returns a retry wait for WithRetryWait: exponential from base,
// doubling per attempt, capped at limit, with jitter (between half and all
// of it), and at least the RetryAfter the server asked for. It returns
// ctx's error if ctx ends first.
func Backoff(base, limit time.Duration) func(ctx context.Context, attempt int, err error) error {
	return func(ctx context.Context, attempt int, err error) error {
		d := base
		for i := 1; i < attempt && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
		d = d/2 + rand.N(d/2+1)
		if e, ok := AsError(err); ok && e.RetryAfter > d {
			d = e.RetryAfter
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ErrStreamEnded is the error a retry wait gets when the server ended the
// stream without an error (e.g. on shutdown).
var ErrStreamEnded = errors.New("proactivechat: event stream ended")

// eventStream is one WatchEvents call of either transport.
type eventStream interface {
	// recv returns the next message, ErrStreamEnded at a clean end.
	recv() (*pb.WatchEventsResponse, error)
	close()
}

type openFunc func(ctx context.Context, req *pb.WatchEventsRequest) (eventStream, error)

// errStopped: the consumer broke out of the loop.
var errStopped = errors.New("stopped")

func watch(ctx context.Context, open openFunc, after uint64, opts []WatchOption) iter.Seq2[*pb.Event, error] {
	cfg := watchConfig{wait: Backoff(100*time.Millisecond, 30*time.Second)}
	for _, o := range opts {
		o(&cfg)
	}
	return func(yield func(*pb.Event, error) bool) {
		cursor := after
		failures := 0
		for {
			err := func() error {
				s, err := open(ctx, &pb.WatchEventsRequest{After: cursor, SiteId: cfg.siteID, Types: cfg.types})
				if err != nil {
					return err
				}
				defer s.close()
				for {
					m, err := s.recv()
					if err != nil {
						return err
					}
					failures = 0
					ev := m.GetEvent()
					if ev == nil || ev.GetPosition() <= cursor {
						continue // a keep-alive; or, defensively, an event already yielded
					}
					cursor = ev.GetPosition()
					if !yield(ev, nil) {
						return errStopped
					}
				}
			}()
			if errors.Is(err, errStopped) {
				return
			}
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
			if !retryable(err) {
				yield(nil, err)
				return
			}
			failures++
			if werr := cfg.wait(ctx, failures, err); werr != nil {
				yield(nil, werr)
				return
			}
		}
	}
}

// retryable reports whether a watch that ended with err is worth calling
// again: a clean end, a transport failure or a passing condition; not a
// request the server will refuse again.
func retryable(err error) bool {
	if errors.Is(err, ErrStreamEnded) {
		return true
	}
	e, ok := AsError(err)
	if !ok {
		return true // a transport error without a code
	}
	switch e.Code {
	case connect.CodeInvalidArgument, connect.CodePermissionDenied, connect.CodeUnauthenticated,
		connect.CodeNotFound, connect.CodeFailedPrecondition, connect.CodeUnimplemented,
		connect.CodeOutOfRange, connect.CodeAlreadyExists:
		return false
	}
	return true
}
