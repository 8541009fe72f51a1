package domain

import (
	"context"
	"time"
)

// The proactive funnel: per site and UTC hour, how many visits, launches,
// invitations sent, accepted, declined and expired, forms submitted,
// requests queued, alerts, acceptances, chats in which the visitor wrote,
// abandoned requests and chats ended by reason, and a histogram of the
// wait from queued to accepted. It is derived from the event log: the one
// place events are appended (recordAt) adds each event's counters in the
// same transaction, so the funnel's counts are the counts of those events,
// and no transition can forget them. A query sums the hours of its range;
// nothing scans the log.
//
// The counters hold no personal data: they outlive the log's retention
// and erasing a visitor does not take their events back out of them. A
// store that had a log before it had a funnel builds the funnel once from
// the events still in the log (FunnelReplay); older history is gone.

// FunnelStep is a step of the funnel; its value is the counter's slot in
// a site-hour's counters, stored, so never renumbered.
type FunnelStep int

// The funnel's steps, each counting events of one type (see funnelStep).
const (
	StepVisits              FunnelStep = iota // visitor.arrived
	StepLaunches                              // launch.fired
	StepInvitationsSent                       // invitation.sent
	StepInvitationsAccepted                   // invitation.accepted
	StepInvitationsDeclined                   // invitation.declined
	StepInvitationsExpired                    // invitation.expired
	StepFormsSubmitted                        // form.submitted
	StepQueued                                // request.queued
	StepAlerted                               // request.alerted (an alert each, a request may have several)
	StepAccepted                              // request.accepted
	// StepVisitorMessaged counts chats, once each, at the visitor's first
	// message (chat.message from the visitor).
	StepVisitorMessaged
	StepAbandoned // request.abandoned
	numFunnelSteps
)

// FunnelSteps lists the steps in the order the funnel shows them.
var FunnelSteps = []FunnelStep{
	StepVisits, StepLaunches, StepInvitationsSent, StepInvitationsAccepted,
	StepInvitationsDeclined, StepInvitationsExpired, StepFormsSubmitted,
	StepQueued, StepAlerted, StepAccepted, StepVisitorMessaged, StepAbandoned,
}

// Slots of a site-hour's counters after the steps: chats ended by reason,
// then the wait histogram (len(WaitBounds)+1 slots, 20 to 40). Slots are
// stored: a counter added later (a step, a reason) takes a slot after
// these rather than renumbering them.
const (
	funnelEndSlot  = 12 // + ChatEndReason
	maxEndReasons  = 8
	funnelWaitSlot = funnelEndSlot + maxEndReasons // + waitBucket
)

// Ranges of GetFunnel.
const (
	funnelMaxRange     = 366 * 24 * time.Hour
	funnelDefaultRange = 7 * 24 * time.Hour
)

// WaitBounds are the upper bounds of the wait histogram's buckets, log
// spaced from 1 s to 1 h; a last bucket holds the waits over 1 h. A
// percentile is reported as the upper bound of the bucket it falls in,
// so it is exact to within that bucket's width (at most about half of
// it, in relative terms).
var WaitBounds = []time.Duration{
	1 * time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 20 * time.Second, 30 * time.Second, 45 * time.Second,
	1 * time.Minute, 90 * time.Second, 2 * time.Minute, 3 * time.Minute,
	5 * time.Minute, 7*time.Minute + 30*time.Second, 10 * time.Minute,
	15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute,
	1 * time.Hour,
}

// waitBucket is the histogram bucket of a wait.
func waitBucket(d time.Duration) int {
	for i, b := range WaitBounds {
		if d <= b {
			return i
		}
	}
	return len(WaitBounds)
}

// funnelStep maps an event to the funnel step it counts toward. A
// chat.message from the visitor maps to StepVisitorMessaged; the caller
// counts only a chat's first.
func funnelStep(ev *Event) (FunnelStep, bool) {
	switch ev.Type {
	case EventVisitorArrived:
		return StepVisits, true
	case EventLaunchFired:
		return StepLaunches, true
	case EventInvitationSent:
		return StepInvitationsSent, true
	case EventInvitationAccepted:
		return StepInvitationsAccepted, true
	case EventInvitationDeclined:
		return StepInvitationsDeclined, true
	case EventInvitationExpired:
		return StepInvitationsExpired, true
	case EventFormSubmitted:
		return StepFormsSubmitted, true
	case EventRequestQueued:
		return StepQueued, true
	case EventRequestAlerted:
		return StepAlerted, true
	case EventRequestAccepted:
		return StepAccepted, true
	case EventChatMessage:
		return StepVisitorMessaged, ev.Participant.Role == RoleVisitor
	case EventRequestAbandoned:
		return StepAbandoned, true
	}
	return 0, false
}

