package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestInvitationSteps: a pending invitation takes each of its four final
// steps once, recording when; every step from a final state, or to a state
// that is not final, is FailedPrecondition and changes nothing.
func TestInvitationSteps(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := created.Add(time.Minute)
	steps := map[domain.InvitationState]func(*domain.Invitation, time.Time) error{
		domain.InvitationAccepted:  (*domain.Invitation).Accept,
		domain.InvitationDeclined:  (*domain.Invitation).Decline,
		domain.InvitationExpired:   (*domain.Invitation).Expire,
		domain.InvitationWithdrawn: (*domain.Invitation).Withdraw,
	}
	all := []domain.InvitationState{
		domain.InvitationUnspecified, domain.InvitationPending, domain.InvitationAccepted,
		domain.InvitationDeclined, domain.InvitationExpired, domain.InvitationWithdrawn,
	}
	for from := range all {
		for to, step := range steps {
			from := all[from]
			t.Run(from.String()+"To"+to.String(), func(t *testing.T) {
				inv := &domain.Invitation{ID: "inv1", State: from, CreateTime: created}
				err := step(inv, now)
				if from == domain.InvitationPending {
					if err != nil {
						t.Fatalf("step: %v", err)
					}
					if inv.State != to || !inv.RespondTime.Equal(now) || inv.Pending() {
						t.Fatalf("after the step: state %s, respond time %v, pending %v; want %s, %v, false", inv.State, inv.RespondTime, inv.Pending(), to, now)
					}
					return
				}
				if got := domain.ErrorCode(err); got != domain.CodeFailedPrecondition {
					t.Fatalf("step from %s: code %q (%v), want %q", from, got, err, domain.CodeFailedPrecondition)
				}
				if inv.State != from || !inv.RespondTime.IsZero() {
					t.Fatalf("a refused step changed the invitation: state %s, respond time %v", inv.State, inv.RespondTime)
				}
			})
		}
	}
	t.Run("ErrCloseToNonFinal", func(t *testing.T) {
		for _, to := range []domain.InvitationState{domain.InvitationUnspecified, domain.InvitationPending} {
			inv := &domain.Invitation{ID: "inv1", State: domain.InvitationPending}
			if got := domain.ErrorCode(inv.Close(to, now)); got != domain.CodeFailedPrecondition {
				t.Fatalf("Close(%s): code %q, want %q", to, got, domain.CodeFailedPrecondition)
			}
			if !inv.Pending() || !inv.RespondTime.IsZero() {
				t.Fatalf("Close(%s) changed the invitation: %+v", to, inv)
			}
		}
	})
}
