package bolt

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Keys that hold several ids join them with 0x00, which ids never contain
// (checkID enforces it on writes), so that one chat's keys form a range no
// other chat's key falls into: "c1\x00…" sorts apart from "c10\x00…".

// chatPrefix is the prefix of all keys of a chat's events.
func chatPrefix(chatID string) []byte {
	k := make([]byte, 0, len(chatID)+1+4)
	k = append(k, chatID...)
	return append(k, 0)
}

// chatPrefixEnd is the first key past all of a chat's events.
func chatPrefixEnd(chatID string) []byte {
	k := make([]byte, 0, len(chatID)+1)
	k = append(k, chatID...)
	return append(k, 1)
}

// eventKey is the chat prefix and the big-endian seq, so that byte order is
// numeric order and a cursor reads a chat's events in sequence.
func eventKey(chatID string, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(chatPrefix(chatID), seq)
}

// messageKey identifies a sender's idempotency key within a chat. The key
// itself comes last, so it may contain anything.
func messageKey(chatID, senderID, key string) []byte {
	k := make([]byte, 0, len(chatID)+1+len(senderID)+1+len(key))
	k = append(k, chatID...)
	k = append(k, 0)
	k = append(k, senderID...)
	k = append(k, 0)
	return append(k, key...)
}

// seqValue encodes a sequence number as a message_keys value.
func seqValue(seq uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, seq)
}

// checkID rejects ids that cannot be part of a composite key. Reads use it
// too, since a NUL in a chat id would read another chat's range.
func checkID(what, id string) error {
	if strings.IndexByte(id, 0) >= 0 {
		return domain.Errorf(domain.CodeInvalid, "%s %q contains a NUL byte", what, id)
	}
	return nil
}

// requireID is checkID for writes, which also need the id to be set.
func requireID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%s is required", what)
	}
	return checkID(what, id)
}
