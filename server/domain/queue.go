package domain

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// formOrQueue is what follows a visitor's yes to a chat, to an invitation
// (RequestInvited) or through the launcher (RequestVisitor): the site's
// data-collection form when it has one, else the queue at once.
func (s *Service) formOrQueue(tx WriteTx, site *Site, visitor *Visitor, kind ChatRequestKind) error {
	if len(site.FormFor(visitor)) > 0 {
		if err := visitor.StartForm(kind == RequestVisitor); err != nil {
			return err
		}
		if err := tx.PutVisitor(visitor); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventFormStarted, SiteID: site.ID, VisitorID: visitor.ID, Kind: kind,
			eventEffects: eventEffects{visitor: visitor}})
	}
	p, _ := s.presence.get(visitor.ID)
	return s.enqueue(tx, site, visitor, kind, nil, p)
}

// enqueue puts a visitor's chat request into the site's queue, in tx.
func (s *Service) enqueue(tx WriteTx, site *Site, visitor *Visitor, kind ChatRequestKind, form map[string]string, p Presence) error {
	now := s.clock.Now()
	req := &ChatRequest{
		ID:              newID("req"),
		SiteID:          site.ID,
		VisitorID:       visitor.ID,
		Kind:            kind,
		State:           RequestQueued,
		FormValues:      form,
		EnqueueTime:     now,
		PageURL:         p.CurrentPage.URL,
		PageTitle:       p.CurrentPage.Title,
		VisitStartTime:  p.VisitStartTime,
		VisitorIdentity: visitor.Identity,
	}
	var err error
	if req.RuleID, req.VariantID, req.HeldOut, err = attribution(tx, visitor, kind); err != nil {
		return err
	}
	if req.PageURL == "" {
		s.pages.latest(visitor)
		req.PageURL, req.PageTitle = visitor.CurrentPage.URL, visitor.CurrentPage.Title
	}
	if p.OpenStreams == 0 {
		// Queued while away (after a restart, say): the place is held.
		req.HoldUntil = now.Add(s.holdFor(site, req))
	}
	if err := visitor.Queue(req.ID); err != nil {
		return err
	}
	if err := tx.PutChatRequest(req); err != nil {
		return err
	}
	if err := tx.PutVisitor(visitor); err != nil {
		return err
	}
	// What put the visitor in the queue, then the queueing itself. An
	// invitation accepted on a site without a form queues at once: its
	// invitation.accepted is the cause, recorded already.
	// The steps of a held-out visitor's own request are not the rule's:
	// only its acceptance counts, as the control group's chat.
	rule := Event{RuleID: req.RuleID, VariantID: req.VariantID}
	if req.HeldOut {
		rule = Event{}
	}
	cause := Event{SiteID: site.ID, VisitorID: visitor.ID, RequestID: req.ID, RuleID: rule.RuleID, VariantID: rule.VariantID}
	switch {
	case kind == RequestPresence:
		cause.Type = EventLaunchFired
	case form != nil: // SubmitForm's, empty when no field was filled in
		cause.Type, cause.FormValues = EventFormSubmitted, form
	}
	if cause.Type != "" {
		if err := s.record(tx, cause); err != nil {
			return err
		}
	}
	if err := s.record(tx, Event{Type: EventRequestQueued, SiteID: site.ID, VisitorID: visitor.ID, RequestID: req.ID, Kind: kind, RuleID: rule.RuleID, VariantID: rule.VariantID,
		eventEffects: eventEffects{request: req, visitor: visitor}}); err != nil {
		return err
	}
	if req.HoldUntil.IsZero() {
		return nil
	}
	return s.record(tx, Event{Type: EventRequestHoldStarted, SiteID: site.ID, VisitorID: visitor.ID, RequestID: req.ID, Deadline: req.HoldUntil})
}

// holdFor is how long a request keeps its place while its visitor is away:
// the site's queue hold for a visitor who asked to chat; for a visitor who
// has not (without invite), as long as they count as on the site.
func (s *Service) holdFor(site *Site, req *ChatRequest) time.Duration {
	if req.Kind == RequestPresence {
		return s.presenceLeft(req.VisitorID)
	}
	return site.ProactiveChat.QueueHold()
}

