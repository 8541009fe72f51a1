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

// A follower relays the API's server streams (WatchVisitor, WatchAgent,
// WatchPresence, WatchChat, WatchNotes, WatchEvents, in the Connect, gRPC
// and gRPC-Web protocols) instead of proxying their bytes: it opens the
// stream at the leader itself and passes each message on. When the
// leader's end breaks (the leader died, or another node leads now), the
// follower opens it again at the next leader, resuming after the last
// message it passed on, and the client's stream goes on as if nothing
// happened: no widget, console or integration in the cluster reconnects
// but those of the node that died. Before, every stream went through the
// leader's connection, and a leader's death was a reconnect storm of every
// visitor in the cluster, each with its own handshakes and backoff.
//
// What a client sees across the change depends on its stream's resume
// contract (relaySpec): a widget gets the new leader's state first (what
// it shows after any reconnect), then the chat's events after the last
// one passed on; a chat's events, notes and the event log go on after the
// last sequence or position passed on, exactly once and in order; an
// agent's stream and a presence stream get the new leader's snapshot
// again, which replaces what they showed (as on a reconnect). Typing
// indicators and whispers of the gap are lost, as on a reconnect. The
// widget streams opened again report no page view: the page it was opened
// with may be stale (a single-page app reports later pages with
// ReportPageView), and the leader has the visitor's latest page.
//
// Only a stream that is up is kept: an error before the leader began it
// (no leader yet, a refused token) reaches the client as it is, as does
// any error but a broken leader's end later. REST streams (the gateway's)
// and the bidirectional Converse are proxied as before.

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

// streamRelay is what the node's relayed streams share: the way to the
// leader, the bound on re-opens, and one handler per relayed procedure.
type streamRelay struct {
	n       *Node
	httpc   *http.Client // to the leader, over the proxy's connections
	localc  *http.Client // to this node's App, in process (localAppKey)
	reopens chan struct{}
	kinds   map[string]http.Handler // by procedure
}

// relayedKind is one procedure the node relays, and what the relay knows
// of its messages.
type relayedKind[Req, Res any] struct {
	r         *streamRelay
	procedure string
	spec      relaySpec[Req, Res]
	mu        sync.Mutex
	byLeader  map[string]*connect.Client[Req, Res]
	// local serves the streams with the App of the request's context
	// (localAppKey), in process: this node's while it leads.
	local *connect.Client[Req, Res]
}

// relaySpec says how a stream of one procedure resumes.
type relaySpec[Req, Res any] struct {
	// resume moves the request past m, so that the stream opened again
	// starts after it (a cursor: a chat's sequence, an event's position).
	// Nil for a stream that starts again with a snapshot of its state.
	resume func(up *Req, m *Res)
	// reopen clears what the request asks only once (a widget's page view).
	reopen    func(up *Req)
	keepAlive func(*pb.KeepAlive) *Res
	// endsWhenDone: the leader ends the stream without an error only
	// when it is over (a chat's stream, after the chat ended); others end
	// only with an error, and one that ended is opened again.
	endsWhenDone bool
	// replica: a follower serves the stream from its own file when it
	// can (replica.go), and opens it at the leader otherwise.
	replica bool
}

// localAppKey carries what serves a stream in process (a localTarget).
// It comes with each stream, not with the client: a client holding it
// would keep a deposed leader's App in memory until the next term.
type localAppKey struct{}

// localTarget serves streams in process: this node's App while it leads,
// or its replica while it follows (replica.go).
type localTarget interface {
	serveLocal(w http.ResponseWriter, req *http.Request)
}

func (a *App) serveLocal(w http.ResponseWriter, req *http.Request) {
	a.server.Handler.ServeHTTP(w, req)
}

// relayInProcess: a node that leads serves the streams it relays with its
// own App's handler, in process (inProcess). Off only in a benchmark that
// measures the way before it: through the node's own port.
var relayInProcess = true

// relayOwnStreams: a node that leads relays its own clients' streams
// in process too (Node.ServeHTTP). Off only in a measurement of what
// it costs.
var relayOwnStreams = true

