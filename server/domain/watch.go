package domain

import (
	"context"
	"reflect"
	"time"
)

// catchUpPage is how many stored events one short read transaction loads
// when a stream catches up.
const catchUpPage = 256

// ChatUpdate is one message of a chat stream: exactly one field is set.
type ChatUpdate struct {
	Event     *ChatEvent
	Typing    *Typing
	KeepAlive time.Time
}

// errShuttingDown ends streams when the server stops; clients resume from
// their last sequence number on another connection.
var errShuttingDown = Errorf(CodeUnavailable, "server is shutting down; reconnect and resume from your last sequence number")

// chatFollower delivers a chat's events after a sequence number exactly
// once and in order. Live events from the Broker are only hints: a gap, a
// subscription cut off for being slow, or the switch from backlog to live
// all fall back to reading the Store, which has every event that was
// published, because events are published only after they are durable.
type chatFollower struct {
	s      *Service
	chatID string
	last   uint32
	sub    Subscription
	ended  bool
}

// followChat subscribes before anything is read, so that no event committed
// during the catch-up is missed.
func (s *Service) followChat(chatID string, afterSeq uint32) *chatFollower {
	return &chatFollower{s: s, chatID: chatID, last: afterSeq, sub: s.broker.Subscribe(chatTopic(chatID))}
}

func (f *chatFollower) close() { f.sub.Close() }

// catchUp emits the stored events after f.last, in short read transactions.
func (f *chatFollower) catchUp(ctx context.Context, emit func(ChatUpdate) error) error {
	for !f.ended {
		var events []ChatEvent
		err := f.s.store.View(ctx, func(tx ReadTx) error {
			var err error
			events, err = tx.ChatEvents(f.chatID, f.last, catchUpPage)
			return err
		})
		if err != nil {
			return err
		}
		for _, ev := range events {
			if err := f.emitEvent(ev, emit); err != nil {
				return err
			}
		}
		if len(events) < catchUpPage {
			return nil
		}
	}
	return nil
}

func (f *chatFollower) emitEvent(ev ChatEvent, emit func(ChatUpdate) error) error {
	f.last = ev.Seq
	if ev.Ended != nil {
		f.ended = true
	}
	return emit(ChatUpdate{Event: &ev})
}

// handle takes one receive from f.sub.Events(); ok is false when the
// subscription was closed for falling behind.
func (f *chatFollower) handle(ctx context.Context, item any, ok bool, emit func(ChatUpdate) error) error {
	if !ok {
		f.sub.Close()
		f.sub = f.s.broker.Subscribe(chatTopic(f.chatID))
		return f.catchUp(ctx, emit)
	}
	switch ev := item.(type) {
	case ChatEvent:
		switch {
		case ev.Seq <= f.last:
			return nil // already sent from the store
		case ev.Seq == f.last+1:
			return f.emitEvent(ev, emit)
		default:
			return f.catchUp(ctx, emit)
		}
	case Typing:
		if f.ended {
			return nil
		}
		return emit(ChatUpdate{Typing: &ev})
	}
	return nil
}

// WatchChat sends a chat's events after afterSeq, then its live events and
// typing indicators, until the chat has ended (its ChatEnded event is the
// last one sent), ctx ends or send fails.
func (s *Service) WatchChat(ctx context.Context, chatID string, afterSeq uint32, send func(ChatUpdate) error) error {
	chat, err := s.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if afterSeq > chat.LastSeq {
		return invalid("after_seq", "is %d but chat %q has only %d events", afterSeq, chatID, chat.LastSeq)
	}
	ticker := newTicker(s.clock, s.keepAlive)
	defer ticker.stop()
	defer countStream(&s.counters.chatStreams)()
	f := s.followChat(chatID, afterSeq)
	defer func() { f.close() }()
	if err := f.catchUp(ctx, send); err != nil {
		return err
	}
	if chat.State == ChatStateEnded && f.last >= chat.LastSeq {
		return nil // resumed at the end of an ended chat: nothing will follow
	}
	for !f.ended {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-ticker.c:
			if err := send(ChatUpdate{KeepAlive: now}); err != nil {
				return err
			}
		case item, ok := <-f.sub.Events():
			if err := f.handle(ctx, item, ok, send); err != nil {
				return err
			}
		}
	}
	return nil
}

