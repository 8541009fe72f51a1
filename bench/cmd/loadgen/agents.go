package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/proactivechat/proactivechat/bench/hist"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// agentPool plays the agents' consoles in the load generator itself: each
// agent on its own connection holds WatchAgent (alerts) and, optionally,
// WatchPresence (who is on the sites), accepts every alert, follows each
// of its chats with WatchChat, and answers now and then.
type agentPool struct {
	launchAfter time.Duration
	replyEvery  int
	msgSize     int
	replyOn     atomic.Bool

	agents []*agent

	mu         sync.Mutex
	hists      map[string]*hist.Histogram
	alertTimes map[string]int64 // with-invite alerts by visitor id (unix ns)
	chats      map[string]*agentChat
	firstErr   []string

	alerts, accepted, acceptErrors, presenceEvents, received, replies, errors atomic.Int64
	// resnapshots counts WatchAgent streams, presenceResnapshots WatchPresence
	// streams, cut off as slow and started again by the server.
	resnapshots, presenceResnapshots atomic.Int64
}

type agent struct {
	id string
	// ctx carries the agent's session token; every call of the agent
	// derives from it.
	ctx  context.Context
	conn *grpc.ClientConn
	ag   pb.AgentServiceClient
	cc   pb.ChatServiceClient

	// online is who the agent's WatchPresence says is on its sites: the
	// snapshot, then arrivals and departures.
	presenceMu sync.Mutex
	online     map[string]struct{}
}

type agentChat struct {
	id        string
	agent     *agent
	visitorID string
	mu        sync.Mutex
	lastSeq   uint32
	fromVis   int
}

func (p *agentPool) fail(format string, args ...any) {
	p.errors.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.firstErr) < 10 {
		p.firstErr = append(p.firstErr, fmt.Sprintf(format, args...))
	}
}

func (p *agentPool) record(name string, ns int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hists[name]
	if h == nil {
		h = hist.New()
		p.hists[name] = h
	}
	h.Record(ns)
}

// startAgents creates the agents, gives each a session (as its console
// would sign in), makes them available and opens their streams. ctx
// carries the admin API key.
//
// Agent i connects to servers[i mod len(servers)].
func startAgents(ctx context.Context, servers []string, admin pb.AdminServiceClient, n, capacity int, siteIDs []string, presence bool, launchAfter time.Duration, replyEvery, msgSize int) (*agentPool, error) {
	p := &agentPool{launchAfter: launchAfter, replyEvery: replyEvery, msgSize: msgSize,
		hists: map[string]*hist.Histogram{}, alertTimes: map[string]int64{}, chats: map[string]*agentChat{}}
	for i := range n {
		resp, err := admin.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: fmt.Sprintf("Agent %d", i+1), SiteIds: siteIDs, MaxConcurrentChats: uint32(capacity)})
		if err != nil {
			return nil, fmt.Errorf("CreateAgent: %w", err)
		}
		id := resp.GetAgent().GetId()
		token := ""
		if authenticated(ctx) {
			sess, err := admin.CreateAgentSession(ctx, &pb.CreateAgentSessionRequest{AgentId: id})
			if err != nil {
				return nil, fmt.Errorf("CreateAgentSession: %w", err)
			}
			token = sess.GetToken()
		}
		// A presence snapshot lists everyone online: with 100,000 visitors
		// it is far over grpc-go's default 4 MiB limit.
		conn, err := dial(servers[i%len(servers)], fmt.Sprintf("127.0.254.%d", 1+i%250), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
		if err != nil {
			return nil, err
		}
		a := &agent{id: id, ctx: withToken(context.Background(), token), conn: conn, ag: pb.NewAgentServiceClient(conn), cc: pb.NewChatServiceClient(conn),
			online: map[string]struct{}{}}
		p.agents = append(p.agents, a)
		ready := make(chan error, 2)
		go p.watchAgent(a, ready)
		if presence {
			go p.watchPresence(a, ready)
		}
		if err := <-ready; err != nil {
			return nil, err
		}
		if presence {
			if err := <-ready; err != nil {
				return nil, err
			}
		}
		if _, err := a.ag.SetAgentStatus(a.ctx, &pb.SetAgentStatusRequest{AgentId: a.id, Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE}); err != nil {
			return nil, fmt.Errorf("SetAgentStatus: %w", err)
		}
	}
	return p, nil
}

