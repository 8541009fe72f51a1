package domain

import (
	"context"
	"time"
)

// commitTx is one attempt of an Update made through Service.update: the
// store's transaction, and what the attempt recorded. A Store may run an
// Update's fn more than once; each attempt starts a new commitTx, so only
// the attempt that commits has its events handled.
type commitTx struct {
	WriteTx
	// events are the log's events this attempt recorded, in order.
	events []*Event
	// hooks are the mechanism effects (afterCommit) registered so far,
	// each after the events recorded before it.
	hooks []commitHook
	// first holds the events of the usual attempt, which records one,
	// without allocating a slice for it.
	first [1]*Event
	// wrote names the first write of the attempt that quiet did not
	// declare mechanism-only; quiet counts the quiet calls under way.
	wrote string
	quiet int
}

// commitHook is a mechanism effect to run after the first at events of
// its transaction have been handled.
type commitHook struct {
	at int
	f  func()
}

// update runs fn in a read-write transaction of the store, like
// Store.Update, and hands the events fn recorded (record) to committed once
// the transaction is durable: one hook per transaction, so what the product
// does after a change — live notifications, timers, counters — follows from
// the events alone, in commit order.
func (s *Service) update(ctx context.Context, fn func(WriteTx) error) error {
	return s.store.Update(ctx, func(tx WriteTx) error {
		ct := &commitTx{WriteTx: tx}
		ct.events = ct.first[:0]
		if err := fn(ct); err != nil {
			return err
		}
		if ct.wrote != "" && len(ct.events) == 0 {
			// No change commits without its event: fn failing here
			// writes nothing (the store discards the transaction).
			return Errorf(CodeInternal, "a change committed without its event (%s)", ct.wrote)
		}
		if len(ct.events) > 0 || len(ct.hooks) > 0 {
			tx.OnCommit(func() { s.committed(ct) })
		}
		return nil
	})
}

// attempt is the commitTx of tx, which must come from Service.update.
func attempt(tx WriteTx) (*commitTx, error) {
	ct, ok := tx.(*commitTx)
	if !ok {
		return nil, Errorf(CodeInternal, "a transaction not begun by Service.update")
	}
	return ct, nil
}

// quiet runs write, which writes in tx what is mechanism, not a change of
// the product, so needs no event of its own; why says what it is. Every
// other write of an Update through Service.update must come with an event
// (record), or the Update fails with CodeInternal and writes nothing. The
// mechanism: a visitor's session token (StartVisitorSession; the visit is
// visitor.arrived), a page-view summary on the same page, the retention
// sweep's deletions and an erasure (which leaves nothing of the visitor,
// not even an event naming them), the webhook engine's cursors and
// delivery logs.
func quiet(tx WriteTx, why string, write func() error) error {
	ct, err := attempt(tx)
	if err != nil {
		return err
	}
	_ = why // said at the call site, where the next reader needs it
	ct.quiet++
	defer func() { ct.quiet-- }()
	return write()
}

// wrote notes a write of the attempt, unless quiet declared it.
func (ct *commitTx) write(what string) {
	if ct.wrote == "" && ct.quiet == 0 {
		ct.wrote = what
	}
}

// The writes of WriteTx, each noted (wrote) before it is made.

