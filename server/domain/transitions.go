package domain

import "time"

// The invitation's and the chat's steps, each one method, as the chat
// request's are (types.go) and the visitor's engagement (engagement.go). A
// step out of order is a CodeFailedPrecondition error and changes nothing.

// Close ends the pending invitation at now in state: accepted or declined
// (the visitor answered), expired (nobody answered in time) or withdrawn
// (the visit ended, or a new one began, without an answer).
func (inv *Invitation) Close(state InvitationState, now time.Time) error {
	switch state {
	case InvitationAccepted, InvitationDeclined, InvitationExpired, InvitationWithdrawn:
	default:
		return Errorf(CodeInternal, "invitation %q cannot close as %s", inv.ID, state)
	}
	if inv.State != InvitationPending {
		return Errorf(CodeFailedPrecondition, "invitation %q is %s, not pending: it cannot become %s", inv.ID, inv.State, state)
	}
	inv.State = state
	inv.RespondTime = now
	return nil
}

// Leave: participant role leaves the active chat at now. The chat goes on
// until both have left (End).
func (c *Chat) Leave(role Role, now time.Time) error {
	if c.State != ChatStateActive {
		return Errorf(CodeFailedPrecondition, "chat %q has ended", c.ID)
	}
	if c.hasLeft(role) {
		return Errorf(CodeFailedPrecondition, "the %s has left chat %q already", roleName(role), c.ID)
	}
	if role == RoleVisitor {
		c.VisitorLeftTime = now
	} else {
		c.AgentLeftTime = now
	}
	return nil
}

// End: both participants have left the active chat, which ends at now
// for reason.
func (c *Chat) End(reason ChatEndReason, now time.Time) error {
	if c.State != ChatStateActive {
		return Errorf(CodeFailedPrecondition, "chat %q has ended", c.ID)
	}
	if !c.hasLeft(RoleVisitor) || !c.hasLeft(RoleAgent) {
		return Errorf(CodeFailedPrecondition, "chat %q cannot end while a participant is in it", c.ID)
	}
	c.State = ChatStateEnded
	c.EndReason = reason
	c.EndTime = now
	return nil
}

func roleName(r Role) string {
	if r == RoleVisitor {
		return "visitor"
	}
	return "agent"
}
