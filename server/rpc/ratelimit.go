package rpc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/ratelimit"
)

// RateLimits are the per-client rate limits of the calls anyone on the
// internet can make. A zero Limit is no limit. A client address is an IPv4
// address or an IPv6 /64 (one subscriber's usual allocation).
type RateLimits struct {
	// SessionsPerAddr limits StartVisitorSession.
	SessionsPerAddr ratelimit.Limit
	// PageViewsPerAddr and PageViewsPerVisitor limit page views:
	// ReportPageView and WatchVisitor with a page_url.
	PageViewsPerAddr    ratelimit.Limit
	PageViewsPerVisitor ratelimit.Limit
	// ActivityPerVisitor limits ReportActivity: the widget reports at most
	// every 5 s (exit intent at once).
	ActivityPerVisitor ratelimit.Limit
	// SendsPerSender (by sender_id) and SendsPerAddr limit SendMessage and
	// Converse sends.
	SendsPerSender ratelimit.Limit
	SendsPerAddr   ratelimit.Limit
	// SignInsPerAddr and SignInsPerAgent limit AgentService.SignIn, so
	// passwords cannot be guessed at speed (each guess also costs an
	// Argon2id hash). SignInsPerAgent counts by agent_id, or by login
	// (any case) for sign-ins by login.
	SignInsPerAddr  ratelimit.Limit
	SignInsPerAgent ratelimit.Limit
	// LeaveMessagesPerAddr and LeaveMessagesPerVisitor limit
	// VisitorService.LeaveMessage: a person leaves a message or two, a
	// script would fill the agents' list.
	LeaveMessagesPerAddr    ratelimit.Limit
	LeaveMessagesPerVisitor ratelimit.Limit
	// Loopback limits clients on loopback addresses too. By default they
	// are exempt (local tools, the load generator); a reverse proxy on this
	// host is not: its X-Forwarded-For names the real client.
	Loopback bool
	// LocalProxy believes the X-Forwarded-For of peers on loopback: a
	// reverse proxy on this host names the real client there. On in the
	// defaults; off, a loopback peer is the client.
	LocalProxy bool
	// TrustedProxy, when set, names further peers whose X-Forwarded-For
	// is believed, as a proxy on loopback's is: a cluster's own nodes,
	// which forward their clients' calls to the leader (docs/cluster.md).
	// Its entries are skipped when X-Forwarded-For is walked, so a
	// client's address is what the first node it reached saw.
	TrustedProxy func(netip.Addr) bool
}

// DefaultRateLimits are generous for people (a page load is one session
// start and one page view; people do not type a message a second for
// long) and tight for scripts.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		SessionsPerAddr:     ratelimit.Per(30, time.Minute, 10),
		PageViewsPerAddr:    ratelimit.Per(120, time.Minute, 30),
		PageViewsPerVisitor: ratelimit.Per(60, time.Minute, 20),
		ActivityPerVisitor:  ratelimit.Per(30, time.Minute, 10),
		SendsPerSender:      ratelimit.Per(60, time.Minute, 20),
		SendsPerAddr:        ratelimit.Per(600, time.Minute, 100),
		SignInsPerAddr:      ratelimit.Per(20, time.Minute, 10),
		SignInsPerAgent:     ratelimit.Per(10, time.Minute, 5),
		// A retry of a message (same request_id) counts too: a person
		// does not retry ten times an hour.
		LeaveMessagesPerAddr:    ratelimit.Per(30, time.Hour, 10),
		LeaveMessagesPerVisitor: ratelimit.Per(10, time.Hour, 5),
		LocalProxy:              true,
	}
}

// rateLimiter is the interceptor enforcing RateLimits.
type rateLimiter struct {
	limits RateLimits
	// gatewayPeer is the peer address of calls from the REST gateway; their
	// client is the last X-Forwarded-For entry, which the gateway sets from
	// the REST request's remote address. Anyone else's X-Forwarded-For is
	// ignored: clients can write whatever they like in it.
	gatewayPeer string

	sessionsByAddr, pageViewsByAddr, pageViewsByVisitor, sendsBySender, sendsByAddr *ratelimit.Limiter
	signInsByAddr, signInsByAgent                                                   *ratelimit.Limiter
	leavesByAddr, leavesByVisitor                                                   *ratelimit.Limiter
	activityByVisitor                                                               *ratelimit.Limiter
}