// presenceLeft is how long a visitor with no widget stream open still counts
// as on the site: until their departure; for a visitor who was on the site
// when the server stopped, the rest of the restart's mass disconnect grace;
// otherwise the presence grace.
func (s *Service) presenceLeft(visitorID string) time.Duration {
	now := s.clock.Now()
	if at, ok := s.presence.departsAt(visitorID); ok {
		return max(at.Sub(now), 0)
	}
	if back := s.started.Add(s.massGrace); now.Before(back) {
		return max(back.Sub(now), s.grace)
	}
	return s.grace
}

// Form value limits by type, where a field sets no max_length.
var defaultMaxLength = map[FormFieldType]int{FieldText: 200, FieldTextarea: 2000, FieldEmail: 254, FieldPhone: 32}

var phoneChars = regexp.MustCompile(`^\+?[0-9 ().\-]+$`)

// CheckForm checks form values against a site's fields the way the widget
// does: every required field present and not blank, every value of its
// type and length, no unknown keys. Each failing key is a violation.
func CheckForm(fields []FormField, values map[string]string) error {
	var v Violations
	for _, f := range fields {
		name := "values." + f.Key
		val := strings.TrimSpace(values[f.Key])
		if val == "" {
			if f.Required {
				v.Add(name, "%s is required", f.Label)
			}
			continue
		}
		if !utf8.ValidString(val) {
			// Stored in a protobuf map of strings, which must be UTF-8:
			// accepted, the value failed the write as an internal error
			// (found by FuzzSubmitForm).
			v.Add(name, "%s must be UTF-8 text", f.Label)
			continue
		}
		limit := int(f.MaxLength)
		if limit == 0 {
			limit = defaultMaxLength[f.Type]
		}
		if n := utf8.RuneCountInString(val); n > limit {
			v.Add(name, "%s must be at most %d characters", f.Label, limit)
			continue
		}
		switch f.Type {
		case FieldEmail:
			if a, err := mail.ParseAddress(val); err != nil || a.Address != val || !strings.Contains(val[strings.LastIndex(val, "@")+1:], ".") {
				v.Add(name, "%s must be an e-mail address like name@example.com", f.Label)
			}
		case FieldPhone:
			digits := 0
			for _, r := range val {
				if r >= '0' && r <= '9' {
					digits++
				}
			}
			if !phoneChars.MatchString(val) || digits < 5 || digits > 20 {
				v.Add(name, "%s must be a phone number (digits, spaces, + ( ) - .)", f.Label)
			}
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		if !slices.ContainsFunc(fields, func(f FormField) bool { return f.Key == k }) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Add("values."+k, "is not a field of this form")
	}
	return v.Err()
}

// SubmitForm sends the data-collection form: if every field passes, the
// chat request is queued; otherwise nothing is.
func (s *Service) SubmitForm(ctx context.Context, visitorID string, values map[string]string) (*VisitorState, error) {
	if visitorID == "" {
		return nil, invalid("visitor_id", "is required")
	}
	err := s.update(ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		if visitor.Engagement != EngagementFillingForm {
			return Errorf(CodeFailedPrecondition, "visitor %q is %s: a form is sent after accepting an invitation", visitorID, visitor.Engagement)
		}
		site, err := tx.Site(visitor.SiteID)
		if err != nil {
			return err
		}
		if err := CheckForm(site.FormFor(visitor), values); err != nil {
			return err
		}
		clean := map[string]string{}
		for k, val := range values {
			if val = strings.TrimSpace(val); val != "" {
				clean[k] = val
			}
		}
		if id := identityFromForm(visitor.Identity, site.FormFor(visitor), clean); !id.Equal(visitor.Identity) {
			visitor.Identity = id
			if _, err := s.recordIdentified(tx, visitor); err != nil {
				return err
			}
		}
		p, _ := s.presence.get(visitorID)
		kind := RequestInvited
		if visitor.ChatRequested {
			kind = RequestVisitor
		}
		return s.enqueue(tx, site, visitor, kind, clean, p)
	})
	if err != nil {
		return nil, err
	}
	return s.VisitorState(ctx, visitorID)
}

// LeaveQueue withdraws the visitor's chat request, or drops the form the
// visitor was filling: the visitor closed the widget.
func (s *Service) LeaveQueue(ctx context.Context, visitorID string) (*VisitorState, error) {
	if visitorID == "" {
		return nil, invalid("visitor_id", "is required")
	}
	err := s.update(ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		switch visitor.Engagement {
		case EngagementQueued, EngagementAlerting:
			req, err := tx.ChatRequest(visitor.ChatRequestID)
			if err != nil {
				return err
			}
			return s.abandon(tx, req, visitor, "visitor left the queue")
		case EngagementFillingForm:
			dropped, err := s.dropForm(tx, visitor, "visitor closed the form")
			if err != nil {
				return err
			}
			dropped.visitor = visitor
			visitor.ChatRequested = false
			return tx.PutVisitor(visitor)
		}
		return Errorf(CodeFailedPrecondition, "visitor %q is %s, not in the queue", visitorID, visitor.Engagement)
	})
	if err != nil {
		return nil, err
	}
	return s.VisitorState(ctx, visitorID)
}

