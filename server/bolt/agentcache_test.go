package bolt_test

import (
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestAgentCache: agents read through the cache are the ones stored last,
// and a reader changing its copy changes nobody else's.
func TestAgentCache(t *testing.T) {
	s := MustOpen(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	ann := &domain.Agent{ID: "ann", DisplayName: "Ann", SiteIDs: []string{"shop"}, MaxConcurrentChats: 2,
		Status: domain.StatusAvailable, ActiveChatIDs: []string{"chat_1"}, CreateTime: t0}
	MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutAgent(ann) })
	read := func() (one *domain.Agent, all []*domain.Agent) {
		t.Helper()
		MustView(t, s, func(tx domain.ReadTx) error {
			var err error
			if one, err = tx.Agent("ann"); err != nil {
				return err
			}
			all, err = tx.Agents()
			return err
		})
		return one, all
	}
	a, all := read()
	if len(all) != 1 || !slices.Equal(a.ActiveChatIDs, []string{"chat_1"}) || !slices.Equal(all[0].ActiveChatIDs, []string{"chat_1"}) {
		t.Fatalf("read %+v and %+v, want ann with chat_1", a, all)
	}
	// Readers scribble on their copies.
	a.ActiveChatIDs[0], a.SiteIDs[0], a.DisplayName = "scribbled", "scribbled", "scribbled"
	all[0].ActiveChatIDs = append(all[0].ActiveChatIDs[:0], "scribbled")
	if b, _ := read(); b.ActiveChatIDs[0] != "chat_1" || b.SiteIDs[0] != "shop" || b.DisplayName != "Ann" {
		t.Fatalf("read %+v after a reader changed its copy, want the stored ann", b)
	}
	// A new version is read as soon as it is stored, in a write
	// transaction too.
	ann.ActiveChatIDs = []string{"chat_1", "chat_2"}
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.PutAgent(ann); err != nil {
			return err
		}
		got, err := tx.Agent("ann")
		if err != nil {
			return err
		}
		if !slices.Equal(got.ActiveChatIDs, []string{"chat_1", "chat_2"}) {
			t.Errorf("in the writing transaction: %v, want both chats", got.ActiveChatIDs)
		}
		return nil
	})
	if b, all := read(); !slices.Equal(b.ActiveChatIDs, []string{"chat_1", "chat_2"}) || !slices.Equal(all[0].ActiveChatIDs, b.ActiveChatIDs) {
		t.Fatalf("after the update: %v and %v, want both chats", b.ActiveChatIDs, all[0].ActiveChatIDs)
	}
	if _, err := func() (a *domain.Agent, err error) {
		MustView(t, s, func(tx domain.ReadTx) error { a, err = tx.Agent("nobody"); return nil })
		return
	}(); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("unknown agent: %v, want NotFound", err)
	}
}
