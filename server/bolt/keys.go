package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

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

// sitePrefix is the prefix of all keys of a site in the open chat requests
// and routing decisions buckets.
func sitePrefix(siteID string) []byte {
	k := make([]byte, 0, len(siteID)+1+8+1)
	k = append(k, siteID...)
	return append(k, 0)
}

// sitePrefixEnd is the first key past all of a site's keys.
func sitePrefixEnd(siteID string) []byte {
	k := make([]byte, 0, len(siteID)+1)
	k = append(k, siteID...)
	return append(k, 1)
}

// openRequestKey orders a site's open chat requests first in, first out:
// the site prefix, the big-endian enqueue time in Unix nanoseconds, 0x00,
// and the request id, which breaks ties and comes last so it may contain
// anything.
func openRequestKey(siteID string, enqueue time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(sitePrefix(siteID), unixNanoKey(enqueue))
	k = append(k, 0)
	return append(k, id...)
}

// parseOpenRequestKey splits an openRequestKey into its site and request
// ids.
func parseOpenRequestKey(k []byte) (siteID, id string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8+1 || k[i+1+8] != 0 {
		return "", "", false
	}
	return string(k[:i]), string(k[i+1+8+1:]), true
}

var (
	minNanoTime = time.Unix(0, 0)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// unixNanoKey is t in Unix nanoseconds as an unsigned number whose
// big-endian bytes sort like the times. Times UnixNano cannot represent, or
// before 1970 (such as the zero time), are clamped; readers sort by the
// times themselves, so clamping costs nothing but locality.
func unixNanoKey(t time.Time) uint64 {
	switch {
	case t.Before(minNanoTime):
		return 0
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// routingKey is the site prefix and a big-endian sequence number that grows
// with every decision, so a site's keys are in the order they were appended.
func routingKey(siteID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(sitePrefix(siteID), seq)
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

// siteChatKey orders a site's chats newest first: the site prefix, the
// big-endian start time in Unix nanoseconds with every bit inverted (so
// later times sort first), 0x00, and the chat id, which breaks ties and
// comes last so it may contain anything.
func siteChatKey(siteID string, start time.Time, chatID string) []byte {
	k := binary.BigEndian.AppendUint64(sitePrefix(siteID), ^unixNanoKey(start))
	k = append(k, 0)
	return append(k, chatID...)
}

// parseSiteChatKey returns the position a siteChatKey of the site whose
// prefix is prefix holds.
func parseSiteChatKey(prefix, k []byte) (domain.ChatPosition, bool) {
	rest := k[len(prefix):]
	if len(rest) < 8+1+1 || rest[8] != 0 {
		return domain.ChatPosition{}, false
	}
	nanos := ^binary.BigEndian.Uint64(rest[:8])
	return domain.ChatPosition{
		CreateTime: time.Unix(0, int64(nanos)).UTC(),
		ID:         string(rest[9:]),
	}, true
}
