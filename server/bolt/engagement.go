package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// maxRoutingDecisions is how many routing decisions are kept per site.
const maxRoutingDecisions = 1000

func (r *readTx) Invitation(id string) (*domain.Invitation, error) {
	i, found, err := get(r, invitationsBucket, id, protoconv.InvitationFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "invitation %q not found", id)
	}
	return i, err
}

// PendingInvitations reads the pending index rather than every invitation,
// and lists the invitations in id order.
func (r *readTx) PendingInvitations() ([]*domain.Invitation, error) {
	var out []*domain.Invitation
	err := r.tx.Bucket(pendingInvitationsBucket).ForEach(func(k, _ []byte) error {
		i, found, err := get(r, invitationsBucket, string(k), protoconv.InvitationFromProto)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s lists invitation %q, which does not exist", pendingInvitationsBucket, k)
		}
		out = append(out, i)
		return nil
	})
	return out, err
}

func (r *readTx) ChatRequest(id string) (*domain.ChatRequest, error) {
	c, found, err := get(r, chatRequestsBucket, id, protoconv.ChatRequestFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "chat request %q not found", id)
	}
	return c, err
}

// QueuePosition counts the index keys before req's, without reading the
// requests: a waiting visitor's position is read again whenever its queue
// moves, so reading the whole queue each time would cost the square of its
// length per move. Keys are in OpenChatRequests' order except among
// enqueue times the key clamps, so a request with such a time is counted
// the slow way.
func (r *readTx) QueuePosition(req *domain.ChatRequest) (int, error) {
	if req == nil {
		return 0, errors.New("queue position: nil")
	}
	if err := checkID("site id", req.SiteID); err != nil {
		return 0, err
	}
	if !req.Open() {
		return 0, nil
	}
	if req.EnqueueTime.Before(minNanoTime) || req.EnqueueTime.After(maxNanoTime) {
		open, err := r.OpenChatRequests(req.SiteID)
		if err != nil {
			return 0, err
		}
		return slices.IndexFunc(open, func(o *domain.ChatRequest) bool { return o.ID == req.ID }) + 1, nil
	}
	prefix := sitePrefix(req.SiteID)
	own := openRequestKey(req.SiteID, req.EnqueueTime, req.ID)
	c := r.tx.Bucket(openChatRequestsBucket).Cursor()
	n := 0
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		switch bytes.Compare(k, own) {
		case 0:
			return n + 1, nil
		case 1:
			return 0, nil // not in the index: not open after all
		}
		n++
	}
	return 0, nil
}

// OpenChatRequests reads the open requests index: one site's range of it,
// or all of it when siteID is empty.
func (r *readTx) OpenChatRequests(siteID string) ([]*domain.ChatRequest, error) {
	return r.openRequests(siteID, false)
}

// QueuedChatRequests reads the site's open requests that are not alerting
// anyone. The index says which those are, so the others are not read.
func (r *readTx) QueuedChatRequests(siteID string) ([]*domain.ChatRequest, error) {
	if siteID == "" {
		return nil, errors.New("queued chat requests: site id is empty")
	}
	return r.openRequests(siteID, true)
}

