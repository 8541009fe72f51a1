package domain

import (
	"context"
	"errors"
	"time"
)

// Internal notes are the agents' own remarks on a chat: a visitor never
// gets them, not on a stream, not in ListChatEvents, a transcript or an
// export. They are kept apart from the chat's events, numbered in a
// sequence of their own, so the events a visitor sees stay numbered
// without gaps. A supervisor's whisper is a note written by the supervisor.

// AddNote adds an internal note to a chat by authorID, the chat's agent.
// The chat may have ended: agents annotate transcripts too.
func (s *Service) AddNote(ctx context.Context, chatID, authorID, text string) (ChatNote, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "author_id", authorID)
	checkMessage(&v, "text", text)
	if err := v.Err(); err != nil {
		return ChatNote{}, err
	}
	var note ChatNote
	err := s.update(ctx, func(tx WriteTx) error {
		chat, author, err := participantOf(tx, chatID, authorID)
		if err != nil {
			return err
		}
		if author.Role != RoleAgent {
			return Errorf(CodePermissionDenied, "%q is not an agent of chat %q", authorID, chatID)
		}
		if note, err = s.appendNote(tx, chat, author, text); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return ChatNote{}, err
	}
	return note, nil
}

// appendNote stores the next note of chat in tx.
func (s *Service) appendNote(tx WriteTx, chat *Chat, author Participant, text string) (ChatNote, error) {
	notes, err := tx.ChatNotes(chat.ID)
	if err != nil {
		return ChatNote{}, err
	}
	note := ChatNote{ChatID: chat.ID, Seq: uint32(len(notes)) + 1, Time: s.clock.Now(), Author: author, Text: text}
	if err := tx.AppendChatNote(note); err != nil {
		return ChatNote{}, err
	}
	if err := s.record(tx, Event{Type: EventChatNoteAdded, SiteID: chat.SiteID, VisitorID: chat.Visitor.ID, ChatID: chat.ID,
		Seq: note.Seq, AgentID: author.ID, Text: text, eventEffects: eventEffects{note: &note}}); err != nil {
		return ChatNote{}, err
	}
	return note, nil
}

// ListNotes returns a chat's internal notes in order. Callers check that
// the reader is an agent or an admin: visitors never read notes.
func (s *Service) ListNotes(ctx context.Context, chatID string) (notes []ChatNote, err error) {
	if chatID == "" {
		return nil, invalid("chat_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Chat(chatID); err != nil {
			return err
		}
		notes, err = tx.ChatNotes(chatID)
		return err
	})
	return notes, err
}

// NoteUpdate is one message of WatchNotes: exactly one field is set.
type NoteUpdate struct {
	Note      *ChatNote
	KeepAlive time.Time
}

// errNotesDropped says a notes subscription fell behind and was cut off:
// WatchNotes subscribes again and reads what it missed from the store.
var errNotesDropped = errors.New("notes subscription dropped")

// WatchNotes sends a chat's internal notes after afterSeq, then new ones as
// they are added, with no gap and no duplicate, until ctx ends or send
// fails. Callers check that the reader is an agent or an admin. Notes are
// published on a topic of their own, which no visitor stream follows.
func (s *Service) WatchNotes(ctx context.Context, chatID string, afterSeq uint32, send func(NoteUpdate) error) error {
	if chatID == "" {
		return invalid("chat_id", "is required")
	}
	ticker := newTicker(s.clock, s.keepAlive)
	defer ticker.stop()
	last := afterSeq
	for {
		// Subscribe before reading the store: a note added in between is
		// in both, and sent once.
		sub := s.broker.Subscribe(noteTopic(chatID))
		err := s.sendNotesAfter(ctx, chatID, &last, send)
		if err == nil {
			err = s.followNotes(ctx, chatID, sub, ticker, &last, send)
		}
		sub.Close()
		if !errors.Is(err, errNotesDropped) {
			return err
		}
	}
}

// sendNotesAfter sends the stored notes after *last and moves *last on.
func (s *Service) sendNotesAfter(ctx context.Context, chatID string, last *uint32, send func(NoteUpdate) error) error {
	notes, err := s.ListNotes(ctx, chatID)
	if err != nil {
		return err
	}
	for _, n := range notes {
		if n.Seq <= *last {
			continue
		}
		if err := send(NoteUpdate{Note: &n}); err != nil {
			return err
		}
		*last = n.Seq
	}
	return nil
}

func (s *Service) followNotes(ctx context.Context, chatID string, sub Subscription, ticker *ticker, last *uint32, send func(NoteUpdate) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-ticker.c:
			if err := send(NoteUpdate{KeepAlive: now}); err != nil {
				return err
			}
		case ev, ok := <-sub.Events():
			if !ok {
				return errNotesDropped
			}
			n, isNote := ev.(ChatNote)
			switch {
			case !isNote || n.Seq <= *last:
			case n.Seq > *last+1:
				// Missed some (published before the subscription took):
				// the store has them all.
				if err := s.sendNotesAfter(ctx, chatID, last, send); err != nil {
					return err
				}
			default:
				if err := send(NoteUpdate{Note: &n}); err != nil {
					return err
				}
				*last = n.Seq
			}
		}
	}
}

// publishNote tells the notes' watchers of a new note, on a topic of its
// own that no visitor stream subscribes to.
func (s *Service) publishNote(n ChatNote) {
	s.broker.Publish(noteTopic(n.ChatID), n)
}

func noteTopic(chatID string) string { return "notes/" + chatID }
