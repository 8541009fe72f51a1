package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/ratelimit"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// TestNode_ARelayedWidgetStreamIsServedInProcessOnceTheNodeLeads: a
// follower relays a widget's stream to the leader; once the follower
// leads itself, it opens the stream again with its own App's handler, in
// process, not through its own port (which cost it a second HTTP/2
// stream per widget for as long as the widget stayed); once it no longer
// leads, the stream is opened at the next leader again. The widget sees no
// error, and every event once, in order.
func TestNode_ARelayedWidgetStreamIsServedInProcessOnceTheNodeLeads(t *testing.T) {
	leader, _ := newServer(t)
	link := newCutter(t, leader.addr)
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.SetLeader("n2", link.addr())
	srv := &testServer{App: leader.App, url: "http://" + node.Addr().String(), addr: node.Addr().String()}
	forEachProtocol(t, func(t *testing.T, p protocol) {
		if p.name == "REST" {
			t.Skip("the gateway's streams are proxied, not relayed")
		}
		c := p.newClient(t, srv)
		ctx := testContext(t)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		next := widgetEventsInOrder(t, w.visitorStream)
		next("")
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "relayed to the leader")
		next("relayed to the leader")
		selfBefore := node.SelfForwarded()

		// The old leader's end breaks, and cannot be opened again there;
		// then the node leads: the relay opens the stream again, here.
		link.refuse(true)
		link.cut()
		depose := node.LeadWith(leader.App)
		deposed := false
		defer func() {
			if !deposed { // the test failed: the next protocol's starts with a follower
				link.refuse(false)
				depose("n2", link.addr())
			}
		}()
		send(t, ctx, c, chat.GetId(), w.agent.GetId(), "served here")
		next("served here")
		if n := node.SelfForwarded() - selfBefore; n != 0 {
			t.Fatalf("the node relayed the stream through its own port (%d requests)", n)
		}

		// It no longer leads: the stream is opened at the next leader.
		link.refuse(false)
		accepted := link.accepted()
		depose("n2", link.addr())
		deposed = true
		sendUntilAcked(t, ctx, c, chat.GetId(), w.agent.GetId(), "relayed again")
		next("relayed again")
		if link.accepted() == accepted {
			t.Fatalf("the relay did not connect to the next leader")
		}
	})
}

// TestNode_AStreamServedInProcessIsTheClientsOwn: the leader's handler
// sees a stream the relay serves in process as the client's own request:
// its rate limits count it under the client's address (no proxy to
// trust: the request's remote address is the client's), and it tells a
// same-origin request by the Host the client asked for.
func TestNode_AStreamServedInProcessIsTheClientsOwn(t *testing.T) {
	ctx := testContext(t)
	a, err := app.Open(app.Config{
		Addr:       "127.0.0.1:0",
		DBPath:     filepath.Join(t.TempDir(), "leader.db"),
		Clock:      fakeclock.New(t0),
		RateLimits: &rpc.RateLimits{PageViewsPerAddr: ratelimit.Per(1, time.Hour, 1), Loopback: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		a.Shutdown(ctx)
	})
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.LeadWith(a)
	// The relay's front: the node hands it the widget streams that
	// arrive while it follows; here the node already leads when the
	// stream is opened, so the relay opens it in process at once.
	front := startPlainLeader(t, node.RelayHandler().ServeHTTP)
	sameOrigin := "http://" + front.Listener.Addr().String()

	admin := rlClientsFrom(t, "http://"+node.Addr().String(), "127.0.0.1")
	actx := withToken(ctx, a.InitialAPIKey)
	site, err := admin.admin.CreateSite(actx, connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop",
		AllowedOrigins: []string{origin, sameOrigin}}))
	if err != nil {
		t.Fatal(err)
	}
	visitor := func() context.Context {
		s, err := admin.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: site.Msg.GetSite().GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		return context.WithValue(withToken(ctx, s.Msg.GetToken()), visitorIDKey{}, s.Msg.GetVisitor().GetId())
	}
	// watch opens a widget stream through the relay from the loopback
	// address ip, and returns its response headers once it is up.
	watch := func(vctx context.Context, ip, page, fromOrigin string) (http.Header, error) {
		c := rlClientsFrom(t, front.URL, ip)
		req := connect.NewRequest(&pb.WatchVisitorRequest{VisitorId: vctx.Value(visitorIDKey{}).(string), PageUrl: page})
		if fromOrigin != "" {
			req.Header().Set("Origin", fromOrigin)
		}
		s, err := c.visitor.WatchVisitor(vctx, req)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { s.Close() })
		if !s.Receive() {
			return nil, s.Err()
		}
		return s.ResponseHeader(), nil
	}

	// One page view per address: the second from 127.0.0.2 is refused,
	// the first from 127.0.0.3 is not.
	v1, v2 := visitor(), visitor()
	if _, err := watch(v1, "127.0.0.2", "https://shop.example/", ""); err != nil {
		t.Fatal(err)
	}
	_, err = watch(v2, "127.0.0.2", "https://shop.example/", "")
	rlWantExhausted(t, "a second page view from the same address", err)
	if _, err := watch(v2, "127.0.0.3", "https://shop.example/", ""); err != nil {
		t.Fatalf("a page view from another address: %v", err)
	}

	// CORS: another allowed origin is answered, the node's own origin
	// (by the Host the client asked for) is same-origin and needs none.
	h, err := watch(v1, "127.0.0.2", "", origin)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("Access-Control-Allow-Origin %q for %s, want it allowed", got, origin)
	}
	h, err = watch(v1, "127.0.0.2", "", sameOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("Access-Control-Allow-Origin %q for the node's own origin: the leader did not see the client's Host", got)
	}
	if n := node.SelfForwarded(); n != 0 {
		t.Fatalf("the node relayed %d streams through its own port", n)
	}
}

