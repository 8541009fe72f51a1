package domain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Routing rule: a chat request goes to exactly one agent at a time, chosen
// among the agents who serve the site, are AVAILABLE, are under their
// max_concurrent_chats (counting chats and alerts already offered to them)
// and have not passed on this request. Agents with no chat come first,
// longest idle first (since their last chat ended, or since they became
// available if they have had none); then agents with chats, fewest first;
// ties go by id. Requests are served first in, first out: an earlier request
// picks its agent before a later one. A request every candidate passed on
// waits until another agent can take it; any agent of the site can still
// accept it from the queue.

// router runs routing passes off the caller's path: commit hooks only mark
// sites as needing a pass, because a hook may not write to the store.
type router struct {
	s       *Service
	mu      sync.Mutex
	dirty   map[string]bool
	running bool
	wg      sync.WaitGroup
}

func newRouter(s *Service) *router {
	return &router{s: s, dirty: map[string]bool{}}
}

// routeSoon asks for a routing pass over the given sites.
func (s *Service) routeSoon(siteIDs ...string) {
	r := s.router
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range siteIDs {
		r.dirty[id] = true
	}
	if r.running || len(r.dirty) == 0 || s.ctx.Err() != nil {
		return
	}
	r.running = true
	r.wg.Add(1)
	go r.run()
}

func (r *router) run() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.dirty) == 0 || r.s.ctx.Err() != nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		sites := make([]string, 0, len(r.dirty))
		for id := range r.dirty {
			sites = append(sites, id)
		}
		clear(r.dirty)
		r.mu.Unlock()
		sort.Strings(sites)
		for _, id := range sites {
			if err := r.s.route(r.s.ctx, id); err != nil && r.s.ctx.Err() == nil {
				r.s.log.Error("routing failed", "site", id, "err", err)
			}
		}
	}
}

// wait waits for a running pass to finish (after the Service is closed).
func (r *router) wait() { r.wg.Wait() }