func (ct *commitTx) PutSite(v *Site) error   { ct.write("PutSite"); return ct.WriteTx.PutSite(v) }
func (ct *commitTx) PutAgent(v *Agent) error { ct.write("PutAgent"); return ct.WriteTx.PutAgent(v) }
func (ct *commitTx) PutVisitor(v *Visitor) error {
	ct.write("PutVisitor")
	return ct.WriteTx.PutVisitor(v)
}
func (ct *commitTx) PutVisitorToken(hash []byte, visitorID string) error {
	ct.write("PutVisitorToken")
	return ct.WriteTx.PutVisitorToken(hash, visitorID)
}
func (ct *commitTx) PutAPIKey(v *APIKey) error { ct.write("PutAPIKey"); return ct.WriteTx.PutAPIKey(v) }
func (ct *commitTx) DeleteAPIKey(hash []byte) error {
	ct.write("DeleteAPIKey")
	return ct.WriteTx.DeleteAPIKey(hash)
}
func (ct *commitTx) PutAgentSession(v *AgentSession) error {
	ct.write("PutAgentSession")
	return ct.WriteTx.PutAgentSession(v)
}
func (ct *commitTx) DeleteAgentSession(hash []byte) error {
	ct.write("DeleteAgentSession")
	return ct.WriteTx.DeleteAgentSession(hash)
}
func (ct *commitTx) PutAgentPasswordHash(agentID, encoded string) error {
	ct.write("PutAgentPasswordHash")
	return ct.WriteTx.PutAgentPasswordHash(agentID, encoded)
}
func (ct *commitTx) PutSiteIdentitySecret(siteID, secret string) error {
	ct.write("PutSiteIdentitySecret")
	return ct.WriteTx.PutSiteIdentitySecret(siteID, secret)
}
func (ct *commitTx) CountRating(siteID, agentID string, t time.Time, score uint32) error {
	ct.write("CountRating")
	return ct.WriteTx.CountRating(siteID, agentID, t, score)
}
func (ct *commitTx) PutChat(v *Chat) error { ct.write("PutChat"); return ct.WriteTx.PutChat(v) }
func (ct *commitTx) AppendChatEvent(v ChatEvent) error {
	ct.write("AppendChatEvent")
	return ct.WriteTx.AppendChatEvent(v)
}
func (ct *commitTx) AppendWhisper(v Whisper) error {
	ct.write("AppendWhisper")
	return ct.WriteTx.AppendWhisper(v)
}
func (ct *commitTx) PutCannedReply(v *CannedReply) error {
	ct.write("PutCannedReply")
	return ct.WriteTx.PutCannedReply(v)
}
func (ct *commitTx) DeleteCannedReply(siteID, id string) error {
	ct.write("DeleteCannedReply")
	return ct.WriteTx.DeleteCannedReply(siteID, id)
}
func (ct *commitTx) AppendChatNote(v ChatNote) error {
	ct.write("AppendChatNote")
	return ct.WriteTx.AppendChatNote(v)
}
func (ct *commitTx) PutInvitation(v *Invitation) error {
	ct.write("PutInvitation")
	return ct.WriteTx.PutInvitation(v)
}
func (ct *commitTx) PutChatRequest(v *ChatRequest) error {
	ct.write("PutChatRequest")
	return ct.WriteTx.PutChatRequest(v)
}
func (ct *commitTx) PutOfflineMessage(v *OfflineMessage) error {
	ct.write("PutOfflineMessage")
	return ct.WriteTx.PutOfflineMessage(v)
}
func (ct *commitTx) AppendRoutingDecision(v *RoutingDecision) error {
	ct.write("AppendRoutingDecision")
	return ct.WriteTx.AppendRoutingDecision(v)
}
func (ct *commitTx) EraseVisitor(visitorID string) error {
	ct.write("EraseVisitor")
	return ct.WriteTx.EraseVisitor(visitorID)
}
func (ct *commitTx) DeleteChat(chatID string) error {
	ct.write("DeleteChat")
	return ct.WriteTx.DeleteChat(chatID)
}
func (ct *commitTx) AddFunnel(siteID string, t time.Time, slots []int) error {
	ct.write("AddFunnel")
	return ct.WriteTx.AddFunnel(siteID, t, slots)
}
func (ct *commitTx) AddRuleFunnel(siteID, ruleID, variantID string, t time.Time, slots []int) error {
	ct.write("AddRuleFunnel")
	return ct.WriteTx.AddRuleFunnel(siteID, ruleID, variantID, t, slots)
}
func (ct *commitTx) DeleteEventsBefore(cutoff time.Time, limit int) (int, error) {
	ct.write("DeleteEventsBefore")
	return ct.WriteTx.DeleteEventsBefore(cutoff, limit)
}
func (ct *commitTx) PutWebhook(v *Webhook) error {
	ct.write("PutWebhook")
	return ct.WriteTx.PutWebhook(v)
}
func (ct *commitTx) DeleteWebhook(id string) error {
	ct.write("DeleteWebhook")
	return ct.WriteTx.DeleteWebhook(id)
}
func (ct *commitTx) AppendWebhookDelivery(v *WebhookDelivery) error {
	ct.write("AppendWebhookDelivery")
	return ct.WriteTx.AppendWebhookDelivery(v)
}