// relayKey carries what the relay needs of the client's HTTP request,
// which a Connect handler does not see.
type relayKey struct{}

type relayInfo struct {
	host   string // the client's Host: the leader tells same-origin requests by it
	remote string // the client's address, for X-Forwarded-For (or as RemoteAddr, in process)
}

func (n *Node) initRelay() {
	r := &streamRelay{n: n, reopens: make(chan struct{}, relayReopening), kinds: map[string]http.Handler{}}
	r.httpc = &http.Client{Transport: relayTransport{n.proxyTr}}
	r.localc = &http.Client{Transport: inProcess{log: n.log,
		handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			req.Context().Value(localAppKey{}).(localTarget).serveLocal(w, req)
		})}}
	relay(r, proactivechatv1connect.VisitorServiceWatchVisitorProcedure, relaySpec[pb.WatchVisitorRequest, pb.WatchVisitorResponse]{
		resume: func(up *pb.WatchVisitorRequest, m *pb.WatchVisitorResponse) {
			if ev := m.GetChatEvent(); ev != nil {
				up.ResumeChatId, up.ResumeAfterSeq = ev.GetChatId(), ev.GetSeq()
			}
		},
		reopen: func(up *pb.WatchVisitorRequest) { up.PageUrl, up.PageTitle, up.PageReferrer = "", "", "" },
		keepAlive: func(k *pb.KeepAlive) *pb.WatchVisitorResponse {
			return &pb.WatchVisitorResponse{Event: &pb.WatchVisitorResponse_KeepAlive{KeepAlive: k}}
		},
	})
	relay(r, proactivechatv1connect.ChatServiceWatchChatProcedure, relaySpec[pb.WatchChatRequest, pb.WatchChatResponse]{
		resume: func(up *pb.WatchChatRequest, m *pb.WatchChatResponse) {
			if ev := m.GetChatEvent(); ev != nil {
				up.AfterSeq = ev.GetSeq()
			}
		},
		keepAlive: func(k *pb.KeepAlive) *pb.WatchChatResponse {
			return &pb.WatchChatResponse{Event: &pb.WatchChatResponse_KeepAlive{KeepAlive: k}}
		},
		endsWhenDone: true,
	})
	relay(r, proactivechatv1connect.ChatServiceWatchNotesProcedure, relaySpec[pb.WatchNotesRequest, pb.WatchNotesResponse]{
		resume: func(up *pb.WatchNotesRequest, m *pb.WatchNotesResponse) {
			if note := m.GetNote(); note != nil {
				up.AfterSeq = note.GetSeq()
			}
		},
		keepAlive: func(k *pb.KeepAlive) *pb.WatchNotesResponse {
			return &pb.WatchNotesResponse{Event: &pb.WatchNotesResponse_KeepAlive{KeepAlive: k}}
		},
	})
	relay(r, proactivechatv1connect.AdminServiceWatchEventsProcedure, relaySpec[pb.WatchEventsRequest, pb.WatchEventsResponse]{
		resume: func(up *pb.WatchEventsRequest, m *pb.WatchEventsResponse) {
			if ev := m.GetEvent(); ev != nil {
				up.After = ev.GetPosition()
			}
		},
		replica: true,
		keepAlive: func(k *pb.KeepAlive) *pb.WatchEventsResponse {
			return &pb.WatchEventsResponse{Item: &pb.WatchEventsResponse_KeepAlive{KeepAlive: k}}
		},
	})
	// An agent's streams start with a snapshot of what they show, and
	// start again with the new leader's.
	relay(r, proactivechatv1connect.AgentServiceWatchAgentProcedure, relaySpec[pb.WatchAgentRequest, pb.WatchAgentResponse]{
		keepAlive: func(k *pb.KeepAlive) *pb.WatchAgentResponse {
			return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_KeepAlive{KeepAlive: k}}
		},
	})
	relay(r, proactivechatv1connect.AgentServiceWatchPresenceProcedure, relaySpec[pb.WatchPresenceRequest, pb.WatchPresenceResponse]{
		keepAlive: func(k *pb.KeepAlive) *pb.WatchPresenceResponse {
			return &pb.WatchPresenceResponse{Event: &pb.WatchPresenceResponse_KeepAlive{KeepAlive: k}}
		},
	})
	n.relay = r
}