// abandon closes an open request whose visitor went away: it leaves the
// queue, an alert is withdrawn, and those behind move up.
func (s *Service) abandon(tx WriteTx, req *ChatRequest, visitor *Visitor, reason string) error {
	alerted := req.AlertedAgentID
	if req.State != RequestAlerting {
		alerted = ""
	}
	if err := req.Abandon(s.clock.Now()); err != nil {
		return err
	}
	visitor.LeaveQueue(req.ID)
	if err := tx.PutChatRequest(req); err != nil {
		return err
	}
	if err := tx.PutVisitor(visitor); err != nil {
		return err
	}
	return s.record(tx, Event{Type: EventRequestAbandoned, SiteID: req.SiteID, VisitorID: req.VisitorID, RequestID: req.ID, Reason: reason,
		eventEffects: eventEffects{request: req, visitor: visitor, alertedAgentID: alerted}})
}

// visitorAway starts the hold on the visitor's open request: its widget
// streams all closed, maybe only for a page load.
func (s *Service) visitorAway(visitorID string) {
	s.setHold(visitorID, true)
}

// visitorBack ends the hold: the visitor has its place back.
func (s *Service) visitorBack(visitorID string) {
	s.setHold(visitorID, false)
}

func (s *Service) setHold(visitorID string, away bool) {
	err := s.update(s.ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil || visitor.ChatRequestID == "" {
			return err
		}
		req, err := tx.ChatRequest(visitor.ChatRequestID)
		if err != nil || !req.Open() {
			return err
		}
		if away == !req.HoldUntil.IsZero() {
			return nil
		}
		req.HoldUntil = time.Time{}
		if away {
			site, err := tx.Site(req.SiteID)
			if err != nil {
				return err
			}
			req.HoldUntil = s.clock.Now().Add(s.holdFor(site, req))
		}
		if err := tx.PutChatRequest(req); err != nil {
			return err
		}
		return s.recordHold(tx, req, "visitor came back")
	})
	// Tried again, the hold follows the visitor's streams as they are then.
	retry := func() {
		p, online := s.presence.get(visitorID)
		s.setHold(visitorID, !online || p.OpenStreams == 0)
	}
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("sethold/"+visitorID, err, retry) {
		s.log.Error("queue hold failed", "visitor", visitorID, "err", err)
	}
}

// dropForm drops the form visitor is filling, for reason; the caller
// stores the visitor.
func (s *Service) dropForm(tx WriteTx, visitor *Visitor, reason string) (*Event, error) {
	if err := visitor.DropForm(); err != nil {
		return nil, err
	}
	return s.recordEvent(tx, Event{Type: EventFormAbandoned, SiteID: visitor.SiteID, VisitorID: visitor.ID, Reason: reason})
}

// recordHold records that the hold of req started (or moved) or, when
// req.HoldUntil is zero, ended for reason.
func (s *Service) recordHold(tx WriteTx, req *ChatRequest, reason string) error {
	ev := Event{Type: EventRequestHoldStarted, SiteID: req.SiteID, VisitorID: req.VisitorID, RequestID: req.ID, Deadline: req.HoldUntil,
		eventEffects: eventEffects{request: req}}
	if req.HoldUntil.IsZero() {
		ev.Type, ev.Reason = EventRequestHoldEnded, reason
	}
	return s.record(tx, ev)
}

