package domain

import (
	"cmp"
	"slices"
	"time"
)

// Site is one website equipped with the widget.
type Site struct {
	ID             string
	Name           string
	AllowedOrigins []string
	ProactiveChat  ProactiveChatSettings
	// Retention overrides the server's retention periods for this site.
	Retention  RetentionSettings
	CreateTime time.Time
	UpdateTime time.Time
	// VisitorLauncher is the button visitors may ask for a chat with.
	VisitorLauncher VisitorLauncherSettings
	// BusinessHours are when agents take chats (hours.go); unset is always.
	BusinessHours BusinessHours
	// OfflineMessage decides when visitors are offered to leave a message.
	OfflineMessage OfflineMessageSettings
}

// ProactiveOn is the one rule for whether proactive chat is on for the
// site: off, nobody is invited, launched, queued or alerted.
func (s *Site) ProactiveOn() bool { return s.ProactiveChat.Enabled }

// VisitorLauncherSettings: the widget's "Chat with us" button, shown while
// proactive chat is on and the visitor is browsing or declined.
type VisitorLauncherSettings struct {
	Enabled bool
	// Label is the button's text; empty means DefaultLauncherLabel.
	Label string
}

// DefaultLauncherLabel is the launcher's text when the site sets none.
const DefaultLauncherLabel = "Chat with us"

// MaxLauncherLabel is the longest launcher label, in characters.
const MaxLauncherLabel = 40

// ProactiveChatMode is how a proactive chat begins on a site.
type ProactiveChatMode int

// Proactive chat modes, as in the specification.
const (
	ModeUnspecified ProactiveChatMode = iota
	// ModeWithInvite: invite, Yes/No, data-collection form, queue, agent.
	ModeWithInvite
	// ModeWithoutInvite: after the launching criteria the first available
	// agent is alerted and starts the chat.
	ModeWithoutInvite
)

// ProactiveChatSettings are a site's proactive chat rules. The zero value is
// disabled, as the specification requires of a new site.
type ProactiveChatSettings struct {
	Enabled            bool
	Mode               ProactiveChatMode
	LaunchAfterSeconds uint32
	InviteText         string
	FormFields         []FormField
	// Zero values of the durations below mean the documented defaults; use
	// the methods of the same name without "Seconds" for the values in force.
	InviteTimeoutSeconds     uint32
	ReinviteCooldownSeconds  uint32
	AlertTimeoutSeconds      uint32
	IncludePages             []string
	ExcludePages             []string
	QueueHoldSeconds         uint32
	InactivityTimeoutSeconds uint32
	InactivityWarningSeconds uint32
	// Rules are the trigger rules in priority order (rules.go); Mode,
	// LaunchAfterSeconds, InviteText, FormFields, IncludePages and
	// ExcludePages mirror the first.
	Rules []TriggerRule
	// Caps apply across all the rules, per visitor.
	Caps FrequencyCaps
}

// FormFieldType decides how a submitted form value is checked.
type FormFieldType int

// Form field types.
const (
	FieldUnspecified FormFieldType = iota
	FieldText
	FieldTextarea
	FieldEmail
	FieldPhone
)

// FormField is one field of a site's data-collection form.
type FormField struct {
	Key       string
	Label     string
	Type      FormFieldType
	Required  bool
	MaxLength uint32
}

// AgentStatus is whether an agent takes chats now.
type AgentStatus int

// Agent statuses. A new agent is offline.
const (
	StatusUnspecified AgentStatus = iota
	StatusAvailable
	StatusAway
	StatusOffline
)

func (s AgentStatus) String() string {
	switch s {
	case StatusAvailable:
		return "available"
	case StatusAway:
		return "away"
	case StatusOffline:
		return "offline"
	}
	return "unspecified"
}

// Agent is a contact-centre agent.
type Agent struct {
	ID                 string
	DisplayName        string
	SiteIDs            []string
	MaxConcurrentChats uint32
	Status             AgentStatus
	StatusChangeTime   time.Time
	ActiveChatIDs      []string
	CreateTime         time.Time
	LastChatEndTime    time.Time
	// Login is what the agent signs in with: an e-mail address or a login
	// name, unique among agents regardless of case; empty when not set.
	Login string
	// SupervisedSiteIDs are the sites the agent supervises (supervise.go),
	// whether or not it serves them.
	SupervisedSiteIDs []string
}

