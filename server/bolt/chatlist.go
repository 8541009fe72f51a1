package bolt

import (
	"bytes"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// SiteChats reads the site chats index from just after the position after
// (from the start when it is the zero position).
func (r *readTx) SiteChats(siteID string, after domain.ChatPosition, limit int) ([]domain.ChatPosition, error) {
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	prefix := sitePrefix(siteID)
	start := prefix
	if after.ID != "" || !after.CreateTime.IsZero() {
		start = siteChatKey(siteID, after.CreateTime, after.ID)
	}
	var out []domain.ChatPosition
	c := r.tx.Bucket(siteChatsBucket).Cursor()
	k, _ := c.Seek(start)
	if k != nil && len(start) > len(prefix) && bytes.Equal(k, start) {
		k, _ = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
		pos, ok := parseSiteChatKey(prefix, k)
		if !ok {
			return nil, fmt.Errorf("decode %s key %q: malformed", siteChatsBucket, k)
		}
		out = append(out, pos)
	}
	return out, nil
}

// backfillSiteChatsIndex builds the site chats index of a file written
// before it existed.
func backfillSiteChatsIndex(tx *bbolt.Tx) error {
	idx := tx.Bucket(siteChatsBucket)
	chats, err := list(&readTx{tx: tx}, chatsBucket, protoconv.ChatFromProto)
	if err != nil {
		return err
	}
	for _, c := range chats {
		if c.SiteID == "" || checkID("site id", c.SiteID) != nil {
			continue
		}
		if err := idx.Put(siteChatKey(c.SiteID, c.CreateTime, c.ID), []byte{}); err != nil {
			return fmt.Errorf("put %s: %w", siteChatsBucket, err)
		}
	}
	return nil
}
