package domain_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

func TestStartChat(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 1)
	v := e.newVisitor(t, site.ID)

	t.Run("ErrVisitorNotOnSite", func(t *testing.T) {
		_, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	e.visit(t, v.ID, "https://shop.example/")
	t.Run("ErrAgentNotAvailable", func(t *testing.T) {
		e.svc.SetAgentStatus(ctx(t), agent.ID, domain.StatusAway)
		defer e.svc.SetAgentStatus(ctx(t), agent.ID, domain.StatusAvailable)
		_, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrSiteDisabled", func(t *testing.T) {
		e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID}, []string{"proactive_chat.enabled"})
		defer e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID, ProactiveChat: domain.ProactiveChatSettings{Enabled: true}}, []string{"proactive_chat.enabled"})
		_, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrAgentOfAnotherSite", func(t *testing.T) {
		other, _ := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Other"})
		stranger, _ := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "S", SiteIDs: []string{other.ID}})
		e.svc.SetAgentStatus(ctx(t), stranger.ID, domain.StatusAvailable)
		_, err := e.svc.StartChat(ctx(t), stranger.ID, v.ID)
		wantCode(t, err, domain.CodePermissionDenied)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.StartChat(ctx(t), "agent_nope", v.ID)
		wantCode(t, err, domain.CodeNotFound)
		_, err = e.svc.StartChat(ctx(t), agent.ID, "visitor_nope")
		wantCode(t, err, domain.CodeNotFound)
	})

	chat, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if chat.State != domain.ChatStateActive || chat.LastSeq != 1 || chat.Agent.DisplayName != "Dana" {
		t.Fatalf("chat = %+v", chat)
	}
	t.Run("ErrVisitorAlreadyChatting", func(t *testing.T) {
		_, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrAgentAtCapacity", func(t *testing.T) {
		v2 := e.newVisitor(t, site.ID)
		e.visit(t, v2.ID, "https://shop.example/")
		_, err := e.svc.StartChat(ctx(t), agent.ID, v2.ID)
		wantCode(t, err, domain.CodeFailedPrecondition)
		if !strings.Contains(err.Error(), "capacity") {
			t.Fatalf("error %q does not say why", err)
		}
		// Leaving frees the agent's capacity at once.
		if _, err := e.svc.LeaveChat(ctx(t), chat.ID, agent.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.StartChat(ctx(t), agent.ID, v2.ID); err != nil {
			t.Fatalf("after leaving: %v", err)
		}
	})
}

// chatting starts a chat between a new visitor and the agent.
func (e *env) chatting(t *testing.T, site *domain.Site, agent *domain.Agent) (*domain.Chat, *domain.Visitor) {
	t.Helper()
	v := e.newVisitor(t, site.ID)
	e.visit(t, v.ID, "https://shop.example/")
	chat, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	return chat, v
}

func TestSendMessage(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 10)
	chat, v := e.chatting(t, site, agent)

	t.Run("Idempotent", func(t *testing.T) {
		first, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "hello", "k1")
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "hello", "k1")
		if err != nil || again.Seq != first.Seq {
			t.Fatalf("retry = seq %d, %v; want seq %d", again.Seq, err, first.Seq)
		}
		other, _ := e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "hi", "k1") // another sender's key space
		if other.Seq != first.Seq+1 {
			t.Fatalf("agent's k1 = seq %d, want %d", other.Seq, first.Seq+1)
		}
		events, _, _ := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 0)
		if len(events) != 3 {
			t.Fatalf("transcript has %d events, want started + 2 messages", len(events))
		}
	})
	t.Run("ConcurrentRetriesMakeOneMessage", func(t *testing.T) {
		var wg sync.WaitGroup
		seqs := make([]uint32, 20)
		for i := range seqs {
			wg.Go(func() {
				ev, err := e.svc.SendMessage(context.Background(), chat.ID, v.ID, "once", "k-concurrent")
				if err != nil {
					t.Error(err)
				}
				seqs[i] = ev.Seq
			})
		}
		wg.Wait()
		for _, s := range seqs {
			if s != seqs[0] {
				t.Fatalf("concurrent retries got different seqs: %v", seqs)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for text, want := range map[string]string{"": "text", "  \n": "text", strings.Repeat("x", 4097): "4096"} {
			_, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, text, "")
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if _, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, strings.Repeat("x", 4096), ""); err != nil {
			t.Fatalf("a message of exactly the limit: %v", err)
		}
		_, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "x", strings.Repeat("k", 129))
		wantCode(t, err, domain.CodeInvalid)
	})
	t.Run("ErrNotParticipant", func(t *testing.T) {
		_, err := e.svc.SendMessage(ctx(t), chat.ID, "agent_other", "hi", "")
		wantCode(t, err, domain.CodePermissionDenied)
	})
	t.Run("ErrUnknownChat", func(t *testing.T) {
		_, err := e.svc.SendMessage(ctx(t), "chat_nope", v.ID, "hi", "")
		wantCode(t, err, domain.CodeNotFound)
	})
	t.Run("ErrAfterLeaving", func(t *testing.T) {
		before, _ := e.svc.GetChat(ctx(t), chat.ID)
		if _, err := e.svc.LeaveChat(ctx(t), chat.ID, v.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "still here?", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
		after, _ := e.svc.GetChat(ctx(t), chat.ID)
		if after.LastSeq != before.LastSeq+1 { // only the ParticipantLeft event
			t.Fatalf("last seq %d → %d", before.LastSeq, after.LastSeq)
		}
	})
	t.Run("ErrEnded", func(t *testing.T) {
		if _, err := e.svc.LeaveChat(ctx(t), chat.ID, agent.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "bye", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
		// A retry of a message acknowledged before the end still answers.
		ev, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "hello", "k1")
		if err != nil || ev.Message.Text != "hello" {
			t.Fatalf("retry after end = %+v, %v", ev, err)
		}
	})
}