// relay adds procedure to the streams r relays.
func relay[Req, Res any](r *streamRelay, procedure string, spec relaySpec[Req, Res]) {
	k := &relayedKind[Req, Res]{r: r, procedure: procedure, spec: spec, byLeader: map[string]*connect.Client[Req, Res]{}}
	// The Connect protocol, whose server streams end in the body (no
	// trailers to carry), uncompressed (nothing crosses a wire).
	k.local = connect.NewClient[Req, Res](r.localc, "http://in-process"+procedure, connect.WithAcceptCompression("gzip", nil, nil))
	r.kinds[procedure] = connect.NewServerStreamHandler(procedure, k.watch, connect.WithReadMaxBytes(maxRequestBytes))
}

// relays reports whether r is a stream the relay serves: a server stream
// of the API in the Connect, gRPC or gRPC-Web protocol. The REST
// gateway's streams, and the bidirectional Converse, are proxied.
func (r *streamRelay) relays(req *http.Request) bool {
	if req.Method != http.MethodPost || r.kinds[req.URL.Path] == nil {
		return false
	}
	switch framingOf(req.Header.Get("Content-Type")) {
	case framingGRPC, framingGRPCWeb, framingConnect:
		return true
	}
	return false
}

func (r *streamRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := r.kinds[req.URL.Path]
	if h == nil {
		http.NotFound(w, req)
		return
	}
	// The request is one small message: a client that sends it slowly
	// is not waited on.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(relayReadTimeout))
	info := relayInfo{host: req.Host, remote: req.RemoteAddr}
	h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), relayKey{}, info)))
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

func (k *relayedKind[Req, Res]) client(addr string) *connect.Client[Req, Res] {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.byLeader[addr]
	if c == nil {
		if len(k.byLeader) > 16 {
			clear(k.byLeader) // leaders come and go; a few are enough
		}
		c = connect.NewClient[Req, Res](k.r.httpc, peerURL(addr).String()+k.procedure, connect.WithGRPC())
		k.byLeader[addr] = c
	}
	return c
}