func (p *agentPool) watchAgent(a *agent, ready chan<- error) {
	s, err := a.ag.WatchAgent(a.ctx, &pb.WatchAgentRequest{AgentId: a.id})
	if err == nil {
		_, err = s.Recv() // the snapshot
	}
	ready <- err
	if err != nil {
		return
	}
	seen := map[string]bool{} // the alerts this console has taken up
	for {
		m, err := s.Recv()
		if err != nil {
			return // the server is gone (the run is over)
		}
		if snap := m.GetSnapshot(); snap != nil {
			// The server cut a slow stream off and started it again: the
			// new snapshot lists the alerts still offered, as a console
			// would show them; those not taken up yet are taken up now.
			p.resnapshots.Add(1)
			for _, alert := range snap.GetAlerts() {
				p.alerted(a, alert, seen)
			}
			continue
		}
		if alert := m.GetAlert(); alert != nil {
			p.alerted(a, alert, seen)
		}
	}
}

// alerted takes up an alert once: records its latency and accepts it.
func (p *agentPool) alerted(a *agent, alert *pb.Alert, seen map[string]bool) {
	if seen[alert.GetChatRequest().GetId()] {
		return
	}
	seen[alert.GetChatRequest().GetId()] = true
	now := time.Now()
	p.alerts.Add(1)
	req := alert.GetChatRequest()
	if req.GetKind() == pb.ChatRequestKind_CHAT_REQUEST_KIND_PRESENCE {
		due := req.GetVisitStartTime().AsTime().Add(p.launchAfter)
		p.record("noinvite_alert", now.Sub(due).Nanoseconds())
	} else {
		p.mu.Lock()
		p.alertTimes[req.GetVisitorId()] = now.UnixNano()
		p.mu.Unlock()
	}
	go p.accept(a, req)
}

func (p *agentPool) watchPresence(a *agent, ready chan<- error) {
	s, err := a.ag.WatchPresence(a.ctx, &pb.WatchPresenceRequest{AgentId: a.id})
	var m *pb.WatchPresenceResponse
	if err == nil {
		m, err = s.Recv()
	}
	if err == nil {
		a.sawPresence(m)
	}
	ready <- err
	if err != nil {
		return
	}
	for {
		m, err := s.Recv()
		if err != nil {
			return
		}
		if m.GetSnapshot() != nil {
			p.presenceResnapshots.Add(1) // cut off as slow and started again
		} else {
			p.presenceEvents.Add(1)
		}
		a.sawPresence(m)
	}
}

// sawPresence applies one message of the agent's presence stream to its
// view of who is online. A snapshot (the first message, or after the
// server cut a slow stream off) replaces the view.
func (a *agent) sawPresence(m *pb.WatchPresenceResponse) {
	a.presenceMu.Lock()
	defer a.presenceMu.Unlock()
	switch ev := m.GetEvent().(type) {
	case *pb.WatchPresenceResponse_Snapshot:
		clear(a.online)
		for _, v := range ev.Snapshot.GetVisitors() {
			a.online[v.GetVisitorId()] = struct{}{}
		}
	case *pb.WatchPresenceResponse_Arrived:
		a.online[ev.Arrived.GetVisitorId()] = struct{}{}
	case *pb.WatchPresenceResponse_Changed:
		a.online[ev.Changed.GetVisitorId()] = struct{}{}
	case *pb.WatchPresenceResponse_Departed:
		delete(a.online, ev.Departed.GetVisitorId())
	}
}

// presenceViews returns how many visitors each agent's presence stream
// says are online, lowest first.
func (p *agentPool) presenceViews() []int {
	var out []int
	for _, a := range p.agents {
		a.presenceMu.Lock()
		out = append(out, len(a.online))
		a.presenceMu.Unlock()
	}
	slices.Sort(out)
	return out
}

