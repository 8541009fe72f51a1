package crashtest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// The timings of the timers test: deadlines of a few seconds, so that each
// is pending at a kill; the test never asserts how long anything took.
const (
	timersLaunchAfter  = 3  // seconds on the site before the flow starts
	timersInvite       = 6  // seconds an invitation waits for an answer
	timersAlert        = 4  // seconds an alerted agent has to accept
	timersHold         = 8  // seconds a queued visitor who left keeps its place
	timersIdle         = 14 // seconds without a message before a chat ends
	timersIdleWarning  = 7  // seconds before that end both sides are warned
	timersVisitors     = 3  // visitors on each of the invite and no-invite sites
	timersTestTimeout  = 4 * time.Minute
	timersWebhookTypes = "agent.status_changed launch.fired invitation.sent invitation.expired invitation.withdrawn request.queued request.alerted request.alert_expired request.alert_withdrawn request.hold_started request.hold_ended request.abandoned chat.inactivity_warning chat.ended"
)

// TestCluster_TimersWebhooksAndANewNode runs three nodes as real processes
// and checks three promises of issue 17 on one cluster, in sequence:
//
//   - Timers fire once across a failover. Visitors watch from every node
//     on a site with invitations (launching criteria, then invitation
//     expiry), a site without (launching criteria, then an alert to each of
//     its two agents that expires in turn: the alert deadline), and a site
//     with a chat left quiet (inactivity: the warning, then the end) and a
//     visitor who asked for a chat and closed the widget (hold-my-place,
//     then the request is abandoned). The leader is SIGKILLed twice while
//     those deadlines are pending, and restarted. At the end the event log
//     holds each timer's effect exactly once per visitor, request or chat:
//     one launch per visitor, one invitation and its one expiry, two
//     alerts each followed by its one expiry then nothing, one warning and
//     one inactive end, one abandonment.
//   - Webhook deliveries survive leader kills. A receiver checks every
//     signature. Agent status changes are made through all the nodes the
//     whole time, and both kills hit the leader while the receiver holds a
//     delivery in flight. Every event of the subscribed types in the log
//     reaches the receiver. The invariant on duplicates: in the order the
//     receiver got them, deliveries follow the log's order, and an id only
//     comes again right after itself (the redelivery of the one a kill
//     interrupted, whose answer was never recorded), at most one id per
//     takeover; the held ones among them. Standard Webhooks receivers
//     dedupe on webhook-id.
//   - A node that joins new (a fourth process with an empty -db, routed to
//     the running three) catches up under load without stopping the
//     others: status changes keep being acknowledged while it joins; then
//     a call through it succeeds, a visitor's stream resumes through it
//     from a sequence, live; and its file converges with the others'.
func TestCluster_TimersWebhooksAndANewNode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kills the nodes with POSIX signals")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), timersTestTimeout)
	defer cancel()
	began := time.Now()
	c := startCluster(ctx, t, 3, "-webhooks-allow-http", "-webhooks-allow-private")
	formed := time.Now()
	cc := &clusterChats{c: c}
	admin := func(i int) *clients { return c.apis[i%len(c.apis)] }

	fail, failed := failer(ctx, t)
	streamCtx, stopStreams := context.WithCancel(ctx)
	holdCtx, closeHoldWidget := context.WithCancel(streamCtx)
	loadStop := make(chan struct{})
	var load sync.WaitGroup
	var stopLoadOnce sync.Once
	stopLoad := func() { stopLoadOnce.Do(func() { close(loadStop) }) }
	defer func() {
		stopLoad()
		closeHoldWidget()
		stopStreams()
		cancel()
		load.Wait()
		cc.streams.Wait()
	}()

	hooks := newHookReceiver()
	defer hooks.close()
	hook := must(admin(0).admin.CreateWebhook(ctx, as(c.adminKey, &pb.CreateWebhookRequest{
		Url: hooks.url(), EventTypes: strings.Fields(timersWebhookTypes),
	})))(t).Msg.GetWebhook()
	hooks.setSecret(hook.GetSecret())

	site := func(name string, pc *pb.ProactiveChatSettings, launcher bool) string {
		return must(admin(0).admin.CreateSite(ctx, as(c.adminKey, &pb.CreateSiteRequest{
			Name: name, AllowedOrigins: []string{"https://shop.example.com"}, ProactiveChat: pc,
			VisitorLauncher: &pb.VisitorLauncherSettings{Enabled: launcher},
		})))(t).Msg.GetSite().GetId()
	}
	inviteSite := site("timers: invitations", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE,
		LaunchAfterSeconds: timersLaunchAfter, InviteText: "Can we help?", InviteTimeoutSeconds: timersInvite,
	}, false)
	alertSite := site("timers: alerts", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
		LaunchAfterSeconds: timersLaunchAfter, AlertTimeoutSeconds: timersAlert,
	}, false)
	quietSite := site("timers: hold and inactivity", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
		LaunchAfterSeconds: 24 * 60 * 60, QueueHoldSeconds: timersHold,
		InactivityTimeoutSeconds: timersIdle, InactivityWarningSeconds: timersIdleWarning,
	}, true)
	plainSite := site("timers: a chat resumed through the new node", &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 24 * 60 * 60,
	}, false)
	agent := func(i int, name string, sites ...string) agentCreds {
		a := must(admin(i).admin.CreateAgent(ctx, as(c.adminKey, &pb.CreateAgentRequest{
			DisplayName: name, SiteIds: sites, MaxConcurrentChats: 100,
		})))(t).Msg.GetAgent()
		token := must(admin(i).admin.CreateAgentSession(ctx, as(c.adminKey, &pb.CreateAgentSessionRequest{AgentId: a.GetId()})))(t).Msg.GetToken()
		if len(sites) > 0 {
			must(admin(i).agent.SetAgentStatus(ctx, as(token, &pb.SetAgentStatusRequest{
				AgentId: a.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE,
			})))(t)
		}
		return agentCreds{a.GetId(), token}
	}
	// An invitation goes out only when an agent serving the site has room.
	agent(1, "Inviter", inviteSite)
	alertAgents := []agentCreds{agent(0, "Alerted 1", alertSite), agent(1, "Alerted 2", alertSite)}
	quietAgent := agent(2, "Quiet", quietSite, plainSite)
	toggler := agent(0, "Toggler")

	// The load the whole time: the toggler's status changes, each through
	// the next node, each retried across kills until acknowledged.
	var toggles atomic.Int64
	load.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-loadStop:
				return
			default:
			}
			status := pb.AgentStatus_AGENT_STATUS_AVAILABLE
			if i%2 == 1 {
				status = pb.AgentStatus_AGENT_STATUS_AWAY
			}
			_, _, _, err := ccall(ctx, c, i, fmt.Sprintf("status change %d", i), func(ctx context.Context, api *clients) (*pb.SetAgentStatusResponse, error) {
				res, err := api.agent.SetAgentStatus(ctx, as(toggler.token, &pb.SetAgentStatusRequest{AgentId: toggler.id, Status: status}))
				if err != nil {
					return nil, err
				}
				return res.Msg, nil
			})
			if err != nil {
				fail(err)
				return
			}
			toggles.Add(1)
			select {
			case <-loadStop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})

	// The visitors, each watching from its own node.
	visitor := func(ctx context.Context, siteID string, i int) *chatRun {
		t.Helper()
		s, _, _, err := ccall(ctx, c, i, "start visitor session", func(ctx context.Context, api *clients) (*pb.StartVisitorSessionResponse, error) {
			res, err := api.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: siteID}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return &chatRun{idx: i, visitorID: s.GetVisitor().GetId(), visitorToken: s.GetToken()}
	}
	watch := func(ctx context.Context, run *chatRun) {
		t.Helper()
		online := make(chan struct{})
		cc.streams.Go(func() { fail(cc.watch(ctx, run, online)) })
		select {
		case <-online:
		case <-ctx.Done():
			t.Fatalf("visitor %s never got its first state", run.visitorID)
		}
	}
	startChat := func(run *chatRun, a agentCreds) {
		t.Helper()
		chat, _, _, err := ccall(ctx, c, run.idx+1, "start chat", func(ctx context.Context, api *clients) (*pb.Chat, error) {
			res, err := api.agent.StartChat(ctx, as(a.token, &pb.StartChatRequest{AgentId: a.id, VisitorId: run.visitorID}))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetChat(), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		run.mu.Lock()
		run.id, run.agentID, run.agentToken = chat.GetId(), a.id, a.token
		run.mu.Unlock()
	}
	// The chat resumed through the new node at the end, and the quiet one.
	resumed := visitor(ctx, plainSite, 0)
	watch(streamCtx, resumed)
	startChat(resumed, quietAgent)
	quiet := visitor(ctx, quietSite, 1)
	watch(streamCtx, quiet)
	startChat(quiet, quietAgent)
	// The visitor who asks for a chat and leaves the page.
	holder := visitor(ctx, quietSite, 2)
	watch(holdCtx, holder)
	if _, _, _, err := ccall(ctx, c, 2, "ask for a chat", func(ctx context.Context, api *clients) (*pb.RequestChatResponse, error) {
		res, err := api.visitor.RequestChat(ctx, as(holder.visitorToken, &pb.RequestChatRequest{VisitorId: holder.visitorID}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}); err != nil {
		t.Fatal(err)
	}
	closeHoldWidget()
	// The visitors of the launching criteria, last, so that their launches
	// are still to come at the first kill.
	var invited, alerted []*chatRun
	for i := range timersVisitors {
		invited = append(invited, visitor(ctx, inviteSite, i))
		alerted = append(alerted, visitor(ctx, alertSite, i+1))
	}
	for _, run := range append(append([]*chatRun(nil), invited...), alerted...) {
		watch(streamCtx, run)
	}
	setUp := time.Now()

	// The kills: each of the leader, while the receiver holds a delivery.
	var leaderKills int
	killLeader := func(when string) {
		t.Helper()
		held := hooks.holdNext()
		var heldID string
		select {
		case heldID = <-held:
		case <-failed:
			t.FailNow()
		case <-ctx.Done():
			t.Fatalf("%s: no delivery was held", when)
		}
		leader, _ := c.leader(ctx)
		pending := timersPending(ctx, t, c, inviteSite, alertSite, quietSite)
		leader.kill()
		leaderKills++
		t.Logf("SIGKILL the leader %s %s, with delivery %s in flight; pending then: %s", leader.name, when, heldID, pending)
		if err := leader.start(ctx); err != nil {
			t.Fatalf("restart %s: %v", leader.name, err)
		}
	}
	// until is c.waitFor, with the condition's last answer before the
	// deadline cut a call short.
	until := func(what string, cond func(context.Context) error) {
		t.Helper()
		var why error
		c.waitFor(ctx, what, func(ctx context.Context) error {
			err := cond(ctx)
			if err != nil && ctx.Err() != nil && why != nil {
				return fmt.Errorf("%w (before that: %v)", err, why)
			}
			why = err
			return err
		})
	}
	killLeader("before the launches")
	// The second kill once every invitation and every first alert is out:
	// their expiries, the second alerts and the quiet chat's end are to come.
	until("every invitation and every first alert sent", func(ctx context.Context) error {
		ev, err := timerEvents(ctx, c, "invitation.sent request.alerted")
		if err != nil {
			return err
		}
		if n := countWhere(ev, "invitation.sent", inviteSite); n < timersVisitors {
			return fmt.Errorf("%d invitations sent", n)
		}
		if n := countWhere(ev, "request.alerted", alertSite); n < timersVisitors {
			return fmt.Errorf("%d alerts sent", n)
		}
		return nil
	})
	killLeader("with the invitations and the alerts out")

	// Every timer's effect happens.
	until("every timer's effect", func(ctx context.Context) error {
		select {
		case <-failed:
			return errors.New("a client failed")
		default:
		}
		ev, err := timerEvents(ctx, c, "invitation.expired request.alert_expired request.abandoned chat.ended")
		if err != nil {
			return err
		}
		for _, want := range []struct {
			typ, site string
			n         int
		}{{"invitation.expired", inviteSite, timersVisitors}, {"request.alert_expired", alertSite, 2 * timersVisitors},
			{"request.abandoned", quietSite, 1}, {"chat.ended", quietSite, 1}} {
			if n := countWhere(ev, want.typ, want.site); n < want.n {
				return fmt.Errorf("%d %s on site %s, want %d", n, want.typ, want.site, want.n)
			}
		}
		return nil
	})
	timed := time.Now()
	select {
	case <-failed:
		t.FailNow()
	default:
	}

	// A fourth node joins, new, while the status changes go on: they are
	// acknowledged from its start until it holds the leader's position.
	n4 := c.newNode(ctx, "n4")
	before := toggles.Load()
	if err := n4.start(ctx); err != nil {
		t.Fatalf("start the new node: %v", err)
	}
	api4 := newClients(&http.Client{Transport: c.transport}, n4.url(), c.adminKey)
	caughtUpNew(ctx, c, n4)
	during := toggles.Load() - before
	if during == 0 {
		t.Errorf("no status change was acknowledged while the new node joined")
	}
	joined := time.Now()
	checkNewNode(ctx, t, c, api4, resumed)
	stopLoad()
	load.Wait()
	select {
	case <-failed:
		t.FailNow()
	default:
	}

	// The webhook deliveries.
	want, err := timerEvents(ctx, c, timersWebhookTypes)
	if err != nil {
		t.Fatal(err)
	}
	delivered := hooks.waitAll(ctx, t, want)
	takeovers := c.takeovers(t) + n4.takeovers(t)
	if takeovers < leaderKills {
		t.Errorf("the nodes' logs show %d takeovers, want at least the %d leader kills", takeovers, leaderKills)
	}
	hooks.check(t, want, takeovers)

	// The timers fired exactly once each.
	ev, err := timerEvents(ctx, c, timersWebhookTypes)
	if err != nil {
		t.Fatal(err)
	}
	checkTimers(t, ev, invited, alerted, alertAgents, quiet, holder)

	closeHoldWidget()
	stopStreams()
	cc.streams.Wait()
	c.nodes = append(c.nodes, n4)
	c.apis = append(c.apis, api4)
	checked := time.Now()
	pos := c.converged(ctx)
	t.Logf("leader kills: %d (takeovers: %d); status changes acknowledged: %d, %d of them while the new node joined; events delivered to the webhook: %d (%d ids twice); the four files converged at log position %d",
		leaderKills, takeovers, toggles.Load(), during, len(want), delivered, pos)
	t.Logf("the test took %v: %v to form the cluster, %v to set up, %v of timers and kills, %v for the new node to join, %v of checks, %v to converge",
		time.Since(began).Round(time.Millisecond), formed.Sub(began).Round(time.Millisecond), setUp.Sub(formed).Round(time.Millisecond),
		timed.Sub(setUp).Round(time.Millisecond), joined.Sub(timed).Round(time.Millisecond), checked.Sub(joined).Round(time.Millisecond), time.Since(checked).Round(time.Millisecond))
}

// newNode is a new node of the cluster, not started: an empty -db, routed
// to every node's NATS address. It is not among c.nodes (clients going
// through the nodes do not use it) until the caller adds it.
func (c *testCluster) newNode(ctx context.Context, name string) *clusterNode {
	t := c.t
	s := newServer(t, serverBinary(t), c.transport)
	s.db = filepath.Join(s.logDir, "data", name+".db")
	s.healthTimeout = converge
	listen := freeAddr(t)
	var routes []string
	for _, n := range c.nodes {
		routes = append(routes, n.nats)
	}
	s.args = append([]string{"-log-level", "info", "-node", name, "-nats-listen", listen, "-nats-routes", strings.Join(routes, ",")}, c.extra...)
	n := &clusterNode{server: s, name: name, nats: listen}
	t.Cleanup(func() {
		n.stop(syscall.SIGKILL)
		if t.Failed() {
			for _, log := range n.logs {
				t.Logf("%s %s:\n%s", n.name, filepath.Base(log), tail(log))
			}
		}
	})
	return n
}

// takeovers counts the times a node began to lead after the first: the
// lines its logs have for that.
func (c *testCluster) takeovers(t *testing.T) int {
	t.Helper()
	n := 0
	for _, node := range c.nodes {
		n += node.takeovers(t)
	}
	return n - 1
}

// takeovers counts the times the node began to lead.
func (n *clusterNode) takeovers(t *testing.T) int {
	t.Helper()
	k := 0
	for _, log := range n.logs {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		k += bytes.Count(b, []byte(" msg=leading "))
	}
	return k
}

// caughtUpNew waits until the node that joined is ready, follows the
// leader and holds the leader's position as it was at some moment.
func caughtUpNew(ctx context.Context, c *testCluster, n4 *clusterNode) {
	c.t.Helper()
	leader, _ := c.leader(ctx)
	c.waitFor(ctx, "the new node names the leader and holds its position", func(ctx context.Context) error {
		lst, err := c.nodeStatus(ctx, leader)
		if err != nil {
			return err
		}
		st, err := c.nodeStatus(ctx, n4)
		if err != nil {
			return err
		}
		if !st.Ready || st.Leading || st.Leader != leader.name || st.Position < lst.Position {
			return fmt.Errorf("the new node says %+v, the leader %+v", st, lst)
		}
		return nil
	})
}

// checkNewNode checks that the node that joined serves: a write through it
// is acknowledged, and a visitor's stream through it resumes after a
// sequence of its chat and goes on live.
func checkNewNode(ctx context.Context, t *testing.T, c *testCluster, api *clients, run *chatRun) {
	t.Helper()
	// A retry is only for a lost call (the new node's first forward).
	retry := func(what string, f func(context.Context) error) {
		t.Helper()
		c.waitFor(ctx, what+" through the new node", func(ctx context.Context) error {
			callCtx, cancel := context.WithTimeout(ctx, callTimeout)
			defer cancel()
			err := f(callCtx)
			if err != nil && definite(err) {
				t.Fatalf("%s through the new node: %v", what, err)
			}
			return err
		})
	}
	send := func(text string) uint32 {
		var seq uint32
		retry("send "+text, func(ctx context.Context) error {
			res, err := api.chat.SendMessage(ctx, as(run.agentToken, &pb.SendMessageRequest{
				ChatId: run.id, SenderId: run.agentID, Text: text, IdempotencyKey: "new-node-" + text,
			}))
			if err == nil {
				seq = res.Msg.GetEvent().GetSeq()
			}
			return err
		})
		return seq
	}
	first := send("one")
	send("two")
	// The stream resumes after the first message: it gets the second, then
	// the third, sent once it is open, live.
	streamCtx, cancel := context.WithTimeout(ctx, converge)
	defer cancel()
	stream, err := api.visitor.WatchVisitor(streamCtx, as(run.visitorToken, &pb.WatchVisitorRequest{
		VisitorId: run.visitorID, ResumeChatId: run.id, ResumeAfterSeq: first,
	}))
	if err != nil {
		t.Fatalf("watch through the new node: %v", err)
	}
	defer stream.Close()
	next := first + 1
	sentLive := false
	for next <= first+2 {
		if !stream.Receive() {
			t.Fatalf("the stream through the new node ended before event %d: %v", next, stream.Err())
		}
		msg := stream.Msg()
		if msg.GetState() != nil && !sentLive {
			sentLive = true
			send("three")
		}
		ev := msg.GetChatEvent()
		if ev == nil {
			continue
		}
		if ev.GetChatId() != run.id || ev.GetSeq() != next {
			t.Fatalf("the stream through the new node resumed after %d with event %d of chat %s, want %d of %s", first, ev.GetSeq(), ev.GetChatId(), next, run.id)
		}
		next++
	}
}

// timerEvents are the events of types (space-separated) in the log, read
// through the nodes, page by page.
func timerEvents(ctx context.Context, c *testCluster, types string) ([]*pb.Event, error) {
	var all []*pb.Event
	for after := uint64(0); ; {
		res, _, _, err := ccall(ctx, c, int(after), "list events", func(ctx context.Context, api *clients) (*pb.ListEventsResponse, error) {
			res, err := api.admin.ListEvents(ctx, as(c.adminKey, &pb.ListEventsRequest{After: after, PageSize: 500, Types: strings.Fields(types)}))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		})
		if err != nil {
			return nil, err
		}
		all = append(all, res.GetEvents()...)
		if !res.GetHasMore() {
			return all, nil
		}
		after = res.GetNextAfter()
	}
}

func countWhere(evs []*pb.Event, typ, siteID string) int {
	n := 0
	for _, e := range evs {
		if e.GetType() == typ && e.GetSiteId() == siteID {
			n++
		}
	}
	return n
}

// timersPending says, for the log, how many of each timer's deadlines are
// pending: launches not fired, invitations not expired, alerts not expired,
// the hold not over, the quiet chat not ended.
func timersPending(ctx context.Context, t *testing.T, c *testCluster, inviteSite, alertSite, quietSite string) string {
	t.Helper()
	ev, err := timerEvents(ctx, c, timersWebhookTypes)
	if err != nil {
		t.Fatal(err)
	}
	n := func(typ, site string) int { return countWhere(ev, typ, site) }
	return fmt.Sprintf("launches %d; invitations %d; alerts %d; holds %d; quiet chats %d",
		2*timersVisitors-n("launch.fired", inviteSite)-n("launch.fired", alertSite),
		n("invitation.sent", inviteSite)-n("invitation.expired", inviteSite),
		n("request.alerted", alertSite)-n("request.alert_expired", alertSite),
		n("request.hold_started", quietSite)-n("request.abandoned", quietSite),
		1-n("chat.ended", quietSite))
}

// checkTimers checks that each timer's effect is in the log exactly once.
func checkTimers(t *testing.T, evs []*pb.Event, invited, alerted []*chatRun, alertAgents []agentCreds, quiet, holder *chatRun) {
	t.Helper()
	byVisitor := map[string][]*pb.Event{}
	for _, e := range evs {
		var v string
		switch p := e.GetPayload().(type) {
		case *pb.Event_LaunchFired:
			v = p.LaunchFired.GetVisitorId()
		case *pb.Event_InvitationSent:
			v = p.InvitationSent.GetVisitorId()
		case *pb.Event_InvitationExpired:
			v = p.InvitationExpired.GetVisitorId()
		case *pb.Event_InvitationWithdrawn:
			v = p.InvitationWithdrawn.GetVisitorId()
		case *pb.Event_RequestQueued:
			v = p.RequestQueued.GetVisitorId()
		case *pb.Event_RequestAlerted:
			v = p.RequestAlerted.GetVisitorId()
		case *pb.Event_RequestAlertExpired:
			v = p.RequestAlertExpired.GetVisitorId()
		case *pb.Event_RequestAlertWithdrawn:
			v = p.RequestAlertWithdrawn.GetVisitorId()
		case *pb.Event_RequestHoldStarted:
			v = p.RequestHoldStarted.GetVisitorId()
		case *pb.Event_RequestHoldEnded:
			v = p.RequestHoldEnded.GetVisitorId()
		case *pb.Event_RequestAbandoned:
			v = p.RequestAbandoned.GetVisitorId()
		case *pb.Event_ChatEnded:
			v = p.ChatEnded.GetVisitorId()
		case *pb.Event_ChatInactivityWarning:
			v = p.ChatInactivityWarning.GetVisitorId()
		default:
			continue
		}
		byVisitor[v] = append(byVisitor[v], e)
	}
	// seq is the types of v's events, but for the holds: a takeover holds
	// every open request until its visitor is back.
	seq := func(v string, holds bool) string {
		var s []string
		for _, e := range byVisitor[v] {
			if holds || !strings.HasPrefix(e.GetType(), "request.hold_") {
				s = append(s, e.GetType())
			}
		}
		return strings.Join(s, " ")
	}
	// With invite: launched once, invited once, the invitation expired
	// once (never again: a visitor who let one expire is not invited
	// again).
	for _, run := range invited {
		if got, want := seq(run.visitorID, true), "launch.fired invitation.sent invitation.expired"; got != want {
			t.Errorf("invited visitor %s: events %q, want %q", run.visitorID, got, want)
			continue
		}
		evs := byVisitor[run.visitorID]
		if sent, expired := evs[1].GetInvitationSent().GetInvitationId(), evs[2].GetInvitationExpired().GetInvitationId(); sent != expired {
			t.Errorf("invited visitor %s: invitation %s sent, %s expired", run.visitorID, sent, expired)
		}
	}
	// Without invite: launched once, queued once, each agent alerted once
	// and each alert expired once, then the request waits, passed by both.
	for _, run := range alerted {
		got := seq(run.visitorID, false)
		if want := "launch.fired request.queued request.alerted request.alert_expired request.alerted request.alert_expired"; got != want {
			t.Errorf("alerted visitor %s: events %q, want %q", run.visitorID, got, want)
			continue
		}
		var evs []*pb.Event
		for _, e := range byVisitor[run.visitorID] {
			if !strings.HasPrefix(e.GetType(), "request.hold_") {
				evs = append(evs, e)
			}
		}
		req := evs[1].GetRequestQueued().GetChatRequestId()
		a1, x1 := evs[2].GetRequestAlerted(), evs[3].GetRequestAlertExpired()
		a2, x2 := evs[4].GetRequestAlerted(), evs[5].GetRequestAlertExpired()
		if a1.GetAgentId() != x1.GetAgentId() || a2.GetAgentId() != x2.GetAgentId() || a1.GetAgentId() == a2.GetAgentId() ||
			a1.GetChatRequestId() != req || x1.GetChatRequestId() != req || a2.GetChatRequestId() != req || x2.GetChatRequestId() != req {
			t.Errorf("alerted visitor %s: request %s, alerts %v then %v, expiries %v then %v; want each of %v alerted once, and that alert expired",
				run.visitorID, req, a1, a2, x1, x2, alertAgents)
		}
	}
	// Inactivity: warned once, ended once, as inactive.
	if got, want := seq(quiet.visitorID, true), "chat.inactivity_warning chat.ended"; got != want {
		t.Errorf("the quiet chat's visitor: events %q, want %q", got, want)
	} else if e := byVisitor[quiet.visitorID][1].GetChatEnded(); e.GetChatId() != quiet.id || e.GetReason() != pb.ChatEndReason_CHAT_END_REASON_INACTIVE {
		t.Errorf("the quiet chat ended as %v, want chat %s ended as inactive", e, quiet.id)
	}
	// Hold-my-place: held once, never back, abandoned once. It was alerted
	// to the site's agent first; that alert's deadline is later.
	var holds []string
	for _, e := range byVisitor[holder.visitorID] {
		if typ := e.GetType(); typ == "request.queued" || typ == "request.abandoned" || strings.HasPrefix(typ, "request.hold_") {
			holds = append(holds, typ)
		}
	}
	if got, want := strings.Join(holds, " "), "request.queued request.hold_started request.abandoned"; got != want {
		t.Errorf("the visitor who left the queue: events %q, want %q (of all: %q)", got, want, seq(holder.visitorID, true))
	}
}

// hookReceiver is a webhook endpoint that checks every signature, records
// the order in which deliveries arrive, and holds one delivery when told
// to, until its sender is gone.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	secret   string
	arrivals []string
	received map[string]int
	badSigs  []string
	hold     chan string // the next delivery is held and its id sent here
	held     []string
}

func newHookReceiver() *hookReceiver {
	h := &hookReceiver{received: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *hookReceiver) url() string { return h.srv.URL }
func (h *hookReceiver) close()      { h.srv.Close() }

func (h *hookReceiver) setSecret(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret = s
}

// holdNext holds the next delivery; its id comes on the channel.
func (h *hookReceiver) holdNext() <-chan string {
	ch := make(chan string, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hold = ch
	return ch
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the sender died mid-request: nothing arrived
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, r.Header.Get("webhook-timestamp"), body)
	if r.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		h.badSigs = append(h.badSigs, id)
	}
	h.arrivals = append(h.arrivals, id)
	h.received[id]++
	hold := h.hold
	h.hold = nil
	if hold != nil {
		h.held = append(h.held, id)
	}
	h.mu.Unlock()
	if hold != nil {
		hold <- id
		<-r.Context().Done() // the sender is killed
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitAll waits until every event of want has arrived, and returns how
// many ids arrived more than once.
func (h *hookReceiver) waitAll(ctx context.Context, t *testing.T, want []*pb.Event) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, converge)
	defer cancel()
	for {
		h.mu.Lock()
		var missing []string
		for _, e := range want {
			if h.received[e.GetId()] == 0 {
				missing = append(missing, e.GetId())
			}
		}
		twice := 0
		for _, n := range h.received {
			if n > 1 {
				twice++
			}
		}
		h.mu.Unlock()
		if len(missing) == 0 {
			return twice
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d events never delivered: %v", len(missing), len(want), missing)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// check checks the signatures and the invariant on duplicates: in the
// order of arrival, positions increase, but for an id that comes again
// right after itself, at most one per takeover (a kill, or a leader that
// a loaded machine kept silent too long), the held ones among them; and
// nothing arrived that is not in the log.
func (h *hookReceiver) check(t *testing.T, want []*pb.Event, takeovers int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.badSigs) > 0 {
		t.Errorf("bad signatures on %v", h.badSigs)
	}
	// Events made after want was read (agents without a console go
	// offline after a grace) may arrive too, after want's last.
	inLog := map[string]bool{}
	var lastWanted uint64
	for _, e := range want {
		inLog[e.GetId()] = true
		lastWanted = max(lastWanted, e.GetPosition())
	}
	repeats := map[string]bool{}
	var last uint64
	var bad []string
	for i, id := range h.arrivals {
		pos, err := strconv.ParseUint(strings.TrimPrefix(id, "evt_"), 16, 64)
		if err != nil {
			t.Fatalf("delivery %d: webhook-id %q: %v", i, id, err)
		}
		if !inLog[id] && pos <= lastWanted {
			bad = append(bad, fmt.Sprintf("delivery %d: %s is not an event of the log's subscribed types", i, id))
		}
		switch {
		case i > 0 && id == h.arrivals[i-1]:
			repeats[id] = true
		case pos <= last:
			bad = append(bad, fmt.Sprintf("delivery %d: %s (position %d) after position %d: out of order, or a duplicate that was not in flight at a kill", i, id, pos, last))
		}
		last = max(last, pos)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d deliveries break the order; the first:\n%s", len(bad), len(h.arrivals), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	if len(repeats) > takeovers {
		t.Errorf("%d ids delivered again after themselves, with %d takeovers: %v", len(repeats), takeovers, repeats)
	}
	for _, id := range h.held {
		if !repeats[id] {
			t.Errorf("delivery %s, held at a kill, was not delivered again right after", id)
		}
	}
}