// CanSuperviseSite reports whether the agent supervises siteID: it may see
// the site's live chats, visitors and queue, read its chats as they happen
// and whisper to their agents.
func (a *Agent) CanSuperviseSite(siteID string) bool {
	return slices.Contains(a.SupervisedSiteIDs, siteID)
}

// SeesSite reports whether the agent may read siteID: it serves or
// supervises it.
func (a *Agent) SeesSite(siteID string) bool {
	return a.Serves(siteID) || a.CanSuperviseSite(siteID)
}

// VisibleSiteIDs are the sites the agent serves, then those it only
// supervises: the sites whose visitors it sees (WatchPresence).
func (a *Agent) VisibleSiteIDs() []string {
	out := slices.Clone(a.SiteIDs)
	for _, id := range a.SupervisedSiteIDs {
		if !a.Serves(id) {
			out = append(out, id)
		}
	}
	return out
}

// Serves reports whether the agent serves siteID.
func (a *Agent) Serves(siteID string) bool {
	for _, id := range a.SiteIDs {
		if id == siteID {
			return true
		}
	}
	return false
}

// Visitor is one person browsing a site across page loads.
type Visitor struct {
	ID           string
	SiteID       string
	CreateTime   time.Time
	CurrentPage  PageView
	ActiveChatID string
	// Engagement is where the visitor is in the proactive chat flow.
	Engagement Engagement
	// InvitationID is the visitor's latest invitation.
	InvitationID string
	// ChatRequestID is the visitor's open chat request.
	ChatRequestID string
	// DeclineTime is when the visitor last refused or let an invitation expire.
	DeclineTime time.Time
	// VisitStartTime and VisitEndTime bound the current or last visit, so
	// time on site survives a server restart.
	VisitStartTime time.Time
	VisitEndTime   time.Time
	// LastLaunchTime is when the launching criteria last fired for this
	// visitor: at most once a visit.
	LastLaunchTime time.Time
	// Identity is who the visitor is, as the page or the form said.
	Identity VisitorIdentity
	// ChatRequested: the visitor asked for a chat with the launcher and is
	// filling the form, which then queues a RequestVisitor.
	ChatRequested bool
	// VisitCount is the visits so far, this one included; ChatCount the
	// chats the visitor had.
	VisitCount uint32
	ChatCount  uint32
	// Device and Language are what the widget reported at session start.
	Device   DeviceClass
	Language string
	// VisitReferrer and LandingPageURL are the current (or last) visit's
	// referrer and first page.
	VisitReferrer  string
	LandingPageURL string
	// Launches are the trigger rules' recent launches for this visitor,
	// oldest first, at most MaxRuleLaunches: what frequency caps count.
	Launches []RuleLaunch
}

// RuleLaunch is one launch of a trigger rule for a visitor; HeldOut: the
// visitor was in the rule's control group, so nothing was shown.
type RuleLaunch struct {
	RuleID    string
	VariantID string
	Time      time.Time
	HeldOut   bool
}

// DisplayName is how agents see the visitor: their name, else their
// e-mail, else "" (clients then show a short id).
func (v *Visitor) DisplayName() string {
	return cmp.Or(v.Identity.Name, v.Identity.Email)
}

// PageView is a page a visitor looks at.
type PageView struct {
	URL      string
	Title    string
	ViewTime time.Time
}

// ChatState is the life cycle of a chat.
type ChatState int

// Chat states: a chat is active until it ends, for good.
const (
	ChatStateUnspecified ChatState = iota
	ChatStateActive
	ChatStateEnded
)

// ChatEndReason is why a chat ended.
type ChatEndReason int

// Chat end reasons.
const (
	EndUnspecified ChatEndReason = iota
	// EndBothLeft: both participants closed their chat windows.
	EndBothLeft
	// EndVisitorDeclined: the visitor closed the chat window before writing:
	// no assistance required.
	EndVisitorDeclined
	// EndInactive: nobody wrote for the site's inactivity timeout.
	EndInactive
)

// Role is which side of a chat a participant is on.
type Role int

// Participant roles.
const (
	RoleUnspecified Role = iota
	RoleVisitor
	RoleAgent
)

