package app_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// converge bounds how long the cluster test waits for the cluster to do
// something (form, elect, fail over). It only runs out when something is
// broken; the test asserts on no duration.
const converge = 90 * time.Second

// testNode is one node of an in-process cluster.
type testNode struct {
	*app.Node
	name string
	srv  *testServer // for the protocol clients: url and addr
	// route is its embedded NATS server's cluster-route address.
	route string
	// reopen opens the node again on its file, port and routes, once it
	// was shut down (stopped); reopenWith first has before change the
	// node, before it starts.
	reopen     func() *testNode
	reopenWith func(before func(*app.Node)) *testNode
	stopped    bool
	logs       *syncBuffer // what the node logged (Debug and up)
}

// shutdown stops the node gracefully.
func (n *testNode) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("shut node %s down: %v", n.name, err)
	}
	n.stopped = true
}

// startNodes starts n nodes on loopback, each with its embedded NATS
// server routed to the others, its own port and bbolt file, and a short
// lease so that a failover does not keep the test waiting. It returns
// once one of them leads and every node knows it; the admin key the
// first leader made is in every node's keyring.
func startNodes(t *testing.T, n int) []*testNode {
	t.Helper()
	return startNodesWith(t, n, nodeOptions{})
}

// nodeOptions are what a cluster's nodes run with beyond startNodes'
// defaults.
type nodeOptions struct {
	// configure, when set, changes each node's ClusterConfig.
	configure func(*app.ClusterConfig)
	// clock drives the domain on whichever node leads (real time when nil).
	clock *fakeclock.Clock
	// webhooks lets webhooks go to loopback over plain HTTP, with
	// startWebhookServer's timings.
	webhooks bool
	// leaseTTL is the nodes' lease TTL (5 s when 0).
	leaseTTL time.Duration
	// rateLimits are the nodes' (rpc.DefaultRateLimits when nil).
	rateLimits *rpc.RateLimits
	// tls, when set, has every node serve HTTPS with a certificate of
	// this CA, which the nodes trust by -tls-ca.
	tls *testCA
	// before, when set, changes each node before it first starts.
	before func(*app.Node)
}

