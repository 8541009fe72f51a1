package domain

import (
	"cmp"
	"context"
	"slices"
)

// canTakeChat is the one rule for whether an agent may take on one more
// chat: it is available and under its capacity. Starting a chat, accepting
// a chat request and taking over a transferred chat all ask it; routing's
// agent pool asks its two parts, available and freeChats, counting pending
// alerts in the load.
func (a *Agent) canTakeChat() error {
	switch {
	case !a.available():
		return Errorf(CodeFailedPrecondition, "agent %q is %s; only an available agent takes chats", a.ID, a.Status)
	case a.freeChats(len(a.ActiveChatIDs)) <= 0:
		return Errorf(CodeFailedPrecondition, "agent %q is at capacity (%d of %d chats)", a.ID, len(a.ActiveChatIDs), a.MaxConcurrentChats)
	}
	return nil
}

// available reports whether the agent's status lets it take chats.
func (a *Agent) available() bool { return a.Status == StatusAvailable }

// freeChats is how many more chats the agent has room for under its
// capacity, given its load: its chats, plus whatever else counts against
// the capacity (routing counts pending alerts). Negative when over.
func (a *Agent) freeChats(load int) int { return int(a.MaxConcurrentChats) - load }

// Transfer is what TransferChat did: the chat as it now is and the note
// made of the transfer's note, if one was given.
type Transfer struct {
	Chat *Chat
	Note *ChatNote
}

// TransferChat hands an active chat from its agent fromID to the agent toID
// at once, with no accept step. toID must be able to take a chat
// (canTakeChat), serve the chat's site and not already be in the chat. In
// one transaction the chat gets a ChatTransferred event (the visitor's
// stream shows who took over) and, when note is not empty, an internal
// note by fromID; the chat keeps its id, sequence and history; fromID's
// capacity is freed and toID's used; toID's WatchAgent gets the chat as it
// gets one it started.
func (s *Service) TransferChat(ctx context.Context, chatID, fromID, toID, note string) (Transfer, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "from_agent_id", fromID)
	required(&v, "to_agent_id", toID)
	if note != "" {
		checkMessage(&v, "note", note)
	}
	if err := v.Err(); err != nil {
		return Transfer{}, err
	}
	var out Transfer
	err := s.update(ctx, func(tx WriteTx) error {
		out = Transfer{}
		chat, from, err := participantOf(tx, chatID, fromID)
		if err != nil {
			return err
		}
		if from.Role != RoleAgent {
			return Errorf(CodePermissionDenied, "%q is not the agent of chat %q", fromID, chatID)
		}
		if err := chat.canWrite(from); err != nil {
			return err
		}
		if toID == fromID {
			return Errorf(CodeFailedPrecondition, "agent %q is already in chat %q", toID, chatID)
		}
		to, err := tx.Agent(toID)
		if ErrorCode(err) == CodeNotFound {
			return Errorf(CodeFailedPrecondition, "agent %q does not exist", toID)
		}
		if err != nil {
			return err
		}
		if !to.Serves(chat.SiteID) {
			return Errorf(CodeFailedPrecondition, "agent %q does not serve site %q", toID, chat.SiteID)
		}
		if slices.Contains(to.ActiveChatIDs, chat.ID) {
			return Errorf(CodeFailedPrecondition, "agent %q is already in chat %q", toID, chatID)
		}
		if err := to.canTakeChat(); err != nil {
			return err
		}
		fromAgent, err := tx.Agent(fromID)
		if err != nil {
			return err
		}
		site, err := tx.Site(chat.SiteID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		toP := Participant{Role: RoleAgent, ID: to.ID, DisplayName: to.DisplayName}
		ev := s.nextEvent(chat, now)
		ev.Transferred = &ChatTransferred{From: from, To: toP}
		if err := chat.Transfer(toP, now); err != nil {
			return err
		}
		fromAgent.ActiveChatIDs = slices.DeleteFunc(fromAgent.ActiveChatIDs, func(id string) bool { return id == chat.ID })
		fromAgent.LastChatEndTime = now
		to.ActiveChatIDs = append(to.ActiveChatIDs, chat.ID)
		logged, err := s.putAll(tx, chat, nil, to, &ev)
		if err != nil {
			return err
		}
		logged.fromAgent, logged.agent, logged.routeSites = fromAgent, to, fromAgent.SiteIDs
		logged.chat, logged.idle = chat, &site.ProactiveChat
		if err := tx.PutAgent(fromAgent); err != nil {
			return err
		}
		if note != "" {
			n, err := s.appendNote(tx, chat, from, note)
			if err != nil {
				return err
			}
			out.Note = &n
		}
		out.Chat = chat
		return nil
	})
	if err != nil {
		return Transfer{}, err
	}
	return out, nil
}

// Colleague is another agent of a site as agents see them: whom a chat
// can be transferred to.
type Colleague struct {
	AgentID     string
	DisplayName string
	Status      AgentStatus
	// FreeChats is how many more chats the agent can take.
	FreeChats uint32
	// CanTakeChat says whether a chat can be transferred to the agent now.
	CanTakeChat bool
}

// ListColleagues lists the agents of siteID other than agentID, who must
// serve it, by display name then id.
func (s *Service) ListColleagues(ctx context.Context, agentID, siteID string) ([]Colleague, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	required(&v, "site_id", siteID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []Colleague
	err := s.store.View(ctx, func(tx ReadTx) error {
		me, err := tx.Agent(agentID)
		if err != nil {
			return err
		}
		if !me.Serves(siteID) {
			return Errorf(CodePermissionDenied, "agent %q does not serve site %q", agentID, siteID)
		}
		all, err := tx.Agents()
		if err != nil {
			return err
		}
		for _, a := range all {
			if a.ID == agentID || !a.Serves(siteID) {
				continue
			}
			free := uint32(max(0, a.freeChats(len(a.ActiveChatIDs))))
			out = append(out, Colleague{AgentID: a.ID, DisplayName: a.DisplayName, Status: a.Status, FreeChats: free, CanTakeChat: a.canTakeChat() == nil})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Colleague) int {
		return cmp.Or(cmp.Compare(a.DisplayName, b.DisplayName), cmp.Compare(a.AgentID, b.AgentID))
	})
	return out, nil
}
