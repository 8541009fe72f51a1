package domain

import (
	"context"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

// When nobody can take a chat — outside business hours, no agent available
// with room for another chat, or a queue wait longer than the site's
// offline_message.max_wait_seconds — the widget offers to leave a message:
// name, e-mail and text, stored for agents to follow up. Agents of the
// site list them and mark them handled. A message belongs to its visitor:
// it is exported with them and erased with them (by EraseVisitor and by
// retention), so it is kept as long as the visitor is.

// OfflineMessageState is whether an agent followed a message up.
type OfflineMessageState int

// Offline message states.
const (
	OfflineMessageUnspecified OfflineMessageState = iota
	OfflineMessageNew
	OfflineMessageHandled
)

// OfflineMessage is what a visitor left when nobody could chat.
type OfflineMessage struct {
	ID          string
	SiteID      string
	VisitorID   string
	Name        string
	Email       string
	Text        string
	Page        string
	CreateTime  time.Time
	State       OfflineMessageState
	HandledBy   string
	HandledTime time.Time
	// RequestID is the client's key, so that a retry does not store twice.
	RequestID string
}

// OfflineMessageInput is what a visitor fills in.
type OfflineMessageInput struct {
	Name, Email, Text, PageURL, RequestID string
}

// Limits of an offline message.
const (
	MaxOfflineNameBytes  = 200
	MaxOfflineEmailBytes = 254
	MaxOfflineTextBytes  = 4000
	// MaxOfflineMessagesPerVisitor bounds what one visitor may store.
	MaxOfflineMessagesPerVisitor = 20
)

var offlineRequestID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// LeaveMessage stores a visitor's message for agents. Called again with a
// request id the visitor used before it returns that message, unchanged.
func (s *Service) LeaveMessage(ctx context.Context, visitorID string, in OfflineMessageInput) (*OfflineMessage, error) {
	var v Violations
	required(&v, "visitor_id", visitorID)
	if required(&v, "name", in.Name) && (len(in.Name) > MaxOfflineNameBytes || !utf8.ValidString(in.Name)) {
		v.Add("name", "must be UTF-8, at most %d bytes", MaxOfflineNameBytes)
	}
	if required(&v, "email", in.Email) && (len(in.Email) > MaxOfflineEmailBytes || !validEmail(in.Email)) {
		v.Add("email", "must be an e-mail address such as ada@example.com, at most %d bytes", MaxOfflineEmailBytes)
	}
	if required(&v, "text", in.Text) && (len(in.Text) > MaxOfflineTextBytes || !utf8.ValidString(in.Text)) {
		v.Add("text", "must be UTF-8, at most %d bytes", MaxOfflineTextBytes)
	}
	if in.PageURL != "" {
		checkPage(&v, "page_url", "page_title", in.PageURL, "")
	}
	if !offlineRequestID.MatchString(in.RequestID) {
		v.Add("request_id", "must be 1 to 64 characters of A-Z a-z 0-9 _ -")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var msg *OfflineMessage
	err := s.update(ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		mine, err := tx.VisitorOfflineMessages(visitorID)
		if err != nil {
			return err
		}
		for _, m := range mine {
			if m.RequestID == in.RequestID {
				msg = m
				return nil
			}
		}
		if len(mine) >= MaxOfflineMessagesPerVisitor {
			return Errorf(CodeResourceExhausted, "a visitor may leave at most %d messages", MaxOfflineMessagesPerVisitor)
		}
		msg = &OfflineMessage{
			ID: newID("msg"), SiteID: visitor.SiteID, VisitorID: visitorID,
			Name: in.Name, Email: in.Email, Text: in.Text, Page: in.PageURL,
			CreateTime: s.clock.Now(), State: OfflineMessageNew, RequestID: in.RequestID,
		}
		if err := tx.PutOfflineMessage(msg); err != nil {
			return err
		}
		return s.record(tx, Event{
			Type: EventOfflineMessageLeft, Time: msg.CreateTime, SiteID: msg.SiteID,
			VisitorID: visitorID, OfflineMessageID: msg.ID,
		})
	})
	if err != nil {
		return nil, err
	}
	return msg, nil
}

// Page sizes of ListOfflineMessages.
const (
	DefaultOfflineMessagesPage = 50
	MaxOfflineMessagesPage     = 100
)

// ListOfflineMessages returns a page of a site's messages, newest first,
// in the given state (any when unspecified), the token of the next page
// ("" on the last) and how many of the site's messages are new. The caller
// has checked that the reader may read the site.
func (s *Service) ListOfflineMessages(ctx context.Context, siteID string, state OfflineMessageState, pageSize int, pageToken string) (page []*OfflineMessage, next string, newCount int, err error) {
	var v Violations
	required(&v, "site_id", siteID)
	if state < OfflineMessageUnspecified || state > OfflineMessageHandled {
		v.Add("state", "unknown state %d", state)
	}
	if pageSize < 0 || pageSize > MaxOfflineMessagesPage {
		v.Add("page_size", "must be at most %d", MaxOfflineMessagesPage)
	}
	offset := 0
	if pageToken != "" {
		if offset, err = strconv.Atoi(pageToken); err != nil || offset < 0 {
			v.Add("page_token", "is not a token from an earlier page")
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", 0, err
	}
	if pageSize == 0 {
		pageSize = DefaultOfflineMessagesPage
	}
	var all []*OfflineMessage
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		all, err = tx.SiteOfflineMessages(siteID)
		return err
	})
	if err != nil {
		return nil, "", 0, err
	}
	var matching []*OfflineMessage
	for _, m := range all {
		if m.State == OfflineMessageNew {
			newCount++
		}
		if state == OfflineMessageUnspecified || m.State == state {
			matching = append(matching, m)
		}
	}
	if offset > len(matching) {
		offset = len(matching)
	}
	end := min(offset+pageSize, len(matching))
	if end < len(matching) {
		next = strconv.Itoa(end)
	}
	return matching[offset:end], next, newCount, nil
}

// MarkOfflineMessageHandled records that p followed a message up; p must
// be an admin or an agent of the message's site. A handled message stays
// as it was.
func (s *Service) MarkOfflineMessageHandled(ctx context.Context, p Principal, id string) (*OfflineMessage, error) {
	if id == "" {
		return nil, invalid("offline_message_id", "is required")
	}
	var msg *OfflineMessage
	err := s.store.View(ctx, func(tx ReadTx) (err error) {
		msg, err = tx.OfflineMessage(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.CanReadSite(ctx, p, msg.SiteID); err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx WriteTx) error {
		var err error
		if msg, err = tx.OfflineMessage(id); err != nil || msg.State == OfflineMessageHandled {
			return err
		}
		msg.State = OfflineMessageHandled
		msg.HandledBy = p.ID
		msg.HandledTime = s.clock.Now()
		if err := tx.PutOfflineMessage(msg); err != nil {
			return err
		}
		return s.record(tx, Event{
			Type: EventOfflineMessageHandled, Time: msg.HandledTime, SiteID: msg.SiteID,
			VisitorID: msg.VisitorID, AgentID: p.ID, OfflineMessageID: msg.ID,
		})
	})
	if err != nil {
		return nil, err
	}
	return msg, nil
}
