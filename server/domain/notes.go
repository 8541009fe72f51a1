package domain

import "context"

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
	err := s.store.Update(ctx, func(tx WriteTx) error {
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
