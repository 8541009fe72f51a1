package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// Kinds of record in the visitor records index.
const (
	recordChat       = 'c'
	recordInvitation = 'i'
	recordRequest    = 'r'
	recordToken      = 't' // the id is a session token's hash
)

// visitorPrefix is the prefix of all of a visitor's visitor records keys.
func visitorPrefix(visitorID string) []byte {
	k := make([]byte, 0, len(visitorID)+1+2+32)
	k = append(k, visitorID...)
	return append(k, 0)
}

// visitorRecordKey is visitorID, 0x00, the kind, 0x00 and the record's id,
// which comes last so it may contain anything (a token hash does).
func visitorRecordKey(visitorID string, kind byte, id []byte) []byte {
	k := append(visitorPrefix(visitorID), kind, 0)
	return append(k, id...)
}

// indexVisitorRecord adds a record to its visitor's entries. Records without
// a visitor are not indexed.
func (w *writeTx) indexVisitorRecord(visitorID string, kind byte, id string) error {
	if visitorID == "" {
		return nil
	}
	if err := checkID("visitor id", visitorID); err != nil {
		return err
	}
	return w.putMarker(visitorRecordsBucket, visitorRecordKey(visitorID, kind, []byte(id)))
}

// visitorRecords lists the ids of a visitor's records of each kind, in id
// order.
func (r *readTx) visitorRecords(visitorID string) (map[byte][][]byte, error) {
	if err := checkID("visitor id", visitorID); err != nil {
		return nil, err
	}
	prefix := visitorPrefix(visitorID)
	out := map[byte][][]byte{}
	c := r.tx.Bucket(visitorRecordsBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		rest := k[len(prefix):]
		if len(rest) < 2 || rest[1] != 0 {
			return nil, fmt.Errorf("decode %s key %q: malformed", visitorRecordsBucket, k)
		}
		out[rest[0]] = append(out[rest[0]], bytes.Clone(rest[2:]))
	}
	return out, nil
}

func (r *readTx) VisitorRecords(visitorID string) (chatIDs, invitationIDs, requestIDs []string, err error) {
	recs, err := r.visitorRecords(visitorID)
	if err != nil {
		return nil, nil, nil, err
	}
	strs := func(ids [][]byte) []string {
		var out []string
		for _, id := range ids {
			out = append(out, string(id))
		}
		return out
	}
	return strs(recs[recordChat]), strs(recs[recordInvitation]), strs(recs[recordRequest]), nil
}

// EraseVisitor deletes the visitor, their session tokens, chats (with
// events and idempotency keys), invitations, chat requests and the routing
// decisions about those requests, the offline messages they left, and the
// index entries of all of them.
// Erasing a visitor with nothing stored does nothing.
func (w *writeTx) EraseVisitor(visitorID string) error {
	if err := requireID("visitor id", visitorID); err != nil {
		return err
	}
	recs, err := w.visitorRecords(visitorID)
	if err != nil {
		return err
	}
	for _, hash := range recs[recordToken] {
		// The token may have been mapped to another visitor since.
		if v := w.tx.Bucket(visitorTokensBucket).Get(hash); v != nil && string(v) == visitorID {
			if err := w.delete(visitorTokensBucket, hash); err != nil {
				return err
			}
		}
	}
	for _, id := range recs[recordChat] {
		if err := w.deleteChat(string(id)); err != nil {
			return err
		}
	}
	for _, id := range recs[recordInvitation] {
		if err := w.delete(pendingInvitationsBucket, id); err != nil {
			return err
		}
		if err := w.delete(invitationsBucket, id); err != nil {
			return err
		}
	}
	if err := w.deleteRequests(recs[recordRequest]); err != nil {
		return err
	}
	// The log's events about the visitor go too: they hold the pages they
	// viewed, their form values and their messages. The log then skips
	// those positions, which readers of the log are told to expect.
	for _, pos := range recs[recordEvent] {
		if err := w.delete(eventsBucket, pos); err != nil {
			return err
		}
	}
	if err := w.deleteOfflineMessages(recs[recordOfflineMessage]); err != nil {
		return err
	}
	if err := w.deleteRange(visitorRecordsBucket, visitorPrefix(visitorID)); err != nil {
		return err
	}
	return w.delete(visitorsBucket, []byte(visitorID))
}