// NewRateLimiter returns the interceptor enforcing limits, reading the time
// from now (time.Now if nil). Calls whose peer address is gatewayPeer come
// from the in-memory REST gateway.
func NewRateLimiter(limits RateLimits, now func() time.Time, gatewayPeer string) connect.Interceptor {
	l := func(lim ratelimit.Limit) *ratelimit.Limiter { return ratelimit.New(lim, now, 0) }
	return &rateLimiter{
		limits:             limits,
		gatewayPeer:        gatewayPeer,
		sessionsByAddr:     l(limits.SessionsPerAddr),
		pageViewsByAddr:    l(limits.PageViewsPerAddr),
		pageViewsByVisitor: l(limits.PageViewsPerVisitor),
		sendsBySender:      l(limits.SendsPerSender),
		sendsByAddr:        l(limits.SendsPerAddr),
		signInsByAddr:      l(limits.SignInsPerAddr),
		signInsByAgent:     l(limits.SignInsPerAgent),
		leavesByAddr:       l(limits.LeaveMessagesPerAddr),
		leavesByVisitor:    l(limits.LeaveMessagesPerVisitor),
		activityByVisitor:  l(limits.ActivityPerVisitor),
	}
}

// check is one rate limit to pass: a limiter, the key, and what it counts
// for the error message.
type check struct {
	lim  *ratelimit.Limiter
	key  string
	what string
}

// allow takes a token for every check, in order, and fails on the first
// that has none left. limited is false for exempt (loopback) clients.
func (r *rateLimiter) allow(limited bool, checks ...check) error {
	if !limited {
		return nil
	}
	for _, c := range checks {
		if c.key == "" {
			continue // the call is invalid and fails anyway
		}
		if ok, wait := c.lim.Allow(c.key); !ok {
			return rateLimitError(c.what, wait)
		}
	}
	return nil
}

func rateLimitError(what string, wait time.Duration) error {
	secs := (wait + time.Second - 1) / time.Second // whole seconds, rounded up
	err := connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("rate limit: too many %s; try again in %s", what, secs*time.Second))
	err.Meta().Set("Retry-After", fmt.Sprint(int64(secs)))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New((wait + time.Millisecond - 1).Truncate(time.Millisecond))}); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// client returns the key of a call's client address, and whether the call
// is subject to the limits at all. X-Forwarded-For is believed only from
// hops this host trusts: the in-memory REST gateway (which appends the REST
// request's remote address), with LocalProxy peers on loopback (a reverse
// proxy on this host), and the peers TrustedProxy names (the cluster's
// nodes). Walking it from the right, entries added by trusted hops are
// skipped; the first other entry is the client. A client's own
// X-Forwarded-For, sent from anywhere else, is ignored.
func (r *rateLimiter) client(peer string, header http.Header) (key string, limited bool) {
	host := peer
	trusted := r.gatewayPeer != "" && peer == r.gatewayPeer
	if h, _, err := net.SplitHostPort(peer); err == nil {
		host = h
		if a, err := netip.ParseAddr(h); err == nil && r.proxy(a) {
			trusted = true
		}
	}
	if trusted {
		entries := strings.Split(strings.Join(header.Values("X-Forwarded-For"), ","), ",")
		for i := len(entries) - 1; i >= 0; i-- {
			e := strings.TrimSpace(entries[i])
			if e == "" {
				continue
			}
			host = e
			if a, err := netip.ParseAddr(e); err != nil || !r.proxy(a) {
				break // the first hop that is not a trusted proxy: the client
			}
		}
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host, true // not an IP address: limited under whatever it is
	}
	addr = addr.Unmap()
	if addr.IsLoopback() && !r.limits.Loopback {
		return "", false
	}
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String(), true
	}
	return addr.String(), true
}

// proxy reports whether a peer at a is a proxy whose X-Forwarded-For is
// believed: one on loopback (with LocalProxy), or one TrustedProxy names.
func (r *rateLimiter) proxy(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() && r.limits.LocalProxy {
		return true
	}
	return r.limits.TrustedProxy != nil && r.limits.TrustedProxy(a)
}

