package domain

import (
	"slices"
	"time"
)

// The visitor's engagement steps, each one method in one place: browsing →
// invited → filling form → queued ⇄ alerting → chatting → browsing, with
// declined after an invitation refused or let expire. A step out of order
// is a CodeFailedPrecondition error and changes nothing. The steps taken
// on an identifier (LeaveChat, LeaveQueue) are guarded by it instead, as
// their callers always were.

// idle reports whether the visitor is free to begin an engagement: browsing
// (never invited, or said No). Inviting, launching and the launcher ask it.
func (v *Visitor) idle() bool {
	switch v.Engagement {
	case EngagementUnspecified, EngagementBrowsing, EngagementDeclined:
		return true
	}
	return false
}

// step moves the visitor to engagement to if it is in one of from, idle
// standing for the idle states.
func (v *Visitor) step(to Engagement, idle bool, from ...Engagement) error {
	if !(idle && v.idle()) && !slices.Contains(from, v.Engagement) {
		return Errorf(CodeFailedPrecondition, "visitor %q is %s; it cannot become %s", v.ID, v.Engagement, to)
	}
	v.Engagement = to
	return nil
}

// Invite: an idle visitor is invited with invitation invitationID, which
// counts as this visit's launch.
func (v *Visitor) Invite(invitationID string, now time.Time) error {
	if err := v.step(EngagementInvited, true); err != nil {
		return err
	}
	v.InvitationID = invitationID
	v.LastLaunchTime = now
	return nil
}

// CloseInvitation: the invited visitor's invitation ends; refused or
// expired, the visitor has declined (as of now), otherwise is browsing.
func (v *Visitor) CloseInvitation(declined bool, now time.Time) error {
	to := EngagementBrowsing
	if declined {
		to = EngagementDeclined
	}
	if err := v.step(to, false, EngagementInvited); err != nil {
		return err
	}
	if declined {
		v.DeclineTime = now
	}
	return nil
}

// StartForm: the visitor goes to the data-collection form, having accepted
// an invitation or, idle, asked for a chat with the launcher (requested).
func (v *Visitor) StartForm(requested bool) error {
	var err error
	if requested {
		err = v.step(EngagementFillingForm, true)
	} else {
		err = v.step(EngagementFillingForm, false, EngagementInvited)
	}
	if err != nil {
		return err
	}
	v.ChatRequested = requested
	return nil
}

// DropForm: the visitor filling the form leaves it, and is browsing.
func (v *Visitor) DropForm() error {
	return v.step(EngagementBrowsing, false, EngagementFillingForm)
}

// Queue: the visitor's chat request requestID is queued, launched for an
// idle visitor, on accepting an invitation or on sending the form.
func (v *Visitor) Queue(requestID string) error {
	if err := v.step(EngagementQueued, true, EngagementInvited, EngagementFillingForm); err != nil {
		return err
	}
	v.ChatRequestID = requestID
	v.ChatRequested = false
	return nil
}

// Alerting: the queued visitor's request is offered to an agent.
func (v *Visitor) Alerting() error {
	return v.step(EngagementAlerting, false, EngagementQueued)
}

// BackToQueue: the alert passed, the visitor waits in the queue again.
func (v *Visitor) BackToQueue() error {
	return v.step(EngagementQueued, false, EngagementAlerting)
}

// StartChatting: the visitor, idle or waiting in the queue, is in chat
// chatID; its request, if any, is over, and so is this visit's launch.
func (v *Visitor) StartChatting(chatID string, now time.Time) error {
	if err := v.step(EngagementChatting, true, EngagementQueued, EngagementAlerting); err != nil {
		return err
	}
	v.ActiveChatID = chatID
	v.ChatRequestID = ""
	v.LastLaunchTime = now
	return nil
}

// LeaveChat: the visitor leaves chat chatID, if it is theirs, and is
// browsing.
func (v *Visitor) LeaveChat(chatID string) {
	if v.ActiveChatID == chatID {
		v.ActiveChatID = ""
		v.Engagement = EngagementBrowsing
	}
}

// LeaveQueue: the visitor's request requestID, if it is theirs, is closed
// without a chat, and the visitor is browsing.
func (v *Visitor) LeaveQueue(requestID string) {
	if v.ChatRequestID == requestID {
		v.ChatRequestID = ""
		v.Engagement = EngagementBrowsing
	}
}