type visitorIDKey struct{}

// TestCluster_AFollowerThatBecomesTheLeaderServesItsRelayedWidgetsInProcess:
// three nodes, a widget on each follower; the leader dies. The follower
// that takes over serves its own widget's relayed stream in process (not
// through its own port), the other relays its widget to it; then the new
// leader is deposed, its App stops, and the stream it served in process
// ends as a broken leader's end does: the relay opens it at whoever leads
// next. Both widgets read every event once, in order, without an error.
func TestCluster_AFollowerThatBecomesTheLeaderServesItsRelayedWidgetsInProcess(t *testing.T) {
	nodes := startNodes(t, 3)
	leader, followers := leaderAndFollowers(t, nodes)
	w := chattingWidgets(t, followers[1])
	for _, f := range followers {
		w.open(newConnectClient(t, f.srv))
	}
	w.each("Hello!")

	leader.Crash()
	next := waitForLeader(t, followers)
	w.each("Still there?")
	for _, n := range followers {
		if got := n.SelfForwarded(); got != 0 {
			t.Fatalf("%s relayed %d requests through its own port", n.name, got)
		}
	}

	// The new leader is deposed: its App stops, and the stream it served
	// in process is opened again at the next leader (maybe itself again).
	deposeAndWait(t, next, followers)
	w.each("And now?")
	w.checkContiguous()
	for _, n := range followers {
		if got := n.SelfForwarded(); got != 0 {
			t.Fatalf("%s relayed %d requests through its own port", n.name, got)
		}
	}
}

