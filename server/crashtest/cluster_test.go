package crashtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/bolt"
)

// The cluster tests' bounds. None is a speed target: each only ends a wait
// for something that should happen, so that a hang fails the test.
const (
	// converge bounds a wait for the cluster to elect, fail over, or
	// catch up.
	converge = 60 * time.Second
	// stuckAfter is how long a client call may keep failing on every node
	// before the test fails: a failover takes a lease TTL and a campaign.
	stuckAfter = 45 * time.Second
	// callTimeout bounds one attempt of a call (a paused node holds it).
	callTimeout = 20 * time.Second
	// retryPause is a client's pause before it tries the next node.
	retryPause = 50 * time.Millisecond
)

// clusterNode is one node of a cluster of real processes: the binary with
// -node, its own -addr, -db and -nats-listen, routed to the others.
type clusterNode struct {
	*server
	name string
	nats string
}

// testCluster is a cluster of real processes and a client per node.
type testCluster struct {
	t         *testing.T
	nodes     []*clusterNode
	transport *http.Transport
	apis      []*clients
	adminKey  string
	// extra are the flags every node's command line ends with.
	extra  []string
	status *http.Client
	// observe, when set before the load starts, hears of every attempt of
	// a call: the node, when it began and ended, and how.
	observe func(n *clusterNode, began, ended time.Time, err error)
}

// startCluster builds the binary, starts size nodes at once (a node alone
// cannot elect a leader) and returns once every node serves through the
// leader, with the admin key the first leader printed. Every node's
// command line gets the flags extra too.
func startCluster(ctx context.Context, t *testing.T, size int, extra ...string) *testCluster {
	t.Helper()
	bin := serverBinary(t)
	c := &testCluster{t: t, extra: extra,
		transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
		status:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}}
	routes := make([]string, size)
	for i := range routes {
		routes[i] = freeAddr(t)
	}
	for i := range size {
		name := fmt.Sprintf("n%d", i+1)
		s := newServer(t, bin, c.transport)
		s.db = filepath.Join(s.logDir, "data", name+".db")
		s.healthTimeout = converge
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		s.args = append([]string{"-log-level", "info", "-node", name, "-nats-listen", routes[i], "-nats-routes", strings.Join(others, ",")}, extra...)
		c.nodes = append(c.nodes, &clusterNode{server: s, name: name, nats: routes[i]})
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop(syscall.SIGKILL)
		}
		c.transport.CloseIdleConnections()
		if t.Failed() {
			for _, n := range c.nodes {
				for _, log := range n.logs {
					t.Logf("%s %s:\n%s", n.name, filepath.Base(log), tail(log))
				}
			}
		}
	})
	errs := make(chan error, size)
	for _, n := range c.nodes {
		go func() { errs <- n.start(ctx) }()
	}
	for range size {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c.adminKey = c.printedKey(t)
	for _, n := range c.nodes {
		c.apis = append(c.apis, newClients(&http.Client{Transport: c.transport}, n.url(), c.adminKey))
	}
	return c
}

// keyLine is the admin key as main prints it on a new cluster.
var keyLine = regexp.MustCompile(`(?m)^  (pca_[A-Za-z0-9_-]+)$`)

// printedKey is the admin key that one node, the first leader, printed:
// once, by one node.
func (c *testCluster) printedKey(t *testing.T) string {
	t.Helper()
	var keys []string
	for _, n := range c.nodes {
		for _, log := range n.logs {
			b, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range keyLine.FindAllSubmatch(b, -1) {
				keys = append(keys, fmt.Sprintf("%s: %s", n.name, m[1]))
			}
		}
	}
	if len(keys) != 1 {
		t.Fatalf("the nodes printed %d admin keys, want one: %v", len(keys), keys)
	}
	_, key, _ := strings.Cut(keys[0], ": ")
	return key
}

// nodeStatus is what a node says of itself at /cluster/status.
type nodeStatus struct {
	Node     string `json:"node"`
	Ready    bool   `json:"ready"`
	Leading  bool   `json:"leading"`
	Term     uint64 `json:"term"`
	Leader   string `json:"leader"`
	Position uint64 `json:"position"`
}

func (c *testCluster) nodeStatus(ctx context.Context, n *clusterNode) (nodeStatus, error) {
	var st nodeStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url()+"/cluster/status", nil)
	if err != nil {
		return st, err
	}
	res, err := c.status.Do(req)
	if err != nil {
		return st, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /cluster/status on %s: %s", n.name, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return st, err
	}
	if st.Node != n.name {
		return st, fmt.Errorf("node %s says it is %q", n.name, st.Node)
	}
	return st, nil
}

