package domain

import "time"

// EventType names a kind of Event: "<subject>.<what happened>".
type EventType string

// The event vocabulary. Each is recorded by the transition that makes the
// change, inside its Store.Update.
const (
	EventVisitorArrived      EventType = "visitor.arrived"
	EventVisitorLeft         EventType = "visitor.left"
	EventVisitorPageViewed   EventType = "visitor.page_viewed"
	EventLaunchFired         EventType = "launch.fired"
	EventInvitationSent      EventType = "invitation.sent"
	EventInvitationAccepted  EventType = "invitation.accepted"
	EventInvitationDeclined  EventType = "invitation.declined"
	EventInvitationExpired   EventType = "invitation.expired"
	EventInvitationWithdrawn EventType = "invitation.withdrawn"
	EventFormSubmitted       EventType = "form.submitted"
	EventRequestQueued       EventType = "request.queued"
	EventRequestAlerted      EventType = "request.alerted"
	EventRequestAlertExpired EventType = "request.alert_expired"
	EventRequestDeclined     EventType = "request.declined"
	EventRequestAccepted     EventType = "request.accepted"
	// EventRequestAlertWithdrawn: the alerted agent went away or stopped
	// serving the site; the request is queued again.
	EventRequestAlertWithdrawn EventType = "request.alert_withdrawn"
	EventRequestAbandoned      EventType = "request.abandoned"
	EventChatStarted           EventType = "chat.started"
	EventChatMessage           EventType = "chat.message"
	EventChatParticipantLeft   EventType = "chat.participant_left"
	EventChatEnded             EventType = "chat.ended"
	EventAgentStatusChanged    EventType = "agent.status_changed"
	// EventVisitorIdentified: who the visitor is changed (the page said
	// so, or the form's answers named the visitor).
	EventVisitorIdentified EventType = "visitor.identified"
	EventChatRated         EventType = "chat.rated"
	// EventChatTransferred: the chat's agent handed it to a colleague;
	// AgentID is who has it now, FromAgentID who had it.
	EventChatTransferred EventType = "chat.transferred"
	// EventOfflineMessageLeft: a visitor left a message (LeaveMessage).
	EventOfflineMessageLeft EventType = "offline_message.left"
	// EventOfflineMessageHandled: an agent or admin marked a message
	// handled; AgentID is who did.
	EventOfflineMessageHandled EventType = "offline_message.handled"
	// EventRuleHeldOut: a trigger rule matched a visitor in its control
	// group, who was not approached (RuleID).
	EventRuleHeldOut EventType = "rule.held_out"
)

// EventTypes lists the vocabulary, in the order of the proto's payload
// fields.
var EventTypes = []EventType{
	EventVisitorArrived, EventVisitorLeft, EventVisitorPageViewed, EventLaunchFired,
	EventInvitationSent, EventInvitationAccepted, EventInvitationDeclined,
	EventInvitationExpired, EventInvitationWithdrawn, EventFormSubmitted,
	EventRequestQueued, EventRequestAlerted, EventRequestAlertExpired,
	EventRequestDeclined, EventRequestAccepted, EventRequestAbandoned,
	EventChatStarted, EventChatMessage, EventChatParticipantLeft, EventChatEnded,
	EventAgentStatusChanged, EventRequestAlertWithdrawn, EventVisitorIdentified,
	EventChatRated, EventChatTransferred, EventOfflineMessageLeft, EventOfflineMessageHandled,
	EventRuleHeldOut,
}

// Valid reports whether t is one of EventTypes.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Event is one entry of the event log. The fields after SiteID are the
// payload: each type sets the ones its proto payload carries and leaves
// the others zero. One flat struct rather than a type per payload keeps
// the transitions that record events short; the proto is where the
// payloads are typed.
type Event struct {
	// Position is assigned by WriteTx.AppendEvent: the last position
	// assigned plus one, in commit order, never reused.
	Position uint64
	// ID is assigned by WriteTx.AppendEvent with the position.
	ID     string
	Type   EventType
	Time   time.Time
	SiteID string

	VisitorID string
	AgentID   string
	// FromAgentID is who handed a chat over (chat.transferred).
	FromAgentID  string
	ChatID       string
	RequestID    string
	InvitationID string
	// OfflineMessageID is the message of offline_message.* events.
	OfflineMessageID string
	// Reason is why an agent was alerted (request.alerted) or why a
	// request was abandoned (request.abandoned).
	Reason     string
	URL        string
	Title      string
	FormValues map[string]string
	Kind       ChatRequestKind
	Seq        uint32
	// Participant is a message's sender (chat.message) or who left
	// (chat.participant_left).
	Participant Participant
	// Text is a message's text (chat.message) or a rating's comment
	// (chat.rated).
	Text      string
	EndReason ChatEndReason
	Status    AgentStatus
	// Identity is the visitor's identity after the change
	// (visitor.identified).
	Identity VisitorIdentity
	// Score is a rating's score, 1 to 5 (chat.rated).
	Score uint32
	// Wait is how long a request waited from queued to accepted
	// (request.accepted); -1 when unknown (events from before it was
	// recorded).
	Wait time.Duration
	// RuleID and VariantID are the trigger rule a step of the proactive
	// flow belongs to; HeldOut: the visitor was in its control group and
	// asked for the chat themselves (request.queued, request.accepted).
	RuleID, VariantID string
	HeldOut           bool

	// firstVisitorMessage marks a chat.message as its chat's first from
	// the visitor, for the funnel; not stored.
	firstVisitorMessage bool
}

// EventID is the id of the event at a position: derived from it, so ids
// are unique exactly as positions are.
func EventID(position uint64) string {
	// "evt_%016x" without fmt: this runs for every message sent.
	const digits = "0123456789abcdef"
	b := [20]byte{'e', 'v', 't', '_'}
	for i := 19; i >= 4; i-- {
		b[i] = digits[position&0xf]
		position >>= 4
	}
	return string(b[:])
}

// record appends ev to the event log in tx: the event commits with the
// change it describes or not at all. An ev without a Time is stamped with
// the service's clock.
func (s *Service) record(tx WriteTx, ev Event) error {
	_, err := s.recordAt(tx, ev)
	return err
}

// recordAt is record returning the event's position.
func (s *Service) recordAt(tx WriteTx, ev Event) (uint64, error) {
	if ev.Time.IsZero() {
		ev.Time = s.clock.Now()
	}
	if err := tx.AppendEvent(&ev); err != nil {
		return 0, err
	}
	if err := countFunnel(tx, &ev); err != nil {
		return 0, err
	}
	if err := countRuleFunnel(tx, &ev); err != nil {
		return 0, err
	}
	// Hooks run in commit order, so WatchEvents streams hear of events in
	// position order; every subscriber gets the same *Event, which nobody
	// changes.
	tx.OnCommit(func() { s.broker.Publish(eventsTopic, &ev) })
	return ev.Position, nil
}
