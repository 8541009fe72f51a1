package domain

import "time"

// Site is one website equipped with the widget.
type Site struct {
	ID             string
	Name           string
	AllowedOrigins []string
	ProactiveChat  ProactiveChatSettings
	CreateTime     time.Time
	UpdateTime     time.Time
}

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
	ChatID          string
	Seq             uint32
	Time            time.Time
	Started         *ChatStarted
	Message         *ChatMessage
	ParticipantLeft *Participant
	Ended           *ChatEnded
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
