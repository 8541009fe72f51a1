package domain

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Supervisors. An agent supervises the sites in its SupervisedSiteIDs,
// whether or not it serves them: it sees their visitors and queue, lists
// their live chats, reads any of their chats as it happens (CanReadChat)
// without joining it, and whispers to a chat's agent.
//
// A whisper is not a chat event. Chat events are what the visitor sees
// (WatchVisitor, WatchChat, Converse, transcripts, ExportVisitor); whispers
// are kept apart, numbered per chat in a sequence of their own, and go to
// the chat's agent on its WatchAgent stream (WhisperEvent on the agent's
// topic). Nothing that serves a visitor reads them, so a visitor cannot
// see one whatever its stream or export does. They are deleted with their
// chat. Should chats get notes visible to agents only, a whisper is such a
// note addressed by a supervisor; the store keeps them so they can move.

// Whisper is a note from a supervisor to the agent of a chat.
type Whisper struct {
	ChatID string
	// Seq numbers a chat's whispers 1, 2, 3, … apart from its events.
	Seq      uint32
	Time     time.Time
	FromID   string
	FromName string
	Text     string
}

// WhisperEvent, on an agent's topic, brings the agent a whisper in one of
// its chats.
type WhisperEvent struct {
	Whisper Whisper
}

// ListLiveChats returns the chats of a site that have not ended, oldest
// first. Who may list them is the caller's rule (CanSuperviseSite).
func (s *Service) ListLiveChats(ctx context.Context, siteID string) ([]*Chat, error) {
	if siteID == "" {
		return nil, invalid("site_id", "is required")
	}
	var chats []*Chat
	err := s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		ids, err := tx.ActiveChatIDs()
		if err != nil {
			return err
		}
		for _, id := range ids {
			chat, err := tx.Chat(id)
			if ErrorCode(err) == CodeNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if chat.SiteID == siteID && chat.State == ChatStateActive {
				chats = append(chats, chat)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(chats, func(a, b *Chat) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
	})
	return chats, nil
}

// CanSuperviseSite reports whether p may supervise a site: admins, and the
// agents whose SupervisedSiteIDs name it.
func (s *Service) CanSuperviseSite(ctx context.Context, p Principal, siteID string) error {
	return s.siteRule(ctx, p, siteID, "supervise", "supervise", func(a *Agent) bool { return a.CanSuperviseSite(siteID) })
}

// CanReadWhispers reports whether p may read a chat's whispers: admins,
// the chat's agent and the supervisors of its site. Never its visitor.
func (s *Service) CanReadWhispers(ctx context.Context, p Principal, chatID string) error {
	if p.Kind == AdminPrincipal && !p.Scoped() {
		return nil
	}
	if chatID == "" {
		return invalid("chat_id", "is required")
	}
	if p.Kind == AdminPrincipal {
		chat, err := s.GetChat(ctx, chatID)
		if err != nil {
			return err
		}
		return p.checkScope(chat.SiteID)
	}
	if p.Kind != AgentPrincipal {
		return Errorf(CodePermissionDenied, "a %s may not read whispers", p.Kind)
	}
	chat, err := s.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if chat.Agent.ID == p.ID {
		return nil
	}
	if s.CanSuperviseSite(ctx, p, chat.SiteID) == nil {
		return nil
	}
	return Errorf(CodePermissionDenied, "agent %q may not read the whispers of chat %q", p.ID, chatID)
}

// Whisper stores a note from supervisorID to the agent of an active chat
// of a site it supervises, and sends it to the agent's streams.
func (s *Service) Whisper(ctx context.Context, chatID, supervisorID, text string) (Whisper, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "supervisor_id", supervisorID)
	checkMessage(&v, "text", text)
	if err := v.Err(); err != nil {
		return Whisper{}, err
	}
	var w Whisper
	err := s.update(ctx, func(tx WriteTx) error {
		chat, err := tx.Chat(chatID)
		if err != nil {
			return err
		}
		sup, err := tx.Agent(supervisorID)
		if err != nil {
			return err
		}
		if !sup.CanSuperviseSite(chat.SiteID) {
			return Errorf(CodePermissionDenied, "agent %q does not supervise site %q", supervisorID, chat.SiteID)
		}
		if chat.State != ChatStateActive {
			return Errorf(CodeFailedPrecondition, "chat %q has ended", chatID)
		}
		last, err := tx.ChatWhispers(chatID)
		if err != nil {
			return err
		}
		w = Whisper{ChatID: chatID, Seq: uint32(len(last)) + 1, Time: s.clock.Now(),
			FromID: sup.ID, FromName: sup.DisplayName, Text: text}
		if err := tx.AppendWhisper(w); err != nil {
			return err
		}
		agentID := chat.Agent.ID
		return s.record(tx, Event{Type: EventChatWhisperSent, SiteID: chat.SiteID, VisitorID: chat.Visitor.ID, ChatID: chatID,
			Seq: w.Seq, FromAgentID: sup.ID, AgentID: agentID, Text: text, eventEffects: eventEffects{whisper: &w}})
	})
	if err != nil {
		return Whisper{}, err
	}
	return w, nil
}

// ListWhispers returns a chat's whispers, oldest first.
func (s *Service) ListWhispers(ctx context.Context, chatID string) ([]Whisper, error) {
	if chatID == "" {
		return nil, invalid("chat_id", "is required")
	}
	var out []Whisper
	err := s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Chat(chatID); err != nil {
			return err
		}
		var err error
		out, err = tx.ChatWhispers(chatID)
		return err
	})
	return out, err
}
