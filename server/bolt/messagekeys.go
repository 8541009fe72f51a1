package bolt

import (
	"bytes"
	"fmt"
	"hash/maphash"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// A message's idempotency key is stored in the message itself (its chat
// event) and nowhere else on disk. Files written before this change also
// have a message_keys bucket indexing the keys; Open empties it, since the
// events hold everything it held.
//
// That bucket cost more than anything else a message wrote: its entries
// are small, so a leaf page holds about 80 of them, and bbolt rebuilds
// every entry of each page a transaction changes (ReadInodeFromPage, then
// a copy to insert into). Keys are random, so every message changed a page
// of its own there. Without it, BenchmarkSendMessage (500 chats, one core)
// went from 77–97 to 59–61 µs and from 18.6 to 10.8 KB allocated per
// message.
//
// The writer keeps the index in memory instead (messageKeyIndex): for each
// active chat that a write transaction asked about since Open, the hash of
// every sender and key with its message's seq. It is built from the chat's
// events on first use (once per chat after a restart), kept up to date by
// AppendChatEvent, and dropped when the chat ends (PutChat) or is erased,
// so its size follows the active chats (about 20 bytes per keyed message,
// 12 of them the map's). Read transactions, and write transactions about a
// chat that is not active, read the chat's events instead.

// chatKeys maps the hash of a sender and key to the seq of their message.
// Where two keys share a hash, the later one's seq is kept: a lookup checks
// the message it finds, and reads the chat's events when it is another's.
type chatKeys map[uint64]uint32

// messageKeyIndex is the in-memory index of the active chats' idempotency
// keys. Only the writer goroutine uses it, so it needs no lock.
type messageKeyIndex struct {
	hash  func(senderID, key string) uint64
	chats map[string]chatKeys
	// touched lists the chats whose entries the running transaction built
	// or changed: if it rolls back they are dropped, to be built again from
	// what the store holds.
	touched map[string]struct{}
}

func newMessageKeyIndex() *messageKeyIndex {
	seed := maphash.MakeSeed()
	return &messageKeyIndex{
		hash: func(senderID, key string) uint64 {
			var h maphash.Hash
			h.SetSeed(seed)
			h.WriteString(senderID)
			h.WriteByte(0) // ids never contain NUL: "ab"+"c" differs from "a"+"bc"
			h.WriteString(key)
			return h.Sum64()
		},
		chats:   map[string]chatKeys{},
		touched: map[string]struct{}{},
	}
}

// committed forgets what the transaction touched: it is durable.
func (x *messageKeyIndex) committed() { clear(x.touched) }

// rolledBack drops the chats the transaction touched, whose entries may
// hold keys that were never stored.
func (x *messageKeyIndex) rolledBack() {
	for chatID := range x.touched {
		x.drop(chatID)
	}
	clear(x.touched)
}

// drop forgets a chat and its keys. (The outer map keeps the room of the
// most chats active at once, a few tens of bytes each: not worth copying.)
func (x *messageKeyIndex) drop(chatID string) { delete(x.chats, chatID) }

// MessageSeqByKey never finds an empty key, as those are not indexed. A
// read transaction reads the chat's events.
func (r *readTx) MessageSeqByKey(chatID, senderID, key string) (uint32, bool, error) {
	if ok, err := keyLookup(chatID, senderID, key); !ok {
		return 0, false, err
	}
	return r.scanMessageKey(chatID, senderID, key)
}

// keyLookup checks the ids of a MessageSeqByKey call; ok is false when
// there is nothing to look up.
func keyLookup(chatID, senderID, key string) (ok bool, err error) {
	if err := checkID("chat id", chatID); err != nil {
		return false, err
	}
	if err := checkID("sender id", senderID); err != nil {
		return false, err
	}
	return key != "", nil
}

// MessageSeqByKey answers from the in-memory index when the chat is
// active: a hash that is not there is a key never used, and a hash that is
// there is checked against its message.
func (w *writeTx) MessageSeqByKey(chatID, senderID, key string) (uint32, bool, error) {
	if ok, err := keyLookup(chatID, senderID, key); !ok {
		return 0, false, err
	}
	keys, err := w.chatKeys(chatID)
	if err != nil {
		return 0, false, err
	}
	if keys == nil {
		return w.scanMessageKey(chatID, senderID, key)
	}
	seq, ok := keys[w.keys.hash(senderID, key)]
	if !ok {
		return 0, false, nil
	}
	events, err := w.ChatEvents(chatID, seq-1, 1)
	if err != nil {
		return 0, false, err
	}
	if len(events) != 1 {
		return 0, false, fmt.Errorf("chat %q: event %d of idempotency key %q is missing", chatID, seq, key)
	}
	if m := events[0].Message; m != nil && m.Sender.ID == senderID && m.IdempotencyKey == key {
		return seq, true, nil
	}
	return w.scanMessageKey(chatID, senderID, key) // another key with the same hash
}

// chatKeys returns the index of an active chat's keys, building it from
// the chat's events the first time; nil (and no error) for a chat that is
// not active, or without an index (a read transaction's writeTx in tests).
func (w *writeTx) chatKeys(chatID string) (chatKeys, error) {
	x := w.keys
	if x == nil {
		return nil, nil
	}
	if keys, ok := x.chats[chatID]; ok {
		return keys, nil
	}
	if !has(w.tx.Bucket(activeChatsBucket), []byte(chatID)) {
		return nil, nil
	}
	keys := chatKeys{}
	err := w.eachMessageKey(chatID, func(seq uint32, senderID, key string) bool {
		keys[x.hash(senderID, key)] = seq
		return true
	})
	if err != nil {
		return nil, err
	}
	x.chats[chatID] = keys
	x.touched[chatID] = struct{}{}
	return keys, nil
}

// indexMessageKey records an appended event's key.
func (w *writeTx) indexMessageKey(ev domain.ChatEvent) error {
	x := w.keys
	if x == nil {
		return nil
	}
	if ev.Message == nil || ev.Message.IdempotencyKey == "" {
		return nil
	}
	keys, err := w.chatKeys(ev.ChatID) // built now, it has the event already
	if err != nil || keys == nil {
		return err
	}
	keys[x.hash(ev.Message.Sender.ID, ev.Message.IdempotencyKey)] = ev.Seq
	x.touched[ev.ChatID] = struct{}{}
	return nil
}

// forgetChatKeys drops a chat that ended or was erased from the index.
func (w *writeTx) forgetChatKeys(chatID string) {
	if w.keys != nil {
		w.keys.drop(chatID)
	}
}

// scanMessageKey finds a key by reading the chat's events.
func (r *readTx) scanMessageKey(chatID, senderID, key string) (seq uint32, found bool, err error) {
	err = r.eachMessageKey(chatID, func(s uint32, sender, k string) bool {
		if sender == senderID && k == key {
			seq, found = s, true
		}
		return !found
	})
	return seq, found, err
}

// eachMessageKey calls f with the seq, sender and key of each of a chat's
// messages that has a key, in order, until f returns false.
func (r *readTx) eachMessageKey(chatID string, f func(seq uint32, senderID, key string) bool) error {
	prefix := chatPrefix(chatID)
	c := r.tx.Bucket(chatEventsBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ev, err := decode(v, protoconv.ChatEventFromProto)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", chatEventsBucket, k, err)
		}
		if m := ev.Message; m != nil && m.IdempotencyKey != "" && !f(ev.Seq, m.Sender.ID, m.IdempotencyKey) {
			return nil
		}
	}
	return nil
}