// startNodesWith is startNodes with opts.
func startNodesWith(t *testing.T, n int, opts nodeOptions) []*testNode {
	t.Helper()
	if opts.leaseTTL == 0 {
		opts.leaseTTL = 5 * time.Second
	}
	routes := make([]string, n)
	dbs := make([]string, n)
	// The route ports are chosen free, then listened on by the nodes'
	// NATS servers: another package's test may take one in between (test
	// binaries run in parallel), and that node's server never gets
	// ready. Such a start is tried again on other ports and files.
	choose := func() {
		for i := range routes {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			routes[i] = l.Addr().String()
			l.Close()
			dbs[i] = filepath.Join(t.TempDir(), fmt.Sprintf("n%d.db", i))
		}
	}
	var mu sync.Mutex
	var adminKey string
	nodes := make([]*testNode, n)
	var open func(i int, before func(*app.Node)) *testNode
	var openErr func(i int, before func(*app.Node)) (*testNode, error)
	open = func(i int, before func(*app.Node)) *testNode {
		t.Helper()
		tn, err := openErr(i, before)
		if err != nil {
			t.Fatalf("open node n%d: %v", i, err)
		}
		return tn
	}
	openErr = func(i int, before func(*app.Node)) (*testNode, error) {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		name := fmt.Sprintf("n%d", i)
		logs := &syncBuffer{}
		cc := app.ClusterConfig{
			Node:       name,
			NATSListen: routes[i],
			NATSRoutes: others,
			LeaseTTL:   opts.leaseTTL,
			OnLead: func(_ context.Context, a *app.App) error {
				if a.InitialAPIKey != "" {
					mu.Lock()
					defer mu.Unlock()
					if adminKey != "" {
						return errors.New("a second admin key was made")
					}
					adminKey = a.InitialAPIKey
				}
				return nil
			},
		}
		if opts.configure != nil {
			opts.configure(&cc)
		}
		cfg := app.Config{
			Addr:              "127.0.0.1:0",
			DBPath:            dbs[i],
			Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			PresenceGrace:     presenceGrace,
			KeepAliveInterval: keepAliveInterval,
			RateLimits:        opts.rateLimits,
		}
		if opts.clock != nil {
			cfg.Clock = opts.clock
		}
		scheme := "http://"
		var clientTLS *tls.Config
		if opts.tls != nil {
			cfg.TLSCertFile, cfg.TLSKeyFile = opts.tls.certFile, opts.tls.keyFile
			cc.TLSCAFile = opts.tls.caFile
			scheme, clientTLS = "https://", opts.tls.client()
		}
		if opts.webhooks {
			cfg.WebhooksAllowHTTP, cfg.WebhooksAllowPrivate = true, true
			cfg.WebhookTimeout = webhookTimeout
			cfg.WebhookJitter = func() float64 { return 1 }
		}
		node, err := app.OpenNode(cfg, cc)
		if err != nil {
			return nil, err
		}
		if before != nil {
			before(node)
		}
		node.Start()
		addr := node.Addr().String()
		tn := &testNode{Node: node, name: name, route: routes[i], srv: &testServer{url: scheme + addr, addr: addr, tls: clientTLS}, logs: logs}
		tn.reopen = func() *testNode { return open(i, nil) }
		tn.reopenWith = func(before func(*app.Node)) *testNode { return open(i, before) }
		t.Cleanup(func() {
			if !tn.stopped {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				node.Shutdown(ctx)
			}
			if t.Failed() {
				t.Logf("node %s logs:\n%s", name, logs.String())
			}
		})
		return tn, nil
	}
	for try := 1; ; try++ {
		choose()
		var err error
		for i := range nodes {
			if nodes[i], err = openErr(i, opts.before); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "embedded NATS did not start") {
			t.Fatalf("start %d nodes: %v", n, err)
		}
		for _, node := range nodes {
			if node != nil && !node.stopped {
				node.shutdown(t)
			}
		}
		clear(nodes)
	}
	for _, node := range nodes {
		select {
		case <-node.Ready():
		case <-time.After(converge):
			t.Fatalf("node %s did not join the cluster", node.name)
		}
	}
	waitForLeader(t, nodes)
	mu.Lock()
	key := adminKey
	mu.Unlock()
	if key == "" {
		t.Fatal("the first leader made no admin key")
	}
	// One keyring for the whole cluster: the same database on every node.
	k := &keyring{tokens: map[string]string{}, admin: key}
	keyringsMu.Lock()
	for _, node := range nodes {
		keyrings[node.Store().Path()] = k
		node.srv.App = &app.App{Store: node.Store()}
	}
	keyringsMu.Unlock()
	return nodes
}