// waitFor polls cond until it holds (nil) or converge has passed; then it
// fails the test with cond's last word.
func (c *testCluster) waitFor(ctx context.Context, what string, cond func(context.Context) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, converge)
	defer cancel()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("%s: not after %v: %v", what, converge, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leader waits until exactly one of the nodes that are up leads and every
// one of them names it, and returns it with its status.
func (c *testCluster) leader(ctx context.Context, among ...*clusterNode) (*clusterNode, nodeStatus) {
	c.t.Helper()
	if among == nil {
		among = c.nodes
	}
	var leader *clusterNode
	var lst nodeStatus
	c.waitFor(ctx, "one leader that every node names", func(ctx context.Context) error {
		leader = nil
		var sts []nodeStatus
		for _, n := range among {
			if !n.isUp() {
				continue
			}
			st, err := c.nodeStatus(ctx, n)
			if err != nil {
				return err
			}
			sts = append(sts, st)
			if st.Leading {
				if leader != nil {
					return fmt.Errorf("two nodes lead: %+v", sts)
				}
				leader, lst = n, st
			}
		}
		if leader == nil {
			return fmt.Errorf("none leads: %+v", sts)
		}
		for _, st := range sts {
			if st.Leader != leader.name {
				return fmt.Errorf("%s names %q as the leader, not %s", st.Node, st.Leader, leader.name)
			}
		}
		return nil
	})
	return leader, lst
}

// caughtUp waits until every node among those up has applied the log as
// far as pos.
func (c *testCluster) caughtUp(ctx context.Context, pos uint64) {
	c.t.Helper()
	c.waitFor(ctx, fmt.Sprintf("every node at position %d", pos), func(ctx context.Context) error {
		for _, n := range c.nodes {
			if !n.isUp() {
				continue
			}
			st, err := c.nodeStatus(ctx, n)
			if err != nil {
				return err
			}
			if st.Position < pos {
				return fmt.Errorf("%s is at %d", n.name, st.Position)
			}
		}
		return nil
	})
}

// converged checks that the nodes' files converge: once every node holds
// the leader's position, it pauses all three (SIGSTOP), copies their
// files, and lets them go on; if the copies are at one position (nothing
// was written between the look and the pause) they must hold the same
// content, else it looks again. Then it stops the cluster, followers first,
// and checks that every node exits cleanly on SIGTERM. It returns the
// position the files converged at.
func (c *testCluster) converged(ctx context.Context) uint64 {
	t := c.t
	t.Helper()
	dir := t.TempDir()
	var pos uint64
	for attempt := 1; ; attempt++ {
		leader, _ := c.leader(ctx)
		c.waitFor(ctx, "every node at the leader's position", func(ctx context.Context) error {
			lst, err := c.nodeStatus(ctx, leader)
			if err != nil {
				return err
			}
			for _, n := range c.nodes {
				st, err := c.nodeStatus(ctx, n)
				if err != nil {
					return err
				}
				if st.Position != lst.Position {
					return fmt.Errorf("%s is at %d, the leader %s at %d", n.name, st.Position, leader.name, lst.Position)
				}
			}
			return nil
		})
		for _, n := range c.nodes {
			n.signal(syscall.SIGSTOP)
		}
		var copies []string
		for _, n := range c.nodes {
			cp := filepath.Join(dir, fmt.Sprintf("%s-%d.db", n.name, attempt))
			if err := copyFile(cp, n.db); err != nil {
				t.Fatal(err)
			}
			copies = append(copies, cp)
		}
		for _, n := range c.nodes {
			n.signal(syscall.SIGCONT)
		}
		var files []string
		same := true
		for i, cp := range copies {
			p, d := positionAndDigest(t, cp)
			files = append(files, fmt.Sprintf("%s at %d: %s", c.nodes[i].name, p, d))
			if i == 0 {
				pos = p
			}
			same = same && p == pos
		}
		if same {
			for _, f := range files[1:] {
				if after(f, ": ") != after(files[0], ": ") {
					t.Errorf("the nodes' files differ at the same position:\n%s", strings.Join(files, "\n"))
					break
				}
			}
			break
		}
		if attempt == 10 {
			t.Fatalf("the nodes were at different positions each time they were paused:\n%s", strings.Join(files, "\n"))
		}
	}
	leader, _ := c.leader(ctx)
	for _, n := range append(c.others(leader), leader) {
		n.setUp(false)
		if ps := n.stop(syscall.SIGTERM); ps == nil || !ps.Success() {
			t.Errorf("after SIGTERM node %s exited with %v, want 0", n.name, ps)
		}
		n.scanLogs(t)
	}
	return pos
}

// positionAndDigest opens a copy of a node's file and returns its log
// position and the digest of its content.
func positionAndDigest(t *testing.T, path string) (uint64, string) {
	t.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Position()
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return p, d
}

func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

func after(s, sep string) string { _, a, _ := strings.Cut(s, sep); return a }

// others are the nodes but n.
func (c *testCluster) others(n *clusterNode) []*clusterNode {
	var o []*clusterNode
	for _, m := range c.nodes {
		if m != n {
			o = append(o, m)
		}
	}
	return o
}

// ccall runs f against the cluster, first through node pref, until it
// succeeds or fails with the server's definite answer. A call that fails
// otherwise (the node died, no leader yet: UNAVAILABLE, a lost connection)
// is made again, the same, through the next node that is up. It fails
// when calls have failed on every node for stuckAfter. It returns the
// attempts made, and when the last began.
func ccall[T any](ctx context.Context, c *testCluster, pref int, what string, f func(context.Context, *clients) (T, error)) (res T, attempts int, last time.Time, err error) {
	i := pref % len(c.nodes)
	var failingSince time.Time
	for {
		for range len(c.nodes) {
			if c.nodes[i].isUp() {
				break
			}
			i = (i + 1) % len(c.nodes)
		}
		attempts++
		last = time.Now()
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err = f(callCtx, c.apis[i])
		cancel()
		if c.observe != nil {
			c.observe(c.nodes[i], last, time.Now(), err)
		}
		switch {
		case err == nil:
			return res, attempts, last, nil
		case ctx.Err() != nil:
			return res, attempts, last, fmt.Errorf("%s: %w", what, ctx.Err())
		case definite(err):
			return res, attempts, last, fmt.Errorf("%s (attempt %d, node %s): %w", what, attempts, c.nodes[i].name, err)
		case failingSince.IsZero():
			failingSince = last
		case time.Since(failingSince) > stuckAfter:
			return res, attempts, last, fmt.Errorf("%s: failing on every node for %v: %w", what, stuckAfter, err)
		}
		i = (i + 1) % len(c.nodes)
		select {
		case <-ctx.Done():
			return res, attempts, last, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(retryPause):
		}
	}
}

// clusterChats sets up the load of a cluster test: a site, agents with
// their sessions, and chats, each of whose visitor and agent speak to
// different nodes.
type clusterChats struct {
	c      *testCluster
	siteID string
	agents []agentCreds
	runs   []*chatRun

	// streams are the visitors' widget streams.
	streams sync.WaitGroup

	mu sync.Mutex
	// acks counts the messages acknowledged; firstAfter is the stored time
	// of the first one stored after mark.
	acks       int
	mark       time.Time
	firstAfter time.Time
}

type agentCreds struct{ id, token string }

func newClusterChats(ctx context.Context, t *testing.T, c *testCluster, agents int) *clusterChats {
	t.Helper()
	cc := &clusterChats{c: c}
	api := c.apis[0]
	cc.siteID = must(api.admin.CreateSite(ctx, as(c.adminKey, &pb.CreateSiteRequest{
		Name:           "cluster crash test",
		AllowedOrigins: []string{"https://shop.example.com"},
		ProactiveChat: &pb.ProactiveChatSettings{
			Enabled:            true,
			Mode:               pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
			LaunchAfterSeconds: 24 * 60 * 60,
		},
	})))(t).Msg.GetSite().GetId()
	for i := range agents {
		api := c.apis[i%len(c.apis)]
		agent := must(api.admin.CreateAgent(ctx, as(c.adminKey, &pb.CreateAgentRequest{
			DisplayName: fmt.Sprintf("Agent %d", i), SiteIds: []string{cc.siteID}, MaxConcurrentChats: 100,
		})))(t).Msg.GetAgent()
		token := must(api.admin.CreateAgentSession(ctx, as(c.adminKey, &pb.CreateAgentSessionRequest{AgentId: agent.GetId()})))(t).Msg.GetToken()
		must(api.agent.SetAgentStatus(ctx, as(token, &pb.SetAgentStatusRequest{
			AgentId: agent.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE,
		})))(t)
		cc.agents = append(cc.agents, agentCreds{agent.GetId(), token})
	}
	return cc
}

// nodes of chat i: the visitor's widget and sends go to one node, the
// agent's to the next.
func visitorNode(i int) int { return i }
func agentNode(i int) int   { return i + 1 }

// startChat brings visitor i online and has an agent start a chat with
// it, all across failovers: the visitor session, its widget stream and
// StartChat are retried through other nodes. A StartChat retried after
// its first attempt was stored finds the visitor chatting: the chat is
// then the one the visitor is in, never a second one.
func (cc *clusterChats) startChat(ctx, streamCtx context.Context, i int, fail func(error)) (*chatRun, error) {
	c := cc.c
	session, _, _, err := ccall(ctx, c, visitorNode(i), "start visitor session", func(ctx context.Context, api *clients) (*pb.StartVisitorSessionResponse, error) {
		res, err := api.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: cc.siteID}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	})
	if err != nil {
		return nil, err
	}
	agent := cc.agents[i%len(cc.agents)]
	run := &chatRun{idx: i, visitorID: session.GetVisitor().GetId(), visitorToken: session.GetToken(),
		agentID: agent.id, agentToken: agent.token}
	online := make(chan struct{})
	cc.streams.Go(func() { fail(cc.watch(streamCtx, run, online)) })
	select {
	case <-online:
	case <-ctx.Done():
		return nil, fmt.Errorf("visitor %d never got its first state", i)
	}
	req := &pb.StartChatRequest{AgentId: run.agentID, VisitorId: run.visitorID}
	var chat *pb.Chat
	attempts := 0
	for deadline := time.Now().Add(stuckAfter); ; {
		var n int
		chat, n, _, err = ccall(ctx, c, agentNode(i), fmt.Sprintf("start chat %d", i), func(ctx context.Context, api *clients) (*pb.Chat, error) {
			res, err := api.agent.StartChat(ctx, as(run.agentToken, req))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetChat(), nil
		})
		attempts += n
		// A leader that took over since the visitor's widget got its
		// state counts the visitor on the site once the widget's stream
		// is open there again (relayed, or reconnected through another
		// node): until then StartChat is refused, as an agent would see
		// the visitor offline for that moment, and tries again.
		if err == nil || connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "is not on the site") ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(retryPause)
	}
	if err != nil && connect.CodeOf(err) == connect.CodeFailedPrecondition && attempts > 1 {
		chats, _, _, lerr := ccall(ctx, c, agentNode(i), fmt.Sprintf("list visitor %d's chats", i), func(ctx context.Context, api *clients) ([]*pb.ChatSummary, error) {
			res, err := api.chat.ListChats(ctx, as(c.adminKey, &pb.ListChatsRequest{VisitorId: run.visitorID, State: pb.ChatState_CHAT_STATE_ACTIVE}))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetChats(), nil
		})
		if lerr != nil {
			return nil, lerr
		}
		if len(chats) == 1 {
			chat, err = chats[0].GetChat(), nil
		}
	}
	if err != nil {
		return nil, err
	}
	run.mu.Lock()
	run.id = chat.GetId()
	run.mu.Unlock()
	return run, nil
}

