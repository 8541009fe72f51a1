package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	var prefix []byte
	if siteID != "" {
		prefix = sitePrefix(siteID)
	}
	var out []*domain.ChatRequest
	c := r.tx.Bucket(openChatRequestsBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		_, id, ok := parseOpenRequestKey(k)
		if !ok {
			return nil, fmt.Errorf("decode %s key %q: malformed", openChatRequestsBucket, k)
		}
		req, found, err := get(r, chatRequestsBucket, id, protoconv.ChatRequestFromProto)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%s lists chat request %q, which does not exist", openChatRequestsBucket, id)
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
	if found && old.Open() {
		if err := w.delete(openChatRequestsBucket, openRequestKey(old.SiteID, old.EnqueueTime, old.ID)); err != nil {
			return err
		}
	}
	if err := w.put(chatRequestsBucket, []byte(r.ID), protoconv.ChatRequestToProto(r)); err != nil {
		return err
	}
	if err := w.indexVisitorRecord(r.VisitorID, recordRequest, r.ID); err != nil {
		return err
	}
	if r.Open() {
		return w.putMarker(openChatRequestsBucket, openRequestKey(r.SiteID, r.EnqueueTime, r.ID))
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
	b := w.tx.Bucket(routingDecisionsBucket)
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