// holdExpired abandons a request whose visitor did not come back in time.
func (s *Service) holdExpired(requestID string) {
	err := s.update(s.ctx, func(tx WriteTx) error {
		req, err := tx.ChatRequest(requestID)
		if err != nil || !req.Open() || req.HoldUntil.IsZero() || s.clock.Now().Before(req.HoldUntil) {
			return err
		}
		if p, online := s.presence.get(req.VisitorID); online && p.OpenStreams > 0 {
			// Back already: the hold outlived a race between the old
			// page's stream closing and the new one's opening.
			req.HoldUntil = time.Time{}
			if err := tx.PutChatRequest(req); err != nil {
				return err
			}
			return s.recordHold(tx, req, "visitor came back")
		}
		if at, ok := s.presence.departsAt(req.VisitorID); ok && req.Kind == RequestPresence && at.After(req.HoldUntil) {
			// The visitor's departure was put off after the hold began
			// (their stream closed in what became a mass disconnect): the
			// hold lasts as long.
			req.HoldUntil = at
			if err := tx.PutChatRequest(req); err != nil {
				return err
			}
			return s.recordHold(tx, req, "")
		}
		visitor, err := tx.Visitor(req.VisitorID)
		if err != nil {
			return err
		}
		return s.abandon(tx, req, visitor, "visitor left")
	})
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("hold/"+requestID, err, func() { s.holdExpired(requestID) }) {
		s.log.Error("abandoning a request failed", "request", requestID, "err", err)
	}
}

// QueueStatus is what a queued visitor sees: "Waiting in Queue".
type QueueStatus struct {
	RequestID     string
	Position      int
	EstimatedWait time.Duration
	EnqueueTime   time.Time
}

// VisitorState returns what the visitor's widget should show now.
func (s *Service) VisitorState(ctx context.Context, visitorID string) (*VisitorState, error) {
	state := &VisitorState{}
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if state.Visitor, err = tx.Visitor(visitorID); err != nil {
			return err
		}
		v := state.Visitor
		state.Engagement = v.Engagement
		if state.Engagement == EngagementUnspecified {
			state.Engagement = EngagementBrowsing
		}
		switch v.Engagement {
		case EngagementChatting:
			state.Chat, err = tx.Chat(v.ActiveChatID)
		case EngagementInvited:
			state.Invitation, err = tx.Invitation(v.InvitationID)
		case EngagementFillingForm:
			var site *Site
			if site, err = tx.Site(v.SiteID); err == nil {
				state.Form = site.FormFor(v)
			}
		case EngagementUnspecified, EngagementBrowsing, EngagementDeclined:
			var site *Site
			if site, err = tx.Site(v.SiteID); err == nil {
				state.Launcher = launcherFor(site, v)
			}
		case EngagementQueued, EngagementAlerting:
			state.Queue, err = s.queueStatus(tx, v)
			if err == nil && state.Queue == nil {
				// Without invite the visitor asked for nothing: the agent is
				// alerted, the widget stays quiet and is not told.
				state.Engagement = EngagementBrowsing
				quiet := *v
				quiet.LeaveQueue(quiet.ChatRequestID)
				state.Visitor = &quiet
			}
		}
		if err != nil {
			return err
		}
		if state.Site, err = s.siteStatus(tx, v.SiteID, state.Queue); err != nil {
			return err
		}
		// Outside business hours nobody takes a chat: no launcher (the
		// widget offers to leave a message instead).
		if !state.Site.Open {
			state.Launcher = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.pages.latest(state.Visitor)
	return state, nil
}

func (s *Service) queueStatus(tx ReadTx, v *Visitor) (*QueueStatus, error) {
	req, err := tx.ChatRequest(v.ChatRequestID)
	if err != nil || req.Kind == RequestPresence {
		return nil, err
	}
	pos, err := tx.QueuePosition(req)
	if err != nil {
		return nil, err
	}
	if pos == 0 {
		return nil, fmt.Errorf("chat request %q is not in the queue of site %q", req.ID, v.SiteID)
	}
	return &QueueStatus{RequestID: req.ID, Position: pos, EstimatedWait: s.waits.estimate(v.SiteID, pos), EnqueueTime: req.EnqueueTime}, nil
}

// siteStatus is what a visitor's widget is told of the site: open or not,
// anyone to chat with, and so whether to offer leaving a message.
func (s *Service) siteStatus(tx ReadTx, siteID string, queue *QueueStatus) (SiteStatus, error) {
	site, err := tx.Site(siteID)
	if err != nil {
		return SiteStatus{}, err
	}
	pool, err := newAgentPool(tx, siteID)
	if err != nil {
		return SiteStatus{}, err
	}
	now := s.clock.Now()
	st := SiteStatus{Open: site.OpenAt(now), AgentsAvailable: pool.anyFree(nil)}
	st.NextChange, _ = site.NextChange(now)
	maxWait := time.Duration(site.OfflineMessage.MaxWaitSeconds) * time.Second
	st.OfferMessage = !st.Open || !st.AgentsAvailable ||
		(queue != nil && maxWait > 0 && queue.EstimatedWait > maxWait)
	return st, nil
}
