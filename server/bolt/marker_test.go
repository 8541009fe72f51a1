package bolt_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestIndexesWrittenOnce: storing a chat again (as every message does)
// writes its record, not the index entries that point at it, which have
// not changed; the indexes stay right.
func TestIndexesWrittenOnce(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	pages := func(fn func(domain.WriteTx) error) int64 {
		t.Helper()
		before := bolt.PagesWritten(s)
		if err := s.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
		return bolt.PagesWritten(s) - before
	}
	chat := func(id string) *domain.Chat {
		return &domain.Chat{ID: id, SiteID: "site_1", State: domain.ChatStateActive,
			Visitor: domain.Participant{Role: domain.RoleVisitor, ID: "visitor_" + id}, Agent: domain.Participant{Role: domain.RoleAgent, ID: "agent_1"}}
	}
	// Enough chats that each bucket has pages of its own, rather than
	// living inline in its parent's page.
	pages(func(tx domain.WriteTx) error {
		for i := range 300 {
			if err := tx.PutChat(chat(fmt.Sprintf("chat_x%03d", i))); err != nil {
				return err
			}
		}
		return nil
	})
	c := chat("chat_1")
	first := pages(func(tx domain.WriteTx) error { return tx.PutChat(c) })
	c.LastSeq = 1
	again := pages(func(tx domain.WriteTx) error { return tx.PutChat(c) })
	// The first wrote the chat, the active chats index and the visitor's
	// records index; the second only the chat.
	if again >= first {
		t.Errorf("storing the chat again wrote %d pages, the first time %d: the indexes were written again", again, first)
	}
	err := s.View(ctx, func(tx domain.ReadTx) error {
		ids, err := tx.ActiveChatIDs()
		if err != nil || len(ids) != 301 || !slices.Contains(ids, "chat_1") {
			t.Errorf("%d active chats, %v; want 301 with chat_1", len(ids), err)
		}
		chats, _, _, err := tx.VisitorRecords("visitor_chat_1")
		if err != nil || len(chats) != 1 || chats[0] != "chat_1" {
			t.Errorf("visitor's chats %v, %v; want [chat_1]", chats, err)
		}
		got, err := tx.Chat("chat_1")
		if err != nil || got.LastSeq != 1 {
			t.Errorf("chat %+v, %v; want LastSeq 1", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ended: out of the active index, for good.
	c.State = domain.ChatStateEnded
	pages(func(tx domain.WriteTx) error { return tx.PutChat(c) })
	pages(func(tx domain.WriteTx) error { return tx.PutChat(c) })
	s.View(ctx, func(tx domain.ReadTx) error {
		if ids, err := tx.ActiveChatIDs(); err != nil || slices.Contains(ids, "chat_1") {
			t.Errorf("active chats %v, %v after the end; want chat_1 gone", ids, err)
		}
		return nil
	})
}
