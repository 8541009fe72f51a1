package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	bbolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// readTx is a domain.ReadTx over a bbolt transaction. Everything it returns
// is decoded into fresh memory: bbolt's values point into the memory map
// and are only valid until the transaction ends.
type readTx struct {
	tx     *bbolt.Tx
	agents *agentCache // nil: decode every time
}

var _ domain.ReadTx = (*readTx)(nil)

// message is the constraint for a generated message type M used through its
// pointer *M.
type message[M any] interface {
	*M
	proto.Message
}

// decode unmarshals v into a new M and converts it to the domain.
func decode[M any, P message[M], D any](v []byte, conv func(P) D) (D, error) {
	var m M
	if err := proto.Unmarshal(v, P(&m)); err != nil {
		var zero D
		return zero, err
	}
	return conv(&m), nil
}

// get reads and decodes one record; found is false when there is none.
func get[M any, P message[M], D any](r *readTx, bucket []byte, id string, conv func(P) D) (d D, found bool, err error) {
	v := r.tx.Bucket(bucket).Get([]byte(id))
	if v == nil {
		return d, false, nil
	}
	d, err = decode(v, conv)
	if err != nil {
		return d, false, fmt.Errorf("decode %s %q: %w", bucket, id, err)
	}
	return d, true, nil
}

// list reads and decodes every record of a bucket, in key order.
func list[M any, P message[M], D any](r *readTx, bucket []byte, conv func(P) D) ([]D, error) {
	var out []D
	err := r.tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		d, err := decode(v, conv)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", bucket, k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (r *readTx) Site(id string) (*domain.Site, error) {
	s, found, err := get(r, sitesBucket, id, protoconv.SiteFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "site %q not found", id)
	}
	return s, err
}

func (r *readTx) Sites() ([]*domain.Site, error) {
	return list(r, sitesBucket, protoconv.SiteFromProto)
}

func (r *readTx) Visitor(id string) (*domain.Visitor, error) {
	v, found, err := get(r, visitorsBucket, id, protoconv.VisitorFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "visitor %q not found", id)
	}
	return v, err
}

// VisitorByTokenHash reports a token whose visitor is gone as not found
// too: to the caller either way the session is not valid.
func (r *readTx) VisitorByTokenHash(hash []byte) (*domain.Visitor, error) {
	id := r.tx.Bucket(visitorTokensBucket).Get(hash)
	if id == nil {
		return nil, domain.Errorf(domain.CodeNotFound, "visitor session not found")
	}
	v, found, err := get(r, visitorsBucket, string(id), protoconv.VisitorFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "visitor session not found")
	}
	return v, err
}

func (r *readTx) Chat(id string) (*domain.Chat, error) {
	c, found, err := get(r, chatsBucket, id, protoconv.ChatFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "chat %q not found", id)
	}
	return c, err
}

// ChatEvents treats a limit of zero or less as no limit.
func (r *readTx) ChatEvents(chatID string, afterSeq uint32, limit int) ([]domain.ChatEvent, error) {
	if err := checkID("chat id", chatID); err != nil {
		return nil, err
	}
	if afterSeq == math.MaxUint32 {
		return nil, nil
	}
	prefix := chatPrefix(chatID)
	var events []domain.ChatEvent
	c := r.tx.Bucket(chatEventsBucket).Cursor()
	for k, v := c.Seek(eventKey(chatID, afterSeq+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if limit > 0 && len(events) == limit {
			break
		}
		ev, err := decode(v, protoconv.ChatEventFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", chatEventsBucket, k, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// lastSeq returns the seq of a chat's last stored event, 0 when it has none.
func (r *readTx) lastSeq(chatID string) (uint32, error) {
	prefix := chatPrefix(chatID)
	c := r.tx.Bucket(chatEventsBucket).Cursor()
	k, _ := c.Seek(chatPrefixEnd(chatID))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return 0, nil
	}
	if len(k) != len(prefix)+4 {
		return 0, fmt.Errorf("decode %s key %q: bad length", chatEventsBucket, k)
	}
	return binary.BigEndian.Uint32(k[len(prefix):]), nil
}

// writeTx is a domain.WriteTx for one run of one Update fn. The writer
// makes a new one per run, so hooks of a run that is rolled back are
// dropped with it.
type writeTx struct {
	readTx
	hooks []func()
	// keys is the writer's index of idempotency keys; nil in tests that
	// build a writeTx by hand.
	keys *messageKeyIndex
	// wrote records that the fn changed the transaction, so that its failure
	// means rolling back rather than just leaving it out.
	wrote bool
	// rec collects the transaction's write set when the store replicates
	// (writeset.go); nil otherwise. Every change goes through w.bucket,
	// which records into it.
	rec *recorder
}

var _ domain.WriteTx = (*writeTx)(nil)

// put stores m under key. key and the encoded value must stay untouched
// until the transaction ends, so callers pass fresh slices.
func (w *writeTx) put(bucket, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", bucket, key, err)
	}
	return w.putRaw(bucket, key, v)
}

func (w *writeTx) putRaw(bucket, key, v []byte) error {
	w.wrote = true
	if err := w.bucket(bucket).Put(key, v); err != nil {
		return fmt.Errorf("put %s %q: %w", bucket, key, err)
	}
	return nil
}

// putMarker stores key with an empty value, as the indexes do, unless it is
// there already. A bbolt Put rewrites the key's leaf page and its parents at
// commit even when nothing changes, and indexes are written again with every
// record they point at (a chat's with each of its messages): checking first
// is much cheaper than a Put.
func (w *writeTx) putMarker(bucket, key []byte) error {
	return w.putIndex(bucket, key, []byte{})
}

// putIndex stores key with value v unless it holds v already, as putMarker.
func (w *writeTx) putIndex(bucket, key, v []byte) error {
	k, old := w.tx.Bucket(bucket).Cursor().Seek(key)
	if k != nil && bytes.Equal(k, key) && bytes.Equal(old, v) {
		return nil
	}
	return w.putRaw(bucket, key, v)
}

// has reports whether b holds key.
func has(b *bbolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key)
}

// delete removes key from bucket. Deleting a key that is not there changes
// nothing, so it does not count as a write.
func (w *writeTx) delete(bucket, key []byte) error {
	b := w.bucket(bucket)
	if !has(b.Bucket, key) {
		return nil
	}
	w.wrote = true
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("delete %s %q: %w", bucket, key, err)
	}
	return nil
}

