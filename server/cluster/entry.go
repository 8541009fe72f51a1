package cluster

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/proactivechat/proactivechat/server/bolt"
)

// An entry is encoded as this protobuf message, written by hand with
// protowire (as bolt.WriteSet is) so that no internal format joins the
// public API's protos:
//
//	message LogEntry {
//	  uint64 prev = 1;      // the position this entry follows
//	  bytes write_set = 2;  // bolt.WriteSet; absent for a barrier
//	  string leader = 3;    // the node that published it
//	  uint64 term = 4;      // its lease revision
//	}
//
// The position itself is the stream's sequence, not part of the message.

const (
	entryPrevField     protowire.Number = 1
	entryWriteSetField protowire.Number = 2
	entryLeaderField   protowire.Number = 3
	entryTermField     protowire.Number = 4
)

func marshalEntry(e *Entry) []byte {
	var b []byte
	b = protowire.AppendTag(b, entryPrevField, protowire.VarintType)
	b = protowire.AppendVarint(b, e.Prev)
	if !e.WriteSet.Empty() {
		b = protowire.AppendTag(b, entryWriteSetField, protowire.BytesType)
		b = protowire.AppendBytes(b, e.WriteSet.Marshal())
	}
	if e.Leader != "" {
		b = protowire.AppendTag(b, entryLeaderField, protowire.BytesType)
		b = protowire.AppendString(b, e.Leader)
	}
	if e.Term != 0 {
		b = protowire.AppendTag(b, entryTermField, protowire.VarintType)
		b = protowire.AppendVarint(b, e.Term)
	}
	return b
}

func unmarshalEntry(b []byte) (*Entry, error) {
	e := &Entry{WriteSet: &bolt.WriteSet{}}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("decode log entry: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case (num == entryPrevField || num == entryTermField) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("decode log entry: %w", protowire.ParseError(n))
			}
			b = b[n:]
			if num == entryPrevField {
				e.Prev = v
			} else {
				e.Term = v
			}
		case (num == entryWriteSetField || num == entryLeaderField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("decode log entry: %w", protowire.ParseError(n))
			}
			b = b[n:]
			if num == entryLeaderField {
				e.Leader = string(v)
				continue
			}
			ws, err := bolt.UnmarshalWriteSet(v)
			if err != nil {
				return nil, fmt.Errorf("decode log entry: %w", err)
			}
			e.WriteSet = ws
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("decode log entry: %w", protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return e, nil
}
