package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
)

// TestNode_ForwardedRequestsEndWhenTheLeaderChanges: a leader that takes
// requests and never answers (paused with SIGSTOP, or cut off) would hold
// what followers forwarded to it until the proxy's pings give up on the
// connection. Once the follower reads that another node leads, what it
// forwarded to the old one ends at once with UNAVAILABLE, for the client
// to retry through the new leader.
func TestNode_ForwardedRequestsEndWhenTheLeaderChanges(t *testing.T) {
	arrived := make(chan struct{}, 1)
	hold := make(chan struct{})
	stuck := startPlainLeader(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	})
	defer close(hold)

	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	if !node.SetLeader("n2", strings.TrimPrefix(stuck.URL, "http://")) {
		t.Fatal("the first leader was not a change")
	}
	res := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		node.ServeHTTP(res, httptest.NewRequest(http.MethodGet, "/v1/sites", nil))
	}()
	select {
	case <-arrived:
	case <-time.After(converge):
		t.Fatal("the request was not forwarded to the leader")
	}
	if node.SetLeader("n2", strings.TrimPrefix(stuck.URL, "http://")) {
		t.Fatal("the same leader read again was a change")
	}
	node.SetLeader("n3", "127.0.0.1:9")
	select {
	case <-done:
	case <-time.After(converge):
		t.Fatal("the request forwarded to the old leader still waits for it")
	}
	if res.Code != http.StatusServiceUnavailable || res.Header().Get("Retry-After") == "" {
		t.Fatalf("answer %d (Retry-After %q), want 503 with Retry-After", res.Code, res.Header().Get("Retry-After"))
	}
}

// TestNode_AStreamCutOffFromTheLeaderEndsUnavailable: when the leader's
// connection breaks under a stream a follower proxies (the leader died),
// the client's stream ends as on one node that shuts down: UNAVAILABLE,
// in every protocol, for the client to resume elsewhere. The proxy used to
// abort it, which gRPC clients read as INTERNAL and do not retry. (The
// REST gateway's streams and the bidirectional Converse are proxied; the
// server streams of the other protocols are relayed, below.)
func TestNode_AStreamCutOffFromTheLeaderEndsUnavailable(t *testing.T) {
	follower, link := followerOfOneServer(t)
	forEachProtocol(t, func(t *testing.T, p protocol) {
		c := p.newClient(t, follower)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		var recv func() error
		if p.name == "REST" {
			s := openChatStream(t, ctx, c, chat.GetId(), 0)
			recvNext(t, s)
			recv = func() error { _, err := s.Recv(); return err }
		} else {
			cv, ok := c.(converser)
			if !ok {
				t.Skip("this client has no bidirectional streams")
			}
			conv := must[conversation](t, "Converse")(cv.Converse(ctx))
			t.Cleanup(conv.Close)
			join := &pb.ConverseRequest{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: w.agent.GetId()}}}
			if err := conv.Send(join); err != nil {
				t.Fatal(err)
			}
			for {
				m, err := conv.Recv()
				if err != nil {
					t.Fatalf("Converse: %v", err)
				}
				if m.GetResult().GetCommandId() == "join" {
					break
				}
			}
			recv = func() error { _, err := conv.Recv(); return err }
		}
		link.cut()
		for {
			if err := recv(); err != nil {
				wantCode(t, err, connect.CodeUnavailable)
				if !strings.Contains(errorMessage(err), "resume") {
					t.Errorf("the client is not told to resume: %v", err)
				}
				break
			}
		}
	})
}