// afterCommit runs f once tx has committed, in order with the handling of
// the events recorded before it. It is for mechanism only: effects that
// change nothing of the product's state (an in-memory list of visitors
// waiting for an agent, a timer re-armed where it already was, a cache of
// credentials); everything that follows a change of state follows from
// its event in committed.
func afterCommit(tx WriteTx, f func()) error {
	ct, err := attempt(tx)
	if err != nil {
		return err
	}
	ct.hooks = append(ct.hooks, commitHook{at: len(ct.events), f: f})
	return nil
}

// committed is the commit handler: it turns the events of a durable
// transaction into what follows them, one event after the other, in the
// order they were recorded, after telling the log's watchers (WatchEvents,
// webhooks) of each.
func (s *Service) committed(ct *commitTx) {
	h := 0
	for i, ev := range ct.events {
		for ; h < len(ct.hooks) && ct.hooks[h].at <= i; h++ {
			ct.hooks[h].f()
		}
		// Every subscriber gets the same *Event, which nobody changes.
		s.broker.Publish(eventsTopic, ev)
		s.handle(ev)
	}
	for ; h < len(ct.hooks); h++ {
		ct.hooks[h].f()
	}
}

// handle does what follows one committed event.
func (s *Service) handle(ev *Event) {
	switch ev.Type {
	case EventVisitorArrived, EventVisitorIdentified:
	case EventVisitorLeft:
		s.timers.cancel("launch/" + ev.VisitorID)
	case EventInvitationSent:
		inv := ev.invitation
		s.timers.at("invite/"+inv.ID, inv.ExpireTime, func() { s.expireInvitation(inv.ID) })
	case EventInvitationAccepted, EventInvitationDeclined, EventInvitationExpired, EventInvitationWithdrawn:
		s.timers.cancel("invite/" + ev.InvitationID)
	case EventRequestQueued:
		s.requestQueued(ev)
	case EventRequestAlerted:
		s.requestAlerted(ev)
	case EventRequestDeclined, EventRequestAlertExpired, EventRequestAlertWithdrawn:
		s.alertTakenBack(ev)
	case EventRequestAccepted:
		s.requestAccepted(ev)
	case EventRequestAbandoned:
		s.requestAbandoned(ev)
	case EventRequestHoldStarted:
		requestID := ev.RequestID
		s.timers.at("hold/"+requestID, ev.Deadline, func() { s.holdExpired(requestID) })
	case EventRequestHoldEnded:
		s.timers.cancel("hold/" + ev.RequestID)
	case EventChatStarted, EventChatMessage, EventChatParticipantLeft, EventChatEnded, EventChatTransferred,
		EventChatInactivityWarning:
		s.chatChanged(ev)
		return
	case EventChatNoteAdded:
		s.publishNote(*ev.note)
	case EventChatWhisperSent:
		s.broker.Publish(agentTopic(ev.AgentID), WhisperEvent{Whisper: *ev.whisper})
	case EventAgentStatusChanged:
		s.publishAgent(ev.agent)
		if ev.Status == StatusAvailable {
			s.routeSoon(ev.agent.SiteIDs...)
		}
	case EventAgentUpdated:
		if ev.agent == nil {
			break // a new password: the agent's record is as it was
		}
		if ev.rightsChanged {
			s.agentRightsChanged(ev.AgentID)
		}
		s.publishAgent(ev.agent)
		s.routeSoon(ev.routeSites...)
	case EventWebhookCreated, EventWebhookUpdated, EventWebhookDeleted, EventWebhookSecretRotated:
		s.broker.Publish(webhooksTopic, ev.WebhookID)
	case EventAPIKeyRevoked, EventAgentSessionRevoked:
		s.creds.revoke(ev.revokes())
	}
	// What an event may carry whatever its type: the request and the
	// visitor after the change, for the queue's and the visitor's streams.
	if ev.request != nil {
		s.queueChanged(ev.request, ev.Position)
	}
	if ev.visitor != nil {
		s.visitorUpdated(ev.visitor)
	}
}

