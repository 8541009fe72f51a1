package domain

import (
	"context"
	"time"
)

// Store keeps the durable state: sites, agents, visitors, chats and chat
// events. The embedded default is bbolt; a distributed engine can take its
// place for sites that outgrow one node.
type Store interface {
	// View runs fn in a read-only snapshot. Keep fn short: it holds the
	// snapshot open.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a read-write transaction and returns once the
	// transaction is durable (committed and synced). Concurrent updates may
	// share one commit. fn may run more than once, so it must have no effect
	// outside the transaction except through OnCommit hooks; when fn returns
	// an error none of its writes are kept. An Update the store cannot
	// write for now (its disk is full) fails with CodeUnavailable, having
	// written nothing: the same Update may succeed later.
	Update(ctx context.Context, fn func(WriteTx) error) error
	Close() error
}

// ReadTx reads a consistent snapshot. Getters return a *Error with
// CodeNotFound when the record does not exist. Returned values are copies the
// caller may change.
type ReadTx interface {
	Site(id string) (*Site, error)
	Sites() ([]*Site, error)
	Agent(id string) (*Agent, error)
	Agents() ([]*Agent, error)
	// AgentIDByLogin finds the agent whose login is login, compared by
	// LoginKey; the store keeps this index with PutAgent.
	AgentIDByLogin(login string) (string, error)
	Visitor(id string) (*Visitor, error)
	// VisitorByTokenHash finds the visitor a session token belongs to.
	VisitorByTokenHash(hash []byte) (*Visitor, error)
	Chat(id string) (*Chat, error)
	// ChatEvents returns up to limit events of a chat with Seq > afterSeq,
	// in sequence order.
	ChatEvents(chatID string, afterSeq uint32, limit int) ([]ChatEvent, error)
	// MessageSeqByKey finds the message a sender appended with an
	// idempotency key.
	MessageSeqByKey(chatID, senderID, key string) (seq uint32, found bool, err error)
	// CannedReply returns a site's canned reply; NotFound when the site
	// has none with id.
	CannedReply(siteID, id string) (*CannedReply, error)
	// CannedReplies lists a site's canned replies, in any order.
	CannedReplies(siteID string) ([]*CannedReply, error)
	// ChatNotes returns a chat's internal notes in sequence order.
	ChatNotes(chatID string) ([]ChatNote, error)
	Invitation(id string) (*Invitation, error)
	// PendingInvitations lists every invitation still pending, so their
	// expiry timers can be rebuilt after a restart.
	PendingInvitations() ([]*Invitation, error)
	ChatRequest(id string) (*ChatRequest, error)
	// OpenChatRequests lists the queued and alerting requests of a site
	// (of every site when siteID is empty), first in first out: by
	// EnqueueTime, then ID.
	OpenChatRequests(siteID string) ([]*ChatRequest, error)
	// QueuedChatRequests lists the open requests of a site that alert
	// nobody (RequestQueued), in OpenChatRequests' order, without reading
	// the others.
	QueuedChatRequests(siteID string) ([]*ChatRequest, error)
	// AlertCounts counts, for each of the agents, the open requests of
	// every site alerting it; agents with none are left out.
	AlertCounts(agentIDs []string) (map[string]int, error)
	// QueuePosition is where req stands among the open requests of its
	// site, in OpenChatRequests' order, from 1; 0 when it is not open.
	QueuePosition(req *ChatRequest) (int, error)
	// SiteChats lists up to limit positions of a site's chats, newest
	// first (ChatPosition's order), after the position after; from the
	// newest when after is the zero ChatPosition.
	SiteChats(siteID string, after ChatPosition, limit int) ([]ChatPosition, error)
	// ActiveChatIDs lists the chats that have not ended.
	ActiveChatIDs() ([]string, error)
	// ChatWhispers lists a chat's whispers in Seq order.
	ChatWhispers(chatID string) ([]Whisper, error)
	// RoutingDecisions lists a site's latest decisions, newest first.
	RoutingDecisions(siteID string, limit int) ([]*RoutingDecision, error)
	// VisitorRecords lists the ids of everything stored about a visitor:
	// their chats, invitations and chat requests, each in id order. An
	// unknown visitor has none.
	VisitorRecords(visitorID string) (chatIDs, invitationIDs, requestIDs []string, err error)
	// Visitors lists up to limit visitors (every one when limit <= 0)
	// whose ids sort after afterID, in id order, so that every visitor can
	// be read in a series of short snapshots.
	Visitors(afterID string, limit int) ([]*Visitor, error)

	// OfflineMessage returns a message a visitor left.
	OfflineMessage(id string) (*OfflineMessage, error)
	// SiteOfflineMessages lists a site's messages, newest first (by
	// CreateTime, then id).
	SiteOfflineMessages(siteID string) ([]*OfflineMessage, error)
	// VisitorOfflineMessages lists the messages a visitor left, in id order.
	VisitorOfflineMessages(visitorID string) ([]*OfflineMessage, error)

	// APIKeyByHash finds the API key whose secret has this SHA-256.
	APIKeyByHash(hash []byte) (*APIKey, error)
	// APIKeys lists every API key, in hash order.
	APIKeys() ([]*APIKey, error)
	// AgentSessionByHash finds the agent session whose token has this SHA-256.
	AgentSessionByHash(hash []byte) (*AgentSession, error)
	// AgentSessions lists an agent's sessions, expired ones included.
	AgentSessions(agentID string) ([]*AgentSession, error)
	// AgentPasswordHash returns the encoded hash of an agent's password;
	// NotFound when it has none.
	AgentPasswordHash(agentID string) (string, error)
	// SiteIdentitySecret returns the key a site's backend signs its
	// visitors' external ids with; NotFound when it has none.
	SiteIdentitySecret(siteID string) (string, error)
	// RatingCounts sums the rating counters of the UTC days from the day
	// of from to the day of to, both included: of a site's chats (agentID
	// empty), of an agent's chats on every site (siteID empty), or of an
	// agent's chats on one site.
	RatingCounts(siteID, agentID string, from, to time.Time) (RatingCounts, error)

	// Events returns up to limit events of the log with Position >
	// afterPosition, in position order.
	Events(afterPosition uint64, limit int) ([]*Event, error)
	// LastEventPosition is the last position AppendEvent assigned, 0 when
	// none; its event may have been deleted since.
	LastEventPosition() uint64
	// FunnelCounters sums a site's funnel counters of the UTC hours
	// beginning in [from, to), by slot (funnel.go).
	FunnelCounters(siteID string, from, to time.Time) (FunnelCounters, error)
	// RuleFunnelCounters sums a site's trigger rule funnel counters of the
	// UTC hours beginning in [from, to), by rule and variant (variant ""
	// for the rule as a whole) and slot (rulefunnel.go).
	RuleFunnelCounters(siteID string, from, to time.Time) (map[RuleVariant]FunnelCounters, error)
	// Webhook is CodeNotFound when there is no such endpoint.
	Webhook(id string) (*Webhook, error)
	Webhooks() ([]*Webhook, error)
	// WebhookDeliveries returns an endpoint's latest deliveries, newest
	// first.
	WebhookDeliveries(webhookID string, limit int) ([]*WebhookDelivery, error)
}