func (r *readTx) openRequests(siteID string, queuedOnly bool) ([]*domain.ChatRequest, error) {
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	var prefix []byte
	if siteID != "" {
		prefix = sitePrefix(siteID)
	}
	var out []*domain.ChatRequest
	c := r.tx.Bucket(openChatRequestsBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, id, ok := parseOpenRequestKey(k)
		if !ok {
			return nil, fmt.Errorf("decode %s key %q: malformed", openChatRequestsBucket, k)
		}
		if queuedOnly && len(v) > 0 && v[0] != openQueued {
			continue
		}
		req, found, err := get(r, chatRequestsBucket, id, protoconv.ChatRequestFromProto)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%s lists chat request %q, which does not exist", openChatRequestsBucket, id)
		}
		if queuedOnly && req.State != domain.RequestQueued {
			continue
		}
		out = append(out, req)
	}
	// A site's keys are in this order already, except for enqueue times
	// the key clamps; all sites' keys are in it only within each site.
	slices.SortStableFunc(out, func(a, b *domain.ChatRequest) int {
		if c := a.EnqueueTime.Compare(b.EnqueueTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// AlertCounts reads the agents' counters, which PutChatRequest keeps.
func (r *readTx) AlertCounts(agentIDs []string) (map[string]int, error) {
	b := r.tx.Bucket(alertCountsBucket)
	out := make(map[string]int, len(agentIDs))
	for _, id := range agentIDs {
		if v := b.Get([]byte(id)); v != nil {
			if len(v) != 4 {
				return nil, fmt.Errorf("decode %s %q: %d bytes, want 4", alertCountsBucket, id, len(v))
			}
			out[id] = int(binary.BigEndian.Uint32(v))
		}
	}
	return out, nil
}

// RoutingDecisions treats a limit of zero or less as no limit.
func (r *readTx) RoutingDecisions(siteID string, limit int) ([]*domain.RoutingDecision, error) {
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	prefix := sitePrefix(siteID)
	var out []*domain.RoutingDecision
	c := r.tx.Bucket(routingDecisionsBucket).Cursor()
	k, v := c.Seek(sitePrefixEnd(siteID))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		if limit > 0 && len(out) == limit {
			break
		}
		d, err := decode(v, protoconv.RoutingDecisionFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", routingDecisionsBucket, k, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// PutInvitation keeps the invitation in the pending index exactly while its
// state is pending.
func (w *writeTx) PutInvitation(i *domain.Invitation) error {
	if i == nil {
		return errors.New("put invitation: nil")
	}
	if err := requireID("invitation id", i.ID); err != nil {
		return err
	}
	if err := w.put(invitationsBucket, []byte(i.ID), protoconv.InvitationToProto(i)); err != nil {
		return err
	}
	if err := w.indexVisitorRecord(i.VisitorID, recordInvitation, i.ID); err != nil {
		return err
	}
	if i.State == domain.InvitationPending {
		return w.putMarker(pendingInvitationsBucket, []byte(i.ID))
	}
	return w.delete(pendingInvitationsBucket, []byte(i.ID))
}

// PutChatRequest keeps the request in the open index exactly while it is
// open. The index key holds the site and enqueue time, so the stored
// version's entry is removed first: either may have changed.
func (w *writeTx) PutChatRequest(r *domain.ChatRequest) error {
	if r == nil {
		return errors.New("put chat request: nil")
	}
	if err := requireID("chat request id", r.ID); err != nil {
		return err
	}
	if err := requireID("chat request site id", r.SiteID); err != nil {
		return err
	}
	old, found, err := get(&w.readTx, chatRequestsBucket, r.ID, protoconv.ChatRequestFromProto)
	if err != nil {
		return err
	}
	var oldKey, newKey []byte
	if found && old.Open() {
		oldKey = openRequestKey(old.SiteID, old.EnqueueTime, old.ID)
	}
	if r.Open() {
		newKey = openRequestKey(r.SiteID, r.EnqueueTime, r.ID)
	}
	if oldKey != nil && !bytes.Equal(oldKey, newKey) {
		if err := w.delete(openChatRequestsBucket, oldKey); err != nil {
			return err
		}
	}
	if err := w.put(chatRequestsBucket, []byte(r.ID), protoconv.ChatRequestToProto(r)); err != nil {
		return err
	}
	if err := w.indexVisitorRecord(r.VisitorID, recordRequest, r.ID); err != nil {
		return err
	}
	var before string
	if found {
		before = alertedAgent(old)
	}
	if err := w.moveAlert(before, alertedAgent(r)); err != nil {
		return err
	}
	if newKey != nil {
		return w.putIndex(openChatRequestsBucket, newKey, openRequestValue(r))
	}
	return nil
}

// The open requests index's values: a state byte, then for an alerting
// request the id of the agent it alerts. Routing skips alerting requests
// without reading them. (An empty value, which no file has once opened by
// this version, is read as "look at the request".)
const (
	openQueued   = 'q'
	openAlerting = 'a'
)

func openRequestValue(r *domain.ChatRequest) []byte {
	if r.State == domain.RequestAlerting {
		return append([]byte{openAlerting}, r.AlertedAgentID...)
	}
	return []byte{openQueued}
}

// alertedAgent is the agent an open request is alerting, if any.
func alertedAgent(r *domain.ChatRequest) string {
	if r.State == domain.RequestAlerting {
		return r.AlertedAgentID
	}
	return ""
}

// moveAlert moves one alert from agent from's counter to agent to's
// (either may be empty: none).
func (w *writeTx) moveAlert(from, to string) error {
	if from == to {
		return nil
	}
	if err := w.addAlerts(from, -1); err != nil {
		return err
	}
	return w.addAlerts(to, 1)
}

func (w *writeTx) addAlerts(agentID string, delta int) error {
	if agentID == "" {
		return nil
	}
	b := w.tx.Bucket(alertCountsBucket)
	var n int64
	if v := b.Get([]byte(agentID)); len(v) == 4 {
		n = int64(binary.BigEndian.Uint32(v))
	}
	// Never below zero: a count off by one costs an agent one alert of
	// room until the next Open rebuilds the counts, where failing would
	// stop the request's every move.
	n = max(n+int64(delta), 0)
	if n == 0 {
		return w.delete(alertCountsBucket, []byte(agentID))
	}
	return w.putRaw(alertCountsBucket, []byte(agentID), binary.BigEndian.AppendUint32(nil, uint32(n)))
}

// rebuildAlertCounts counts the agents' alerts again from the open
// requests index, at every Open: a binary from before the counts (run on
// this file after an upgrade, then upgraded again) changes requests
// without counting, and the index is small, only the requests open now.
// It writes each entry's value where it is missing (a file from before,
// or an entry that binary rewrote), reading the request then.
func rebuildAlertCounts(tx *bbolt.Tx) error {
	w := &writeTx{readTx: readTx{tx: tx}}
	counts := map[string]uint32{}
	var missing [][]byte
	c := tx.Bucket(openChatRequestsBucket).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		switch {
		case len(v) == 0:
			missing = append(missing, bytes.Clone(k))
		case v[0] == openAlerting:
			counts[string(v[1:])]++
		}
	}
	for _, k := range missing {
		_, id, ok := parseOpenRequestKey(k)
		if !ok {
			return fmt.Errorf("decode %s key %q: malformed", openChatRequestsBucket, k)
		}
		req, found, err := get(&w.readTx, chatRequestsBucket, id, protoconv.ChatRequestFromProto)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s lists chat request %q, which does not exist", openChatRequestsBucket, id)
		}
		if err := w.putIndex(openChatRequestsBucket, k, openRequestValue(req)); err != nil {
			return err
		}
		if a := alertedAgent(req); a != "" {
			counts[a]++
		}
	}
	b := tx.Bucket(alertCountsBucket)
	var stale [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if want, ok := counts[string(k)]; !ok || len(v) != 4 || binary.BigEndian.Uint32(v) != want {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for agent, n := range counts {
		if v := b.Get([]byte(agent)); len(v) == 4 && binary.BigEndian.Uint32(v) == n {
			continue
		}
		if err := b.Put([]byte(agent), binary.BigEndian.AppendUint32(nil, n)); err != nil {
			return err
		}
	}
	return nil
}

// AppendRoutingDecision numbers decisions with the bucket's sequence and
// counts each site's in routingCountsBucket, so that trimming a site to
// the latest maxRoutingDecisions deletes its oldest keys without counting
// them.
func (w *writeTx) AppendRoutingDecision(d *domain.RoutingDecision) error {
	if d == nil {
		return errors.New("append routing decision: nil")
	}
	if err := requireID("routing decision site id", d.SiteID); err != nil {
		return err
	}
	w.wrote = true // NextSequence changes the bucket
	b := w.bucket(routingDecisionsBucket)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("append routing decision: %w", err)
	}
	if err := w.put(routingDecisionsBucket, routingKey(d.SiteID, seq), protoconv.RoutingDecisionToProto(d)); err != nil {
		return err
	}
	n, err := w.routingCount(d.SiteID)
	if err != nil {
		return err
	}
	n++
	prefix := sitePrefix(d.SiteID)
	c := b.Cursor()
	for ; n > maxRoutingDecisions; n-- {
		k, _ := c.Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return fmt.Errorf("%s counts %d decisions of site %q, but there are fewer", routingCountsBucket, n, d.SiteID)
		}
		if err := c.Delete(); err != nil {
			return fmt.Errorf("delete %s %q: %w", routingDecisionsBucket, k, err)
		}
	}
	return w.putRaw(routingCountsBucket, []byte(d.SiteID), binary.BigEndian.AppendUint32(nil, n))
}

// routingCount is how many routing decisions of a site are stored.
func (r *readTx) routingCount(siteID string) (uint32, error) {
	v := r.tx.Bucket(routingCountsBucket).Get([]byte(siteID))
	if v == nil {
		return 0, nil
	}
	if len(v) != 4 {
		return 0, fmt.Errorf("decode %s %q: %d bytes, want 4", routingCountsBucket, siteID, len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}
