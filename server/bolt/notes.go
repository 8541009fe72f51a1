package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// ChatNotes reads a chat's range of the notes bucket.
func (r *readTx) ChatNotes(chatID string) ([]domain.ChatNote, error) {
	if err := checkID("chat id", chatID); err != nil {
		return nil, err
	}
	prefix := chatPrefix(chatID)
	var notes []domain.ChatNote
	c := r.tx.Bucket(chatNotesBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		n, err := decode(v, protoconv.ChatNoteFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", chatNotesBucket, k, err)
		}
		notes = append(notes, n)
	}
	return notes, nil
}

// AppendChatNote checks the seq against the stored notes, so that no note
// is overwritten and none is missing.
func (w *writeTx) AppendChatNote(n domain.ChatNote) error {
	if err := requireID("chat id", n.ChatID); err != nil {
		return err
	}
	prefix := chatPrefix(n.ChatID)
	var last uint32
	c := w.tx.Bucket(chatNotesBucket).Cursor()
	k, _ := c.Seek(chatPrefixEnd(n.ChatID))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4 {
		last = binary.BigEndian.Uint32(k[len(prefix):])
	}
	if uint64(n.Seq) != uint64(last)+1 {
		return fmt.Errorf("append note %d to chat %q: want seq %d", n.Seq, n.ChatID, uint64(last)+1)
	}
	return w.put(chatNotesBucket, eventKey(n.ChatID, n.Seq), protoconv.ChatNoteToProto(n))
}
