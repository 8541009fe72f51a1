package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestInvitationClose: a pending invitation closes once, in one of the
// final states; any other step is FailedPrecondition and changes nothing.
func TestInvitationClose(t *testing.T) {
	now := t0.Add(time.Minute)
	for _, state := range []domain.InvitationState{domain.InvitationAccepted, domain.InvitationDeclined, domain.InvitationExpired, domain.InvitationWithdrawn} {
		t.Run(state.String(), func(t *testing.T) {
			inv := &domain.Invitation{ID: "inv", State: domain.InvitationPending}
			if err := inv.Close(state, now); err != nil || inv.State != state || !inv.RespondTime.Equal(now) {
				t.Fatalf("Close(%s) = %v: state %s at %v", state, err, inv.State, inv.RespondTime)
			}
			again := *inv
			err := inv.Close(domain.InvitationDeclined, now.Add(time.Second))
			if domain.ErrorCode(err) != domain.CodeFailedPrecondition || *inv != again {
				t.Fatalf("closing a %s invitation again: %v, %+v; want FailedPrecondition and no change", state, err, inv)
			}
		})
	}
	t.Run("ErrNotFinal", func(t *testing.T) {
		inv := &domain.Invitation{ID: "inv", State: domain.InvitationPending}
		if err := inv.Close(domain.InvitationPending, now); err == nil || inv.State != domain.InvitationPending {
			t.Fatalf("Close(pending) = %v, state %s", err, inv.State)
		}
	})
}

// TestChatLeaveEnd: each participant leaves an active chat once; it ends
// once both have, and only then.
func TestChatLeaveEnd(t *testing.T) {
	now := t0.Add(time.Minute)
	chat := &domain.Chat{ID: "chat", State: domain.ChatStateActive}
	wantStep := func(what string, err error) {
		t.Helper()
		if domain.ErrorCode(err) != domain.CodeFailedPrecondition {
			t.Fatalf("%s: %v, want FailedPrecondition", what, err)
		}
	}
	if err := chat.Leave(domain.RoleVisitor, now); err != nil || !chat.VisitorLeftTime.Equal(now) {
		t.Fatalf("the visitor leaving: %v, left at %v", err, chat.VisitorLeftTime)
	}
	wantStep("the visitor leaving twice", chat.Leave(domain.RoleVisitor, now.Add(time.Second)))
	if !chat.VisitorLeftTime.Equal(now) {
		t.Fatalf("a refused step moved the visitor's leaving to %v", chat.VisitorLeftTime)
	}
	wantStep("ending with the agent in it", chat.End(domain.EndBothLeft, now))
	if err := chat.Leave(domain.RoleAgent, now); err != nil {
		t.Fatal(err)
	}
	if err := chat.End(domain.EndInactive, now); err != nil || chat.State != domain.ChatStateEnded || chat.EndReason != domain.EndInactive || !chat.EndTime.Equal(now) {
		t.Fatalf("End = %v: %+v", err, chat)
	}
	wantStep("ending twice", chat.End(domain.EndBothLeft, now.Add(time.Second)))
	wantStep("leaving an ended chat", chat.Leave(domain.RoleAgent, now))
	if chat.EndReason != domain.EndInactive {
		t.Fatalf("a refused step changed the end reason to %s", chat.EndReason)
	}
}
