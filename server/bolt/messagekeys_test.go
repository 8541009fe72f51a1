package bolt_test

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

var (
	keyVisitor = domain.Participant{Role: domain.RoleVisitor, ID: "vis_1"}
	keyAgent   = domain.Participant{Role: domain.RoleAgent, ID: "agt_1"}
)

// keyedChat stores an active chat of vis_1 and agt_1 with a start event
// and one message per key (the visitor's, seqs 2, 3, …); it returns the
// next seq.
func keyedChat(t *testing.T, s *bolt.Store, chatID string, keys ...string) uint32 {
	t.Helper()
	seq := uint32(1)
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		chat := &domain.Chat{ID: chatID, SiteID: "site_1", Visitor: keyVisitor, Agent: keyAgent, State: domain.ChatStateActive, CreateTime: at(1)}
		if err := tx.PutChat(chat); err != nil {
			return err
		}
		if err := tx.AppendChatEvent(domain.ChatEvent{ChatID: chatID, Seq: 1, Time: at(1), Started: &domain.ChatStarted{Visitor: keyVisitor, Agent: keyAgent}}); err != nil {
			return err
		}
		for _, k := range keys {
			seq++
			if err := tx.AppendChatEvent(keyedMessage(chatID, seq, keyVisitor, k)); err != nil {
				return err
			}
		}
		return nil
	})
	return seq + 1
}

func keyedMessage(chatID string, seq uint32, from domain.Participant, key string) domain.ChatEvent {
	return domain.ChatEvent{ChatID: chatID, Seq: seq, Time: at(int(seq)), Message: &domain.ChatMessage{Sender: from, Text: "x", IdempotencyKey: key}}
}

// lookup is MessageSeqByKey in a write transaction, which uses the index.
func lookup(t *testing.T, s *bolt.Store, chatID, senderID, key string) (seq uint32, found bool) {
	t.Helper()
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		var err error
		seq, found, err = tx.MessageSeqByKey(chatID, senderID, key)
		return err
	})
	return seq, found
}

// wantKeys checks that both a write transaction (the index) and a read
// transaction (the events) find each key of want at its seq, and keys not
// in want nowhere.
func wantKeys(t *testing.T, s *bolt.Store, chatID string, want map[[2]string]uint32, absent ...[2]string) {
	t.Helper()
	check := func(k [2]string, wantSeq uint32, wantFound bool) {
		t.Helper()
		if seq, found := lookup(t, s, chatID, k[0], k[1]); seq != wantSeq || found != wantFound {
			t.Errorf("write tx: %s %q: got %d, %v; want %d, %v", k[0], k[1], seq, found, wantSeq, wantFound)
		}
		MustView(t, s, func(tx domain.ReadTx) error {
			seq, found, err := tx.MessageSeqByKey(chatID, k[0], k[1])
			if seq != wantSeq || found != wantFound {
				t.Errorf("read tx: %s %q: got %d, %v; want %d, %v", k[0], k[1], seq, found, wantSeq, wantFound)
			}
			return err
		})
	}
	for k, seq := range want {
		check(k, seq, true)
	}
	for _, k := range absent {
		check(k, 0, false)
	}
}