func (r *rateLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		var err error
		switch msg := req.Any().(type) {
		case *pb.StartVisitorSessionRequest:
			addr, limited := r.client(req.Peer().Addr, req.Header())
			err = r.allow(limited, check{r.sessionsByAddr, addr, "session starts from your address"})
		case *pb.ReportPageViewRequest:
			err = r.pageView(req.Peer().Addr, req.Header(), msg.GetVisitorId())
		case *pb.IdentifyVisitorRequest:
			// A write the page makes when the visitor signs in: as rare
			// as a page view, and limited with them.
			err = r.pageView(req.Peer().Addr, req.Header(), msg.GetVisitorId())
		case *pb.ReportActivityRequest:
			_, limited := r.client(req.Peer().Addr, req.Header())
			err = r.allow(limited, check{r.activityByVisitor, msg.GetVisitorId(), "activity reports by " + msg.GetVisitorId()})
		case *pb.UpdateVisitorAttributesRequest:
			// Written by the page as a cart changes: limited with page views.
			err = r.pageView(req.Peer().Addr, req.Header(), msg.GetVisitorId())
		case *pb.RequestChatRequest:
			// The launcher: a click, rarer than page views and limited
			// with them (RespondToInvitation needs an invitation first).
			err = r.pageView(req.Peer().Addr, req.Header(), msg.GetVisitorId())
		case *pb.RateChatRequest:
			err = r.pageView(req.Peer().Addr, req.Header(), msg.GetVisitorId())
		case *pb.SendMessageRequest:
			err = r.send(req.Peer().Addr, req.Header(), msg.GetSenderId())
		case *pb.LeaveMessageRequest:
			addr, limited := r.client(req.Peer().Addr, req.Header())
			err = r.allow(limited,
				check{r.leavesByAddr, addr, "offline messages from your address"},
				check{r.leavesByVisitor, msg.GetVisitorId(), "offline messages from " + msg.GetVisitorId()})
		case *pb.SignInRequest:
			addr, limited := r.client(req.Peer().Addr, req.Header())
			who := msg.GetAgentId()
			if who == "" {
				// By login: limited per login, known or not, so the
				// limit says nothing of which logins exist.
				who = domain.LoginKey(msg.GetLogin())
			}
			err = r.allow(limited,
				check{r.signInsByAddr, addr, "sign-ins from your address"},
				check{r.signInsByAgent, who, "sign-ins as " + who})
		}
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (r *rateLimiter) pageView(peer string, header http.Header, visitorID string) error {
	addr, limited := r.client(peer, header)
	return r.allow(limited,
		check{r.pageViewsByAddr, addr, "page views from your address"},
		check{r.pageViewsByVisitor, visitorID, "page views by " + visitorID})
}

func (r *rateLimiter) send(peer string, header http.Header, senderID string) error {
	addr, limited := r.client(peer, header)
	return r.allow(limited,
		check{r.sendsByAddr, addr, "messages from your address"},
		check{r.sendsBySender, senderID, "messages from " + senderID})
}

func (r *rateLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler counts a WatchVisitor opened with a page_url as a
// page view, and each send on a Converse stream as a message. A Converse
// send over the limit ends the stream with ResourceExhausted.
func (r *rateLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	// The work is in limit, so that this frame stays small: it sits under
	// every stream's handler for as long as the stream is open.
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, r.limit(conn))
	}
}

// limit wraps the conn of the streams whose requests are limited. Not
// inlined: its locals would take room in the caller's frame.
//
//go:noinline
func (r *rateLimiter) limit(conn connect.StreamingHandlerConn) connect.StreamingHandlerConn {
	switch conn.Spec().Procedure {
	case proactivechatv1connect.VisitorServiceWatchVisitorProcedure,
		proactivechatv1connect.ChatServiceConverseProcedure:
		return &limitedConn{StreamingHandlerConn: conn, r: r}
	}
	return conn
}

// limitedConn checks each request message of a stream as it is received.
type limitedConn struct {
	connect.StreamingHandlerConn
	r *rateLimiter
	// participant is who joined a Converse stream.
	participant string
}

func (c *limitedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	peer, header := c.Peer().Addr, c.RequestHeader()
	switch m := msg.(type) {
	case *pb.WatchVisitorRequest:
		if m.GetPageUrl() != "" {
			return c.r.pageView(peer, header, m.GetVisitorId())
		}
	case *pb.ConverseRequest:
		if j := m.GetJoin(); j != nil && c.participant == "" {
			c.participant = j.GetParticipantId()
		}
		if m.GetSend() != nil {
			return c.r.send(peer, header, c.participant)
		}
	}
	return nil
}