// funnelSlots is the counters ev adds one to. firstVisitorMessage says
// whether a chat.message is its chat's first from the visitor.
func funnelSlots(ev *Event, firstVisitorMessage bool) []int {
	if ev.SiteID == "" {
		return nil
	}
	if ev.Type == EventChatEnded {
		if r := int(ev.EndReason); r >= 0 && r < maxEndReasons {
			return []int{funnelEndSlot + r}
		}
		return nil
	}
	step, ok := funnelStep(ev)
	if !ok || (step == StepVisitorMessaged && !firstVisitorMessage) {
		return nil
	}
	slots := []int{int(step)}
	if step == StepAccepted && ev.Wait >= 0 {
		slots = append(slots, funnelWaitSlot+waitBucket(ev.Wait))
	}
	return slots
}

// countFunnel adds ev's counters in tx.
func countFunnel(tx WriteTx, ev *Event) error {
	slots := funnelSlots(ev, ev.firstVisitorMessage)
	if len(slots) == 0 {
		return nil
	}
	return tx.AddFunnel(ev.SiteID, ev.Time, slots)
}

// FunnelReplay computes the counters of events read from the log in
// position order, as recordAt added them: for a store that builds its
// funnel from the log.
type FunnelReplay struct {
	messaged map[string]bool      // chats with a visitor message seen
	queued   map[string]time.Time // request id → queued time, for waits the event lacks
}

// Slots is the counters ev adds one to.
func (r *FunnelReplay) Slots(ev *Event) []int {
	if r.messaged == nil {
		r.messaged, r.queued = map[string]bool{}, map[string]time.Time{}
	}
	first := false
	switch ev.Type {
	case EventChatMessage:
		if ev.Participant.Role == RoleVisitor && !r.messaged[ev.ChatID] {
			r.messaged[ev.ChatID], first = true, true
		}
	case EventRequestQueued:
		r.queued[ev.RequestID] = ev.Time
	case EventRequestAccepted:
		if ev.Wait < 0 {
			if q, ok := r.queued[ev.RequestID]; ok {
				e := *ev
				e.Wait = ev.Time.Sub(q)
				ev = &e
			}
		}
		delete(r.queued, ev.RequestID)
	}
	return funnelSlots(ev, first)
}

// FunnelCounters is a site's counters summed over hours, by slot.
type FunnelCounters []uint64

// Funnel is a site's funnel over a range of whole UTC hours.
type Funnel struct {
	SiteID string
	// Start and End are the range counted, [Start, End): the request's
	// range widened to whole hours.
	Start, End time.Time
	// Steps counts each step, indexed by FunnelStep.
	Steps [numFunnelSteps]uint64
	// Ends counts chats ended, by reason.
	Ends map[ChatEndReason]uint64
	// WaitCounts is the wait histogram: [i] counts waits up to
	// WaitBounds[i], the last those over an hour.
	WaitCounts []uint64
	// WaitP50 and WaitP90 are the upper bounds of the buckets the median
	// and the 90th percentile wait fall in; zero without acceptances
	// (with a wait over an hour: the last bound, an hour).
	WaitP50, WaitP90 time.Duration
}

// waitPercentile is the upper bound of the bucket the p-th percentile
// (0 < p ≤ 1) of a histogram falls in.
func waitPercentile(counts []uint64, p float64) time.Duration {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	// The rank of the percentile, 1-based: the smallest count at or above
	// p of the total.
	rank := uint64(p * float64(total))
	if float64(rank) < p*float64(total) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			return WaitBounds[min(i, len(WaitBounds)-1)]
		}
	}
	return WaitBounds[len(WaitBounds)-1]
}