// TestNode_ConsoleStreamsCarryOnWhenTheLeadersEndBreaks: a follower
// relays an agent's and an integration's streams too, and when the
// leader's end breaks it opens each again, and none ends: a chat's events,
// its notes and the event log go on after the last one passed on, once
// and in order; an agent's stream and a presence stream get the leader's
// snapshot again. Before, each ended UNAVAILABLE, and the console
// reconnected.
func TestNode_ConsoleStreamsCarryOnWhenTheLeadersEndBreaks(t *testing.T) {
	follower, link := followerOfOneServer(t)
	leader := &testServer{App: follower.App, url: "http://" + link.target, addr: link.target}
	forEachProtocol(t, func(t *testing.T, p protocol) {
		if p.name == "REST" {
			t.Skip("the gateway's streams are proxied, not relayed")
		}
		c := p.newClient(t, follower)
		direct := newConnectClient(t, leader) // writes while the link is down
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		addNote := func(text string) {
			t.Helper()
			must[*pb.AddNoteResponse](t, "AddNote")(direct.AddNote(ctx, &pb.AddNoteRequest{ChatId: chat.GetId(), AuthorId: w.agent.GetId(), Text: text}))
		}
		addNote("first note")
		send(t, ctx, direct, chat.GetId(), w.agent.GetId(), "before the break")

		chatS := openChatStream(t, ctx, c, chat.GetId(), 0)
		nextChat := chatEventsInOrder(t, chatS)
		nextChat("before the break")
		notesS := must[stream[pb.WatchNotesResponse]](t, "WatchNotes")(c.WatchNotes(ctx, &pb.WatchNotesRequest{ChatId: chat.GetId()}))
		t.Cleanup(notesS.Close)
		if n := recvUntil(t, notesS, func(m *pb.WatchNotesResponse) bool { return m.GetNote() != nil }).GetNote(); n.GetText() != "first note" {
			t.Fatalf("first note %v", n)
		}
		eventsS := must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(c.WatchEvents(ctx, &pb.WatchEventsRequest{SiteId: w.site.GetId()}))
		t.Cleanup(eventsS.Close)
		nextEvent := eventsInOrder(t, eventsS)
		nextEvent("before the break")
		agentS := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: w.agent.GetId()}))
		t.Cleanup(agentS.Close)
		recvUntil(t, agentS, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil })
		presenceS, _ := openPresenceStream(t, ctx, c, w.agent.GetId())

		link.cut()
		send(t, ctx, direct, chat.GetId(), w.agent.GetId(), "after the break")
		addNote("second note")
		nextChat("after the break")
		if n := recvUntil(t, notesS, func(m *pb.WatchNotesResponse) bool { return m.GetNote() != nil }).GetNote(); n.GetText() != "second note" || n.GetSeq() != 2 {
			t.Fatalf("after the break the notes' stream read %v, want the second note", n)
		}
		nextEvent("after the break")
		if a := recvUntil(t, agentS, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil }).GetSnapshot(); a.GetAgent().GetId() != w.agent.GetId() {
			t.Fatalf("the agent's stream opened again with %v", a)
		}
		snap := recvUntil(t, presenceS, func(m *pb.WatchPresenceResponse) bool { return m.GetSnapshot() != nil }).GetSnapshot()
		if len(snap.GetVisitors()) != 1 || snap.GetVisitors()[0].GetVisitorId() != w.visitor.GetId() {
			t.Fatalf("the presence stream opened again with %v, want the visitor", snap)
		}
		if link.accepted() < 2 {
			t.Fatalf("the relay did not connect to the leader again (%d connections)", link.accepted())
		}
		// A chat's stream ends when the chat has ended, and the relay
		// ends it too rather than open it again.
		must[*pb.LeaveChatResponse](t, "LeaveChat")(direct.LeaveChat(ctx, &pb.LeaveChatRequest{ChatId: chat.GetId(), ParticipantId: w.visitor.GetId()}))
		for {
			m, err := chatS.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the chat's stream, the chat ended: %v, want its end", err)
			}
			if m.GetChatEvent().GetEnded() != nil && m.GetChatEvent().GetChatId() != chat.GetId() {
				t.Fatalf("another chat's end: %v", m)
			}
		}
	})
}

// TestNode_AQuietRelayedStreamHasItsHeadersAtOnce: a stream with nothing
// to send yet (an event log read from its end) gets its headers through a
// follower as soon as the leader sends them, as from the leader itself,
// so that its client knows it is connected. A relay that waited for the
// first message left it waiting until the first keep-alive.
func TestNode_AQuietRelayedStreamHasItsHeadersAtOnce(t *testing.T) {
	follower, _ := followerOfOneServer(t)
	ctx := testContext(t)
	c := newConnectClient(t, follower)
	createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
	page := must[*pb.ListEventsResponse](t, "ListEvents")(c.ListEvents(ctx, &pb.ListEventsRequest{PageSize: 1000}))
	for _, opt := range []connect.ClientOption{connect.WithGRPC(), connect.WithGRPCWeb(), connect.WithProtoJSON()} {
		admin := proactivechatv1connect.NewAdminServiceClient(http2Client(t, nil), follower.url, opt)
		req := connect.NewRequest(&pb.WatchEventsRequest{After: page.GetNextAfter()})
		req.Header().Set("Authorization", "Bearer "+keyringOf(t, follower.App).admin)
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := admin.WatchEvents(sctx, req)
		if err != nil {
			t.Fatal(err)
		}
		h := s.ResponseHeader()
		if sctx.Err() != nil || h.Get("Content-Type") == "" {
			t.Errorf("no headers before the stream's first message (%v): %v", sctx.Err(), h)
		}
		cancel()
		s.Close()
	}
}