func (p *agentPool) accept(a *agent, req *pb.ChatRequest) {
	ctx, cancel := context.WithTimeout(a.ctx, 60*time.Second)
	defer cancel()
	resp, err := a.ag.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{AgentId: a.id, ChatRequestId: req.GetId()})
	if err != nil {
		p.acceptErrors.Add(1)
		p.fail("AcceptChatRequest: %v", err)
		return
	}
	c := &agentChat{id: resp.GetChat().GetId(), agent: a, visitorID: req.GetVisitorId()}
	p.mu.Lock()
	p.chats[c.id] = c
	p.mu.Unlock()
	p.accepted.Add(1)
	go p.follow(c)
}

// follow is the agent's view of one chat: each visitor message's latency
// counts from the time it was scheduled to be sent.
func (p *agentPool) follow(c *agentChat) {
	s, err := c.agent.cc.WatchChat(c.agent.ctx, &pb.WatchChatRequest{ChatId: c.id})
	if err != nil {
		p.fail("WatchChat: %v", err)
		return
	}
	for {
		m, err := s.Recv()
		if err != nil {
			return
		}
		ev := m.GetChatEvent()
		if ev == nil {
			continue
		}
		now := time.Now().UnixNano()
		c.mu.Lock()
		c.lastSeq = max(c.lastSeq, ev.GetSeq())
		c.mu.Unlock()
		msg := ev.GetMessage()
		if msg.GetSender().GetRole() != pb.ParticipantRole_PARTICIPANT_ROLE_VISITOR {
			continue
		}
		phase, sched, ok := parseMessage(msg.GetText())
		if !ok {
			continue
		}
		p.received.Add(1)
		switch phase {
		case 'L':
			p.record("visitor_to_agent", now-sched)
			c.mu.Lock()
			c.fromVis++
			reply := p.replyEvery > 0 && c.fromVis%p.replyEvery == 0 && p.replyOn.Load()
			k := c.fromVis
			c.mu.Unlock()
			if reply {
				p.replies.Add(1)
				go p.say(c, 'R', k)
			}
		case 'M':
			p.record("visitor_to_agent_closed_loop", now-sched)
		}
	}
}

// say sends one agent message and returns its sequence number.
func (p *agentPool) say(c *agentChat, phase byte, k int) uint32 {
	ctx, cancel := context.WithTimeout(c.agent.ctx, 60*time.Second)
	defer cancel()
	resp, err := c.agent.cc.SendMessage(ctx, &pb.SendMessageRequest{
		ChatId: c.id, SenderId: c.agent.id, Text: messageText(phase, time.Now().UnixNano(), k, p.msgSize),
		IdempotencyKey: fmt.Sprintf("%c-%d", phase, k),
	})
	if err != nil {
		p.fail("agent SendMessage: %v", err)
		return 0
	}
	return resp.GetEvent().GetSeq()
}

// stormBacklog has every agent write n messages to each of its chats while
// the visitors are away; it returns each chat's last sequence number.
func (p *agentPool) stormBacklog(n int) (map[string]uint32, int) {
	p.mu.Lock()
	chats := make([]*agentChat, 0, len(p.chats))
	for _, c := range p.chats {
		chats = append(chats, c)
	}
	p.mu.Unlock()
	targets := make(map[string]uint32, len(chats))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	sent := 0
	for _, c := range chats {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var last uint32
			for k := range n {
				if seq := p.say(c, 'S', 1000000+k); seq > 0 {
					last = seq
					mu.Lock()
					sent++
					mu.Unlock()
				}
			}
			c.mu.Lock()
			last = max(last, c.lastSeq)
			c.mu.Unlock()
			mu.Lock()
			targets[c.id] = last
			mu.Unlock()
		}()
	}
	wg.Wait()
	return targets, sent
}

func (p *agentPool) close() {
	for _, a := range p.agents {
		a.conn.Close()
	}
}