// funnelFrom turns summed counters into a Funnel.
func funnelFrom(siteID string, start, end time.Time, c FunnelCounters) *Funnel {
	at := func(i int) uint64 {
		if i < len(c) {
			return c[i]
		}
		return 0
	}
	f := &Funnel{SiteID: siteID, Start: start, End: end, Ends: map[ChatEndReason]uint64{}}
	for _, step := range FunnelSteps {
		f.Steps[step] = at(int(step))
	}
	for r := range maxEndReasons {
		if n := at(funnelEndSlot + r); n > 0 {
			f.Ends[ChatEndReason(r)] = n
		}
	}
	f.WaitCounts = make([]uint64, len(WaitBounds)+1)
	for i := range f.WaitCounts {
		f.WaitCounts[i] = at(funnelWaitSlot + i)
	}
	f.WaitP50 = waitPercentile(f.WaitCounts, 0.5)
	f.WaitP90 = waitPercentile(f.WaitCounts, 0.9)
	return f
}

// GetFunnel returns a site's funnel over [start, end), widened to whole
// UTC hours: start rounded down, end up. A zero end is now; a zero start
// is 7 days before end. The range may span at most 366 days.
func (s *Service) GetFunnel(ctx context.Context, siteID string, start, end time.Time) (*Funnel, error) {
	start, end, err := s.funnelRange(siteID, start, end)
	if err != nil {
		return nil, err
	}
	var c FunnelCounters
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		var err error
		c, err = tx.FunnelCounters(siteID, start, end)
		return err
	})
	if err != nil {
		return nil, err
	}
	return funnelFrom(siteID, start, end, c), nil
}

// funnelRange checks a funnel's range and widens it to whole UTC hours.
func (s *Service) funnelRange(siteID string, start, end time.Time) (time.Time, time.Time, error) {
	var v Violations
	required(&v, "site_id", siteID)
	if end.IsZero() {
		end = s.clock.Now()
	}
	if start.IsZero() {
		start = end.Add(-funnelDefaultRange)
	}
	switch {
	case !start.Before(end):
		v.Add("start_time", "must be before end_time")
	case end.Sub(start) > funnelMaxRange:
		v.Add("end_time", "must be at most 366 days after start_time")
	}
	if err := v.Err(); err != nil {
		return start, end, err
	}
	start = start.UTC().Truncate(time.Hour)
	if t := end.UTC().Truncate(time.Hour); t.Before(end) {
		end = t.Add(time.Hour)
	} else {
		end = t
	}
	return start, end, nil
}

var funnelStepNames = [numFunnelSteps]string{
	StepVisits:              "visits",
	StepLaunches:            "launches",
	StepInvitationsSent:     "invitations_sent",
	StepInvitationsAccepted: "invitations_accepted",
	StepInvitationsDeclined: "invitations_declined",
	StepInvitationsExpired:  "invitations_expired",
	StepFormsSubmitted:      "forms_submitted",
	StepQueued:              "queued",
	StepAlerted:             "alerted",
	StepAccepted:            "accepted",
	StepVisitorMessaged:     "chats_with_visitor_message",
	StepAbandoned:           "abandoned",
}

var funnelStepEvents = [numFunnelSteps]EventType{
	StepVisits:              EventVisitorArrived,
	StepLaunches:            EventLaunchFired,
	StepInvitationsSent:     EventInvitationSent,
	StepInvitationsAccepted: EventInvitationAccepted,
	StepInvitationsDeclined: EventInvitationDeclined,
	StepInvitationsExpired:  EventInvitationExpired,
	StepFormsSubmitted:      EventFormSubmitted,
	StepQueued:              EventRequestQueued,
	StepAlerted:             EventRequestAlerted,
	StepAccepted:            EventRequestAccepted,
	StepVisitorMessaged:     EventChatMessage,
	StepAbandoned:           EventRequestAbandoned,
}

// String is the step's name in the API, e.g. "invitations_sent".
func (s FunnelStep) String() string {
	if s >= 0 && s < numFunnelSteps {
		return funnelStepNames[s]
	}
	return "unknown"
}

// EventType is the type of the events the step counts.
func (s FunnelStep) EventType() EventType {
	if s >= 0 && s < numFunnelSteps {
		return funnelStepEvents[s]
	}
	return ""
}