// VisitorState is what the widget should show.
type VisitorState struct {
	Visitor *Visitor
	// Engagement is the visitor's, except that a visitor whose agent is
	// alerted without an invitation still sees (and is told) browsing.
	Engagement Engagement
	// Chat is the active chat, when Engagement is EngagementChatting.
	Chat *Chat
	// Invitation is the one to show, when EngagementInvited.
	Invitation *Invitation
	// Form is the data-collection form, when EngagementFillingForm.
	Form []FormField
	// Queue is "Waiting in Queue", when EngagementQueued or EngagementAlerting.
	Queue *QueueStatus
	// Launcher is the button to show when the visitor may ask for a chat.
	Launcher *VisitorLauncherSettings
	// Site says whether the site can take a chat now.
	Site SiteStatus
}

// SiteStatus tells a visitor's widget whether the site can take a chat.
type SiteStatus struct {
	// Open is within business hours (always, for a site without).
	Open bool
	// AgentsAvailable: an agent of the site is available with room for
	// another chat.
	AgentsAvailable bool
	// OfferMessage: the widget offers to leave a message — closed, nobody
	// available, or queued with an estimated wait above the site's
	// offline_message.max_wait_seconds.
	OfferMessage bool
	// NextChange is when Open next changes; zero when never.
	NextChange time.Time
}

// VisitorUpdate is one message of a visitor's stream: exactly one field is set.
type VisitorUpdate struct {
	State     *VisitorState
	Event     *ChatEvent
	Typing    *Typing
	KeepAlive time.Time
}

// VisitorWatch says which visitor's stream to open and what the widget has
// already shown.
type VisitorWatch struct {
	VisitorID string
	// PageURL and PageTitle, when set, are recorded as a page view.
	PageURL   string
	PageTitle string
	// PageReferrer is the page's document.referrer (optional).
	PageReferrer string
	// ResumeChatID and ResumeAfterSeq: events of that chat up to the
	// sequence number were already shown.
	ResumeChatID   string
	ResumeAfterSeq uint32
}

// WatchVisitor is the widget's one stream. While it is open the visitor is
// on the site. It sends the visitor's state, then the events of the active
// chat, then follows both, until ctx ends or send fails.
func (s *Service) WatchVisitor(ctx context.Context, w VisitorWatch, send func(VisitorUpdate) error) error {
	vs, err := s.openVisitorStream(ctx, w, send)
	if err != nil {
		return err
	}
	defer vs.close()
	return vs.follow(ctx)
}

// openVisitorStream does everything WatchVisitor does before it waits for
// events. It is a function of its own so that its locals are off the stack
// while the stream waits: every held widget stream parks a goroutine, and
// the runtime halves a parked goroutine's stack (16 KiB → 8 KiB) only when
// less than a quarter of it is in use.
func (s *Service) openVisitorStream(ctx context.Context, w VisitorWatch, send func(VisitorUpdate) error) (*visitorStream, error) {
	var v Violations
	required(&v, "visitor_id", w.VisitorID)
	if w.PageURL != "" || w.PageTitle != "" {
		checkPage(&v, "page_url", "page_title", w.PageURL, w.PageTitle)
	}
	checkReferrer(&v, "page_referrer", w.PageReferrer)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var visitor *Visitor
	var err error
	if w.PageURL != "" {
		// Presence learns the page as the stream is counted below: one
		// change for agents to see, not two (in a reconnect storm, every
		// visitor's stream opens with its page).
		visitor, err = s.viewPage(ctx, w.VisitorID, w.PageURL, w.PageTitle)
	} else if err = s.store.View(ctx, func(tx ReadTx) error {
		visitor, err = tx.Visitor(w.VisitorID)
		return err
	}); err == nil {
		s.pages.latest(visitor)
	}
	if err != nil {
		return nil, err
	}

	// Subscribe before counting the stream: no chat can start for a visitor
	// who is not online, so no change is missed.
	vs := &visitorStream{s: s, send: send, visitorID: visitor.ID,
		resumeChatID: w.ResumeChatID, resumeAfter: w.ResumeAfterSeq}
	s.counters.visitorStreams.Add(1)
	vs.sub = s.broker.SubscribeBuffer(visitorTopic(visitor.ID), hintBuffer)
	newVisit, start, back, err := s.presence.opened(visitor, w.PageURL != "", w.PageReferrer)
	if err != nil {
		vs.close()
		return nil, err // too many streams
	}
	vs.online = true
	switch {
	case newVisit:
		s.visitBegan(visitor, start) // arms the launch timer
	case w.PageURL != "":
		// The page conditions of the launching criteria depend on the page.
		s.scheduleLaunch(visitor.ID)
	}
	if newVisit || back {
		s.visitorBack(visitor.ID)
	}
	// Widget streams are the many: their keep-alives are spread out.
	vs.ticker = newTickerAfter(s.clock, s.keepAlive, jittered(s.keepAlive))
	if err := vs.refresh(ctx); err != nil {
		vs.close()
		return nil, err
	}
	return vs, nil
}

