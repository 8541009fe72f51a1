package domain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// transferScene is a chat of agent-a (Alex) with a visitor on site s1, with
// agent-b (Dana) available on the same site.
type transferScene struct {
	e      *engine
	chat   *domain.Chat
	vid    string
	widget *stream[domain.VisitorUpdate]
}

func newTransferScene(t *testing.T) *transferScene {
	t.Helper()
	e := newEngine(t)
	e.site(t, "site-one", domain.ProactiveChatSettings{Enabled: true, Mode: domain.ModeWithoutInvite, LaunchAfterSeconds: 30})
	e.agent(t, "agent-a", "Alex", 2, "site-one")
	e.agent(t, "agent-b", "Dana", 1, "site-one")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	e.setStatus(t, "agent-b", domain.StatusAvailable)
	vid := e.visitor(t, "site-one")
	widget, _ := e.page(t, vid, home)
	chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, chat.ID, vid, "Hello")
	return &transferScene{e: e, chat: chat, vid: vid, widget: widget}
}

func TestTransferChat(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := newTransferScene(t)
		console, _ := s.e.console(t, "agent-b")
		tr, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "Wants a refund; order 42")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Chat.ID != s.chat.ID || tr.Chat.Agent.ID != "agent-b" || tr.Chat.Agent.DisplayName != "Dana" || tr.Chat.LastSeq != 3 {
			t.Fatalf("chat = %+v", tr.Chat)
		}
		if tr.Note == nil || tr.Note.Seq != 1 || tr.Note.Author.ID != "agent-a" || tr.Note.Text != "Wants a refund; order 42" {
			t.Fatalf("note = %+v", tr.Note)
		}
		// The visitor's stream says who took over, in the chat's dense sequence.
		ev := s.widget.next(t, visitorEvent(func(ev *domain.ChatEvent) bool { return ev.Transferred != nil })).Event
		if ev.Seq != 3 || ev.Transferred.From.ID != "agent-a" || ev.Transferred.To.DisplayName != "Dana" {
			t.Fatalf("event = %+v", ev)
		}
		// The new agent's console gets the chat as it gets a started one.
		console.next(t, func(u domain.AgentUpdate) bool {
			return u.AgentChanged != nil && slices.Contains(u.AgentChanged.ActiveChatIDs, s.chat.ID)
		})
		// Capacity moved from one agent to the other.
		a, _ := s.e.svc.GetAgent(ctx(t), "agent-a")
		b, _ := s.e.svc.GetAgent(ctx(t), "agent-b")
		if slices.Contains(a.ActiveChatIDs, s.chat.ID) || !slices.Contains(b.ActiveChatIDs, s.chat.ID) {
			t.Fatalf("agent-a chats %v, agent-b chats %v", a.ActiveChatIDs, b.ActiveChatIDs)
		}
		// The event log has the transfer, in the transaction that made it.
		page, err := s.e.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{Types: []domain.EventType{domain.EventChatTransferred}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 1 || page.Events[0].ChatID != s.chat.ID || page.Events[0].FromAgentID != "agent-a" || page.Events[0].AgentID != "agent-b" {
			t.Fatalf("chat.transferred events = %+v", page.Events)
		}
		// The chat goes on with the new agent; the old one may write no more.
		if msg := s.e.send(t, s.chat.ID, "agent-b", "Dana here"); msg.Seq != 4 {
			t.Fatalf("seq = %d, want 4", msg.Seq)
		}
		_, err = s.e.svc.SendMessage(ctx(t), s.chat.ID, "agent-a", "still here?", "")
		wantCode(t, err, domain.CodePermissionDenied)
		events, _, err := s.e.svc.ListChatEvents(ctx(t), s.chat.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range events {
			if ev.Seq != uint32(i+1) {
				t.Fatalf("event %d has seq %d: the sequence must stay dense", i, ev.Seq)
			}
		}
	})
	t.Run("ErrTargetNotAvailable", func(t *testing.T) {
		s := newTransferScene(t)
		s.e.setStatus(t, "agent-b", domain.StatusAway)
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrTargetAtCapacity", func(t *testing.T) {
		s := newTransferScene(t)
		v2 := s.e.visitor(t, "site-one")
		s.e.page(t, v2, home)
		if _, err := s.e.svc.StartChat(ctx(t), "agent-b", v2); err != nil {
			t.Fatal(err)
		}
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "a note")
		wantCode(t, err, domain.CodeFailedPrecondition)
		if !strings.Contains(err.Error(), "capacity") {
			t.Fatalf("error %q does not say why", err)
		}
		// Nothing half-written: no event, no note, the chat unchanged.
		chat, _ := s.e.svc.GetChat(ctx(t), s.chat.ID)
		notes, _ := s.e.svc.ListNotes(ctx(t), s.chat.ID)
		if chat.LastSeq != 2 || chat.Agent.ID != "agent-a" || len(notes) != 0 {
			t.Fatalf("chat = %+v, notes = %v", chat, notes)
		}
	})
	t.Run("ErrTargetOfAnotherSite", func(t *testing.T) {
		s := newTransferScene(t)
		s.e.site(t, "site-two", domain.ProactiveChatSettings{})
		s.e.agent(t, "agent-c", "Cy", 1, "site-two")
		s.e.setStatus(t, "agent-c", domain.StatusAvailable)
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-c", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrTargetAlreadyInChat", func(t *testing.T) {
		s := newTransferScene(t)
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-a", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrTargetUnknown", func(t *testing.T) {
		s := newTransferScene(t)
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-nope", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrCallerNotInChat", func(t *testing.T) {
		s := newTransferScene(t)
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-b", "agent-b", "")
		wantCode(t, err, domain.CodePermissionDenied)
		_, err = s.e.svc.TransferChat(ctx(t), s.chat.ID, s.vid, "agent-b", "")
		wantCode(t, err, domain.CodePermissionDenied)
	})
	t.Run("ErrChatEnded", func(t *testing.T) {
		s := newTransferScene(t)
		s.e.leave(t, s.chat.ID, "agent-a")
		_, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "")
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newTransferScene(t)
		for _, tc := range []struct{ chat, from, to, note, field string }{
			{"", "agent-a", "agent-b", "", "chat_id"},
			{s.chat.ID, "", "agent-b", "", "from_agent_id"},
			{s.chat.ID, "agent-a", "", "", "to_agent_id"},
			{s.chat.ID, "agent-a", "agent-b", "   ", "note"},
			{s.chat.ID, "agent-a", "agent-b", strings.Repeat("x", domain.MaxMessageBytes+1), "note"},
		} {
			_, err := s.e.svc.TransferChat(ctx(t), tc.chat, tc.from, tc.to, tc.note)
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		}
	})
	t.Run("SurvivesRestart", func(t *testing.T) {
		s := newTransferScene(t)
		if _, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "note"); err != nil {
			t.Fatal(err)
		}
		s.e.restart(t)
		chat, err := s.e.svc.GetChat(ctx(t), s.chat.ID)
		if err != nil || chat.Agent.ID != "agent-b" {
			t.Fatalf("chat = %+v, %v", chat, err)
		}
		events, _, _ := s.e.svc.ListChatEvents(ctx(t), s.chat.ID, 2, 0)
		if len(events) != 1 || events[0].Transferred == nil || events[0].Transferred.To.ID != "agent-b" {
			t.Fatalf("events = %+v", events)
		}
	})
}