// Participant is one side of a chat.
type Participant struct {
	Role        Role
	ID          string
	DisplayName string
}

// Chat is a conversation between one agent and one visitor.
type Chat struct {
	ID              string
	SiteID          string
	Visitor         Participant
	Agent           Participant
	State           ChatState
	EndReason       ChatEndReason
	CreateTime      time.Time
	EndTime         time.Time
	LastSeq         uint32
	VisitorLeftTime time.Time
	AgentLeftTime   time.Time
	// ChatRequestID is the request the chat answered, if any.
	ChatRequestID string
	// LastActivityTime is when someone last wrote, or the chat started.
	LastActivityTime    time.Time
	VisitorMessageCount uint32
	// Rating is the visitor's rating of the chat; nil until given.
	Rating *Rating
	// RuleID and VariantID are the trigger rule whose launch led to the
	// chat; empty when none did.
	RuleID, VariantID string
}

// Rating is how the visitor rated a chat: Score 1 to 5 and a comment.
type Rating struct {
	Score   uint32
	Comment string
	Time    time.Time
}

// Participant returns the chat's participant with the given id.
func (c *Chat) Participant(id string) (Participant, bool) {
	switch id {
	case c.Visitor.ID:
		return c.Visitor, true
	case c.Agent.ID:
		return c.Agent, true
	}
	return Participant{}, false
}

// ChatEvent is one durable, numbered event of a chat. Exactly one of the
// pointer fields is set.
type ChatEvent struct {
	ChatID string
	Seq    uint32
	Time   time.Time
	// LogPosition is the position of the same change in the event log;
	// 0 for kinds the log does not hold (InactivityWarning).
	LogPosition       uint64
	Started           *ChatStarted
	Message           *ChatMessage
	ParticipantLeft   *Participant
	Ended             *ChatEnded
	InactivityWarning *InactivityWarning
	Transferred       *ChatTransferred
}

// ChatTransferred says the chat passed from one agent (From, who left it)
// to another (To, who took it over).
type ChatTransferred struct {
	From Participant
	To   Participant
}

// ChatNote is an internal note on a chat, for agents only: never sent to
// the visitor. Notes have a per-chat sequence of their own (Seq 1, 2, 3, …),
// apart from the chat's events, so the events a visitor sees stay without
// gaps.
type ChatNote struct {
	ChatID string
	Seq    uint32
	Time   time.Time
	Author Participant
	Text   string
}

// InactivityWarning says the chat ends as inactive at EndTime unless
// someone writes.
type InactivityWarning struct {
	EndTime time.Time
}

// ChatStarted is event 1 of every chat.
type ChatStarted struct {
	Visitor Participant
	Agent   Participant
}

// ChatMessage is text a participant wrote; plain text, never markup.
type ChatMessage struct {
	Sender         Participant
	Text           string
	IdempotencyKey string
}

// ChatEnded is the last event of a chat.
type ChatEnded struct {
	Reason ChatEndReason
}

// Typing is a participant's typing indicator: not stored, not numbered.
type Typing struct {
	ChatID      string
	Participant Participant
	Typing      bool
}

// InvitationState is the life of an invitation: pending, then one of the others.
type InvitationState int

// Invitation states.
const (
	InvitationUnspecified InvitationState = iota
	InvitationPending
	InvitationAccepted
	InvitationDeclined
	InvitationExpired
	InvitationWithdrawn
)

// Invitation asks a visitor whether they want to chat.
type Invitation struct {
	ID               string
	SiteID           string
	VisitorID        string
	State            InvitationState
	Text             string
	CreateTime       time.Time
	ExpireTime       time.Time
	RespondTime      time.Time
	InvitedByAgentID string
	// RuleID and VariantID are the trigger rule that sent the invitation.
	RuleID, VariantID string
}

// ChatRequestKind is how a chat request came about.
type ChatRequestKind int

// Chat request kinds.
const (
	RequestKindUnspecified ChatRequestKind = iota
	// RequestInvited: the visitor accepted an invitation (mode 1).
	RequestInvited
	// RequestPresence: the visitor met the launching criteria (mode 2).
	RequestPresence
	// RequestVisitor: the visitor asked for a chat with the launcher.
	RequestVisitor
)

// ChatRequestState is the life of a chat request.
type ChatRequestState int