// requestQueued asks for a routing pass.
func (s *Service) requestQueued(ev *Event) {
	s.routeSoon(ev.SiteID)
}

// requestAlerted arms the alert's deadline, then tells the agent.
func (s *Service) requestAlerted(ev *Event) {
	// The deadline is armed before anyone hears of the alert.
	requestID, agentID, deadline := ev.RequestID, ev.AgentID, ev.alert.Request.AlertDeadline
	s.timers.at("alert/"+requestID, deadline, func() { s.passAlert(requestID, agentID, "expired") })
	s.counters.alertsOffered.Add(1)
	alert := *ev.alert
	alert.Position = ev.Position
	s.broker.Publish(agentTopic(agentID), alert)
}

// alertTakenBack follows an alert passed on (declined, expired) or
// withdrawn: the request is queued again and routed.
func (s *Service) alertTakenBack(ev *Event) {
	switch ev.Type {
	case EventRequestDeclined:
		s.counters.alertsDeclined.Add(1)
	case EventRequestAlertExpired:
		s.counters.alertsExpired.Add(1)
	}
	s.timers.cancel("alert/" + ev.RequestID)
	s.broker.Publish(agentTopic(ev.AgentID), AlertWithdrawn{RequestID: ev.RequestID, Reason: ev.Reason})
	s.routeSoon(ev.SiteID)
}

// requestAccepted ends the request's timers and its alert.
func (s *Service) requestAccepted(ev *Event) {
	s.timers.cancel("alert/" + ev.RequestID)
	s.timers.cancel("hold/" + ev.RequestID)
	if ev.wasAlerted {
		s.counters.alertsAccepted.Add(1)
		s.broker.Publish(agentTopic(ev.AgentID), AlertWithdrawn{RequestID: ev.RequestID, Reason: "accepted"})
	}
	s.waits.observe(ev.SiteID, ev.waited)
}

// requestAbandoned ends the request's timers and its alert, if any.
func (s *Service) requestAbandoned(ev *Event) {
	s.timers.cancel("alert/" + ev.RequestID)
	s.timers.cancel("hold/" + ev.RequestID)
	if ev.alertedAgentID != "" {
		s.broker.Publish(agentTopic(ev.alertedAgentID), AlertWithdrawn{RequestID: ev.RequestID, Reason: ev.Reason})
		s.routeSoon(ev.SiteID) // the agent's capacity is free again
	}
}

// chatChanged publishes a chat's event to its watchers and what follows
// for its participants and timers.
func (s *Service) chatChanged(ev *Event) {
	s.publishChatEvents(*ev.chatEvent)
	if ev.visitor != nil {
		s.visitorUpdated(ev.visitor)
	}
	if ev.fromAgent != nil {
		s.publishAgent(ev.fromAgent)
	}
	if ev.agent != nil {
		s.publishAgent(ev.agent)
	}
	if len(ev.routeSites) > 0 {
		s.routeSoon(ev.routeSites...)
	}
	if ev.Type == EventChatEnded {
		s.timers.cancel("idle/" + ev.ChatID)
		s.counters.chatsEnded[ev.EndReason].Add(1)
	}
	if ev.idle != nil {
		s.scheduleInactivity(ev.chat, *ev.idle)
	}
	if ev.Type == EventChatInactivityWarning {
		// The warning is out: the chat ends at its deadline unless
		// someone writes (checkInactivity looks again then).
		chatID := ev.ChatID
		s.timers.at("idle/"+chatID, ev.Deadline, func() { s.checkInactivity(chatID) })
	}
}