func TestListColleagues(t *testing.T) {
	s := newTransferScene(t)
	s.e.agent(t, "agent-c", "Cy", 1, "site-one")
	got, err := s.e.svc.ListColleagues(ctx(t), "agent-a", "site-one")
	if err != nil {
		t.Fatal(err)
	}
	// By name; Cy is offline, so no chat can go to Cy.
	if len(got) != 2 || got[0].AgentID != "agent-c" || got[0].CanTakeChat || got[1].AgentID != "agent-b" || !got[1].CanTakeChat || got[1].FreeChats != 1 {
		t.Fatalf("ListColleagues = %+v", got)
	}
	s.e.site(t, "site-two", domain.ProactiveChatSettings{})
	_, err = s.e.svc.ListColleagues(ctx(t), "agent-a", "site-two")
	wantCode(t, err, domain.CodePermissionDenied)
	_, err = s.e.svc.ListColleagues(ctx(t), "agent-a", "")
	wantCode(t, err, domain.CodeInvalid)
}

func TestNotes(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := newTransferScene(t)
		n1, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", "VIP customer")
		if err != nil {
			t.Fatal(err)
		}
		n2, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", "Asked about shoes")
		if err != nil {
			t.Fatal(err)
		}
		if n1.Seq != 1 || n2.Seq != 2 || n2.Author.DisplayName != "Alex" {
			t.Fatalf("notes %+v, %+v", n1, n2)
		}
		notes, err := s.e.svc.ListNotes(ctx(t), s.chat.ID)
		if err != nil || len(notes) != 2 || notes[0].Text != "VIP customer" {
			t.Fatalf("ListNotes = %+v, %v", notes, err)
		}
		// Notes take no place in the chat's sequence.
		chat, _ := s.e.svc.GetChat(ctx(t), s.chat.ID)
		if chat.LastSeq != 2 {
			t.Fatalf("last seq = %d, want 2", chat.LastSeq)
		}
	})
	t.Run("ErrNotTheAgent", func(t *testing.T) {
		s := newTransferScene(t)
		_, err := s.e.svc.AddNote(ctx(t), s.chat.ID, s.vid, "me too")
		wantCode(t, err, domain.CodePermissionDenied)
		_, err = s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-b", "not mine")
		wantCode(t, err, domain.CodePermissionDenied)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newTransferScene(t)
		_, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", " ")
		wantCode(t, err, domain.CodeInvalid)
		if !strings.Contains(err.Error(), "text") {
			t.Errorf("error %q does not name text", err)
		}
		_, err = s.e.svc.AddNote(ctx(t), "", "agent-a", "x")
		wantCode(t, err, domain.CodeInvalid)
	})
	// NeverReachTheVisitor: a note is on no view of the chat a visitor gets:
	// the visitor's stream, the chat's events, the transcript, the export.
	t.Run("NeverReachTheVisitor", func(t *testing.T) {
		const secret = "NOTE-SECRET-7f3a"
		s := newTransferScene(t)
		chatWatch := s.e.chatStream(t, s.chat.ID, 0)
		if _, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", secret+" one"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", secret+" two"); err != nil {
			t.Fatal(err)
		}
		s.e.send(t, s.chat.ID, "agent-b", "after")
		// Both streams get everything up to the message after the notes,
		// in order; none of it carries a note.
		for _, u := range drainUntil(t, s.widget, visitorEvent(isMessage("after"))) {
			if strings.Contains(strings.ToLower(fmtAny(u)), strings.ToLower(secret)) {
				t.Fatalf("the visitor's stream carried a note: %+v", u)
			}
		}
		for _, u := range drainUntil(t, chatWatch, chatEvent(isMessage("after"))) {
			if strings.Contains(fmtAny(u), secret) {
				t.Fatalf("WatchChat carried a note: %+v", u)
			}
		}
		events, _, _ := s.e.svc.ListChatEvents(ctx(t), s.chat.ID, 0, 0)
		if strings.Contains(fmtAny(events), secret) {
			t.Fatalf("ListChatEvents carries a note: %+v", events)
		}
		text, _, err := s.e.svc.Transcript(ctx(t), s.chat.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, secret) || !strings.Contains(text, "Alex handed the chat to Dana") {
			t.Fatalf("transcript:\n%s", text)
		}
		export, err := s.e.svc.ExportVisitor(ctx(t), s.vid)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmtAny(export), secret) {
			t.Fatalf("the export carries a note: %+v", export)
		}
	})
	t.Run("ErasedWithTheVisitor", func(t *testing.T) {
		s := newTransferScene(t)
		if _, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", "gone soon"); err != nil {
			t.Fatal(err)
		}
		s.e.leave(t, s.chat.ID, "agent-a")
		s.e.leave(t, s.chat.ID, s.vid)
		s.widget.stop()
		s.e.clock.Advance(grace + time.Second) // the visitor leaves the site
		if err := s.e.svc.EraseVisitor(ctx(t), s.vid); err != nil {
			t.Fatal(err)
		}
		err := s.e.store.View(ctx(t), func(tx domain.ReadTx) error {
			notes, err := tx.ChatNotes(s.chat.ID)
			if len(notes) != 0 {
				t.Errorf("notes left after erasure: %+v", notes)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// fmtAny spells out v, through its pointers, for a search of its text.
func fmtAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(unprintable %T: %v)", v, err)
	}
	return string(b)
}

func TestWatchNotes(t *testing.T) {
	s := newTransferScene(t)
	if _, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-a", "one"); err != nil {
		t.Fatal(err)
	}
	svc := s.e.svc
	notes := startStream(t, func(c context.Context, send func(domain.NoteUpdate) error) error {
		return svc.WatchNotes(c, s.chat.ID, 0, send)
	})
	isNote := func(u domain.NoteUpdate) bool { return u.Note != nil }
	if n := notes.next(t, isNote).Note; n.Seq != 1 || n.Text != "one" {
		t.Fatalf("first note %+v", n)
	}
	if _, err := s.e.svc.TransferChat(ctx(t), s.chat.ID, "agent-a", "agent-b", "two"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.svc.AddNote(ctx(t), s.chat.ID, "agent-b", "three"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"two", "three"} {
		if n := notes.next(t, isNote).Note; n.Text != want {
			t.Fatalf("note %+v, want %q", n, want)
		}
	}
	// Resuming after note 2 sends note 3 only.
	resumed := startStream(t, func(c context.Context, send func(domain.NoteUpdate) error) error {
		return svc.WatchNotes(c, s.chat.ID, 2, send)
	})
	if n := resumed.next(t, isNote).Note; n.Seq != 3 {
		t.Fatalf("resumed with %+v, want note 3", n)
	}
}
