package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestTranscript(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := listEnv(t, chatSpec{id: "c1", site: "shop", agent: "ann", visitor: "v1", ended: domain.EndBothLeft,
			form: map[string]string{"name": "Zoë", "email": "zoe@example.com", "question": "Shoes?", "old_field": "kept"}})
		agent := domain.Participant{Role: domain.RoleAgent, ID: "ann", DisplayName: "Agent ann"}
		visitor := domain.Participant{Role: domain.RoleVisitor, ID: "v1", DisplayName: "Visitor"}
		events := []domain.ChatEvent{
			{Started: &domain.ChatStarted{Visitor: visitor, Agent: agent}},
			{Message: &domain.ChatMessage{Sender: agent, Text: "Hello! How can I help?"}},
			{Message: &domain.ChatMessage{Sender: visitor, Text: "Two lines:\nsecond line"}},
			{InactivityWarning: &domain.InactivityWarning{EndTime: t0.Add(12 * time.Minute)}},
			{ParticipantLeft: &visitor},
			{ParticipantLeft: &agent},
			{Ended: &domain.ChatEnded{Reason: domain.EndBothLeft}},
		}
		err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
			chat, err := tx.Chat("c1")
			if err != nil {
				return err
			}
			for i, ev := range events {
				ev.ChatID, ev.Seq, ev.Time = "c1", uint32(i+1), t0.Add(time.Duration(i)*3*time.Second)
				if err := tx.AppendChatEvent(ev); err != nil {
					return err
				}
			}
			chat.LastSeq = uint32(len(events))
			return tx.PutChat(chat)
		})
		if err != nil {
			t.Fatal(err)
		}
		text, name, err := e.svc.Transcript(ctx(t), "c1")
		if err != nil {
			t.Fatal(err)
		}
		want := `Chat transcript
Site: Site shop (shop)
Chat: c1
Started: 2026-11-24T09:00:00Z
Ended: 2026-11-24T09:01:00Z
End reason: both left
Agent: Agent ann (ann)
Visitor: Zoë <zoe@example.com> (v1)

Form answers:
  Name: Zoë
  E-mail: zoe@example.com
  Question: Shoes?
  old_field: kept

Messages:
[2026-11-24 09:00:00] Agent ann joined; Visitor joined
[2026-11-24 09:00:03] Agent ann: Hello! How can I help?
[2026-11-24 09:00:06] Visitor: Two lines:
  second line
[2026-11-24 09:00:09] Nobody has written for a while: the chat ends at 2026-11-24 09:12:00 unless someone writes
[2026-11-24 09:00:12] Visitor left
[2026-11-24 09:00:15] Agent ann left
[2026-11-24 09:00:18] Chat ended: both left
`
		if text != want {
			t.Fatalf("got\n%s\nwant\n%s", text, want)
		}
		if name != "transcript-c1.txt" {
			t.Fatalf("file name %q", name)
		}
	})

	t.Run("ActiveWithoutForm", func(t *testing.T) {
		e := listEnv(t, chatSpec{id: "c2", site: "blog", agent: "bob", visitor: "v2"})
		text, _, err := e.svc.Transcript(ctx(t), "c2")
		if err != nil {
			t.Fatal(err)
		}
		want := `Chat transcript
Site: Site blog (blog)
Chat: c2
Started: 2026-11-24T09:00:00Z
Ended: not yet (the chat is active)
Agent: Agent bob (bob)
Visitor: Visitor (v2)

Messages:
`
		if text != want {
			t.Fatalf("got\n%s\nwant\n%s", text, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		e := listEnv(t)
		_, _, err := e.svc.Transcript(ctx(t), "nope")
		wantCode(t, err, domain.CodeNotFound)
		_, _, err = e.svc.Transcript(ctx(t), "")
		wantCode(t, err, domain.CodeInvalid)
	})
}