// TestNode_AWidgetStreamCarriesOnWhenTheLeadersEndBreaks: a follower
// relays its visitors' widget streams, and when the leader's end breaks it
// opens the stream again and goes on after the last chat event it passed
// on: the widget sees no error, and every event once, in order.
func TestNode_AWidgetStreamCarriesOnWhenTheLeadersEndBreaks(t *testing.T) {
	follower, link := followerOfOneServer(t)
	forEachProtocol(t, func(t *testing.T, p protocol) {
		if p.name == "REST" {
			t.Skip("the gateway's streams are proxied, not relayed")
		}
		c := p.newClient(t, follower)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		next := widgetEventsInOrder(t, w.visitorStream)
		next("")
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "before the break")
		next("before the break")
		link.cut()
		// The proxy may try the connection just cut: the send is retried.
		sendUntilAcked(t, ctx, c, chat.GetId(), w.agent.GetId(), "after the break")
		next("after the break")
		if link.accepted() < 2 {
			t.Fatalf("the relay did not connect to the leader again (%d connections)", link.accepted())
		}
	})
}

// TestNode_AWidgetStreamWaitsForALeaderWithKeepAlives: while no leader
// can be reached, a follower keeps its widgets' streams open with
// keep-alives (the widget reconnects after 45 s of silence), instead of
// sending every widget to reconnect and ask; once a leader answers, the
// stream goes on with nothing missed.
func TestNode_AWidgetStreamWaitsForALeaderWithKeepAlives(t *testing.T) {
	defer app.SetRelayKeepAlive(50 * time.Millisecond)()
	follower, link := followerOfOneServer(t)
	leader := &testServer{App: follower.App, url: "http://" + link.target, addr: link.target}
	c := newConnectClient(t, follower)
	ctx := testContext(t)
	w := newWorld(t, ctx, c, enabledWithoutInvite())
	chat := w.startChat(t, ctx, c)
	recvUntil(t, w.visitorStream, func(m *pb.WatchVisitorResponse) bool { return m.GetChatEvent() != nil })
	link.refuse(true)
	link.cut()
	for range 3 {
		m, err := w.visitorStream.Recv()
		if err != nil {
			t.Fatalf("the widget's stream ended while no leader answered: %v", err)
		}
		if m.GetKeepAlive() == nil {
			t.Fatalf("got %v while no leader answered, want keep-alives", m)
		}
	}
	// The agent writes on the leader itself meanwhile.
	send(t, ctx, newConnectClient(t, leader), chat.GetId(), w.agent.GetId(), "while you waited")
	link.refuse(false)
	ev := recvUntil(t, w.visitorStream, func(m *pb.WatchVisitorResponse) bool { return m.GetChatEvent() != nil }).GetChatEvent()
	if ev.GetSeq() != 2 || ev.GetMessage().GetText() != "while you waited" {
		t.Fatalf("after the wait the widget got %v, want the message at seq 2", ev)
	}
}

// followerOfOneServer is a node that forwards to a server of its own (as
// its leader) through link, which the test can cut. The clients sign as
// the server's own keys.
func followerOfOneServer(t *testing.T) (*testServer, *cutter) {
	t.Helper()
	leader, _ := newServer(t)
	link := newCutter(t, leader.addr)
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.SetLeader("n2", link.addr())
	return &testServer{App: leader.App, url: "http://" + node.Addr().String(), addr: node.Addr().String()}, link
}

// cutter passes TCP connections on to target until cut, which breaks
// every connection open then; later ones pass again.
type cutter struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	count   int          // connections accepted
	refused bool         // new connections are closed at once
	back    bytes.Buffer // what target sent back, on every connection
	grew    chan struct{}
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target, grew: make(chan struct{}, 1)}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			refused := c.refused
			c.mu.Unlock()
			if refused {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.count++
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(io.MultiWriter(c.recorder(), in), out); in.Close() }()
		}
	}()
	return c
}

// recorder writes what target sends back to c.back.
func (c *cutter) recorder() io.Writer { return (*cutterBack)(c) }