// route offers the site's queued requests to agents, first in first out.
func (s *Service) route(ctx context.Context, siteID string) error {
	var invitesWaiting bool
	var free, known bool // whether an agent can take a chat after this pass
	err := s.store.Update(ctx, func(tx WriteTx) error {
		known = false
		site, err := tx.Site(siteID)
		if err != nil {
			return ignoreNotFound(err)
		}
		if !site.ProactiveOn() {
			// Turned off: nobody will be alerted, so nobody is left waiting.
			requests, err := tx.OpenChatRequests(siteID)
			if err != nil {
				return err
			}
			for _, req := range requests {
				visitor, err := tx.Visitor(req.VisitorID)
				if err != nil {
					return err
				}
				if err := s.abandon(tx, req, visitor, "proactive chat was turned off"); err != nil {
					return err
				}
			}
			return nil
		}
		pool, err := newAgentPool(tx, siteID)
		if err != nil {
			return err
		}
		invitesWaiting = pool.anyFree(nil) // for the visitors whose rules wait for an agent
		defer func() { free, known = pool.anyFree(nil), true }()
		if !pool.anyFree(nil) {
			// Nobody can take a request: a long queue costs nothing to
			// look at until somebody can.
			return nil
		}
		if !site.OpenAt(s.clock.Now()) {
			// Outside business hours nobody is alerted: requests queued
			// before closing wait (agents may still take them from the
			// queue) and are offered at the opening, when the site's
			// hours timer routes again (refreshSite).
			return nil
		}
		requests, err := tx.QueuedChatRequests(siteID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		for _, req := range requests {
			if !pool.anyFree(nil) {
				break
			}
			agent, reason := pool.pick(req.PassedAgentIDs, now)
			if agent == nil {
				continue
			}
			pool.load[agent.ID]++
			if err := s.offer(tx, site, req, agent, reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && invitesWaiting {
		for _, id := range s.awaiting.take(siteID) {
			s.launch(id)
		}
	}
	if err == nil && known && s.available.changed(siteID, free) {
		// The widgets on the site show "Leave a message" while nobody can
		// take a chat: tell them their site's status changed.
		for _, id := range s.presence.onSite(siteID) {
			s.broker.Publish(visitorTopic(id), VisitorChanged{VisitorID: id})
		}
	}
	return err
}

// siteAvailability remembers, per site, whether an agent could take a chat
// after the last routing pass, so that the site's widgets are told only
// when that changes.
type siteAvailability struct {
	mu     sync.Mutex
	bySite map[string]bool
}

// changed records free for a site and reports whether it differs from
// before (a site seen for the first time has not changed).
func (a *siteAvailability) changed(siteID string, free bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	old, seen := a.bySite[siteID]
	a.bySite[siteID] = free
	return seen && old != free
}

// offer alerts agent of req in tx.
func (s *Service) offer(tx WriteTx, site *Site, req *ChatRequest, agent *Agent, reason string) error {
	now := s.clock.Now()
	if err := req.Offer(agent, reason, now.Add(site.ProactiveChat.AlertTimeout())); err != nil {
		return err
	}
	visitor, err := tx.Visitor(req.VisitorID)
	if err != nil {
		return err
	}
	if err := visitor.Alerting(); err != nil {
		return err
	}
	decision := &RoutingDecision{ChatRequestID: req.ID, SiteID: site.ID, Time: now, AgentID: agent.ID, Reason: reason}
	if err := tx.PutChatRequest(req); err != nil {
		return err
	}
	if err := tx.PutVisitor(visitor); err != nil {
		return err
	}
	if err := tx.AppendRoutingDecision(decision); err != nil {
		return err
	}
	if err := s.record(tx, Event{Type: EventRequestAlerted, SiteID: site.ID, VisitorID: req.VisitorID, RequestID: req.ID, AgentID: agent.ID, Reason: reason}); err != nil {
		return err
	}
	alert := AlertEvent{Request: *req, Reason: reason}
	tx.OnCommit(func() {
		// The deadline is armed before anyone hears of the alert.
		agentID, deadline := agent.ID, req.AlertDeadline
		s.timers.at("alert/"+req.ID, deadline, func() { s.passAlert(req.ID, agentID, "expired") })
		s.counters.alertsOffered.Add(1)
		s.broker.Publish(agentTopic(agent.ID), alert)
		s.queueChanged(req)
		s.visitorUpdated(visitor)
	})
	return nil
}

// agentPool is the agents who may be alerted for one site's requests.
type agentPool struct {
	agents []*Agent
	// load counts each agent's chats and pending alerts, of every site.
	load map[string]int
}

func newAgentPool(tx ReadTx, siteID string) (*agentPool, error) {
	all, err := tx.Agents()
	if err != nil {
		return nil, err
	}
	pool := &agentPool{load: map[string]int{}}
	var ids []string
	for _, a := range all {
		if a.available() && a.Serves(siteID) {
			pool.agents = append(pool.agents, a)
			ids = append(ids, a.ID)
		}
	}
	if len(pool.agents) == 0 {
		return pool, nil
	}
	alerts, err := tx.AlertCounts(ids)
	if err != nil {
		return nil, err
	}
	for _, a := range pool.agents {
		pool.load[a.ID] = len(a.ActiveChatIDs) + alerts[a.ID]
	}
	return pool, nil
}

func (p *agentPool) free(a *Agent) int { return a.freeChats(p.load[a.ID]) }

func (p *agentPool) anyFree(passed []string) bool {
	for _, a := range p.agents {
		if p.free(a) > 0 && !slices.Contains(passed, a.ID) {
			return true
		}
	}
	return false
}

// pick chooses the agent by the routing rule, and says why.
func (p *agentPool) pick(passed []string, now time.Time) (*Agent, string) {
	var candidates []*Agent
	for _, a := range p.agents {
		if p.free(a) > 0 && !slices.Contains(passed, a.ID) {
			candidates = append(candidates, a)
		}
	}
	if len(candidates) == 0 {
		return nil, ""
	}
	idleSince := func(a *Agent) time.Time {
		if !a.LastChatEndTime.IsZero() && a.LastChatEndTime.After(a.StatusChangeTime) {
			return a.LastChatEndTime
		}
		return a.StatusChangeTime
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if la, lb := p.load[a.ID], p.load[b.ID]; (la == 0) != (lb == 0) {
			return la == 0
		} else if la != lb {
			return la < lb
		}
		if ia, ib := idleSince(a), idleSince(b); !ia.Equal(ib) {
			return ia.Before(ib)
		}
		return a.ID < b.ID
	})
	best := candidates[0]
	why := "fewest chats"
	if p.load[best.ID] == 0 {
		why = fmt.Sprintf("longest idle (%s)", now.Sub(idleSince(best)).Round(time.Second))
	}
	return best, fmt.Sprintf("%s, %d of %d chats free; %d candidate(s)", why, p.free(best), best.MaxConcurrentChats, len(candidates))
}

// AcceptChatRequest claims a chat request for the agent and starts the
// chat. The request must be offered to this agent or still queued; of
// concurrent claims exactly one wins and the others get FailedPrecondition.
func (s *Service) AcceptChatRequest(ctx context.Context, agentID, requestID string) (*Chat, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	required(&v, "chat_request_id", requestID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var chat *Chat
	err := s.store.Update(ctx, func(tx WriteTx) error {
		req, err := tx.ChatRequest(requestID)
		if err != nil {
			return err
		}
		agent, err := tx.Agent(agentID)
		if err != nil {
			return err
		}
		chat, err = s.accept(tx, agent, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return chat, nil
}

// accept claims req for agent in tx and starts the chat.
func (s *Service) accept(tx WriteTx, agent *Agent, req *ChatRequest) (*Chat, error) {
	site, err := tx.Site(req.SiteID)
	if err != nil {
		return nil, err
	}
	switch {
	case !agent.Serves(req.SiteID):
		return nil, Errorf(CodePermissionDenied, "agent %q does not serve site %q", agent.ID, req.SiteID)
	case req.State == RequestAccepted:
		return nil, Errorf(CodeFailedPrecondition, "chat request %q was already accepted", req.ID)
	case !req.Open():
		return nil, Errorf(CodeFailedPrecondition, "chat request %q is closed: the visitor left", req.ID)
	case req.State == RequestAlerting && req.AlertedAgentID != agent.ID:
		return nil, Errorf(CodeFailedPrecondition, "chat request %q is offered to another agent", req.ID)
	}
	if err := agent.canTakeChat(); err != nil {
		return nil, err
	}
	visitor, err := tx.Visitor(req.VisitorID)
	if err != nil {
		return nil, err
	}
	wasAlerted := req.State == RequestAlerting
	now := s.clock.Now()
	// The acceptance comes first in the log, then the chat it opens.
	chatID := newID("chat")
	if err := s.record(tx, Event{Type: EventRequestAccepted, Time: now, SiteID: req.SiteID, VisitorID: req.VisitorID, RequestID: req.ID, AgentID: agent.ID, ChatID: chatID, Wait: max(now.Sub(req.EnqueueTime), 0),
		RuleID: req.RuleID, VariantID: req.VariantID, HeldOut: req.HeldOut}); err != nil {
		return nil, err
	}
	chat, err := s.openChat(tx, chatID, site, agent, visitor, req.ID)
	if err != nil {
		return nil, err
	}
	if !req.HeldOut && req.RuleID != "" {
		chat.RuleID, chat.VariantID = req.RuleID, req.VariantID
		if err := tx.PutChat(chat); err != nil {
			return nil, err
		}
	}
	if err := req.Accept(agent, chat.ID, now); err != nil {
		return nil, err
	}
	if err := tx.PutChatRequest(req); err != nil {
		return nil, err
	}
	waited := now.Sub(req.EnqueueTime)
	tx.OnCommit(func() {
		s.timers.cancel("alert/" + req.ID)
		s.timers.cancel("hold/" + req.ID)
		if wasAlerted {
			s.counters.alertsAccepted.Add(1)
			s.broker.Publish(agentTopic(agent.ID), AlertWithdrawn{RequestID: req.ID, Reason: "accepted"})
		}
		s.waits.observe(req.SiteID, waited)
		s.queueChanged(req)
	})
	return chat, nil
}

// DeclineChatRequest passes an alert on to the next available agent. An
// agent not serving the request's site is PermissionDenied, as
// AcceptChatRequest answers it; a request not offered to the agent is
// FailedPrecondition.
func (s *Service) DeclineChatRequest(ctx context.Context, agentID, requestID string) error {
	var v Violations
	required(&v, "agent_id", agentID)
	required(&v, "chat_request_id", requestID)
	if err := v.Err(); err != nil {
		return err
	}
	return s.passAlertTx(ctx, requestID, agentID, "declined", true)
}

// passAlert is the alert deadline's timer: the agent let it expire.
func (s *Service) passAlert(requestID, agentID, reason string) {
	err := s.passAlertTx(s.ctx, requestID, agentID, reason, false)
	if err != nil && s.ctx.Err() == nil && ErrorCode(err) != CodeFailedPrecondition &&
		!s.timers.retry("alert/"+requestID, err, func() { s.passAlert(requestID, agentID, reason) }) {
		s.log.Error("alert expiry failed", "request", requestID, "err", err)
	}
}

func (s *Service) passAlertTx(ctx context.Context, requestID, agentID, reason string, byAgent bool) error {
	return s.store.Update(ctx, func(tx WriteTx) error {
		req, err := tx.ChatRequest(requestID)
		if err != nil {
			return err
		}
		if byAgent {
			agent, err := tx.Agent(agentID)
			if err != nil {
				return err
			}
			// As AcceptChatRequest and the rest of the API answer: another
			// site's request is none of the agent's business, whatever its
			// state.
			if !agent.Serves(req.SiteID) {
				return Errorf(CodePermissionDenied, "agent %q does not serve site %q", agent.ID, req.SiteID)
			}
		}
		if req.State != RequestAlerting || req.AlertedAgentID != agentID {
			return Errorf(CodeFailedPrecondition, "chat request %q is not offered to agent %q", requestID, agentID)
		}
		if !byAgent && s.clock.Now().Before(req.AlertDeadline) {
			return nil // a stale timer: the deadline moved
		}
		tx.OnCommit(func() {
			if byAgent {
				s.counters.alertsDeclined.Add(1)
			} else {
				s.counters.alertsExpired.Add(1)
			}
		})
		return s.unoffer(tx, req, reason, true)
	})
}

// unoffer puts an alerting request back in the queue; with pass, its agent
// is not alerted for it again.
func (s *Service) unoffer(tx WriteTx, req *ChatRequest, reason string, pass bool) error {
	agentID := req.AlertedAgentID
	if err := req.Unoffer(pass); err != nil {
		return err
	}
	visitor, err := tx.Visitor(req.VisitorID)
	if err != nil {
		return err
	}
	if err := visitor.BackToQueue(); err != nil {
		return err
	}
	if err := tx.PutChatRequest(req); err != nil {
		return err
	}
	if err := tx.PutVisitor(visitor); err != nil {
		return err
	}
	if err := s.record(tx, Event{Type: unofferEvent(reason, pass), SiteID: req.SiteID, VisitorID: req.VisitorID, RequestID: req.ID, AgentID: agentID, Reason: reason}); err != nil {
		return err
	}
	tx.OnCommit(func() {
		s.timers.cancel("alert/" + req.ID)
		s.broker.Publish(agentTopic(agentID), AlertWithdrawn{RequestID: req.ID, Reason: reason})
		s.queueChanged(req)
		s.visitorUpdated(visitor)
		s.routeSoon(req.SiteID)
	})
	return nil
}

// unofferEvent is the event of an alert taken back: passed on because the
// agent declined or let it expire, or withdrawn because the agent can no
// longer take it.
func unofferEvent(reason string, pass bool) EventType {
	switch {
	case !pass:
		return EventRequestAlertWithdrawn
	case reason == "declined":
		return EventRequestDeclined
	}
	return EventRequestAlertExpired
}

// withdrawAlerts puts every request offered to an agent who stopped being
// available back in the queue, without holding it against them.
func (s *Service) withdrawAlerts(tx WriteTx, agentID, reason string) error {
	open, err := tx.OpenChatRequests("")
	if err != nil {
		return err
	}
	for _, req := range open {
		if req.State == RequestAlerting && req.AlertedAgentID == agentID {
			if err := s.unoffer(tx, req, reason, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// withdrawSiteAlerts puts the requests of a site offered to an agent who no
// longer serves it back in the queue.
func (s *Service) withdrawSiteAlerts(tx WriteTx, agentID, siteID string) error {
	open, err := tx.OpenChatRequests(siteID)
	if err != nil {
		return err
	}
	for _, req := range open {
		if req.State == RequestAlerting && req.AlertedAgentID == agentID {
			if err := s.unoffer(tx, req, "agent no longer serves the site", false); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListQueue returns a site's open chat requests, first in first out.
func (s *Service) ListQueue(ctx context.Context, siteID string) (reqs []*ChatRequest, err error) {
	if siteID == "" {
		return nil, invalid("site_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		reqs, err = tx.OpenChatRequests(siteID)
		return err
	})
	return reqs, err
}

// ListRoutingDecisions returns a site's latest routing decisions, newest first.
func (s *Service) ListRoutingDecisions(ctx context.Context, siteID string, pageSize int) (ds []*RoutingDecision, err error) {
	var v Violations
	required(&v, "site_id", siteID)
	if pageSize < 0 || pageSize > MaxPageSize {
		v.Add("page_size", "must be between 1 and %d", MaxPageSize)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		ds, err = tx.RoutingDecisions(siteID, cmp.Or(pageSize, DefaultPageSize))
		return err
	})
	return ds, err
}

func ignoreNotFound(err error) error {
	if ErrorCode(err) == CodeNotFound {
		return nil
	}
	return err
}

// waitEstimates keeps each site's recent wait in the queue, for the
// estimated wait a queued visitor sees.
type waitEstimates struct {
	mu     sync.Mutex
	bySite map[string]time.Duration
}

// observe folds one wait into the site's moving average.
func (w *waitEstimates) observe(siteID string, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.bySite[siteID]; ok {
		d = (old*3 + d) / 4
	}
	w.bySite[siteID] = d
}

// estimate is the wait of a visitor at position (1-based): zero without history.
func (w *waitEstimates) estimate(siteID string, position int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bySite[siteID] * time.Duration(position)
}