// DeleteChat deletes a chat with its events and idempotency keys, the log's
// events about it, the chat request it answered (which holds the visitor's
// form values) with the routing decisions and log events about that
// request, and their entries in the visitor records index. The visitor
// stays. Deleting a chat that is not there does nothing.
func (w *writeTx) DeleteChat(chatID string) error {
	if err := requireID("chat id", chatID); err != nil {
		return err
	}
	chat, found, err := get(&w.readTx, chatsBucket, chatID, protoconv.ChatFromProto)
	if err != nil || !found {
		return err
	}
	if err := w.deleteChat(chatID); err != nil {
		return err
	}
	visitorID := chat.Visitor.ID
	if visitorID != "" && checkID("visitor id", visitorID) == nil {
		if err := w.delete(visitorRecordsBucket, visitorRecordKey(visitorID, recordChat, []byte(chatID))); err != nil {
			return err
		}
		if err := w.deleteChatLogEvents(visitorID, chatID, chat.ChatRequestID); err != nil {
			return err
		}
	}
	if chat.ChatRequestID == "" {
		return nil
	}
	req, found, err := get(&w.readTx, chatRequestsBucket, chat.ChatRequestID, protoconv.ChatRequestFromProto)
	if err != nil || !found || req.ChatID != chatID {
		// A request that is gone, or that another chat answered, is not
		// this chat's to delete.
		return err
	}
	if err := w.deleteRequests([][]byte{[]byte(req.ID)}); err != nil {
		return err
	}
	if req.VisitorID != "" && checkID("visitor id", req.VisitorID) == nil {
		return w.delete(visitorRecordsBucket, visitorRecordKey(req.VisitorID, recordRequest, []byte(req.ID)))
	}
	return nil
}

// deleteChat deletes a chat, its events, notes and idempotency keys, but not its
// entry in the visitor records index: EraseVisitor drops the visitor's
// whole range at once.
func (w *writeTx) deleteChat(chatID string) error {
	chat, found, err := get(&w.readTx, chatsBucket, chatID, protoconv.ChatFromProto)
	if err != nil {
		return err
	}
	if found && checkID("site id", chat.SiteID) == nil {
		if err := w.delete(siteChatsBucket, siteChatKey(chat.SiteID, chat.CreateTime, chat.ID)); err != nil {
			return err
		}
	}
	if err := w.deleteChatEventsFromLog(chatID); err != nil {
		return err
	}
	if err := w.deleteRange(chatEventsBucket, chatPrefix(chatID)); err != nil {
		return err
	}
	if err := w.deleteRange(whispersBucket, chatPrefix(chatID)); err != nil {
	}

	if err := w.deleteRange(chatNotesBucket, chatPrefix(chatID)); err != nil {
		return err
	}
	w.forgetChatKeys(chatID)
	if err := w.delete(chatsBucket, []byte(chatID)); err != nil {
		return err
	}
	return w.delete(activeChatsBucket, []byte(chatID))
}

// deleteRequests deletes chat requests, their places in the queue (and the
// alert counts of their alerted agents) if open, and the routing decisions
// about them; not their entries in the visitor records index.
func (w *writeTx) deleteRequests(ids [][]byte) error {
	requestsBySite := map[string]map[string]bool{}
	for _, id := range ids {
		req, found, err := get(&w.readTx, chatRequestsBucket, string(id), protoconv.ChatRequestFromProto)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if req.Open() {
			if err := w.delete(openChatRequestsBucket, openRequestKey(req.SiteID, req.EnqueueTime, req.ID)); err != nil {
				return err
			}
			if err := w.addAlerts(alertedAgent(req), -1); err != nil {
				return err
			}
		}
		if requestsBySite[req.SiteID] == nil {
			requestsBySite[req.SiteID] = map[string]bool{}
		}
		requestsBySite[req.SiteID][req.ID] = true
		if err := w.delete(chatRequestsBucket, id); err != nil {
			return err
		}
	}
	for siteID, ids := range requestsBySite {
		if err := w.deleteRoutingDecisions(siteID, ids); err != nil {
			return err
		}
	}
	return nil
}

// Visitors lists up to limit visitors whose ids sort after afterID, in id
// order, so a caller can walk every visitor in short transactions.
func (r *readTx) Visitors(afterID string, limit int) ([]*domain.Visitor, error) {
	var out []*domain.Visitor
	c := r.tx.Bucket(visitorsBucket).Cursor()
	k, v := c.Seek([]byte(afterID))
	if k != nil && string(k) == afterID {
		k, v = c.Next()
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
		visitor, err := decode(v, protoconv.VisitorFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", visitorsBucket, k, err)
		}
		out = append(out, visitor)
	}
	return out, nil
}