// follow waits for events and passes them on until ctx ends or send fails.
func (vs *visitorStream) follow(ctx context.Context) error {
	s := vs.s
	for {
		var chatEvents <-chan any
		if vs.follower != nil {
			chatEvents = vs.follower.sub.Events()
		}
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-vs.ticker.c:
			err = vs.send(VisitorUpdate{KeepAlive: now})
		case _, ok := <-vs.sub.Events():
			err = vs.hinted(ctx, ok)
		case item, ok := <-chatEvents:
			err = vs.follower.handle(ctx, item, ok, vs.emitChat)
		}
		if err != nil {
			return err
		}
	}
}

// hinted reads the state again after the visitor's topic said it changed
// (ok is false when its subscription was cut off). Hints that arrived
// meanwhile are taken along: one read answers them all.
func (vs *visitorStream) hinted(ctx context.Context, ok bool) error {
	if !ok || !drain(vs.sub.Events()) {
		vs.sub.Close()
		vs.sub = vs.s.broker.SubscribeBuffer(visitorTopic(vs.visitorID), hintBuffer)
	}
	return vs.refresh(ctx)
}

// drain takes what is buffered on ch without waiting; false when ch is closed.
func drain(ch <-chan any) bool {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// visitorStream is the state of one WatchVisitor call. It follows the
// visitor's topic and its active chat, not its site's queue: a move of the
// queue reaches it, when the visitor's position changed, as a hint on its
// topic from queuePositions.
type visitorStream struct {
	s            *Service
	visitorID    string
	send         func(VisitorUpdate) error
	sub          Subscription // the visitor's topic
	online       bool         // counted by the presence tracker
	ticker       *ticker
	follower     *chatFollower
	lastState    *VisitorState
	resumeChatID string
	resumeAfter  uint32
}

// close undoes what openVisitorStream did, in reverse order.
func (vs *visitorStream) close() {
	vs.stopFollowing()
	if vs.ticker != nil {
		vs.ticker.stop()
	}
	if vs.online && vs.s.presence.closed(vs.visitorID) {
		vs.s.visitorAway(vs.visitorID)
	}
	vs.sub.Close()
	vs.s.counters.visitorStreams.Add(-1)
}

func (vs *visitorStream) emitChat(u ChatUpdate) error {
	return vs.send(VisitorUpdate{Event: u.Event, Typing: u.Typing})
}

func (vs *visitorStream) stopFollowing() {
	if vs.follower != nil {
		vs.follower.close()
		vs.follower = nil
	}
}

// refresh sends the visitor's current state and follows its active chat.
func (vs *visitorStream) refresh(ctx context.Context) error {
	state, err := vs.s.VisitorState(ctx, vs.visitorID)
	if err != nil {
		return err
	}
	chatID := state.Visitor.ActiveChatID
	if vs.follower != nil && vs.follower.chatID != chatID {
		// The chat is over for this visitor: show its last events (the
		// visitor leaving, the chat ending) before the new state.
		err := vs.follower.catchUp(ctx, vs.emitChat)
		vs.follower.close()
		vs.follower = nil
		if err != nil {
			return err
		}
	}
	// Hints overlap (a queue position hint and the visitor's own change,
	// say): send a state only when it changed.
	if !reflect.DeepEqual(state, vs.lastState) {
		if err := vs.send(VisitorUpdate{State: state}); err != nil {
			return err
		}
		vs.lastState = state
	}
	if chatID == "" || vs.follower != nil {
		return nil
	}
	var after uint32
	if vs.resumeChatID == chatID {
		after = vs.resumeAfter
		if after > state.Chat.LastSeq {
			return invalid("resume_after_seq", "is %d but chat %q has only %d events", after, chatID, state.Chat.LastSeq)
		}
	}
	vs.resumeChatID = "" // a resume position applies to the first chat followed only
	vs.follower = vs.s.followChat(chatID, after)
	return vs.follower.catchUp(ctx, vs.emitChat)
}