func TestLeaveChat(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, v := e.chatting(t, site, agent)
	if _, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "thanks, that helped", ""); err != nil {
		t.Fatal(err)
	}
	for range 2 { // leaving twice is harmless
		got, err := e.svc.LeaveChat(ctx(t), chat.ID, agent.ID)
		if err != nil || got.State != domain.ChatStateActive || got.AgentLeftTime.IsZero() {
			t.Fatalf("agent leaves: %+v, %v", got, err)
		}
	}
	a, _ := e.svc.GetAgent(ctx(t), agent.ID)
	if len(a.ActiveChatIDs) != 0 || a.LastChatEndTime.IsZero() {
		t.Fatalf("agent after leaving = %+v", a)
	}
	got, err := e.svc.LeaveChat(ctx(t), chat.ID, v.ID)
	if err != nil || got.State != domain.ChatStateEnded || got.EndReason != domain.EndBothLeft || got.EndTime.IsZero() {
		t.Fatalf("both left: %+v, %v", got, err)
	}
	if _, err := e.svc.LeaveChat(ctx(t), chat.ID, v.ID); err != nil {
		t.Fatalf("leaving an ended chat: %v", err)
	}
	events, next, _ := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 0)
	if len(events) != 5 || next != 0 || events[4].Ended == nil || events[2].ParticipantLeft.ID != agent.ID {
		t.Fatalf("transcript = %+v", events)
	}
	if _, err := e.svc.LeaveChat(ctx(t), chat.ID, "agent_other"); domain.ErrorCode(err) != domain.CodePermissionDenied {
		t.Fatalf("stranger leaves: %v", err)
	}
}

func TestListChatEventsPaging(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, v := e.chatting(t, site, agent)
	for i := range 9 {
		if _, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint32
	after := uint32(0)
	for {
		page, next, err := e.svc.ListChatEvents(ctx(t), chat.ID, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page {
			seqs = append(seqs, ev.Seq)
		}
		if next == 0 {
			break
		}
		after = next
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("paged seqs = %v", seqs)
	}
	_, _, err := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 1001)
	wantCode(t, err, domain.CodeInvalid)
}

// tickingClock moves on a millisecond at every reading, as a real clock may
// between two readings in one change.
type tickingClock struct {
	*fakeclock.Clock
	n atomic.Int64
}

func (c *tickingClock) Now() time.Time {
	return c.Clock.Now().Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

// The events of one change share its time: the console tells a chat that
// closed for both from a visitor's and an agent's leaving at the same time
// (a browser test failed when a millisecond passed between the two).
func TestAChangesEventsShareItsTime(t *testing.T) {
	e := newEnvWith(t, 0, func(c *fakeclock.Clock) domain.Clock { return &tickingClock{Clock: c} })
	site, agent := e.siteWithAgent(t, 3)
	chat, v := e.chatting(t, site, agent)
	if _, err := e.svc.LeaveChat(ctx(t), chat.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	events, _, err := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var closing []domain.ChatEvent
	for _, ev := range events {
		if ev.ParticipantLeft != nil || ev.Ended != nil {
			closing = append(closing, ev)
		}
	}
	if len(closing) != 3 {
		t.Fatalf("want the visitor's and the agent's leaving and the end, got %+v", closing)
	}
	for _, ev := range closing[1:] {
		if !ev.Time.Equal(closing[0].Time) {
			t.Fatalf("event %d at %v, event %d at %v: one change, two times", closing[0].Seq, closing[0].Time, ev.Seq, ev.Time)
		}
	}
}

func TestVisitorClosesWithoutWriting(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, v := e.chatting(t, site, agent)
	e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "Hi! Can I help?", "")
	got, err := e.svc.LeaveChat(ctx(t), chat.ID, v.ID)
	if err != nil || got.State != domain.ChatStateEnded || got.EndReason != domain.EndVisitorDeclined {
		t.Fatalf("visitor closed without writing: %+v, %v", got, err)
	}
	a, _ := e.svc.GetAgent(ctx(t), agent.ID)
	if len(a.ActiveChatIDs) != 0 {
		t.Fatalf("agent still holds the declined chat: %v", a.ActiveChatIDs)
	}
}
