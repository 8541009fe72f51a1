package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// The log's stored form is a pb.Event without what the log can tell on its
// own: the position and id (from the key), and, for a chat.message, the
// type, sender and text, which are in the chat's own event (the chat_events
// bucket, found by chat id and seq). A message is written once, and the
// log's entries are short, so its pages, whose right-most edge every
// commit reads and writes again, fill more slowly. Events stored in full, as
// before, read back as they are: readers take the position and id from the
// stored event when it has them, and a chat.message whose sender is set
// holds its text.

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
	b := w.bucket(eventsBucket)
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
	if ev.Type == domain.EventChatMessage {
		err = w.putRaw(eventsBucket, key, storedMessage(ev))
	} else {
		err = w.put(eventsBucket, key, storedEvent(ev))
	}
	if err != nil {
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

// storedEvent is ev's stored form (see above).
func storedEvent(ev *domain.Event) *pb.Event {
	if ev.Type == domain.EventChatMessage {
		return &pb.Event{
			Time: protoconv.TimeToProto(ev.Time), SiteId: ev.SiteID,
			Payload: &pb.Event_ChatMessage{ChatMessage: &pb.ChatMessageEvent{
				ChatId: ev.ChatID, Seq: ev.Seq, VisitorId: ev.VisitorID,
			}},
		}
	}
	p := protoconv.EventToProto(ev)
	p.Position, p.Id = 0, ""
	return p
}

// Field numbers of a chat.message's stored form (proto/proactivechat/v1/event.proto).
const (
	eventTimeField        = 4  // Event.time
	eventSiteField        = 5  // Event.site_id
	eventChatMessageField = 27 // Event.chat_message
	tsSecondsField        = 1  // Timestamp.seconds
	tsNanosField          = 2  // Timestamp.nanos
	chatMessageChatField  = 1  // ChatMessageEvent.chat_id
	chatMessageSeqField   = 2  // ChatMessageEvent.seq
	chatMessageVisitor    = 5  // ChatMessageEvent.visitor_id
)

// storedMessage is the encoding of storedEvent(ev) for a chat.message,
// written field by field into one buffer: this runs for every message
// sent, and building proto messages only to marshal them allocates each
// of them and walks them by reflection.
func storedMessage(ev *domain.Event) []byte {
	var sec int64
	var nanos int32
	tsLen := 0
	if !ev.Time.IsZero() {
		sec, nanos = ev.Time.Unix(), int32(ev.Time.Nanosecond())
		if sec != 0 {
			tsLen += 1 + protowire.SizeVarint(uint64(sec))
		}
		if nanos != 0 {
			tsLen += 1 + protowire.SizeVarint(uint64(nanos))
		}
	}
	msgLen := 0
	if ev.ChatID != "" {
		msgLen += 1 + protowire.SizeBytes(len(ev.ChatID))
	}
	if ev.Seq != 0 {
		msgLen += 1 + protowire.SizeVarint(uint64(ev.Seq))
	}
	if ev.VisitorID != "" {
		msgLen += 1 + protowire.SizeBytes(len(ev.VisitorID))
	}
	n := 2 + protowire.SizeBytes(msgLen)
	if !ev.Time.IsZero() {
		n += 1 + protowire.SizeBytes(tsLen)
	}
	if ev.SiteID != "" {
		n += 1 + protowire.SizeBytes(len(ev.SiteID))
	}
	b := make([]byte, 0, n)
	if !ev.Time.IsZero() {
		b = protowire.AppendTag(b, eventTimeField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(tsLen))
		if sec != 0 {
			b = protowire.AppendTag(b, tsSecondsField, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(sec))
		}
		if nanos != 0 {
			b = protowire.AppendTag(b, tsNanosField, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(nanos))
		}
	}
	if ev.SiteID != "" {
		b = protowire.AppendTag(b, eventSiteField, protowire.BytesType)
		b = protowire.AppendString(b, ev.SiteID)
	}
	b = protowire.AppendTag(b, eventChatMessageField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(msgLen))
	if ev.ChatID != "" {
		b = protowire.AppendTag(b, chatMessageChatField, protowire.BytesType)
		b = protowire.AppendString(b, ev.ChatID)
	}
	if ev.Seq != 0 {
		b = protowire.AppendTag(b, chatMessageSeqField, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(ev.Seq))
	}
	if ev.VisitorID != "" {
		b = protowire.AppendTag(b, chatMessageVisitor, protowire.BytesType)
		b = protowire.AppendString(b, ev.VisitorID)
	}
	return b
}

// logEvent decodes the log's entry at key k: in stored form, whose chat
// message it completes from the chat's event, or in full.
func (r *readTx) logEvent(k, v []byte) (*domain.Event, error) {
	var p pb.Event
	if err := proto.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("decode %s %x: %w", eventsBucket, k, err)
	}
	if len(k) != 8 {
		return nil, fmt.Errorf("decode %s key %x: bad length", eventsBucket, k)
	}
	if p.Position == 0 {
		p.Position = binary.BigEndian.Uint64(k)
		p.Id = domain.EventID(p.Position)
	}
	if m := p.GetChatMessage(); m != nil && m.Sender == nil {
		ce := r.tx.Bucket(chatEventsBucket).Get(eventKey(m.GetChatId(), m.GetSeq()))
		if ce == nil {
			return nil, fmt.Errorf("decode %s %x: chat %q has no event %d", eventsBucket, k, m.GetChatId(), m.GetSeq())
		}
		var c pb.ChatEvent
		if err := proto.Unmarshal(ce, &c); err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", chatEventsBucket, eventKey(m.GetChatId(), m.GetSeq()), err)
		}
		msg := c.GetMessage()
		if msg == nil {
			return nil, fmt.Errorf("decode %s %x: chat %q event %d is no message", eventsBucket, k, m.GetChatId(), m.GetSeq())
		}
		p.Type, m.Sender, m.Text = string(domain.EventChatMessage), msg.GetSender(), msg.GetText()
	}
	return protoconv.EventFromProto(&p), nil
}

// Events treats a limit of zero or less as no limit.
func (r *readTx) Events(afterPosition uint64, limit int) ([]*domain.Event, error) {
	var out []*domain.Event
	c := r.tx.Bucket(eventsBucket).Cursor()
	for k, v := c.Seek(positionKey(afterPosition + 1)); k != nil; k, v = c.Next() {
		if afterPosition == ^uint64(0) || (limit > 0 && len(out) == limit) {
			break
		}
		ev, err := r.logEvent(k, v)
		if err != nil {
			return nil, err
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
	c := w.bucket(eventsBucket).Cursor()
	n := 0
	for k, v := c.First(); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
		ev, err := w.logEvent(k, v)
		if err != nil {
			return n, err
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