type cutterBack cutter

func (b *cutterBack) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.back.Write(p)
	b.mu.Unlock()
	select {
	case b.grew <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitSeen waits until s has come back from the target.
func (c *cutter) waitSeen(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		seen := bytes.Contains(c.back.Bytes(), []byte(s))
		c.mu.Unlock()
		if seen {
			return
		}
		select {
		case <-c.grew:
		case <-deadline:
			t.Fatalf("%q never came back through the link", s)
		}
	}
}

func (c *cutter) addr() string { return c.ln.Addr().String() }

// refuse closes the connections that come from now on (on), or lets them
// through again.
func (c *cutter) refuse(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused = on
}

func (c *cutter) accepted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// startPlainLeader serves handler over HTTP/1.1 and h2c, as a leader
// without TLS does, until the test ends.
func startPlainLeader(t testing.TB, handler http.HandlerFunc) *httptest.Server {
	s := httptest.NewUnstartedServer(handler)
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &protocols
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// openLoneNode starts a node named n1 whose NATS is nowhere: it never
// joins, so only the test says who leads (SetLeader), and it forwards
// every request there. cfg and cc are as the test wants them, but for the
// address, the file and NATS.
func openLoneNode(t testing.TB, cfg app.Config, cc app.ClusterConfig) *app.Node {
	t.Helper()
	cfg.Addr, cfg.DBPath = "127.0.0.1:0", filepath.Join(t.TempDir(), "n1.db")
	cc.Node, cc.NATSURL = "n1", "nats://127.0.0.1:1"
	node, err := app.OpenNode(cfg, cc)
	if err != nil {
		t.Fatal(err)
	}
	node.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		node.Shutdown(ctx)
	})
	return node
}