// WriteTx is a ReadTx that also writes. Its reads see its own writes.
type WriteTx interface {
	ReadTx
	PutSite(*Site) error
	PutAgent(*Agent) error
	PutVisitor(*Visitor) error
	// PutVisitorToken maps a session token's hash to its visitor.
	PutVisitorToken(hash []byte, visitorID string) error
	// PutAPIKey stores a key under its Hash; DeleteAPIKey removes it.
	PutAPIKey(*APIKey) error
	DeleteAPIKey(hash []byte) error
	// PutAgentSession stores a session under its Hash; DeleteAgentSession
	// removes it.
	PutAgentSession(*AgentSession) error
	DeleteAgentSession(hash []byte) error
	PutAgentPasswordHash(agentID, encoded string) error
	PutSiteIdentitySecret(siteID, secret string) error
	// CountRating adds a rating of score (1 to 5) given at t to the
	// counters of the site and of the agent on the site, for t's UTC day.
	CountRating(siteID, agentID string, t time.Time, score uint32) error
	PutChat(*Chat) error
	// AppendChatEvent stores an event. Its Seq must be the chat's previous
	// last event plus one; a message with an idempotency key is also
	// indexed for MessageSeqByKey.
	AppendChatEvent(ChatEvent) error
	// AppendWhisper stores a whisper. Its Seq must be the chat's previous
	// last whisper's plus one. DeleteChat and EraseVisitor delete them with
	// their chat.
	AppendWhisper(Whisper) error
	PutCannedReply(*CannedReply) error
	DeleteCannedReply(siteID, id string) error
	// AppendChatNote stores an internal note. Its Seq must be the chat's
	// previous last note plus one.
	AppendChatNote(ChatNote) error
	PutInvitation(*Invitation) error
	// PutChatRequest stores a request and keeps the open-requests index in
	// step with its state.
	PutChatRequest(*ChatRequest) error
	// PutOfflineMessage stores a message and keeps the site and visitor
	// indexes; EraseVisitor deletes it with its visitor.
	PutOfflineMessage(*OfflineMessage) error
	// AppendRoutingDecision records a decision, keeping the latest 1000 of
	// each site.
	AppendRoutingDecision(*RoutingDecision) error
	// EraseVisitor deletes everything stored about a visitor: the visitor,
	// their session tokens, their chats with all events, notes and
	// idempotency keys, invitations, chat requests, the routing decisions
	// about those requests and the offline messages they left. It checks
	// nothing about their state; that is the caller's job.
	EraseVisitor(visitorID string) error
	// DeleteChat deletes a chat with all its events, notes and idempotency keys,
	// and the chat request it answered (with the form values and the
	// routing decisions about it). The visitor stays. Like EraseVisitor it
	// checks nothing about the chat's state.
	DeleteChat(chatID string) error
	// AppendEvent records ev in the event log, assigning its Position (the
	// last assigned plus one, never reused) and ID. Positions follow the
	// order the transactions commit in; an Update that does not commit
	// assigns none. EraseVisitor deletes the events naming the visitor.
	AppendEvent(ev *Event) error
	// AddFunnel adds one to each of the given slots of the funnel
	// counters of siteID in the UTC hour of t.
	AddFunnel(siteID string, t time.Time, slots []int) error
	// AddRuleFunnel adds one to each of the given slots of a rule's (and
	// variant's, "" for the rule as a whole) funnel counters of t's UTC hour.
	AddRuleFunnel(siteID, ruleID, variantID string, t time.Time, slots []int) error
	// DeleteEventsBefore deletes up to limit events from the head of the
	// log whose Time is before cutoff, stopping at the first that is not,
	// and returns how many it deleted.
	DeleteEventsBefore(cutoff time.Time, limit int) (int, error)
	// OnCommit registers f to run after the transaction is durable. Hooks of
	// concurrent updates run one at a time, in commit order, so events
	// published from them reach subscribers in the order they were stored.
	// Hooks must not block.
	OnCommit(f func())
	PutWebhook(*Webhook) error
	// DeleteWebhook deletes an endpoint and its deliveries.
	DeleteWebhook(id string) error
	// AppendWebhookDelivery logs a delivery, keeping the endpoint's latest
	// few hundred.
	AppendWebhookDelivery(*WebhookDelivery) error
}
