package app

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// A follower relays its visitors' widget streams (WatchVisitor, in the
// Connect, gRPC and gRPC-Web protocols) instead of proxying their bytes:
// it opens the stream at the leader itself and passes each message on.
// When the leader's end breaks (the leader died, or another node leads
// now), the follower opens it again at the next leader, resuming after
// the last chat event it passed on, and the widget's stream goes on as if
// nothing happened: no widget in the cluster reconnects but those of the
// node that died. Before, every stream went through the leader's
// connection, and a leader's death was a reconnect storm of every visitor
// in the cluster, each with its own handshakes and backoff.
//
// What the visitor sees across the change: the new leader's state first
// (what the widget shows after any reconnect), then the chat's events
// after the last one passed on, exactly once and in order (the resume
// contract of WatchVisitor). Typing indicators of the gap are lost, as on
// a reconnect. The streams it opens again report no page view: the page
// it was opened with may be stale (a single-page app reports later pages
// with ReportPageView), and the leader has the visitor's latest page.
//
// Only a stream that is up is kept: an error before its first message
// (no leader yet, a refused token) reaches the client as it is, as does
// any error but UNAVAILABLE later. REST streams (the gateway's) are
// proxied as before.

const (
	// relayReopenFor is how long a relayed stream waits for a leader to
	// open it again before it ends UNAVAILABLE, for the widget to resume
	// on its own. While it waits, the widget gets keep-alives: a cluster
	// electing a leader slowly under load is not made slower by every
	// widget of the cluster reconnecting to ask (seen: widgets told after
	// 30 s stormed a cluster whose JetStream was still electing).
	relayReopenFor = 5 * time.Minute

	// relayReopening bounds the streams a follower opens again at once,
	// so that a change of leader reaches the new one as a steady flow
	// rather than every stream of the node in one burst.
	relayReopening = 64
)

// relayKeepAlive is how often a waiting stream gets a keep-alive, well
// within the widget's 45 s of silence before it reconnects (a variable
// for the tests).
var relayKeepAlive = 15 * time.Second

// relayHeaderSkip are request headers a relay does not pass on: the
// protocol's own (the relay speaks gRPC to the leader), and hop-by-hop ones.
var relayHeaderSkip = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true, "Accept-Encoding": true,
	"Te": true, "Connection": true, "Keep-Alive": true, "Upgrade": true, "Trailer": true,
	"Transfer-Encoding": true, "Proxy-Connection": true, "Grpc-Timeout": true, "Grpc-Encoding": true,
	"Grpc-Accept-Encoding": true, "Connect-Protocol-Version": true, "Connect-Timeout-Ms": true,
	"Connect-Content-Encoding": true, "Connect-Accept-Encoding": true, "X-Grpc-Web": true, "X-User-Agent": true,
}

type visitorRelay struct {
	n        *Node
	handler  http.Handler
	httpc    *http.Client
	reopens  chan struct{}
	mu       sync.Mutex
	byLeader map[string]proactivechatv1connect.VisitorServiceClient
	// local serves the streams with the App of the request's context
	// (localAppKey), in process: this node's while it leads.
	local proactivechatv1connect.VisitorServiceClient
}

// localAppKey carries the App that serves a stream in process. The App
// comes with each stream, not with the client: a client holding it would
// keep a deposed leader's App in memory until the next term.
type localAppKey struct{}

// relayInProcess: a node that leads serves the streams it relays with its
// own App's handler, in process (inProcess). Off only in a benchmark that
// measures the way before it: through the node's own port.
var relayInProcess = true

// relayOwnWidgets: a node that leads relays its own widgets' streams
// in process too (Node.ServeHTTP). Off only in a measurement of what
// it costs.
var relayOwnWidgets = true

// relayKey carries what the relay needs of the client's HTTP request,
// which a Connect handler does not see.
type relayKey struct{}

type relayInfo struct {
	host   string // the client's Host: the leader tells same-origin requests by it
	remote string // the client's address, for X-Forwarded-For (or as RemoteAddr, in process)
}

func (n *Node) initRelay() {
	r := &visitorRelay{n: n, reopens: make(chan struct{}, relayReopening), byLeader: map[string]proactivechatv1connect.VisitorServiceClient{}}
	r.httpc = &http.Client{Transport: relayTransport{n.proxyTr}}
	// The Connect protocol, whose server streams end in the body (no
	// trailers to carry), uncompressed (nothing crosses a wire).
	r.local = proactivechatv1connect.NewVisitorServiceClient(&http.Client{Transport: inProcess{log: n.log,
		handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			req.Context().Value(localAppKey{}).(*App).server.Handler.ServeHTTP(w, req)
		})}}, "http://in-process", connect.WithAcceptCompression("gzip", nil, nil))
	r.handler = connect.NewServerStreamHandler(proactivechatv1connect.VisitorServiceWatchVisitorProcedure, r.watch,
		connect.WithReadMaxBytes(maxRequestBytes))
	n.relay = r
}

