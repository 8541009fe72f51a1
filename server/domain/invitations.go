package domain

import (
	"context"
	"fmt"
)

// invite creates a pending invitation for visitor in tx.
func (s *Service) invite(tx WriteTx, site *Site, visitor *Visitor, agentID string) (*Invitation, error) {
	return s.inviteWith(tx, site, visitor, agentID, invitationText{text: site.ProactiveChat.InviteText})
}

// inviteWith is invite with the text and the trigger rule that sends it.
func (s *Service) inviteWith(tx WriteTx, site *Site, visitor *Visitor, agentID string, it invitationText) (*Invitation, error) {
	now := s.clock.Now()
	inv := &Invitation{
		ID:               newID("inv"),
		SiteID:           site.ID,
		VisitorID:        visitor.ID,
		State:            InvitationPending,
		Text:             it.text,
		CreateTime:       now,
		ExpireTime:       now.Add(site.ProactiveChat.InviteTimeout()),
		InvitedByAgentID: agentID,
		RuleID:           it.ruleID,
		VariantID:        it.variantID,
	}
	if inv.Text == "" {
		inv.Text = DefaultInviteText
	}
	if err := visitor.Invite(inv.ID, now); err != nil {
		return nil, err
	}
	if err := tx.PutInvitation(inv); err != nil {
		return nil, err
	}
	if err := tx.PutVisitor(visitor); err != nil {
		return nil, err
	}
	if err := s.record(tx, Event{Type: EventInvitationSent, SiteID: site.ID, VisitorID: visitor.ID, InvitationID: inv.ID, AgentID: agentID, RuleID: inv.RuleID, VariantID: inv.VariantID}); err != nil {
		return nil, err
	}
	tx.OnCommit(func() {
		s.visitorUpdated(visitor)
		s.timers.at("invite/"+inv.ID, inv.ExpireTime, func() { s.expireInvitation(inv.ID) })
	})
	return inv, nil
}

// InviteVisitor lets an agent invite a visitor chosen from the presence
// list. The with-invite flow follows whatever the site's mode.
func (s *Service) InviteVisitor(ctx context.Context, agentID, visitorID string) (*Invitation, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	required(&v, "visitor_id", visitorID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !s.presence.online(visitorID) {
		// Checked again below, but a missing visitor must be NotFound first.
		if _, err := s.getVisitor(ctx, visitorID); err != nil {
			return nil, err
		}
	}
	var inv *Invitation
	err := s.store.Update(ctx, func(tx WriteTx) error {
		_, visitor, site, err := s.agentAndVisitor(tx, agentID, visitorID)
		if err != nil {
			return err
		}
		switch {
		case !s.presence.online(visitorID):
			return Errorf(CodeFailedPrecondition, "visitor %q is not on the site", visitorID)
		case !visitor.idle():
			return Errorf(CodeFailedPrecondition, "visitor %q is %s; only a browsing visitor can be invited", visitorID, visitor.Engagement)
		}
		inv, err = s.invite(tx, site, visitor, agentID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func (s *Service) getVisitor(ctx context.Context, id string) (v *Visitor, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		v, err = tx.Visitor(id)
		return err
	})
	return v, err
}

// RespondToInvitation records the visitor's Yes or No. Yes shows the form,
// or queues the chat request when the site has no form; No hides the
// widget and the visitor is not invited again before the site's re-invite
// cooldown (never again by default).
func (s *Service) RespondToInvitation(ctx context.Context, visitorID, invitationID string, accept bool) (*VisitorState, error) {
	var v Violations
	required(&v, "visitor_id", visitorID)
	required(&v, "invitation_id", invitationID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		inv, err := tx.Invitation(invitationID)
		if err != nil {
			return err
		}
		if inv.VisitorID != visitorID {
			return Errorf(CodePermissionDenied, "invitation %q is not for visitor %q", invitationID, visitorID)
		}
		now := s.clock.Now()
		if inv.State == InvitationPending && visitor.InvitationID != inv.ID {
			return Errorf(CodeFailedPrecondition, "invitation %q is no longer the visitor's current one", invitationID)
		}
		if inv.State == InvitationPending && !now.Before(inv.ExpireTime) {
			// Too late: the expiry timer has not run yet, but the answer
			// does not count.
			if err := s.closeInvitation(tx, visitor, InvitationExpired); err != nil {
				return err
			}
			if err := tx.PutVisitor(visitor); err != nil {
				return err
			}
			tx.OnCommit(func() { s.visitorUpdated(visitor) })
			return nil
		}
		if inv.State != InvitationPending || visitor.InvitationID != inv.ID {
			return Errorf(CodeFailedPrecondition, "invitation %q is %s, not pending", invitationID, inv.State)
		}
		if !accept {
			if err := s.closeInvitation(tx, visitor, InvitationDeclined); err != nil {
				return err
			}
			if err := tx.PutVisitor(visitor); err != nil {
				return err
			}
			tx.OnCommit(func() { s.visitorUpdated(visitor) })
			return nil
		}
		site, err := tx.Site(inv.SiteID)
		if err != nil {
			return err
		}
		inv.State = InvitationAccepted
		inv.RespondTime = now
		visitor.ChatRequested = false
		if err := tx.PutInvitation(inv); err != nil {
			return err
		}
		if err := s.recordInvitation(tx, inv); err != nil {
			return err
		}
		tx.OnCommit(func() { s.timers.cancel("invite/" + inv.ID) })
		return s.formOrQueue(tx, site, visitor, RequestInvited)
	})
	if err != nil {
		return nil, err
	}
	if inv, _ := s.invitation(ctx, invitationID); inv != nil && inv.State == InvitationExpired && accept {
		return nil, Errorf(CodeFailedPrecondition, "invitation %q has expired", invitationID)
	}
	return s.VisitorState(ctx, visitorID)
}

func (s *Service) invitation(ctx context.Context, id string) (inv *Invitation, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		inv, err = tx.Invitation(id)
		return err
	})
	return inv, err
}