// waitForLeader waits until one of nodes leads and every node answers
// through it (a follower forwards once it knows the leader).
func waitForLeader(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		var leader *testNode
		for _, n := range nodes {
			if n.Leading() {
				leader = n
			}
		}
		if leader != nil && allServe(nodes) {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader serving through every node")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaderAndFollowers waits for a leader (waitForLeader) and returns it,
// and the other nodes.
func leaderAndFollowers(t *testing.T, nodes []*testNode) (leader *testNode, followers []*testNode) {
	t.Helper()
	leader = waitForLeader(t, nodes)
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	return leader, followers
}

// allServe reports whether every node answers its index page (forwarded
// to the leader on followers).
func allServe(nodes []*testNode) bool {
	for _, n := range nodes {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: n.srv.tls.Clone()}}
		res, err := c.Get(n.srv.url + "/")
		c.CloseIdleConnections()
		if err != nil {
			return false
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}

// TestCluster_ChatCarriesOnWhenTheLeaderDies runs a chat with the visitor
// on one node and the agent on another, kills the leader mid-chat, and
// has both carry on through the survivors: a new leader takes over, both
// resume their chat streams from their last sequence and get exactly what
// they missed, and every acknowledged message is in the chat once.
func TestCluster_ChatCarriesOnWhenTheLeaderDies(t *testing.T) {
	nodes := startNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*converge)
	defer cancel()
	checkStatus(t, nodes)

	// The visitor speaks Connect to node 0, the agent gRPC to node 1.
	visitorC := newConnectClient(t, nodes[0].srv)
	agentC := newGRPCClient(t, nodes[1].srv)
	site := createSite(t, ctx, visitorC, "Shoe shop", enabledWithoutInvite())
	agent := createAvailableAgent(t, ctx, agentC, "Dana", site.GetId())
	visitor, widget := visitorOnline(t, ctx, visitorC, site.GetId(), page1)
	chat := startChatUnanswered(t, ctx, agentC, &pb.StartChatRequest{AgentId: agent.GetId(), VisitorId: visitor.GetId()})
	chatID := chat.GetId()
	if ev := recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool { return m.GetChatEvent() != nil }).GetChatEvent(); ev.GetSeq() != 1 || ev.GetChatId() != chatID {
		t.Fatalf("the visitor's widget got %v, want the chat's start", ev)
	}
	agentStream := openChatStream(t, ctx, agentC, chatID, 0)
	visitorStream := openChatStream(t, ctx, visitorC, chatID, 0)

	acked := map[uint32]string{} // seq → text of every acknowledged message
	say := func(c api, sender, text string) {
		t.Helper()
		ev := sendUntilAcked(t, ctx, c, chatID, sender, text)
		if prev, dup := acked[ev.GetSeq()]; dup {
			t.Fatalf("%q acknowledged at seq %d, which %q has", text, ev.GetSeq(), prev)
		}
		acked[ev.GetSeq()] = text
	}
	say(visitorC, visitor.GetId(), "Hello, do you have these in 42?")
	say(agentC, agent.GetId(), "Let me check.")
	say(visitorC, visitor.GetId(), "Thanks!")
	agentSeen := readEvents(t, agentStream, 0, 4)
	visitorSeen := readEvents(t, visitorStream, 0, 4)

	var leader *testNode
	var survivors []*testNode
	for _, n := range nodes {
		if n.Leading() {
			leader = n
		} else {
			survivors = append(survivors, n)
		}
	}
	if leader == nil || len(survivors) != 2 {
		t.Fatalf("want one leader and two followers")
	}
	// The leader's metrics (through a follower) time its publishes to
	// the log, one per commit at least.
	if n := logPublishes(t, survivors[0].srv.url); n < 3 {
		t.Errorf("proactivechat_log_publish_seconds_count %v after three messages", n)
	}
	leader.Crash()
	agentStream.Close()
	visitorStream.Close()

	// Both move to a survivor (a different one each) and write at once:
	// their calls fail while no leader is known and are retried with the
	// same idempotency key, so a retry of a call that was acknowledged
	// after all is not a second message.
	visitorC = newConnectClient(t, survivors[0].srv)
	agentC = newGRPCClient(t, survivors[1].srv)
	say(agentC, agent.GetId(), "Yes, we have them in black.")
	waitForLeader(t, survivors)
	say(visitorC, visitor.GetId(), "Great, I'll take them.")
	say(agentC, agent.GetId(), "Added to your basket.")

	// Each resumes its stream from the last sequence it had seen, and
	// reads up to the end of the chat.
	all := transcript(t, ctx, visitorC, chatID, 0)
	agentSeen = append(agentSeen, readEvents(t, openChatStream(t, ctx, agentC, chatID, lastSeq(agentSeen)), lastSeq(agentSeen), lastSeq(all))...)
	visitorSeen = append(visitorSeen, readEvents(t, openChatStream(t, ctx, visitorC, chatID, lastSeq(visitorSeen)), lastSeq(visitorSeen), lastSeq(all))...)
	checkContiguous(t, all, chatID, 1)
	checkContiguous(t, agentSeen, chatID, 1)
	checkContiguous(t, visitorSeen, chatID, 1)
	if len(agentSeen) != len(all) || len(visitorSeen) != len(all) {
		t.Fatalf("the agent saw %d events and the visitor %d, the chat has %d: %s", len(agentSeen), len(visitorSeen), len(all), describe(all))
	}
	messages := 0
	for _, ev := range all {
		if m := ev.GetMessage(); m != nil {
			messages++
			if acked[ev.GetSeq()] != m.GetText() {
				t.Fatalf("message at seq %d is %q, acknowledged there: %q", ev.GetSeq(), m.GetText(), acked[ev.GetSeq()])
			}
		}
	}
	if messages != len(acked) {
		t.Fatalf("the chat has %d messages, %d were acknowledged: %s", messages, len(acked), describe(all))
	}

	// A leader that loses its lease stops its domain and follows; a
	// leader (the other node, or itself again after catching up) takes
	// over, and the chat goes on.
	terms := func() (sum int64) {
		for _, n := range survivors {
			sum += n.Terms()
		}
		return sum
	}
	before := terms()
	if err := waitForLeader(t, survivors).RevokeLease(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(converge)
	// The deposed leader steps down on losing the lease, before it writes
	// anything (no fencing needed): never two leaders for long.
	leaders := func() (k int) {
		for _, n := range survivors {
			if n.Leading() {
				k++
			}
		}
		return k
	}
	for terms() == before || leaders() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the lease was revoked: %d new terms, %d leaders; want a new term and one leader", terms()-before, leaders())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitForLeader(t, survivors)
	say(agentC, agent.GetId(), "Anything else?")
	say(visitorC, visitor.GetId(), "No, thank you.")
	all = transcript(t, ctx, agentC, chatID, 0)
	checkContiguous(t, all, chatID, 1)
	messages = 0
	for _, ev := range all {
		if m := ev.GetMessage(); m != nil {
			messages++
			if acked[ev.GetSeq()] != m.GetText() {
				t.Fatalf("message at seq %d is %q, acknowledged there: %q", ev.GetSeq(), m.GetText(), acked[ev.GetSeq()])
			}
		}
	}
	if messages != len(acked) {
		t.Fatalf("after the second takeover the chat has %d messages, %d were acknowledged: %s", messages, len(acked), describe(all))
	}
	checkStatus(t, survivors)
}

// TestCluster_AWidgetOnAFollowerCarriesOnWhenTheLeaderDies: a widget's
// stream on a follower is relayed, not proxied, and outlives the leader:
// when the leader dies, the follower opens it again at the next leader,
// and the widget reads on, with no error, every chat event once and in
// order, and is online again at the new leader. So do the agent's
// console's streams on the other follower: its chat's events once and in
// order, and its presence view (the new leader's snapshot, then the
// changes) shows the visitor online, with no stream ended.
func TestCluster_AWidgetOnAFollowerCarriesOnWhenTheLeaderDies(t *testing.T) {
	nodes := startNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*converge)
	defer cancel()
	leader := waitForLeader(t, nodes)
	var followers []*testNode
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}
	// The widget on one follower (Connect), the agent on the other (gRPC).
	visitorC := newConnectClient(t, followers[0].srv)
	agentC := newGRPCClient(t, followers[1].srv)
	site := createSite(t, ctx, agentC, "Shoe shop", enabledWithoutInvite())
	agent := createAvailableAgent(t, ctx, agentC, "Dana", site.GetId())
	s := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(visitorC.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	visitor := s.GetVisitor()
	widget := must[stream[pb.WatchVisitorResponse]](t, "WatchVisitor")(visitorC.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: visitor.GetId(), PageUrl: page1}))
	t.Cleanup(widget.Close)
	recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool { return m.GetState() != nil })
	chatID := must[*pb.StartChatResponse](t, "StartChat")(agentC.StartChat(ctx, &pb.StartChatRequest{
		AgentId: agent.GetId(), VisitorId: visitor.GetId(),
	})).GetChat().GetId()
	var seen []*pb.ChatEvent
	readUntil := func(text string) {
		t.Helper()
		ev := recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool {
			ev := m.GetChatEvent()
			if ev != nil {
				seen = append(seen, ev)
			}
			return ev != nil && (text == "" || ev.GetMessage().GetText() == text)
		}).GetChatEvent()
		if ev.GetChatId() != chatID {
			t.Fatalf("the widget got %v, want chat %s's", ev, chatID)
		}
	}
	readUntil("")
	sendUntilAcked(t, ctx, agentC, chatID, agent.GetId(), "Hello!")
	readUntil("Hello!")
	console := chatEventsInOrder(t, openChatStream(t, ctx, agentC, chatID, 0))
	console("Hello!")
	presence, _ := openPresenceStream(t, ctx, agentC, agent.GetId())

	leader.Crash()
	sendUntilAcked(t, ctx, agentC, chatID, agent.GetId(), "Still there?")
	readUntil("Still there?")
	sendUntilAcked(t, ctx, visitorC, chatID, visitor.GetId(), "Yes.")
	readUntil("Yes.")
	checkContiguous(t, seen, chatID, 1)
	console("Yes.")

	// The new leader counts the widget online (the relay opened it
	// there), and the console's presence stream, relayed too, shows it:
	// the new leader's snapshot replaces the view, then the changes.
	online := map[string]bool{}
	sawSnapshot := false
	recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
		switch {
		case m.GetSnapshot() != nil:
			sawSnapshot = true
			clear(online)
			for _, p := range m.GetSnapshot().GetVisitors() {
				online[p.GetVisitorId()] = true
			}
		case m.GetArrived() != nil:
			online[m.GetArrived().GetVisitorId()] = true
		case m.GetDeparted() != nil:
			delete(online, m.GetDeparted().GetVisitorId())
		}
		return sawSnapshot && online[visitor.GetId()]
	})
}