// watch keeps visitor run's widget stream open on the cluster, moving to
// the next node when one ends it, resuming after the last chat event
// received, and checks that events arrive once each and in order.
func (cc *clusterChats) watch(ctx context.Context, run *chatRun, online chan<- struct{}) error {
	c := cc.c
	first := true
	i := visitorNode(run.idx) % len(c.nodes)
	var failingSince time.Time
	for {
		for range len(c.nodes) {
			if c.nodes[i].isUp() {
				break
			}
			i = (i + 1) % len(c.nodes)
		}
		run.mu.Lock()
		req := &pb.WatchVisitorRequest{VisitorId: run.visitorID, ResumeChatId: run.id, ResumeAfterSeq: run.streamLast}
		run.mu.Unlock()
		if first {
			req.PageUrl = "https://shop.example.com/pricing"
		}
		stream, err := c.apis[i].visitor.WatchVisitor(ctx, as(run.visitorToken, req))
		received := false
		if err == nil {
			for stream.Receive() {
				failingSince, received = time.Time{}, true
				msg := stream.Msg()
				if msg.GetState() != nil && first {
					first = false
					close(online)
				}
				if ev := msg.GetChatEvent(); ev != nil {
					if err := run.streamed(ev); err != nil {
						stream.Close()
						return err
					}
				}
			}
			err = stream.Err()
			stream.Close()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case definite(err):
			return fmt.Errorf("watch visitor %s on %s: %w", run.visitorID, c.nodes[i].name, err)
		case failingSince.IsZero():
			failingSince = time.Now()
		case time.Since(failingSince) > stuckAfter:
			return fmt.Errorf("watch visitor %s: ended on every node for %v: %v", run.visitorID, stuckAfter, err)
		}
		if received {
			run.mu.Lock()
			run.reconnects++
			run.mu.Unlock()
		}
		i = (i + 1) % len(c.nodes)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryPause):
		}
	}
}

