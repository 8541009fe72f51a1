package domain

import "time"

// The invitation's steps, each one method: pending, then accepted,
// declined, expired or withdrawn, for good. A step out of order is a
// CodeFailedPrecondition error and changes nothing. The visitor's side of
// the same steps is the engagement (engagement.go).

// Pending reports whether the invitation still waits for the visitor's
// answer.
func (i *Invitation) Pending() bool { return i.State == InvitationPending }

// final reports whether state is one an invitation ends in.
func (s InvitationState) final() bool {
	switch s {
	case InvitationAccepted, InvitationDeclined, InvitationExpired, InvitationWithdrawn:
		return true
	}
	return false
}

// Close ends the pending invitation in the final state to at now: the
// visitor answered (accepted, declined), let it pass (expired), or it was
// taken back (withdrawn). Accept, Decline, Expire and Withdraw name the
// four.
func (i *Invitation) Close(to InvitationState, now time.Time) error {
	if !to.final() || !i.Pending() {
		return Errorf(CodeFailedPrecondition, "invitation %q is %s; it cannot become %s", i.ID, i.State, to)
	}
	i.State = to
	i.RespondTime = now
	return nil
}

// Accept: the visitor said Yes to the pending invitation at now.
func (i *Invitation) Accept(now time.Time) error { return i.Close(InvitationAccepted, now) }

// Decline: the visitor said No to the pending invitation at now.
func (i *Invitation) Decline(now time.Time) error { return i.Close(InvitationDeclined, now) }

// Expire: the pending invitation went unanswered until now.
func (i *Invitation) Expire(now time.Time) error { return i.Close(InvitationExpired, now) }

// Withdraw: the pending invitation is taken back at now: the visit it was
// made in ended.
func (i *Invitation) Withdraw(now time.Time) error { return i.Close(InvitationWithdrawn, now) }
