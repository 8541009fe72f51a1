package domain

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// visitorDisplayName is how a visitor appears in a chat.
const visitorDisplayName = "Visitor"

// StartChat lets an agent initiate a chat with a visitor on one of its sites.
// The agent must be available and under its capacity, the site's proactive
// chat enabled, and the visitor on the site and not already in a chat.
func (s *Service) StartChat(ctx context.Context, agentID, visitorID string) (*Chat, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	required(&v, "visitor_id", visitorID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var chat *Chat
	err := s.update(ctx, func(tx WriteTx) error {
		agent, visitor, site, err := s.agentAndVisitor(tx, agentID, visitorID)
		if err != nil {
			return err
		}
		if err := agent.canTakeChat(); err != nil {
			return err
		}
		switch {
		case visitor.ActiveChatID != "":
			return Errorf(CodeFailedPrecondition, "visitor %q is already in chat %q", visitor.ID, visitor.ActiveChatID)
		case visitor.ChatRequestID != "":
			// The visitor already waits for an agent: starting the chat
			// claims that request.
			req, err := tx.ChatRequest(visitor.ChatRequestID)
			if err != nil {
				return err
			}
			chat, err = s.accept(tx, agent, req)
			return err
		case visitor.Engagement == EngagementInvited || visitor.Engagement == EngagementFillingForm:
			return Errorf(CodeFailedPrecondition, "visitor %q is answering an invitation", visitor.ID)
		case !s.presence.online(visitor.ID):
			return Errorf(CodeFailedPrecondition, "visitor %q is not on the site", visitor.ID)
		}
		chat, err = s.openChat(tx, newID("chat"), site, agent, visitor, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return chat, nil
}

// agentAndVisitor loads an agent reaching out to a visitor, and the
// visitor's site, and checks what every way of reaching out needs: the
// agent serves the site and the site's proactive chat is enabled.
func (s *Service) agentAndVisitor(tx ReadTx, agentID, visitorID string) (*Agent, *Visitor, *Site, error) {
	agent, err := tx.Agent(agentID)
	if err != nil {
		return nil, nil, nil, err
	}
	visitor, err := tx.Visitor(visitorID)
	if err != nil {
		return nil, nil, nil, err
	}
	site, err := tx.Site(visitor.SiteID)
	if err != nil {
		return nil, nil, nil, err
	}
	if !agent.Serves(site.ID) {
		return nil, nil, nil, Errorf(CodePermissionDenied, "agent %q does not serve site %q", agent.ID, site.ID)
	}
	if !site.ProactiveOn() {
		return nil, nil, nil, Errorf(CodeFailedPrecondition, "proactive chat is disabled on site %q", site.ID)
	}
	return agent, visitor, site, nil
}

// openChat starts chat chatID between agent and visitor in tx, for the
// chat request requestID if not empty, and schedules what follows the
// commit.
func (s *Service) openChat(tx WriteTx, chatID string, site *Site, agent *Agent, visitor *Visitor, requestID string) (*Chat, error) {
	now := s.clock.Now()
	chat := &Chat{
		ID:               chatID,
		SiteID:           site.ID,
		Visitor:          Participant{Role: RoleVisitor, ID: visitor.ID, DisplayName: cmp.Or(visitor.DisplayName(), visitorDisplayName)},
		Agent:            Participant{Role: RoleAgent, ID: agent.ID, DisplayName: agent.DisplayName},
		State:            ChatStateActive,
		CreateTime:       now,
		ChatRequestID:    requestID,
		LastActivityTime: now,
	}
	started := s.nextEvent(chat, now)
	started.Started = &ChatStarted{Visitor: chat.Visitor, Agent: chat.Agent}
	// A chat is this visit's proactive engagement, however it began: the
	// launching criteria do not fire again in the same visit.
	if err := visitor.StartChatting(chat.ID, now); err != nil {
		return nil, err
	}
	visitor.ChatCount++
	agent.ActiveChatIDs = append(agent.ActiveChatIDs, chat.ID)
	ev, err := s.putAll(tx, chat, visitor, agent, &started)
	if err != nil {
		return nil, err
	}
	ev.visitor, ev.agent, ev.chat, ev.idle = visitor, agent, chat, &site.ProactiveChat
	return chat, nil
}

// nextEvent numbers a new event of chat at now; the caller sets its kind and
// stores both the event and the chat. The events of one change share its
// time: that is how a reader tells that a chat closed for both at once (the
// console's "the chat closed for you too"), so the caller reads the clock
// once per change.
func (s *Service) nextEvent(chat *Chat, now time.Time) ChatEvent {
	chat.LastSeq++
	return ChatEvent{ChatID: chat.ID, Seq: chat.LastSeq, Time: now}
}

// putAll stores a chat, the visitor and agent records it changed, and its
// new events, each with its entry in the event log, whose position it sets
// in the caller's events: what is published and returned is what is
// stored. It returns the log's event of the last, where the caller sets
// what the commit handler does besides publishing the chat's events.
func (s *Service) putAll(tx WriteTx, chat *Chat, visitor *Visitor, agent *Agent, events ...*ChatEvent) (*Event, error) {
	if err := tx.PutChat(chat); err != nil {
		return nil, err
	}
	if visitor != nil {
		if err := tx.PutVisitor(visitor); err != nil {
			return nil, err
		}
	}
	if agent != nil {
		if err := tx.PutAgent(agent); err != nil {
			return nil, err
		}
	}
	var last *Event
	for _, ce := range events {
		// The log's event first, so the chat's event holds its position:
		// that is how erasing the chat finds the log's events about it.
		ev, err := s.recordChatEvent(tx, chat, ce)
		if err != nil {
			return nil, err
		}
		last = ev
		if err := tx.AppendChatEvent(*ce); err != nil {
			return nil, err
		}
	}
	return last, nil
}

// recordChatEvent records the log event of a chat event.
func (s *Service) recordChatEvent(tx WriteTx, chat *Chat, ce *ChatEvent) (*Event, error) {
	ev := Event{SiteID: chat.SiteID, ChatID: chat.ID, VisitorID: chat.Visitor.ID, eventEffects: eventEffects{chatEvent: ce}}
	switch {
	case ce.Started != nil:
		ev.Type, ev.AgentID, ev.RequestID = EventChatStarted, chat.Agent.ID, chat.ChatRequestID
	case ce.Message != nil:
		ev.Type, ev.Seq, ev.Participant, ev.Text = EventChatMessage, ce.Seq, ce.Message.Sender, ce.Message.Text
		ev.firstVisitorMessage = ce.Message.Sender.Role == RoleVisitor && chat.VisitorMessageCount == 1
	case ce.ParticipantLeft != nil:
		ev.Type, ev.Participant = EventChatParticipantLeft, *ce.ParticipantLeft
	case ce.Ended != nil:
		ev.Type, ev.EndReason = EventChatEnded, ce.Ended.Reason
	case ce.Transferred != nil:
		ev.Type, ev.FromAgentID, ev.AgentID = EventChatTransferred, ce.Transferred.From.ID, ce.Transferred.To.ID
	case ce.InactivityWarning != nil:
		ev.Type, ev.Deadline = EventChatInactivityWarning, ce.InactivityWarning.EndTime
	default:
		return nil, nil
	}
	e, err := s.recordEvent(tx, ev)
	if err != nil {
		return nil, err
	}
	ce.LogPosition = e.Position
	return e, nil
}

func (s *Service) publishChatEvents(events ...ChatEvent) {
	for _, ev := range events {
		s.broker.Publish(chatTopic(ev.ChatID), ev)
	}
}

// visitorUpdated tells the visitor's streams and the agents watching the
// site that the visitor's engagement changed.
func (s *Service) visitorUpdated(v *Visitor) {
	s.broker.Publish(visitorTopic(v.ID), VisitorChanged{VisitorID: v.ID})
	s.presence.engagementChanged(v)
}

// SendMessage appends a message to an active chat and returns it once it is
// durable. A retry with the same idempotency key returns the original
// message, even after the chat ended, and adds nothing.
func (s *Service) SendMessage(ctx context.Context, chatID, senderID, text, idempotencyKey string) (ChatEvent, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "sender_id", senderID)
	checkMessage(&v, "text", text)
	if len(idempotencyKey) > MaxIdempotencyKeyBytes {
		v.Add("idempotency_key", "must be at most %d bytes", MaxIdempotencyKeyBytes)
	} else if !utf8.ValidString(idempotencyKey) {
		// The key is stored with the message, in a protobuf string: not
		// UTF-8, the write failed as an internal error (found by
		// FuzzSendMessage).
		v.Add("idempotency_key", "must be UTF-8")
	}
	if err := v.Err(); err != nil {
		return ChatEvent{}, err
	}
	start := time.Now() // wall time, whatever the domain clock: this is a metric
	var msg ChatEvent
	var stored bool // false for a retry answered with the original
	var closed bool // the sender may write no more
	err := s.update(ctx, func(tx WriteTx) error {
		stored, closed = false, false
		chat, sender, err := participantOf(tx, chatID, senderID)
		if err != nil {
			return err
		}
		if err := chat.canWrite(sender); err != nil {
			closed = true
			return err
		}
		if idempotencyKey != "" {
			orig, found, err := messageByKey(tx, chatID, senderID, idempotencyKey)
			if err != nil || found {
				msg = orig
				return err
			}
		}
		site, err := tx.Site(chat.SiteID)
		if err != nil {
			return err
		}
		msg = s.nextEvent(chat, s.clock.Now())
		msg.Message = &ChatMessage{Sender: sender, Text: text, IdempotencyKey: idempotencyKey}
		if err := chat.Wrote(sender, msg.Time); err != nil {
			return err
		}
		ev, err := s.putAll(tx, chat, nil, nil, &msg)
		if err != nil {
			return err
		}
		ev.chat, ev.idle = chat, &site.ProactiveChat
		stored = true
		return nil
	})
	if err == nil && stored {
		s.counters.messages.Add(1)
		s.counters.messageLatency.Observe(time.Since(start).Seconds())
	}
	if closed && idempotencyKey != "" {
		// A retry of a message sent before the chat ended (or the sender
		// left) still gets its message. The sender's keys can change no
		// more, so a read transaction answers, off the store's writer: in
		// a chat that is not active, finding a key means reading the
		// chat's events.
		var orig ChatEvent
		var found bool
		lerr := s.store.View(ctx, func(tx ReadTx) error {
			var err error
			orig, found, err = messageByKey(tx, chatID, senderID, idempotencyKey)
			return err
		})
		if lerr != nil {
			return ChatEvent{}, lerr
		}
		if found {
			return orig, nil
		}
	}
	return msg, err
}

// messageByKey finds the message a sender appended with an idempotency key.
func messageByKey(tx ReadTx, chatID, senderID, key string) (ChatEvent, bool, error) {
	seq, found, err := tx.MessageSeqByKey(chatID, senderID, key)
	if err != nil || !found {
		return ChatEvent{}, false, err
	}
	events, err := tx.ChatEvents(chatID, seq-1, 1)
	if err != nil {
		return ChatEvent{}, false, err
	}
	if len(events) != 1 || events[0].Message == nil {
		return ChatEvent{}, false, Errorf(CodeInternal, "chat %q: message %d of idempotency key %q is missing", chatID, seq, key)
	}
	return events[0], true, nil
}

func checkMessage(v *Violations, field, text string) {
	switch {
	case strings.TrimSpace(text) == "":
		v.Add(field, "is required and must not be only white space")
	case len(text) > MaxMessageBytes:
		v.Add(field, "is %d bytes; the limit is %d bytes", len(text), MaxMessageBytes)
	case !utf8.ValidString(text):
		v.Add(field, "must be UTF-8")
	}
}

// participantOf loads a chat and the participant with id.
func participantOf(tx ReadTx, chatID, id string) (*Chat, Participant, error) {
	chat, err := tx.Chat(chatID)
	if err != nil {
		return nil, Participant{}, err
	}
	p, ok := chat.Participant(id)
	if !ok {
		return nil, Participant{}, Errorf(CodePermissionDenied, "%q is not a participant of chat %q", id, chatID)
	}
	return chat, p, nil
}

// SetTyping tells the other side of an active chat that id is typing or
// stopped. It is not stored.
func (s *Service) SetTyping(ctx context.Context, chatID, senderID string, typing bool) error {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "sender_id", senderID)
	if err := v.Err(); err != nil {
		return err
	}
	var p Participant
	err := s.store.View(ctx, func(tx ReadTx) error {
		chat, sender, err := participantOf(tx, chatID, senderID)
		if err != nil {
			return err
		}
		p = sender
		return chat.canWrite(sender)
	})
	if err != nil {
		return err
	}
	s.broker.Publish(chatTopic(chatID), Typing{ChatID: chatID, Participant: p, Typing: typing})
	return nil
}

// LeaveChat closes participantID's chat window. The other side is told; the
// chat ends when both have left. Leaving again, or leaving an ended chat,
// changes nothing.
func (s *Service) LeaveChat(ctx context.Context, chatID, participantID string) (*Chat, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "participant_id", participantID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var chat *Chat
	err := s.update(ctx, func(tx WriteTx) error {
		var p Participant
		var err error
		if chat, p, err = participantOf(tx, chatID, participantID); err != nil {
			return err
		}
		if chat.State == ChatStateEnded || chat.hasLeft(p.Role) {
			return nil
		}
		return s.leave(tx, chat, p, EndUnspecified)
	})
	if err != nil {
		return nil, err
	}
	return chat, nil
}

// leave makes participant p leave chat in tx. A participant who leaves is
// free at once: the visitor for a new chat, the agent's capacity for the
// next visitor. The chat ends when both have left, or at once when the
// visitor closes it before writing anything (no assistance required).
// endReason, when set, ends the chat for both with that reason.
func (s *Service) leave(tx WriteTx, chat *Chat, p Participant, endReason ChatEndReason) error {
	now := s.clock.Now()
	var events []ChatEvent
	var visitor *Visitor
	var agent *Agent
	var err error
	leaveOne := func(p Participant) error {
		if chat.hasLeft(p.Role) {
			return nil
		}
		left := s.nextEvent(chat, now)
		left.ParticipantLeft = &p
		events = append(events, left)
		if err := chat.Leave(p.Role, now); err != nil {
			return err
		}
		if p.Role == RoleVisitor {
			if visitor, err = tx.Visitor(p.ID); err != nil {
				return err
			}
			visitor.LeaveChat(chat.ID)
			return nil
		}
		if agent, err = tx.Agent(p.ID); err != nil {
			return err
		}
		agent.ActiveChatIDs = slices.DeleteFunc(agent.ActiveChatIDs, func(id string) bool { return id == chat.ID })
		agent.LastChatEndTime = now
		return nil
	}
	if err := leaveOne(p); err != nil {
		return err
	}
	if endReason == EndUnspecified && p.Role == RoleVisitor && chat.VisitorMessageCount == 0 {
		endReason = EndVisitorDeclined
	}
	if endReason != EndUnspecified {
		other := chat.Agent
		if p.Role == RoleAgent {
			other = chat.Visitor
		}
		if err := leaveOne(other); err != nil {
			return err
		}
	}
	if chat.hasLeft(RoleVisitor) && chat.hasLeft(RoleAgent) {
		if err := chat.End(cmp.Or(endReason, EndBothLeft), now); err != nil {
			return err
		}
		ended := s.nextEvent(chat, now)
		ended.Ended = &ChatEnded{Reason: chat.EndReason}
		events = append(events, ended)
	}
	stored := make([]*ChatEvent, len(events))
	for i := range events {
		stored[i] = &events[i]
	}
	last, err := s.putAll(tx, chat, visitor, agent, stored...)
	if err != nil {
		return err
	}
	if last == nil {
		return nil // nobody left: no event, nothing written but the chat
	}
	// Told after every event of the chat, as one change.
	last.visitor, last.agent = visitor, agent
	if agent != nil {
		last.routeSites = agent.SiteIDs
	}
	return nil
}

// GetChat returns the chat with the given id.
func (s *Service) GetChat(ctx context.Context, id string) (chat *Chat, err error) {
	if id == "" {
		return nil, invalid("chat_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		chat, err = tx.Chat(id)
		return err
	})
	return chat, err
}

// ListChatEvents returns a page of a chat's transcript after afterSeq and
// the afterSeq of the next page (0 when there is none).
func (s *Service) ListChatEvents(ctx context.Context, chatID string, afterSeq uint32, pageSize int) (events []ChatEvent, next uint32, err error) {
	var v Violations
	required(&v, "chat_id", chatID)
	if pageSize < 0 || pageSize > MaxPageSize {
		v.Add("page_size", "must be between 1 and %d", MaxPageSize)
	}
	if err := v.Err(); err != nil {
		return nil, 0, err
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	var chat *Chat
	err = s.store.View(ctx, func(tx ReadTx) error {
		if chat, err = tx.Chat(chatID); err != nil {
			return err
		}
		events, err = tx.ChatEvents(chatID, afterSeq, pageSize)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if n := len(events); n > 0 && events[n-1].Seq < chat.LastSeq {
		next = events[n-1].Seq
	}
	return events, next, nil
}