// send loops on SendMessage as one side of run until stop is closed, each
// message with a new idempotency key, retried with its key through the
// nodes until acknowledged.
func (cc *clusterChats) send(ctx context.Context, run *chatRun, agent bool, stop <-chan struct{}) error {
	sender, role, node := run.visitorID, "visitor", visitorNode(run.idx)
	if agent {
		sender, role, node = run.agentID, "agent", agentNode(run.idx)
	}
	token := run.token(sender)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		key := fmt.Sprintf("c%02d-%s-%05d", run.idx, role, i)
		text := fmt.Sprintf("message %d from the %s of chat %d", i, role, run.idx)
		req := &pb.SendMessageRequest{ChatId: run.id, SenderId: sender, Text: text, IdempotencyKey: key}
		ev, attempts, last, err := ccall(ctx, cc.c, node, "send "+key, func(ctx context.Context, api *clients) (*pb.ChatEvent, error) {
			res, err := api.chat.SendMessage(ctx, as(token, req))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetEvent(), nil
		})
		if err != nil {
			return err
		}
		m := ev.GetMessage()
		if ev.GetChatId() != run.id || m.GetIdempotencyKey() != key || m.GetText() != text || m.GetSender().GetId() != sender || ev.GetSeq() == 0 {
			return fmt.Errorf("send %s (attempt %d) was acknowledged with %v", key, attempts, ev)
		}
		// A retry answered with a message stored before it began gets the
		// message an earlier attempt wrote.
		original := attempts > 1 && ev.GetTime().AsTime().Before(last)
		run.record(ack{chat: run.idx, sender: sender, key: key, text: text, seq: ev.GetSeq(), attempts: attempts, original: original})
		cc.mu.Lock()
		cc.acks++
		if at := ev.GetTime().AsTime(); !cc.mark.IsZero() && at.After(cc.mark) && (cc.firstAfter.IsZero() || at.Before(cc.firstAfter)) {
			cc.firstAfter = at
		}
		cc.mu.Unlock()
	}
}