// checkStatus checks what each node says of itself at app.NodeStatusPath
// (answered by the node, not its leader): one leads, with a term, every
// node names it, and the followers reach the leader's position.
func checkStatus(t *testing.T, nodes []*testNode) {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		var leaders []app.NodeStatus
		var why string
		sts := make([]app.NodeStatus, len(nodes))
		for i, n := range nodes {
			res, err := http.Get(n.srv.url + app.NodeStatusPath)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(res.Body).Decode(&sts[i])
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s on %s: %s, %v", app.NodeStatusPath, n.name, res.Status, err)
			}
			if sts[i].Node != n.name || !sts[i].Ready {
				t.Fatalf("node %s says %+v", n.name, sts[i])
			}
			if sts[i].Leading {
				leaders = append(leaders, sts[i])
			}
		}
		switch {
		case len(leaders) != 1:
			why = fmt.Sprintf("%d nodes lead", len(leaders))
		case leaders[0].Term == 0:
			why = "the leader has no term"
		default:
			for _, st := range sts {
				switch {
				case st.Leader != leaders[0].Node:
					why = fmt.Sprintf("%s names %q as the leader, not %s", st.Node, st.Leader, leaders[0].Node)
				case st.Position != leaders[0].Position:
					why = fmt.Sprintf("%s is at position %d, the leader at %d", st.Node, st.Position, leaders[0].Position)
				case !st.Leading && st.Term != 0:
					why = fmt.Sprintf("follower %s has term %d", st.Node, st.Term)
				}
			}
		}
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes' status: %s: %+v", why, sts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := http.Post(nodes[0].srv.url+app.NodeStatusPath, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST %s: %s, want 405", app.NodeStatusPath, res.Status)
	}
}