func (w *writeTx) PutSite(s *domain.Site) error {
	if s == nil {
		return errors.New("put site: nil")
	}
	if err := requireID("site id", s.ID); err != nil {
		return err
	}
	return w.put(sitesBucket, []byte(s.ID), protoconv.SiteToProto(s))
}

func (w *writeTx) PutAgent(a *domain.Agent) error {
	if a == nil {
		return errors.New("put agent: nil")
	}
	if err := requireID("agent id", a.ID); err != nil {
		return err
	}
	if err := w.indexLogin(a, w.tx.Bucket(agentsBucket).Get([]byte(a.ID))); err != nil {
		return fmt.Errorf("put agent %q: index login: %w", a.ID, err)
	}
	return w.put(agentsBucket, []byte(a.ID), protoconv.AgentToProto(a))
}

func (w *writeTx) PutVisitor(v *domain.Visitor) error {
	if v == nil {
		return errors.New("put visitor: nil")
	}
	if err := requireID("visitor id", v.ID); err != nil {
		return err
	}
	return w.put(visitorsBucket, []byte(v.ID), protoconv.VisitorToProto(v))
}

func (w *writeTx) PutVisitorToken(hash []byte, visitorID string) error {
	if len(hash) == 0 {
		return errors.New("put visitor token: hash is required")
	}
	if err := requireID("visitor id", visitorID); err != nil {
		return err
	}
	if err := w.putRaw(visitorTokensBucket, bytes.Clone(hash), []byte(visitorID)); err != nil {
		return err
	}
	return w.putMarker(visitorRecordsBucket, visitorRecordKey(visitorID, recordToken, hash))
}

func (w *writeTx) PutChat(c *domain.Chat) error {
	if c == nil {
		return errors.New("put chat: nil")
	}
	if err := requireID("chat id", c.ID); err != nil {
		return err
	}
	if err := w.put(chatsBucket, []byte(c.ID), protoconv.ChatToProto(c)); err != nil {
		return err
	}
	if err := checkID("site id", c.SiteID); err != nil {
		return err
	}
	// A chat's site and start time never change: its key is written
	// once, by the transaction that starts it.
	if err := w.putMarker(siteChatsBucket, siteChatKey(c.SiteID, c.CreateTime, c.ID)); err != nil {
		return err
	}
	if c.State == domain.ChatStateActive {
		if err := w.putMarker(activeChatsBucket, []byte(c.ID)); err != nil {
			return err
		}
	} else {
		if err := w.delete(activeChatsBucket, []byte(c.ID)); err != nil {
			return err
		}
		w.forgetChatKeys(c.ID)
	}
	return w.indexVisitorRecord(c.Visitor.ID, recordChat, c.ID)
}

// ActiveChatIDs lists the chats that have not ended.
func (r *readTx) ActiveChatIDs() ([]string, error) {
	var ids []string
	err := r.tx.Bucket(activeChatsBucket).ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	return ids, err
}

// AppendChatEvent checks the seq against the stored events rather than the
// chat's LastSeq, so a caller that forgot to update the chat still cannot
// leave a gap or overwrite an event.
func (w *writeTx) AppendChatEvent(ev domain.ChatEvent) error {
	if err := requireID("chat id", ev.ChatID); err != nil {
		return err
	}
	if n := kinds(ev); n != 1 {
		return fmt.Errorf("append event %d to chat %q: %d kinds set, want 1", ev.Seq, ev.ChatID, n)
	}
	last, err := w.lastSeq(ev.ChatID)
	if err != nil {
		return err
	}
	if last == math.MaxUint32 || ev.Seq != last+1 {
		return fmt.Errorf("append event %d to chat %q: want seq %d", ev.Seq, ev.ChatID, uint64(last)+1)
	}
	if m := ev.Message; m != nil && m.IdempotencyKey != "" {
		if err := requireID("sender id", m.Sender.ID); err != nil {
			return err
		}
		seq, used, err := w.MessageSeqByKey(ev.ChatID, m.Sender.ID, m.IdempotencyKey)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("append event %d to chat %q: idempotency key %q of %q is already used by event %d",
				ev.Seq, ev.ChatID, m.IdempotencyKey, m.Sender.ID, seq)
		}
	}
	if err := w.put(chatEventsBucket, eventKey(ev.ChatID, ev.Seq), protoconv.ChatEventToProto(ev)); err != nil {
		return err
	}
	return w.indexMessageKey(ev)
}

// kinds counts the kinds an event has set; a stored event must have one.
func kinds(ev domain.ChatEvent) int {
	n := 0
	if ev.Started != nil {
		n++
	}
	if ev.Message != nil {
		n++
	}
	if ev.ParticipantLeft != nil {
		n++
	}
	if ev.Ended != nil {
		n++
	}
	if ev.InactivityWarning != nil {
		n++
	}
	if ev.Transferred != nil {
		n++
	}
	return n
}

func (w *writeTx) OnCommit(f func()) {
	if f != nil {
		w.hooks = append(w.hooks, f)
	}
}
