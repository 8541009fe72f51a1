package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// recordEvent is the kind of the visitor records index entries of log
// events naming the visitor; the id is the big-endian position.
const recordEvent = 'e'

// positionKey is a log position as a key whose byte order is numeric
// order, so a cursor reads the log in position order.
func positionKey(position uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), position)
}

// AppendEvent takes the position from the events bucket's sequence, which
// bbolt keeps in the bucket and rolls back with the transaction: an Update
// that fails, or a batch that is run again, leaves no gap, and a position
// whose event retention or erasure deleted is never assigned again.
func (w *writeTx) AppendEvent(ev *domain.Event) error {
	if ev == nil {
		return errors.New("append event: nil")
	}
	if !ev.Type.Valid() {
		return fmt.Errorf("append event: unknown type %q", ev.Type)
	}
	w.wrote = true // NextSequence changes the bucket
	b := w.tx.Bucket(eventsBucket)
	// Keys only ever come last: split pages full rather than half full.
	// Half the leaves, half the children of the branch above them, which
	// bbolt reads into memory and writes again in every commit that
	// appends.
	b.FillPercent = 1.0
	pos, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	ev.Position, ev.ID = pos, domain.EventID(pos)
	key := positionKey(pos)
	if err := w.put(eventsBucket, key, protoconv.EventToProto(ev)); err != nil {
		return err
	}
	if chatEvent(ev.Type) {
		// Found through the chat's own event, which holds the position
		// (ChatEvent.LogPosition): an index entry per message, inserted
		// into the middle of the visitor records, doubled what a message
		// costs to write.
		return nil
	}
	return w.indexVisitorRecord(ev.VisitorID, recordEvent, string(key))
}

// chatEvent reports whether events of type t are stored with a chat event
// of their own, which holds their position, rather than indexed under
// their visitor.
func chatEvent(t domain.EventType) bool {
	switch t {
	case domain.EventChatStarted, domain.EventChatMessage, domain.EventChatParticipantLeft, domain.EventChatEnded:
		return true
	}
	return false
}

// Events treats a limit of zero or less as no limit.
func (r *readTx) Events(afterPosition uint64, limit int) ([]*domain.Event, error) {
	var out []*domain.Event
	c := r.tx.Bucket(eventsBucket).Cursor()
	for k, v := c.Seek(positionKey(afterPosition + 1)); k != nil; k, v = c.Next() {
		if afterPosition == ^uint64(0) || (limit > 0 && len(out) == limit) {
			break
		}
		ev, err := decode(v, protoconv.EventFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %x: %w", eventsBucket, k, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// LastEventPosition is the bucket's sequence: the last position assigned
// even when retention or erasure deleted its event.
func (r *readTx) LastEventPosition() uint64 {
	return r.tx.Bucket(eventsBucket).Sequence()
}

// DeleteEventsBefore reads the log from its head, in position order, so it
// stops at the first event at or after cutoff even should a later one be
// older (a clock stepping back): the log stays a contiguous tail.
func (w *writeTx) DeleteEventsBefore(cutoff time.Time, limit int) (int, error) {
	c := w.tx.Bucket(eventsBucket).Cursor()
	n := 0
	for k, v := c.First(); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
		ev, err := decode(v, protoconv.EventFromProto)
		if err != nil {
			return n, fmt.Errorf("decode %s %x: %w", eventsBucket, k, err)
		}
		if !ev.Time.Before(cutoff) {
			break
		}
		if err := w.unindexEvent(ev); err != nil {
			return n, err
		}
		w.wrote = true
		if err := c.Delete(); err != nil {
			return n, fmt.Errorf("delete %s %x: %w", eventsBucket, k, err)
		}
		n++
	}
	return n, nil
}

// unindexEvent removes an event's entry from the visitor records index.
func (w *writeTx) unindexEvent(ev *domain.Event) error {
	if chatEvent(ev.Type) || ev.VisitorID == "" || checkID("visitor id", ev.VisitorID) != nil {
		return nil
	}
	return w.delete(visitorRecordsBucket, visitorRecordKey(ev.VisitorID, recordEvent, positionKey(ev.Position)))
}