func TestMessageKeyIndex(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpen(t)
		next := keyedChat(t, s, "c1", "k1", "k2")
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(keyedMessage("c1", next, keyAgent, "k1")) // the agent's own k1
		})
		wantKeys(t, s, "c1",
			map[[2]string]uint32{{"vis_1", "k1"}: 2, {"vis_1", "k2"}: 3, {"agt_1", "k1"}: 4},
			[2]string{"vis_1", "k3"}, [2]string{"carol", "k1"}, [2]string{"vis_1", ""})
		if got, want := bolt.IndexedChats(s), map[string]int{"c1": 3}; !maps.Equal(got, want) {
			t.Errorf("index holds %v, want %v", got, want)
		}
	})

	t.Run("ErrKeyReused", func(t *testing.T) {
		s := MustOpen(t)
		next := keyedChat(t, s, "c1", "k1")
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(keyedMessage("c1", next, keyVisitor, "k1"))
		})
		if err == nil {
			t.Fatal("reusing an idempotency key succeeded")
		}
	})

	t.Run("SameBatch", func(t *testing.T) {
		// A key appended by an earlier fn of the batch is found by a later
		// one, before the commit.
		s := MustOpen(t)
		next := keyedChat(t, s, "c1")
		var seq uint32
		var found bool
		errs := queueInOrder(t, s, []func(domain.WriteTx) error{
			func(tx domain.WriteTx) error { return tx.AppendChatEvent(keyedMessage("c1", next, keyVisitor, "k1")) },
			func(tx domain.WriteTx) error {
				var err error
				seq, found, err = tx.MessageSeqByKey("c1", "vis_1", "k1")
				return err
			},
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if seq != next || !found {
			t.Errorf("got %d, %v; want %d, true", seq, found, next)
		}
	})

	t.Run("RollbackForgetsKeys", func(t *testing.T) {
		// A fn that appended a key and then failed is rolled back: the key
		// was never stored, so it is free, for this chat and for a chat
		// whose index the failed fn built.
		s := MustOpen(t)
		next := keyedChat(t, s, "c1", "k1")
		MustUpdate(t, s, func(tx domain.WriteTx) error { // the index holds c1
			_, _, err := tx.MessageSeqByKey("c1", "vis_1", "k1")
			return err
		})
		nextC2 := keyedChat(t, s, "c2")
		s2 := bolt.IndexedChats(s)
		if _, ok := s2["c2"]; ok {
			t.Fatalf("index holds c2 before anyone asked: %v", s2)
		}
		failed := errors.New("failed after writing")
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			if err := tx.AppendChatEvent(keyedMessage("c1", next, keyVisitor, "k2")); err != nil {
				return err
			}
			if err := tx.AppendChatEvent(keyedMessage("c2", nextC2, keyVisitor, "k2")); err != nil {
				return err
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("got %v, want %v", err, failed)
		}
		wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2}, [2]string{"vis_1", "k2"})
		wantKeys(t, s, "c2", nil, [2]string{"vis_1", "k2"})
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(keyedMessage("c1", next, keyVisitor, "k2"))
		})
		wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2, {"vis_1", "k2"}: next})
	})

	t.Run("Collisions", func(t *testing.T) {
		// Every key has the same hash: lookups still find exactly the right
		// message.
		s := MustOpen(t)
		bolt.SetMessageKeyHash(s, func(string, string) uint64 { return 42 })
		next := keyedChat(t, s, "c1", "k1", "k2")
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(keyedMessage("c1", next, keyAgent, "k3"))
		})
		wantKeys(t, s, "c1",
			map[[2]string]uint32{{"vis_1", "k1"}: 2, {"vis_1", "k2"}: 3, {"agt_1", "k3"}: 4},
			[2]string{"vis_1", "k3"}, [2]string{"agt_1", "k1"})
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(keyedMessage("c1", next+1, keyVisitor, "k2"))
		})
		if err == nil {
			t.Fatal("reusing a colliding idempotency key succeeded")
		}
	})

	t.Run("OneCollision", func(t *testing.T) {
		// Two keys share a hash, a third does not: all three are found.
		s := MustOpen(t)
		bolt.SetMessageKeyHash(s, func(_, key string) uint64 {
			if key == "k3" {
				return 3
			}
			return 1
		})
		keyedChat(t, s, "c1", "k1", "k2", "k3")
		wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2, {"vis_1", "k2"}: 3, {"vis_1", "k3"}: 4}, [2]string{"vis_1", "k4"})
	})

	t.Run("EndedChatLeavesIndex", func(t *testing.T) {
		s := MustOpen(t)
		next := keyedChat(t, s, "c1", "k1")
		lookup(t, s, "c1", "vis_1", "k1")
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			chat, err := tx.Chat("c1")
			if err != nil {
				return err
			}
			chat.State, chat.EndTime, chat.EndReason = domain.ChatStateEnded, at(30), domain.EndInactive
			if err := tx.PutChat(chat); err != nil {
				return err
			}
			return tx.AppendChatEvent(domain.ChatEvent{ChatID: "c1", Seq: next, Time: at(30), Ended: &domain.ChatEnded{Reason: domain.EndInactive}})
		})
		if got := bolt.IndexedChats(s); len(got) != 0 {
			t.Errorf("index holds %v after the chat ended", got)
		}
		// A retry after the end still finds its message, from the events,
		// and does not bring the chat back into the index.
		wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2}, [2]string{"vis_1", "k2"})
		if got := bolt.IndexedChats(s); len(got) != 0 {
			t.Errorf("index holds %v after a lookup in an ended chat", got)
		}
	})

	t.Run("ErasedChatLeavesIndex", func(t *testing.T) {
		s := MustOpen(t)
		keyedChat(t, s, "c1", "k1")
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			return tx.PutVisitor(&domain.Visitor{ID: "vis_1", SiteID: "site_1"})
		})
		lookup(t, s, "c1", "vis_1", "k1")
		MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_1") })
		if got := bolt.IndexedChats(s); len(got) != 0 {
			t.Errorf("index holds %v after the visitor was erased", got)
		}
		wantKeys(t, s, "c1", nil, [2]string{"vis_1", "k1"})
	})

	t.Run("Restart", func(t *testing.T) {
		// After a restart the index is built again from the events.
		s := MustOpen(t)
		keyedChat(t, s, "c1", "k1", "k2")
		s = reopen(t, s)
		wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2, {"vis_1", "k2"}: 3}, [2]string{"vis_1", "k3"})
		if got, want := bolt.IndexedChats(s), map[string]int{"c1": 2}; !maps.Equal(got, want) {
			t.Errorf("index holds %v, want %v", got, want)
		}
	})
}

// TestLegacyMessageKeysBucketEmptied opens a file with the message_keys
// bucket of earlier versions: Open empties it (earlier versions require it
// to restore a backup), and its keys are still found, from the events.
func TestLegacyMessageKeysBucketEmptied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	keyedChat(t, s, "c1", "k1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("message_keys"))
		if err != nil {
			return err
		}
		return b.Put([]byte("c1\x00vis_1\x00k1"), []byte{0, 0, 0, 2})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, s, "c1", map[[2]string]uint32{{"vis_1", "k1"}: 2})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("message_keys"))
		if b == nil {
			return errors.New("the message_keys bucket is gone")
		}
		if k, _ := b.Cursor().First(); k != nil {
			return fmt.Errorf("the message_keys bucket still holds %q", k)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