// startChatUnanswered starts a chat, trying again while the node it asks
// knows no leader: on a loaded machine (-race, the other packages' tests)
// a leader may lose the lease before the test kills it, and a follower
// refuses calls (UNAVAILABLE, "no leader is known yet") until it reads
// the next one; such a call reached no leader, so trying again starts one
// chat.
func startChatUnanswered(t *testing.T, ctx context.Context, c api, req *pb.StartChatRequest) *pb.Chat {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		res, err := c.StartChat(ctx, req)
		if err == nil {
			return res.GetChat()
		}
		if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "no leader is known yet") || time.Now().After(deadline) {
			t.Fatalf("StartChat: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendUntilAcked sends a message, retrying with the same idempotency key
// while the cluster has no leader (UNAVAILABLE), until it is acknowledged.
func sendUntilAcked(t *testing.T, ctx context.Context, c api, chatID, sender, text string) *pb.ChatEvent {
	t.Helper()
	key := fmt.Sprintf("%s/%s", sender, text)
	deadline := time.Now().Add(converge)
	for {
		res, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chatID, SenderId: sender, Text: text, IdempotencyKey: key})
		if err == nil {
			return res.GetEvent()
		}
		if connect.CodeOf(err) != connect.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("SendMessage %q: %v", text, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readEvents reads chat events from s, which was opened after seq after,
// up to seq until, checking that they follow on from after.
func readEvents(t *testing.T, s stream[pb.WatchChatResponse], after, until uint32) []*pb.ChatEvent {
	t.Helper()
	var got []*pb.ChatEvent
	for len(got) == 0 || lastSeq(got) < until {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) || err != nil {
			t.Fatalf("chat stream after %d ended after %s: %v", after, describe(got), err)
		}
		if ev := m.GetChatEvent(); ev != nil {
			got = append(got, ev)
		}
	}
	checkContiguous(t, got, got[0].GetChatId(), after+1)
	return got
}

func lastSeq(events []*pb.ChatEvent) uint32 { return events[len(events)-1].GetSeq() }

// TestNode_WithoutALeaderEveryProtocolIsUnavailable: a node that knows no
// leader (its cluster has not formed: its routes lead nowhere) answers
// every call UNAVAILABLE, which clients retry, and says when to retry.
func TestNode_WithoutALeaderEveryProtocolIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	node, err := app.OpenNode(app.Config{
		Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "n0.db"), Logger: slog.New(slog.DiscardHandler),
	}, app.ClusterConfig{Node: "n0", NATSListen: "127.0.0.1:0", NATSRoutes: []string{nowhere}})
	if err != nil {
		t.Fatal(err)
	}
	node.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		node.Shutdown(ctx)
	})
	addr := node.Addr().String()
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("GET / = %d, Retry-After %q; want 503 with a Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// The clients sign with a key the node cannot check: it has no store
	// to serve from yet. The keyring only needs a path to file it under.
	keys := must[*bolt.Store](t, "open keyring store")(bolt.Open(filepath.Join(dir, "keyring.db")))
	t.Cleanup(func() { keys.Close() })
	srv := &testServer{App: &app.App{Store: keys, InitialAPIKey: "pca_unchecked"}, url: "http://" + addr, addr: addr}
	forEachProtocol(t, func(t *testing.T, p protocol) {
		_, err := p.newClient(t, srv).ListSites(context.Background(), &pb.ListSitesRequest{})
		wantCode(t, err, connect.CodeUnavailable)
	})
}