// relays reports whether r is a widget stream the relay serves.
func (r *visitorRelay) relays(req *http.Request) bool {
	if req.Method != http.MethodPost || req.URL.Path != proactivechatv1connect.VisitorServiceWatchVisitorProcedure {
		return false
	}
	switch framingOf(req.Header.Get("Content-Type")) {
	case framingGRPC, framingGRPCWeb, framingConnect:
		return true
	}
	return false
}

func (r *visitorRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The request is one small message: a client that sends it slowly
	// is not waited on.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(relayReadTimeout))
	info := relayInfo{host: req.Host, remote: req.RemoteAddr}
	r.handler.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), relayKey{}, info)))
}

// relayReadTimeout bounds how long a client may take to send its request.
const relayReadTimeout = 10 * time.Second

// relayTransport sets each relayed request's Host to the client's.
type relayTransport struct{ base http.RoundTripper }

func (t relayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if info, ok := req.Context().Value(relayKey{}).(relayInfo); ok && info.host != "" {
		req = req.Clone(req.Context())
		req.Host = info.host
	}
	return t.base.RoundTrip(req)
}

func (r *visitorRelay) client(addr string) proactivechatv1connect.VisitorServiceClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.byLeader[addr]
	if c == nil {
		if len(r.byLeader) > 16 {
			clear(r.byLeader) // leaders come and go; a few are enough
		}
		c = proactivechatv1connect.NewVisitorServiceClient(r.httpc, peerURL(addr).String(), connect.WithGRPC())
		r.byLeader[addr] = c
	}
	return c
}

// leader is where to open a stream now, and a context that ends when the
// leader changes: this node's App (a) while it leads, else the leader's
// address, "" when none is known.
func (r *visitorRelay) leader() (addr string, a *App, changed context.Context) {
	n := r.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.leader != nil && relayInProcess:
		return n.peer, n.leader, n.forwarding // this node: in process
	case n.leader != nil:
		return n.peer, nil, n.forwarding // through its own port
	case n.leaderAddr == n.peer:
		return "", nil, n.forwarding
	}
	return n.leaderAddr, nil, n.forwarding
}