// deleteRange deletes every key of bucket that starts with prefix.
func (w *writeTx) deleteRange(bucket, prefix []byte) error {
	var keys [][]byte
	c := w.tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := w.delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

// deleteRoutingDecisions deletes a site's routing decisions about the given
// requests and keeps the site's count in step. A site keeps at most
// maxRoutingDecisions, so this scans no more than that.
func (w *writeTx) deleteRoutingDecisions(siteID string, requestIDs map[string]bool) error {
	var keys [][]byte
	prefix := sitePrefix(siteID)
	c := w.tx.Bucket(routingDecisionsBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		d, err := decode(v, protoconv.RoutingDecisionFromProto)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", routingDecisionsBucket, k, err)
		}
		if requestIDs[d.ChatRequestID] {
			keys = append(keys, bytes.Clone(k))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if err := w.delete(routingDecisionsBucket, k); err != nil {
			return err
		}
	}
	n, err := w.routingCount(siteID)
	if err != nil {
		return err
	}
	if int(n) < len(keys) {
		return fmt.Errorf("%s counts %d decisions of site %q, but %d were deleted", routingCountsBucket, n, siteID, len(keys))
	}
	n -= uint32(len(keys))
	if n == 0 {
		return w.delete(routingCountsBucket, []byte(siteID))
	}
	return w.putRaw(routingCountsBucket, []byte(siteID), binary.BigEndian.AppendUint32(nil, n))
}

// backfillVisitorRecords builds the visitor records index of a file written
// before it existed.
func backfillVisitorRecords(tx *bbolt.Tx) error {
	idx := tx.Bucket(visitorRecordsBucket)
	put := func(visitorID string, kind byte, id []byte) error {
		if visitorID == "" || bytes.IndexByte([]byte(visitorID), 0) >= 0 {
			return nil
		}
		return idx.Put(visitorRecordKey(visitorID, kind, id), []byte{})
	}
	r := &readTx{tx: tx}
	chats, err := list(r, chatsBucket, protoconv.ChatFromProto)
	if err != nil {
		return err
	}
	for _, c := range chats {
		if err := put(c.Visitor.ID, recordChat, []byte(c.ID)); err != nil {
			return err
		}
	}
	invs, err := list(r, invitationsBucket, protoconv.InvitationFromProto)
	if err != nil {
		return err
	}
	for _, i := range invs {
		if err := put(i.VisitorID, recordInvitation, []byte(i.ID)); err != nil {
			return err
		}
	}
	reqs, err := list(r, chatRequestsBucket, protoconv.ChatRequestFromProto)
	if err != nil {
		return err
	}
	for _, q := range reqs {
		if err := put(q.VisitorID, recordRequest, []byte(q.ID)); err != nil {
			return err
		}
	}
	evs, err := r.Events(0, 0)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if chatEvent(ev.Type) {
			continue // found through their chats (AppendEvent)
		}
		if err := put(ev.VisitorID, recordEvent, positionKey(ev.Position)); err != nil {
			return err
		}
	}
	return tx.Bucket(visitorTokensBucket).ForEach(func(k, v []byte) error {
		return put(string(v), recordToken, bytes.Clone(k))
	})
}

// deleteChatEventsFromLog deletes the log's events of a chat's events (its
// messages), whose positions the chat's events hold.
func (w *writeTx) deleteChatEventsFromLog(chatID string) error {
	prefix := chatPrefix(chatID)
	c := w.tx.Bucket(chatEventsBucket).Cursor()
	var positions [][]byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ev, err := decode(v, protoconv.ChatEventFromProto)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", chatEventsBucket, k, err)
		}
		if ev.LogPosition != 0 {
			positions = append(positions, positionKey(ev.LogPosition))
		}
	}
	for _, pos := range positions {
		if err := w.delete(eventsBucket, pos); err != nil {
			return err
		}
	}
	return nil
}

// deleteChatLogEvents deletes the log's events about a deleted chat that
// no chat event of it holds the position of (chat.rated, with the visitor's
// comment), and those about the request it answered (the form values among
// them), found among its visitor's events, with their index entries.
func (w *writeTx) deleteChatLogEvents(visitorID, chatID, requestID string) error {
	recs, err := w.visitorRecords(visitorID)
	if err != nil {
		return err
	}
	for _, pos := range recs[recordEvent] {
		v := w.tx.Bucket(eventsBucket).Get(pos)
		if v == nil {
			continue
		}
		ev, err := w.logEvent(pos, v)
		if err != nil {
			return err
		}
		if ev.ChatID != chatID && (requestID == "" || ev.RequestID != requestID) {
			continue
		}
		if err := w.delete(eventsBucket, pos); err != nil {
			return err
		}
		if err := w.delete(visitorRecordsBucket, visitorRecordKey(visitorID, recordEvent, pos)); err != nil {
			return err
		}
	}
	return nil
}