// logPublishes reads proactivechat_log_publish_seconds_count from the
// /metrics a node serves.
func logPublishes(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^proactivechat_log_publish_seconds_count (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no proactivechat_log_publish_seconds_count in\n%s", body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCluster_ANodeBackAfterTheLogWasTrimmedStartsFromASnapshot: while a
// node is away the leader goes on writing and takes a snapshot every few
// entries (SnapshotEvery), trimming the log behind the older one kept,
// until the log no longer holds what the node's file lacks. Back, the node
// installs the newest snapshot, reads the log after it, and then holds
// exactly what the leader holds.
func TestCluster_ANodeBackAfterTheLogWasTrimmedStartsFromASnapshot(t *testing.T) {
	nodes := startNodesWith(t, 3, nodeOptions{configure: func(cc *app.ClusterConfig) {
		cc.SnapshotEvery = 2
		cc.SnapshotCheck = 20 * time.Millisecond
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*converge)
	defer cancel()
	leader, followers := leaderAndFollowers(t, nodes)
	away := followers[0]
	admin := newConnectClient(t, leader.srv)
	createSite(t, ctx, admin, "Before", enabledWithoutInvite())
	away.shutdown(t)
	// The leader's file is at least as far as the away node's.
	awayAt, err := leader.Store().Position()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(converge)
	for i := 0; ; i++ {
		createSite(t, ctx, admin, fmt.Sprintf("Shop %d", i), enabledWithoutInvite())
		start, err := leader.LogStart(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if start > awayAt+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log still starts at %d after %d writes: no snapshot trimmed it", start, i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	createSite(t, ctx, admin, "After", enabledWithoutInvite())

	back := away.reopen()
	deadline = time.Now().Add(converge)
	for {
		want, err := leader.Store().Position()
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		err = errors.New("not joined yet")
		if s := back.Store(); s != nil {
			got, err = s.Position()
		}
		if err == nil && got == want {
			wantDigest, err1 := leader.Store().Digest()
			gotDigest, err2 := back.Store().Digest()
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			// Compared only if neither moved meanwhile.
			again, err1 := leader.Store().Position()
			gotAgain, err2 := back.Store().Position()
			if err1 == nil && err2 == nil && again == want && gotAgain == got {
				if gotDigest != wantDigest {
					t.Fatalf("%s back at position %d holds other content than the leader", back.name, got)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s back is at position %d (%v), the leader at %d", back.name, got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCluster_AgentsOnDifferentNodesRaceForOneVisitor: two agents, their
// consoles on different nodes and speaking different protocols, start a
// chat with the same visitor at the same moment, visitor after visitor.
// Exactly one of them gets each visitor; the other is refused, and no
// visitor ever has two active chats.
func TestCluster_AgentsOnDifferentNodesRaceForOneVisitor(t *testing.T) {
	nodes := startNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*converge)
	defer cancel()
	visitorC := newConnectClient(t, nodes[0].srv)
	clients := []api{newGRPCClient(t, nodes[1].srv), newConnectClient(t, nodes[2].srv)}
	// No launch during the test: the agents start every chat.
	proactive := enabledWithoutInvite()
	proactive.LaunchAfterSeconds = 3600
	site := createSite(t, ctx, visitorC, "Shoe shop", proactive)
	var agents []*pb.Agent
	for i, c := range clients {
		agents = append(agents, createAvailableAgent(t, ctx, c, fmt.Sprintf("Agent %d", i), site.GetId()))
	}
	// Two agents of three chats each: one chat each visitor, none left over.
	const visitors = 6
	for v := range visitors {
		visitor, _ := visitorOnline(t, ctx, visitorC, site.GetId(), page1)
		start := make(chan struct{})
		chats := make([]*pb.Chat, len(clients))
		errs := make([]error, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				<-start
				res, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: agents[i].GetId(), VisitorId: visitor.GetId()})
				chats[i], errs[i] = res.GetChat(), err
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range clients {
			switch {
			case errs[i] == nil && chats[i].GetId() != "":
				won++
			case connect.CodeOf(errs[i]) != connect.CodeFailedPrecondition:
				t.Errorf("visitor %d: agent %d's StartChat failed with %v, want FAILED_PRECONDITION for the loser", v, i, errs[i])
			}
		}
		if won != 1 {
			t.Fatalf("visitor %d: %d agents got the chat (%v), want exactly one", v, won, errs)
		}
	}
}

// TestCluster_AFollowerTooBusyToReadHeartbeatsDoesNotDeposeTheLeader: a
// follower whose heartbeat handler is held (a process with thousands of
// widgets reconnecting to it, its goroutines queued) finds the leader
// silent for longer than the leader timeout, checks that it has read
// every heartbeat its NATS server had for it, finds some waiting, and
// leaves the lease alone. Before, such a follower deposed a healthy
// leader (seen with 55,000 visitors held: the flooded node that came
// back after a kill took the lease from the new leader).
func TestCluster_AFollowerTooBusyToReadHeartbeatsDoesNotDeposeTheLeader(t *testing.T) {
	const timeout = time.Second
	nodes := startNodesWith(t, 3, nodeOptions{configure: func(cc *app.ClusterConfig) { cc.LeaderTimeout = timeout }})
	leader, followers := leaderAndFollowers(t, nodes)
	busy := followers[0]
	term := leader.Terms()
	release := busy.HoldHeartbeats()
	defer release()
	// The busy node's campaigns say why they leave the lease alone, once
	// per leader timeout: wait for two of them.
	const declined = "has not read every heartbeat"
	deadline := time.Now().Add(converge)
	for strings.Count(busy.logs.String(), declined) < 2 {
		for _, n := range followers {
			if n.Leading() {
				t.Fatalf("%s took the lease from a leader that beats all along", n.name)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never found the leader silent with heartbeats unread", busy.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	if !leader.Leading() || leader.Terms() != term {
		t.Fatalf("%s leads %v, term %d, want its term %d still", leader.name, leader.Leading(), leader.Terms(), term)
	}
	for _, n := range followers {
		if n.Leading() {
			t.Fatalf("%s took the lease from a leader that beats all along", n.name)
		}
	}
}
