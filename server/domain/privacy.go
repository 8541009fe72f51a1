package domain

import "context"

// VisitorExport is everything stored about one visitor.
type VisitorExport struct {
	Visitor      *Visitor
	Invitations  []*Invitation
	ChatRequests []*ChatRequest
	Chats        []*Chat
	// ChatEvents are every event of every chat, by chat then sequence.
	ChatEvents []ChatEvent
	// OfflineMessages are the messages the visitor left, in id order.
	OfflineMessages []*OfflineMessage
}

// ExportVisitor returns everything stored about a visitor, read in one
// snapshot, except the agents' internal notes on the visitor's chats:
// those are never handed to visitors. EraseVisitor deletes them too.
func (s *Service) ExportVisitor(ctx context.Context, visitorID string) (*VisitorExport, error) {
	if visitorID == "" {
		return nil, invalid("visitor_id", "is required")
	}
	var out *VisitorExport
	err := s.store.View(ctx, func(tx ReadTx) error {
		v, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		s.pages.latest(v)
		x := &VisitorExport{Visitor: v}
		chatIDs, invitationIDs, requestIDs, err := tx.VisitorRecords(visitorID)
		if err != nil {
			return err
		}
		for _, id := range invitationIDs {
			i, err := tx.Invitation(id)
			if err != nil {
				return err
			}
			x.Invitations = append(x.Invitations, i)
		}
		for _, id := range requestIDs {
			r, err := tx.ChatRequest(id)
			if err != nil {
				return err
			}
			x.ChatRequests = append(x.ChatRequests, r)
		}
		for _, id := range chatIDs {
			c, err := tx.Chat(id)
			if err != nil {
				return err
			}
			x.Chats = append(x.Chats, c)
			events, err := tx.ChatEvents(id, 0, 0)
			if err != nil {
				return err
			}
			x.ChatEvents = append(x.ChatEvents, events...)
		}
		if x.OfflineMessages, err = tx.VisitorOfflineMessages(visitorID); err != nil {
			return err
		}
		out = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EraseVisitor deletes everything stored about a visitor in one
// transaction. It refuses while the visitor is online, in an active chat,
// queued or invited: whoever asks must let that end first, so no timer,
// stream or agent is left holding a visitor that is gone. Afterwards the
// visitor's session token is unknown, so the widget starts a new session
// with it.
func (s *Service) EraseVisitor(ctx context.Context, visitorID string) error {
	if visitorID == "" {
		return invalid("visitor_id", "is required")
	}
	return s.update(ctx, func(tx WriteTx) error {
		v, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		// A widget stream that read the visitor just before this and is
		// about to count itself can still slip past this check; its
		// visitor's later writes then fail as not found, and their
		// presence ends with the stream.
		if s.presence.online(visitorID) {
			return Errorf(CodeFailedPrecondition, "visitor %q is online: erase them after they leave", visitorID)
		}
		if v.ActiveChatID != "" {
			return Errorf(CodeFailedPrecondition, "visitor %q is in chat %q: end it first", visitorID, v.ActiveChatID)
		}
		chatIDs, invitationIDs, requestIDs, err := tx.VisitorRecords(visitorID)
		if err != nil {
			return err
		}
		if err := checkNothingOpen(tx, visitorID, chatIDs, invitationIDs, requestIDs); err != nil {
			return err
		}
		// The visitor's token no longer opens anything.
		if err := afterCommit(tx, func() {
			s.creds.revoke(func(p Principal) bool { return p.Kind == VisitorPrincipal && p.ID == visitorID })
			s.pages.forget(visitorID)
		}); err != nil {
			return err
		}
		// An erasure leaves nothing of the visitor, not even an event
		// naming them.
		return quiet(tx, "erasure", func() error { return tx.EraseVisitor(visitorID) })
	})
}

// checkNothingOpen fails with CodeFailedPrecondition while one of the
// visitor's chats is active, an invitation pending or a chat request open:
// a timer, a stream or an agent still holds it, so the visitor must not be
// deleted. Erasure and the retention sweep both ask.
func checkNothingOpen(tx ReadTx, visitorID string, chatIDs, invitationIDs, requestIDs []string) error {
	for _, id := range chatIDs {
		c, err := tx.Chat(id)
		if ErrorCode(err) == CodeNotFound {
			continue // a record that is gone is not open
		}
		if err != nil {
			return err
		}
		if c.State == ChatStateActive {
			return Errorf(CodeFailedPrecondition, "visitor %q is in chat %q: end it first", visitorID, id)
		}
	}
	for _, id := range invitationIDs {
		i, err := tx.Invitation(id)
		if ErrorCode(err) == CodeNotFound {
			continue // a record that is gone is not open
		}
		if err != nil {
			return err
		}
		if i.State == InvitationPending {
			return Errorf(CodeFailedPrecondition, "visitor %q has pending invitation %q: let it end first", visitorID, id)
		}
	}
	for _, id := range requestIDs {
		r, err := tx.ChatRequest(id)
		if ErrorCode(err) == CodeNotFound {
			continue // a record that is gone is not open
		}
		if err != nil {
			return err
		}
		if r.Open() {
			return Errorf(CodeFailedPrecondition, "visitor %q has open chat request %q: end it first", visitorID, id)
		}
	}
	return nil
}
