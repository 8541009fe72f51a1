package domain

import "time"

// The chat's steps, each one method: a chat starts active with its visitor
// and agent (openChat); while active, messages are activity and the agent
// may hand it to another (Transfer); each participant leaves once (Leave);
// once both have left, it ends with a reason, for good (End). A step out of
// order is a CodeFailedPrecondition error and changes nothing. Who may ask
// for a step (a participant, the chat's agent) is checked by the callers,
// which know who asks.

// Active reports whether the chat has not ended.
func (c *Chat) Active() bool { return c.State == ChatStateActive }

// hasLeft reports whether the participant on side r has left the chat.
func (c *Chat) hasLeft(r Role) bool {
	if r == RoleVisitor {
		return !c.VisitorLeftTime.IsZero()
	}
	return !c.AgentLeftTime.IsZero()
}

// canWrite is the one rule for whether participant p may still act in the
// chat (write, type, hand it over): the chat is active and p has not left.
func (c *Chat) canWrite(p Participant) error {
	if !c.Active() {
		return Errorf(CodeFailedPrecondition, "chat %q has ended", c.ID)
	}
	if c.hasLeft(p.Role) {
		return Errorf(CodeFailedPrecondition, "%q has left chat %q", p.ID, c.ID)
	}
	return nil
}

// Wrote: participant p wrote a message at now, which is activity: the
// inactivity timeout counts from it (inactiveAt).
func (c *Chat) Wrote(p Participant, now time.Time) error {
	if err := c.canWrite(p); err != nil {
		return err
	}
	c.LastActivityTime = now
	if p.Role == RoleVisitor {
		c.VisitorMessageCount++
	}
	return nil
}

// Transfer: the chat's agent, still in the active chat, hands it to agent
// to at now. It keeps its id, events and visitor; a transfer is activity,
// so the new agent gets the whole inactivity timeout to read and answer.
func (c *Chat) Transfer(to Participant, now time.Time) error {
	if err := c.canWrite(c.Agent); err != nil {
		return err
	}
	if to.Role != RoleAgent || to.ID == "" {
		return Errorf(CodeFailedPrecondition, "chat %q can only be handed to an agent", c.ID)
	}
	if to.ID == c.Agent.ID {
		return Errorf(CodeFailedPrecondition, "agent %q is already in chat %q", to.ID, c.ID)
	}
	c.Agent = to
	c.LastActivityTime = now
	return nil
}

// Leave: the participant on side r closes their chat window at now. The
// chat stays active until End.
func (c *Chat) Leave(r Role, now time.Time) error {
	if r != RoleVisitor && r != RoleAgent {
		return Errorf(CodeFailedPrecondition, "chat %q has no participant of role %d", c.ID, r)
	}
	if !c.Active() {
		return Errorf(CodeFailedPrecondition, "chat %q has ended", c.ID)
	}
	if c.hasLeft(r) {
		return Errorf(CodeFailedPrecondition, "the %s has already left chat %q", roleName(r), c.ID)
	}
	if r == RoleVisitor {
		c.VisitorLeftTime = now
	} else {
		c.AgentLeftTime = now
	}
	return nil
}

// End: the active chat, which both participants have left, ends at now for
// reason.
func (c *Chat) End(reason ChatEndReason, now time.Time) error {
	switch {
	case reason == EndUnspecified:
		return Errorf(CodeFailedPrecondition, "chat %q cannot end without a reason", c.ID)
	case !c.Active():
		return Errorf(CodeFailedPrecondition, "chat %q has already ended", c.ID)
	case !c.hasLeft(RoleVisitor) || !c.hasLeft(RoleAgent):
		return Errorf(CodeFailedPrecondition, "chat %q cannot end while a participant is in it", c.ID)
	}
	c.State = ChatStateEnded
	c.EndReason = reason
	c.EndTime = now
	return nil
}

// inactiveAt is the one rule for when the chat ends as inactive: the
// site's inactivity timeout after the last activity.
func (c *Chat) inactiveAt(pc ProactiveChatSettings) time.Time {
	return c.LastActivityTime.Add(pc.InactivityTimeout())
}

func roleName(r Role) string {
	switch r {
	case RoleVisitor:
		return "visitor"
	case RoleAgent:
		return "agent"
	}
	return "unspecified"
}
