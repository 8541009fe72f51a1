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
	// EventSiteCreated and EventSiteUpdated: an admin created a site or
	// changed its settings; Fields names the top-level settings changed.
	EventSiteCreated EventType = "site.created"
	EventSiteUpdated EventType = "site.updated"
	// EventAgentCreated and EventAgentUpdated: an admin created or changed
	// an agent; Fields names what changed ("password" for a new password,
	// never its value).
	EventAgentCreated EventType = "agent.created"
	EventAgentUpdated EventType = "agent.updated"
	// EventChatInactivityWarning: the chat ends as inactive at Deadline
	// unless someone writes.
	EventChatInactivityWarning EventType = "chat.inactivity_warning"
	// EventRequestHoldStarted: the visitor of an open request has no widget
	// open; the request keeps its place until Deadline. Recorded again
	// when the hold is extended.
	EventRequestHoldStarted EventType = "request.hold_started"
	// EventRequestHoldEnded: the visitor came back in time.
	EventRequestHoldEnded EventType = "request.hold_ended"
	// EventChatNoteAdded: AgentID added internal note Seq with Text.
	EventChatNoteAdded EventType = "chat.note_added"
	// EventChatWhisperSent: supervisor FromAgentID whispered Text to the
	// chat's agent AgentID.
	EventChatWhisperSent EventType = "chat.whisper_sent"
	// EventCannedReplyCreated, EventCannedReplyUpdated and
	// EventCannedReplyDeleted: a site's canned reply was managed.
	EventCannedReplyCreated EventType = "canned_reply.created"
	EventCannedReplyUpdated EventType = "canned_reply.updated"
	EventCannedReplyDeleted EventType = "canned_reply.deleted"
	// EventWebhookCreated, EventWebhookUpdated, EventWebhookDeleted and
	// EventWebhookSecretRotated: an endpoint was managed (never its
	// secret); a 410 Gone that disables it is an update of "enabled".
	EventWebhookCreated       EventType = "webhook.created"
	EventWebhookUpdated       EventType = "webhook.updated"
	EventWebhookDeleted       EventType = "webhook.deleted"
	EventWebhookSecretRotated EventType = "webhook.secret_rotated"
	// EventAPIKeyCreated and EventAPIKeyRevoked: an admin API key was made
	// or revoked (never the key).
	EventAPIKeyCreated EventType = "api_key.created"
	EventAPIKeyRevoked EventType = "api_key.revoked"
	// EventAgentSessionCreated and EventAgentSessionRevoked: an agent
	// signed in (or was given a session), signed out or had sessions
	// revoked (never the token).
	EventAgentSessionCreated EventType = "agent_session.created"
	EventAgentSessionRevoked EventType = "agent_session.revoked"
	// EventFormStarted: the visitor said yes and the data-collection form
	// opened; EventFormAbandoned: it was dropped unsent (Reason says why).
	EventFormStarted   EventType = "form.started"
	EventFormAbandoned EventType = "form.abandoned"
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
	EventSiteCreated, EventSiteUpdated, EventAgentCreated, EventAgentUpdated,
	EventChatInactivityWarning, EventRequestHoldStarted, EventRequestHoldEnded,
	EventChatNoteAdded, EventChatWhisperSent,
	EventCannedReplyCreated, EventCannedReplyUpdated, EventCannedReplyDeleted,
	EventWebhookCreated, EventWebhookUpdated, EventWebhookDeleted, EventWebhookSecretRotated,
	EventAPIKeyCreated, EventAPIKeyRevoked, EventAgentSessionCreated, EventAgentSessionRevoked,
	EventFormStarted, EventFormAbandoned,
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
	// Reason is why an agent was alerted (request.alerted), why a
	// request was abandoned (request.abandoned) or its hold ended
	// (request.hold_ended), or why a form was dropped (form.abandoned).
	Reason     string
	URL        string
	Title      string
	FormValues map[string]string
	Kind       ChatRequestKind
	Seq        uint32
	// Participant is a message's sender (chat.message) or who left
	// (chat.participant_left).
	Participant Participant
	// Text is a message's text (chat.message), a rating's comment
	// (chat.rated), a note's (chat.note_added) or a whisper's
	// (chat.whisper_sent); Seq numbers those in their chat.
	Text      string
	EndReason ChatEndReason
	Status    AgentStatus
	// Identity is the visitor's identity after the change
	// (visitor.identified).
	Identity VisitorIdentity
	// Score is a rating's score, 1 to 5 (chat.rated).
	Score uint32
	// Fields names the fields an admin set or changed (site.*, agent.*,
	// canned_reply.*, webhook.*).
	Fields []string
	// CannedReplyID, WebhookID, APIKeyID and SessionID are the records of
	// canned_reply.*, webhook.*, api_key.* and agent_session.* events.
	CannedReplyID string
	WebhookID     string
	APIKeyID      string
	SessionID     string
	// Deadline is when a warned chat ends as inactive
	// (chat.inactivity_warning) or until when a held request keeps its
	// place (request.hold_started).
	Deadline time.Time
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

	// What the commit handler (committed) needs besides the payload, set
	// where the event is recorded and never stored: the records as the
	// change left them.
	eventEffects
}

// eventEffects are the records an event's change left, for the commit
// handler. Pointers are to the transition's own records, so the handler
// sees them as the transaction stored them, however late in the
// transaction the transition changed them.
type eventEffects struct {
	// visitor, when set, is published to the visitor's streams and the
	// presence list.
	visitor *Visitor
	// request, when set, is published to its site's queue.
	request *ChatRequest
	// agent (and fromAgent, who handed a chat over) are published to
	// their agent topics.
	agent, fromAgent *Agent
	// chatEvent is the chat's own event (chat.*), for the chat's topic.
	chatEvent *ChatEvent
	// chat and idle arm the chat's inactivity timer from its last
	// activity, with the site's settings.
	chat *Chat
	idle *ProactiveChatSettings
	// routeSites are the sites to route again.
	routeSites []string
	// invitation is the invitation sent, whose expiry is armed.
	invitation *Invitation
	// alert is what the alerted agent hears (request.alerted).
	alert *AlertEvent
	// wasAlerted: the accepted request was offered to its agent, whose
	// alert ends (request.accepted).
	wasAlerted bool
	// waited is how long an accepted request waited.
	waited time.Duration
	// alertedAgentID is the agent whose alert an abandoned request ends.
	alertedAgentID string
	// rightsChanged: the agent's sites changed, so its open streams check
	// again what they show (rights.go).
	rightsChanged bool
	// note and whisper are what chat.note_added and chat.whisper_sent
	// publish.
	note    *ChatNote
	whisper *Whisper
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

// record appends ev to the event log in tx, which must come from
// Service.update: the event commits with the change it describes or not at
// all, and the commit handler does what follows it. An ev without a Time is
// stamped with the service's clock.
func (s *Service) record(tx WriteTx, ev Event) error {
	_, err := s.recordEvent(tx, ev)
	return err
}

// recordEvent is record returning the recorded event, whose position is
// assigned and whose effects the caller may still set.
func (s *Service) recordEvent(tx WriteTx, ev Event) (*Event, error) {
	ct, err := attempt(tx)
	if err != nil {
		return nil, err
	}
	if ev.Time.IsZero() {
		ev.Time = s.clock.Now()
	}
	e := &ev
	if err := tx.AppendEvent(e); err != nil {
		return nil, err
	}
	if err := countFunnel(tx, e); err != nil {
		return nil, err
	}
	if err := countRuleFunnel(tx, e); err != nil {
		return nil, err
	}
	ct.events = append(ct.events, e)
	return e, nil
}