// leader is where to open a stream now, and a context that ends when the
// leader changes: this node's App (local) while it leads, else the
// leader's address, "" when none is known.
func (r *streamRelay) leader() (addr string, local localTarget, changed context.Context) {
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

func (k *relayedKind[Req, Res]) watch(ctx context.Context, req *connect.Request[Req], out *connect.ServerStream[Res]) error {
	r := k.r
	info, _ := ctx.Value(relayKey{}).(relayInfo)
	up := any(proto.Clone(any(req.Msg).(proto.Message))).(*Req)
	started := false // the stream was up: its headers or a message passed on
	var brokeAt time.Time
	var pause time.Duration
	lastSent := time.Now() // when the client last got a message
	for {
		addr, local, changed := r.leader()
		if k.spec.replica && local == nil && !crossOrigin(req.Header().Get("Origin"), info.host) {
			if rep := r.n.readyReplica(ctx); rep != nil {
				addr, local, changed = r.n.peer, rep, rep.ctx
				r.n.servedFromFile.Add(1)
			}
		}
		var err error
		var o relayOpen
		if addr == "" {
			err = connect.NewError(connect.CodeUnavailable, errors.New("no leader is known yet"))
		} else {
			o, err = k.relayOnce(ctx, addr, local, changed, up, r.upstreamHeader(req.Header(), info, local != nil), out, started, !brokeAt.IsZero())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return nil // the leader ended the stream: it is over
		}
		var cerr *connect.Error
		if !errors.As(err, &cerr) {
			return err // the client's end failed
		}
		started = started || o.up
		if o.sent {
			lastSent = time.Now()
		}
		if !started || !leaderEndBroke(cerr.Code()) || r.n.ctx.Err() != nil {
			return relayedError(cerr)
		}
		// The stream was up and the leader's end broke: open it again
		// at whoever leads next, after the last message passed on.
		// The pauses grow until a stream stays up for a while (passes a
		// message on; the leader's keep-alives count): a leader that answers
		// and then fails at once is not asked in a loop, and one that only
		// does that for 5 minutes has the client's stream end.
		now := time.Now()
		switch {
		case brokeAt.IsZero() || (o.sent && now.Sub(brokeAt) > relayReopenFor):
			brokeAt, pause = now, 50*time.Millisecond
		case !o.sent && now.Sub(brokeAt) > relayReopenFor:
			return relayedError(cerr)
		}
		if k.spec.reopen != nil {
			k.spec.reopen(up)
		}
		if now.Sub(lastSent) >= relayKeepAlive {
			if err := out.Send(k.spec.keepAlive(&pb.KeepAlive{ServerTime: timestamppb.New(now)})); err != nil {
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

// relayOpen is what one opening of a stream at a leader did.
type relayOpen struct {
	up   bool // the leader's stream was up: its headers came, or a message
	sent bool // a message was passed on
}

// relayOnce opens the stream at addr, or in process at local (this node's
// App) when set, and passes its messages on until it ends. A re-open
// (again) first takes one of the node's re-open slots. The error is the
// leader's (*connect.Error), the client's, or nil when the leader ended a
// stream that ends when done. Until the client has its headers (started),
// the leader's headers are passed on as they come, with its CORS answer:
// a client of a quiet stream knows at once that it is connected.
func (k *relayedKind[Req, Res]) relayOnce(ctx context.Context, addr string, local localTarget, changed context.Context, up *Req,
	header http.Header, out *connect.ServerStream[Res], started, again bool) (o relayOpen, err error) {
	r := k.r
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(changed, cancel)()
	holding := false
	if again {
		select {
		case r.reopens <- struct{}{}:
			holding = true
		case <-uctx.Done():
			return o, connect.NewError(connect.CodeUnavailable, errors.New("the leader changed"))
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
	var c *connect.Client[Req, Res]
	switch {
	case local != nil:
		c, uctx = k.local, context.WithValue(uctx, localAppKey{}, local)
	case r.n.inTheClear(addr):
		return o, connect.NewError(connect.CodeUnavailable, errors.New("the leader is not reachable"))
	default:
		c = k.client(addr)
	}
	s, err := c.CallServerStream(uctx, creq)
	if err != nil {
		r.n.noteForwardError(addr, err)
		return o, unavailableIfCanceled(ctx, err)
	}
	defer s.Close()
	if streamHeaders(s.ResponseHeader(), local != nil) {
		release()
		o.up = true
		if !started {
			copyCORS(out.ResponseHeader(), s.ResponseHeader())
			if err := out.Send(nil); err != nil {
				return o, err
			}
		}
	}
	for s.Receive() {
		release()
		m := s.Msg()
		if !started && !o.up {
			copyCORS(out.ResponseHeader(), s.ResponseHeader())
		}
		o.up, o.sent = true, true
		if k.spec.resume != nil {
			k.spec.resume(up, m)
		}
		if err := out.Send(m); err != nil {
			return o, err
		}
	}
	if err = s.Err(); err == nil {
		if k.spec.endsWhenDone {
			return o, nil
		}
		err = connect.NewError(connect.CodeUnavailable, errors.New("the leader ended the stream"))
	}
	return o, unavailableIfCanceled(ctx, err)
}

// streamHeaders tells the headers of a stream the leader's handler took
// on from a refusal that never reached one: a node that is not the leader
// answers a plain 503, and a gRPC server other than connect-go may put an
// error with no message all in its headers (grpc-status). The leader's
// own handlers (connect-go) send their headers, then any error in the
// trailers or at the body's end, in every protocol: an error after
// them is the handler's, whether or not it sent its own headers first.
func streamHeaders(h http.Header, local bool) bool {
	ct := h.Get("Content-Type")
	if local {
		return strings.HasPrefix(ct, "application/connect+")
	}
	return strings.HasPrefix(ct, "application/grpc") && h.Get("Grpc-Status") == ""
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
func (r *streamRelay) upstreamHeader(in http.Header, info relayInfo, direct bool) http.Header {
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