// Chat request states: queued and alerting are open; the others are final.
const (
	RequestStateUnspecified ChatRequestState = iota
	RequestQueued
	RequestAlerting
	RequestAccepted
	RequestAbandoned
)

// ChatRequest is a visitor waiting for an agent: one entry of a site's queue.
type ChatRequest struct {
	ID             string
	SiteID         string
	VisitorID      string
	Kind           ChatRequestKind
	State          ChatRequestState
	FormValues     map[string]string
	EnqueueTime    time.Time
	AlertedAgentID string
	AlertDeadline  time.Time
	PassedAgentIDs []string
	ChatID         string
	CloseTime      time.Time
	PageURL        string
	PageTitle      string
	VisitStartTime time.Time
	HoldUntil      time.Time
	// AlertReason says why the alerted agent was chosen.
	AlertReason string
	// AlertedAgentName is the alerted agent's display name, for colleagues.
	AlertedAgentName string
	// VisitorIdentity is who the visitor was when the request was made.
	VisitorIdentity VisitorIdentity
	// RuleID and VariantID are the trigger rule whose launch led to the
	// request; with HeldOut the visitor was in its control group this
	// visit and asked themselves.
	RuleID, VariantID string
	HeldOut           bool
}

// Open reports whether the request still waits for an agent.
func (r *ChatRequest) Open() bool {
	return r.State == RequestQueued || r.State == RequestAlerting
}

// The chat request's steps, each one method: queued ⇄ alerting, then
// accepted or abandoned. A step out of order is a CodeFailedPrecondition
// error and changes nothing.

func (r *ChatRequest) stepError(to ChatRequestState) error {
	name := func(s ChatRequestState) string {
		switch s {
		case RequestQueued:
			return "queued"
		case RequestAlerting:
			return "alerting"
		case RequestAccepted:
			return "accepted"
		case RequestAbandoned:
			return "abandoned"
		}
		return "unspecified"
	}
	return Errorf(CodeFailedPrecondition, "chat request %q is %s; it cannot become %s", r.ID, name(r.State), name(to))
}

// Offer: the queued request is offered to agent until deadline, who was
// chosen for reason.
func (r *ChatRequest) Offer(agent *Agent, reason string, deadline time.Time) error {
	if r.State != RequestQueued {
		return r.stepError(RequestAlerting)
	}
	r.State = RequestAlerting
	r.AlertedAgentID = agent.ID
	r.AlertedAgentName = agent.DisplayName
	r.AlertReason = reason
	r.AlertDeadline = deadline
	return nil
}

// Unoffer: the alert is taken back and the request queued again; with
// pass, the agent it was offered to is not alerted for it again.
func (r *ChatRequest) Unoffer(pass bool) error {
	if r.State != RequestAlerting {
		return r.stepError(RequestQueued)
	}
	agentID := r.AlertedAgentID
	r.State = RequestQueued
	r.AlertedAgentID = ""
	r.AlertedAgentName = ""
	r.AlertDeadline = time.Time{}
	r.AlertReason = ""
	if pass && !slices.Contains(r.PassedAgentIDs, agentID) {
		r.PassedAgentIDs = append(r.PassedAgentIDs, agentID)
	}
	return nil
}

// Accept: the open request is taken by agent, in chat chatID, at now.
func (r *ChatRequest) Accept(agent *Agent, chatID string, now time.Time) error {
	if !r.Open() {
		return r.stepError(RequestAccepted)
	}
	r.State = RequestAccepted
	r.ChatID = chatID
	r.CloseTime = now
	r.AlertedAgentID = agent.ID
	r.AlertedAgentName = agent.DisplayName
	r.HoldUntil = time.Time{}
	return nil
}

// Abandon: the open request closes without a chat at now.
func (r *ChatRequest) Abandon(now time.Time) error {
	if !r.Open() {
		return r.stepError(RequestAbandoned)
	}
	r.State = RequestAbandoned
	r.CloseTime = now
	return nil
}

// RoutingDecision records why a chat request was offered to an agent, or
// why it could not be.
type RoutingDecision struct {
	ChatRequestID string
	SiteID        string
	Time          time.Time
	AgentID       string
	Reason        string
}

func (e InvitationState) String() string {
	return [...]string{"unspecified", "pending", "accepted", "declined", "expired", "withdrawn"}[e]
}