// TestNode_ForwardsToALeaderWithTLSOverHTTP2: a follower forwards to a
// leader that serves TLS (its lease address says https://) over TLS, with
// HTTP/2 negotiated by ALPN, its streams sharing one connection, and
// verifies the leader's certificate for the host of its advertised
// address: with the same certificate (for 127.0.0.1) advertised as
// localhost, the follower answers 503 with Retry-After.
func TestNode_ForwardsToALeaderWithTLSOverHTTP2(t *testing.T) {
	ca := newTestCA(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(ca.certFile, ca.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	type arrival struct {
		proto  string
		tls    bool
		remote string
	}
	const streams = 5
	arrived := make(chan arrival, streams)
	hold := make(chan struct{})
	leader := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- arrival{r.Proto, r.TLS != nil, r.RemoteAddr}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	leader.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	leader.EnableHTTP2 = true
	leader.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	leader.StartTLS()
	defer leader.Close()
	defer close(hold)

	logs := &syncBuffer{}
	node := openLoneNode(t, app.Config{Logger: testLogger(logs)}, app.ClusterConfig{TLSCAFile: ca.caFile})
	_, port, _ := net.SplitHostPort(leader.Listener.Addr().String())
	node.SetLeader("n2", "https://127.0.0.1:"+port)
	url := "http://" + node.Addr().String() + "/v1/sites"
	// Streams opened one after the other, each on its own client
	// connection (HTTP/1.1), held open by the leader.
	var first arrival
	for i := range streams {
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		res, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream %d through the follower: %d, want 200 from the leader", i, res.StatusCode)
		}
		a := <-arrived
		if i == 0 {
			first = a
		}
		if a.proto != "HTTP/2.0" || !a.tls || a.remote != first.remote {
			t.Fatalf("stream %d reached the leader over %s (TLS %v) from %s, want HTTP/2 over TLS on the first stream's connection (from %s)", i, a.proto, a.tls, a.remote, first.remote)
		}
	}

	node.SetLeader("n2", "https://localhost:"+port)
	for range 2 {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("through a follower to a leader whose certificate does not name its address: %d (Retry-After %q), want 503 with a Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	if n := strings.Count(logs.String(), "cannot verify its certificate"); n != 1 {
		t.Fatalf("logged the certificate error %d times for two requests, want once:\n%s", n, logs.String())
	}
}

// TestNode_WithTLSNeverForwardsInTheClear: a follower that serves TLS
// does not forward to a leader whose lease address says it serves
// without TLS (a cluster whose nodes do not all have -tls-cert): its
// clients' requests came over TLS and would cross the network in the
// clear. It answers 503 with Retry-After (UNAVAILABLE) and logs why once,
// although that leader would answer.
func TestNode_WithTLSNeverForwardsInTheClear(t *testing.T) {
	plain := startPlainLeader(t, func(w http.ResponseWriter, r *http.Request) {})

	ca := newTestCA(t, t.TempDir())
	logs := &syncBuffer{}
	node := openLoneNode(t, app.Config{TLSCertFile: ca.certFile, TLSKeyFile: ca.keyFile, Logger: testLogger(logs)},
		app.ClusterConfig{TLSCAFile: ca.caFile})
	node.SetLeader("n2", strings.TrimPrefix(plain.URL, "http://"))
	srv := &testServer{url: "https://" + node.Addr().String(), addr: node.Addr().String(), tls: ca.client()}
	wantUnavailable(t, srv, logs, "the leader serves without TLS")
}

// BenchmarkForwardToTheLeader times a small call through a follower to
// the leader over each kind of hop, with the clients' side the same
// (h2c to the follower): h2c to a leader without TLS, HTTP/2 over TLS to
// one with it. The leader answers at once, so the difference is the hop's
// cost; figures in bench/README.md, Cluster.
func BenchmarkForwardToTheLeader(b *testing.B) {
	ca := newTestCA(b, b.TempDir())
	cert, err := tls.LoadX509KeyPair(ca.certFile, ca.keyFile)
	if err != nil {
		b.Fatal(err)
	}
	answer := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"sites":[]}`) }
	plain := startPlainLeader(b, answer)
	secure := httptest.NewUnstartedServer(http.HandlerFunc(answer))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.EnableHTTP2 = true
	secure.StartTLS()
	b.Cleanup(secure.Close)
	for _, hop := range []struct{ name, leader string }{
		{"h2c", strings.TrimPrefix(plain.URL, "http://")},
		{"TLS", secure.URL},
	} {
		b.Run(hop.name, func(b *testing.B) {
			node := openLoneNode(b, app.Config{Logger: testLogger(&syncBuffer{})}, app.ClusterConfig{TLSCAFile: ca.caFile})
			node.SetLeader("n2", hop.leader)
			benchGets(b, h2cClient(b), "http://"+node.Addr().String()+"/v1/sites")
		})
	}
}

// widgetEventsInOrder returns next, which reads the widget's stream s
// until the chat event with text ("" for the chat's start), failing the
// test if the stream fails or an event is missed or repeated.
func widgetEventsInOrder(t *testing.T, s stream[pb.WatchVisitorResponse]) (next func(text string)) {
	return chatEventsOf(t, s, (*pb.WatchVisitorResponse).GetChatEvent)
}

// chatEventsInOrder is widgetEventsInOrder for a chat's stream.
func chatEventsInOrder(t *testing.T, s stream[pb.WatchChatResponse]) (next func(text string)) {
	return chatEventsOf(t, s, (*pb.WatchChatResponse).GetChatEvent)
}

func chatEventsOf[T any](t *testing.T, s stream[T], event func(*T) *pb.ChatEvent) (next func(text string)) {
	var last uint32
	return func(text string) {
		t.Helper()
		for {
			m, err := s.Recv()
			if err != nil {
				t.Fatalf("the stream failed: %v", err)
			}
			ev := event(m)
			if ev == nil {
				continue
			}
			if ev.GetSeq() != last+1 {
				t.Fatalf("event %d after %d: an event missed or repeated", ev.GetSeq(), last)
			}
			last = ev.GetSeq()
			if ev.GetMessage().GetText() == text {
				return
			}
		}
	}
}

// eventsInOrder returns next, which reads the event log's stream s until
// the chat message with text, failing the test if the stream fails or
// goes back (an event repeated).
func eventsInOrder(t *testing.T, s stream[pb.WatchEventsResponse]) (next func(text string)) {
	var last uint64
	return func(text string) {
		t.Helper()
		for {
			m, err := s.Recv()
			if err != nil {
				t.Fatalf("the event stream failed: %v", err)
			}
			ev := m.GetEvent()
			if ev == nil {
				continue
			}
			if ev.GetPosition() <= last {
				t.Fatalf("event at %d after %d: an event repeated", ev.GetPosition(), last)
			}
			last = ev.GetPosition()
			if ev.GetChatMessage().GetText() == text {
				return
			}
		}
	}
}

// benchGets GETs url with c in parallel, b.N times in all, each answer
// read whole and to be 200.
func benchGets(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %d", url, res.StatusCode)
				return
			}
		}
	})
}
