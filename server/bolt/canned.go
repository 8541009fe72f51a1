package bolt

import (
	"bytes"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// cannedKey is the site's prefix and the reply's id, so that a cursor
// reads a site's replies together.
func cannedKey(siteID, id string) []byte {
	return append(sitePrefix(siteID), id...)
}

func (r *readTx) CannedReply(siteID, id string) (*domain.CannedReply, error) {
	v := r.tx.Bucket(cannedRepliesBucket).Get(cannedKey(siteID, id))
	if v == nil {
		return nil, domain.Errorf(domain.CodeNotFound, "site %q has no canned reply %q", siteID, id)
	}
	c, err := decode(v, protoconv.CannedReplyFromProto)
	if err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", cannedRepliesBucket, id, err)
	}
	return c, nil
}

func (r *readTx) CannedReplies(siteID string) ([]*domain.CannedReply, error) {
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	prefix := sitePrefix(siteID)
	var out []*domain.CannedReply
	c := r.tx.Bucket(cannedRepliesBucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		cr, err := decode(v, protoconv.CannedReplyFromProto)
		if err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", cannedRepliesBucket, k, err)
		}
		out = append(out, cr)
	}
	return out, nil
}

func (w *writeTx) PutCannedReply(c *domain.CannedReply) error {
	if err := requireID("site id", c.SiteID); err != nil {
		return err
	}
	if err := requireID("canned reply id", c.ID); err != nil {
		return err
	}
	return w.put(cannedRepliesBucket, cannedKey(c.SiteID, c.ID), protoconv.CannedReplyToProto(c))
}

func (w *writeTx) DeleteCannedReply(siteID, id string) error {
	return w.delete(cannedRepliesBucket, cannedKey(siteID, id))
}