// acked is how many messages were acknowledged.
func (cc *clusterChats) acked() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.acks
}

// markTime starts looking for the first message stored after at.
func (cc *clusterChats) markTime(at time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.mark, cc.firstAfter = at, time.Time{}
}

// firstStoredAfterMark is the stored time of the first message stored
// after the mark (zero if none yet).
func (cc *clusterChats) firstStoredAfterMark() time.Time {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.firstAfter
}

// getRuns is a copy of the chats under way.
func (cc *clusterChats) getRuns() []*chatRun {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return append([]*chatRun(nil), cc.runs...)
}

// waitAcks waits until n more messages than before were acknowledged.
func (cc *clusterChats) waitAcks(ctx context.Context, before, n int, failed <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, converge)
	defer cancel()
	for {
		if k := cc.acked(); k >= before+n {
			return nil
		}
		select {
		case <-failed:
			return errors.New("a client failed")
		case <-ctx.Done():
			k := cc.acked()
			return fmt.Errorf("%d messages acknowledged in %v, want %d", k-before, converge, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkOneActiveChat checks that every visitor of runs is in exactly one
// active chat, its own: a StartChat retried across a failover never opened
// a second one.
func (cc *clusterChats) checkOneActiveChat(ctx context.Context, t *testing.T) {
	t.Helper()
	api := cc.c.apis[0]
	for _, run := range cc.getRuns() {
		chats := must(api.chat.ListChats(ctx, as(cc.c.adminKey, &pb.ListChatsRequest{VisitorId: run.visitorID})))(t).Msg.GetChats()
		var active []string
		for _, ch := range chats {
			if ch.GetChat().GetState() == pb.ChatState_CHAT_STATE_ACTIVE {
				active = append(active, ch.GetChat().GetId())
			}
		}
		if len(chats) != 1 || len(active) != 1 || active[0] != run.id {
			t.Errorf("visitor %d is in chats %v, active %v; want only chat %s", run.idx, chats, active, run.id)
		}
	}
}