// closeInvitation ends the visitor's pending invitation with state; the
// caller stores the visitor. Refusing and letting it expire count alike for
// the re-invite cooldown.
func (s *Service) closeInvitation(tx WriteTx, visitor *Visitor, state InvitationState) error {
	inv, err := tx.Invitation(visitor.InvitationID)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if err := visitor.CloseInvitation(state == InvitationDeclined || state == InvitationExpired, now); err != nil {
		return err
	}
	inv.State = state
	inv.RespondTime = now
	if err := tx.PutInvitation(inv); err != nil {
		return err
	}
	if err := s.recordInvitation(tx, inv); err != nil {
		return err
	}
	// No launch timer to re-arm: the criteria fire once a visit, so the next
	// invitation, after the cooldown, can only come in a later visit, whose
	// start arms it.
	tx.OnCommit(func() { s.timers.cancel("invite/" + inv.ID) })
	return nil
}

// expireInvitation is an invitation's expiry timer.
func (s *Service) expireInvitation(id string) {
	err := s.store.Update(s.ctx, func(tx WriteTx) error {
		inv, err := tx.Invitation(id)
		if err != nil || inv.State != InvitationPending || s.clock.Now().Before(inv.ExpireTime) {
			return err
		}
		visitor, err := tx.Visitor(inv.VisitorID)
		if err != nil {
			return err
		}
		if visitor.InvitationID != id || visitor.Engagement != EngagementInvited {
			inv.State = InvitationExpired
			if err := tx.PutInvitation(inv); err != nil {
				return err
			}
			return s.recordInvitation(tx, inv)
		}
		if err := s.closeInvitation(tx, visitor, InvitationExpired); err != nil {
			return err
		}
		if err := tx.PutVisitor(visitor); err != nil {
			return err
		}
		tx.OnCommit(func() { s.visitorUpdated(visitor) })
		return nil
	})
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("invite/"+id, err, func() { s.expireInvitation(id) }) {
		s.log.Error("invitation expiry failed", "invitation", id, "err", err)
	}
}

// invitationEvents maps the final states of an invitation to their events.
var invitationEvents = map[InvitationState]EventType{
	InvitationAccepted:  EventInvitationAccepted,
	InvitationDeclined:  EventInvitationDeclined,
	InvitationExpired:   EventInvitationExpired,
	InvitationWithdrawn: EventInvitationWithdrawn,
}

// recordInvitation records the event of the state an invitation just
// reached.
func (s *Service) recordInvitation(tx WriteTx, inv *Invitation) error {
	t, ok := invitationEvents[inv.State]
	if !ok {
		return fmt.Errorf("record invitation %q: no event for state %s", inv.ID, inv.State)
	}
	return s.record(tx, Event{Type: t, SiteID: inv.SiteID, VisitorID: inv.VisitorID, InvitationID: inv.ID, RuleID: inv.RuleID, VariantID: inv.VariantID})
}
