package bolt

import (
	"bytes"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// ChatWhispers lists a chat's whispers in Seq order.
func (r *readTx) ChatWhispers(chatID string) ([]domain.Whisper, error) {
	if err := checkID("chat id", chatID); err != nil {
		return nil, err
	}
	prefix := chatPrefix(chatID)
	var out []domain.Whisper
	c := r.tx.Bucket(whispersBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		w, err := decode(v, protoconv.WhisperFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", whispersBucket, k, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// AppendWhisper stores a whisper after the chat's last one.
func (w *writeTx) AppendWhisper(wh domain.Whisper) error {
	if err := requireID("chat id", wh.ChatID); err != nil {
		return err
	}
	prev, err := w.ChatWhispers(wh.ChatID)
	if err != nil {
		return err
	}
	if want := uint32(len(prev)) + 1; wh.Seq != want {
		return fmt.Errorf("append whisper %d to chat %q: want seq %d", wh.Seq, wh.ChatID, want)
	}
	return w.put(whispersBucket, eventKey(wh.ChatID, wh.Seq), protoconv.WhisperToProto(wh))
}