// TestNode_AStreamServedInProcessEndsWithItsClient: a widget that goes
// away ends the leader's handler of a stream served in process: its
// goroutine is gone, nothing is left behind.
func TestNode_AStreamServedInProcessEndsWithItsClient(t *testing.T) {
	leader, _ := newServer(t)
	node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
	node.LeadWith(leader.App)
	front := startPlainLeader(t, node.RelayHandler().ServeHTTP)
	c := newConnectClient(t, &testServer{App: leader.App, url: "http://" + node.Addr().String(), addr: node.Addr().String()})
	ctx := testContext(t)
	site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
	widget := newConnectClient(t, &testServer{App: leader.App, url: front.URL, addr: front.Listener.Addr().String()})
	wctx, leave := context.WithCancel(ctx)
	const n = 3
	for range n {
		s := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
		w := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(widget.WatchVisitor(wctx, &pb.WatchVisitorRequest{VisitorId: s.GetVisitor().GetId(), PageUrl: page1}))
		defer w.Close()
		recvUntil(t, w, func(m *pb.WatchVisitorResponse) bool { return m.GetState() != nil })
	}
	if got := app.InProcessServing(); got != n {
		t.Fatalf("%d handlers serve in process, want %d", got, n)
	}
	leave()
	deadline := time.Now().Add(testTimeout)
	for app.InProcessServing() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers still serve in process after their widgets left", app.InProcessServing())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCluster_TheLeadersOwnStreamsReadOnWhenItIsDeposed: widgets
// connected to the leader itself, in every protocol the relay speaks, and
// a console's chat stream there, read on when the leader is deposed while
// alive (its lease lost, as a leader too busy to beat is): it opens their
// streams again at the next leader (maybe itself again), and each gets
// every chat event once and in order, with no error. Before, the deposed
// leader's App ended them all, and every one had to reconnect.
func TestCluster_TheLeadersOwnStreamsReadOnWhenItIsDeposed(t *testing.T) {
	nodes := startNodes(t, 3)
	leader, followers := leaderAndFollowers(t, nodes)
	w := chattingWidgets(t, followers[0])
	for _, p := range protocols {
		if p.name == "REST" || p.name == "ConnectJSON" {
			continue // REST streams are proxied; JSON is Connect again
		}
		w.open(p.newClient(t, leader.srv))
	}
	console := chatEventsInOrder(t, openChatStream(t, w.ctx, newGRPCClient(t, leader.srv), w.chatIDs[0], 0))
	w.each("Hello!")
	console("Hello!")
	deposeAndWait(t, leader, nodes)
	w.each("Still there?")
	w.checkContiguous()
	console("Still there?")
}

// widgetChats are widgets' streams, each visitor in a chat with one
// agent, and the chat events each widget has read.
type widgetChats struct {
	t               *testing.T
	ctx             context.Context
	agentC          api
	siteID, agentID string
	streams         []stream[pb.WatchVisitorResponse]
	chatIDs         []string
	seen            [][]*pb.ChatEvent
}

// chattingWidgets makes a site and an available agent, whose console
// speaks gRPC to agentNode, for widgets to chat with.
func chattingWidgets(t *testing.T, agentNode *testNode) *widgetChats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*converge)
	t.Cleanup(cancel)
	agentC := newGRPCClient(t, agentNode.srv)
	site := createSite(t, ctx, agentC, "Shoe shop", enabledWithoutInvite())
	agent := createAvailableAgent(t, ctx, agentC, "Dana", site.GetId())
	return &widgetChats{t: t, ctx: ctx, agentC: agentC, siteID: site.GetId(), agentID: agent.GetId()}
}

// open starts a visitor's session and widget stream through c, and a
// chat with it.
func (w *widgetChats) open(c api) {
	t := w.t
	t.Helper()
	s := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(w.ctx, &pb.StartVisitorSessionRequest{SiteId: w.siteID}))
	st := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(c.WatchVisitor(w.ctx, &pb.WatchVisitorRequest{VisitorId: s.GetVisitor().GetId(), PageUrl: page1}))
	t.Cleanup(st.Close)
	recvUntil(t, st, func(m *pb.WatchVisitorResponse) bool { return m.GetState() != nil })
	chat := must[*pb.StartChatResponse](t, "StartChat")(w.agentC.StartChat(w.ctx, &pb.StartChatRequest{
		AgentId: w.agentID, VisitorId: s.GetVisitor().GetId(),
	})).GetChat()
	w.streams = append(w.streams, st)
	w.chatIDs = append(w.chatIDs, chat.GetId())
	w.seen = append(w.seen, nil)
}

// each sends text to every widget's chat, and reads it on the widget.
func (w *widgetChats) each(text string) {
	w.t.Helper()
	for i, st := range w.streams {
		sendUntilAcked(w.t, w.ctx, w.agentC, w.chatIDs[i], w.agentID, text)
		recvUntil(w.t, st, func(m *pb.WatchVisitorResponse) bool {
			ev := m.GetChatEvent()
			if ev != nil {
				w.seen[i] = append(w.seen[i], ev)
			}
			return ev.GetMessage().GetText() == text
		})
	}
}

// checkContiguous checks that each widget read its chat's events once
// and in order.
func (w *widgetChats) checkContiguous() {
	w.t.Helper()
	for i := range w.streams {
		checkContiguous(w.t, w.seen[i], w.chatIDs[i], 1)
	}
}

// deposeAndWait takes the lease from leader, alive, and waits until one
// of nodes leads in a new term and every one of them serves.
func deposeAndWait(t *testing.T, leader *testNode, nodes []*testNode) {
	t.Helper()
	terms := map[*testNode]int64{}
	for _, n := range nodes {
		terms[n] = n.Terms()
	}
	if err := leader.RevokeLease(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(converge)
	for {
		var leading *testNode
		for _, n := range nodes {
			if n.Leading() && n.Terms() > terms[n] {
				leading = n
			}
		}
		if leading != nil && allServe(nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no new leader after the deposed one")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