func (r *visitorRelay) watch(ctx context.Context, req *connect.Request[pb.WatchVisitorRequest], out *connect.ServerStream[pb.WatchVisitorResponse]) error {
	info, _ := ctx.Value(relayKey{}).(relayInfo)
	up := proto.Clone(req.Msg).(*pb.WatchVisitorRequest)
	started := false // a message was passed on
	var brokeAt time.Time
	var pause time.Duration
	lastSent := time.Now() // when the client last got a message
	for {
		addr, local, changed := r.leader()
		var err error
		got := false
		if addr == "" {
			err = connect.NewError(connect.CodeUnavailable, errors.New("no leader is known yet"))
		} else {
			got, err = r.relayOnce(ctx, addr, local, changed, up, r.upstreamHeader(req.Header(), info, local != nil), out, !started, !brokeAt.IsZero())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var cerr *connect.Error
		if !errors.As(err, &cerr) {
			return err // the client's end failed
		}
		started = started || got
		if got {
			lastSent = time.Now()
		}
		if !started || !leaderEndBroke(cerr.Code()) || r.n.ctx.Err() != nil {
			return relayedError(cerr)
		}
		// The stream was up and the leader's end broke: open it again
		// at whoever leads next, after the last chat event passed on.
		// The pauses grow until a stream stays up for a while: a leader
		// that answers and then fails at once is not asked in a loop.
		now := time.Now()
		switch {
		case brokeAt.IsZero() || (got && now.Sub(brokeAt) > relayReopenFor):
			brokeAt, pause = now, 50*time.Millisecond
		case !got && now.Sub(brokeAt) > relayReopenFor:
			return relayedError(cerr)
		}
		up.PageUrl, up.PageTitle, up.PageReferrer = "", "", ""
		if now.Sub(lastSent) >= relayKeepAlive {
			if err := out.Send(&pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_KeepAlive{
				KeepAlive: &pb.KeepAlive{ServerTime: timestamppb.New(now)}}}); err != nil {
				return err
			}
			lastSent = now
		}
		t := time.NewTimer(pause/2 + rand.N(pause/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed.Done():
			t.Stop()
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// relayOnce opens the stream at addr, or in process at local (this node's
// App) when set, and passes its messages on until it ends, and reports
// whether it passed any on; a re-open (again) first takes one of the
// node's re-open slots. The error is the leader's (*connect.Error) or the
// client's. The first stream of a client (first) passes on the leader's
// CORS headers.
func (r *visitorRelay) relayOnce(ctx context.Context, addr string, local *App, changed context.Context, up *pb.WatchVisitorRequest,
	header http.Header, out *connect.ServerStream[pb.WatchVisitorResponse], first, again bool) (got bool, err error) {
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(changed, cancel)()
	holding := false
	if again {
		select {
		case r.reopens <- struct{}{}:
			holding = true
		case <-uctx.Done():
			return false, connect.NewError(connect.CodeUnavailable, errors.New("the leader changed"))
		}
	}
	release := func() {
		if holding {
			<-r.reopens
			holding = false
		}
	}
	defer release()
	creq := connect.NewRequest(up)
	for k, v := range header {
		creq.Header()[k] = v
	}
	var c proactivechatv1connect.VisitorServiceClient
	switch {
	case local != nil:
		c, uctx = r.local, context.WithValue(uctx, localAppKey{}, local)
	case r.n.inTheClear(addr):
		return false, connect.NewError(connect.CodeUnavailable, errors.New("the leader is not reachable"))
	default:
		c = r.client(addr)
	}
	s, err := c.WatchVisitor(uctx, creq)
	if err != nil {
		r.n.noteForwardError(addr, err)
		return false, unavailableIfCanceled(ctx, err)
	}
	defer s.Close()
	for s.Receive() {
		release()
		m := s.Msg()
		if first && !got {
			copyCORS(out.ResponseHeader(), s.ResponseHeader())
		}
		got = true
		if ev := m.GetChatEvent(); ev != nil {
			up.ResumeChatId, up.ResumeAfterSeq = ev.GetChatId(), ev.GetSeq()
		}
		if err := out.Send(m); err != nil {
			return got, err
		}
	}
	if err = s.Err(); err == nil {
		// The leader ends a widget's stream only with an error; one
		// that ended is to be opened again all the same.
		err = connect.NewError(connect.CodeUnavailable, errors.New("the leader ended the stream"))
	}
	return got, unavailableIfCanceled(ctx, err)
}

// leaderEndBroke tells the errors of a stream whose leader's end broke:
// UNAVAILABLE, and what a client reads from a connection that died in the
// middle of a message (INTERNAL, UNKNOWN). Any other error is the
// leader's answer, for the client.
func leaderEndBroke(code connect.Code) bool {
	return code == connect.CodeUnavailable || code == connect.CodeInternal || code == connect.CodeUnknown
}

// unavailableIfCanceled: a relayed stream canceled by a change of leader
// (not by its client) is UNAVAILABLE.
func unavailableIfCanceled(ctx context.Context, err error) error {
	if ctx.Err() == nil && connect.CodeOf(err) == connect.CodeCanceled {
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return err
}

// upstreamHeader is what the leader gets of the client's request headers:
// all but the protocol's own, with the client added to X-Forwarded-For as
// the proxy does, and the mark that it was forwarded once. Served in
// process (direct), the request is the client's own as it reached this
// node, its RemoteAddr the client's: nothing is added.
func (r *visitorRelay) upstreamHeader(in http.Header, info relayInfo, direct bool) http.Header {
	h := http.Header{}
	for k, v := range in {
		if !relayHeaderSkip[http.CanonicalHeaderKey(k)] {
			h[k] = v
		}
	}
	if direct {
		return h
	}
	if ip, _, err := net.SplitHostPort(info.remote); err == nil {
		if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	}
	h.Set(forwardedByHeader, r.n.cc.Node)
	return h
}

// copyCORS passes on the leader's CORS answer: the browser reads the
// stream only with it.
func copyCORS(dst, src http.Header) {
	for k, v := range src {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			dst[k] = v
		}
	}
}

// relayedError is the leader's error as the relay's own: its code,
// message, details and CORS headers, not its protocol's headers.
func relayedError(cerr *connect.Error) error {
	out := connect.NewError(cerr.Code(), errors.New(cerr.Message()))
	for _, d := range cerr.Details() {
		out.AddDetail(d)
	}
	copyCORS(out.Meta(), cerr.Meta())
	if ra := cerr.Meta().Get("Retry-After"); ra != "" {
		out.Meta().Set("Retry-After", ra)
	}
	return out
}
