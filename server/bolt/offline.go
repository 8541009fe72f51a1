package bolt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// recordOfflineMessage is the visitor records kind of an offline message.
const recordOfflineMessage = 'm'

func (r *readTx) OfflineMessage(id string) (*domain.OfflineMessage, error) {
	m, found, err := get(r, offlineMessagesBucket, id, protoconv.OfflineMessageFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "offline message %q not found", id)
	}
	return m, err
}

// SiteOfflineMessages reads the site's index, newest first.
func (r *readTx) SiteOfflineMessages(siteID string) ([]*domain.OfflineMessage, error) {
	if err := checkID("site id", siteID); err != nil {
		return nil, err
	}
	prefix := sitePrefix(siteID)
	var out []*domain.OfflineMessage
	c := r.tx.Bucket(siteOfflineMessagesBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		pos, ok := parseSiteChatKey(prefix, k)
		if !ok {
			return nil, fmt.Errorf("decode %s key %q: malformed", siteOfflineMessagesBucket, k)
		}
		m, err := r.OfflineMessage(pos.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (r *readTx) VisitorOfflineMessages(visitorID string) ([]*domain.OfflineMessage, error) {
	recs, err := r.visitorRecords(visitorID)
	if err != nil {
		return nil, err
	}
	var out []*domain.OfflineMessage
	for _, id := range recs[recordOfflineMessage] {
		m, err := r.OfflineMessage(string(id))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (w *writeTx) PutOfflineMessage(m *domain.OfflineMessage) error {
	if m == nil {
		return errors.New("put offline message: nil")
	}
	if err := requireID("offline message id", m.ID); err != nil {
		return err
	}
	if err := requireID("site id", m.SiteID); err != nil {
		return err
	}
	if err := w.put(offlineMessagesBucket, []byte(m.ID), protoconv.OfflineMessageToProto(m)); err != nil {
		return err
	}
	if err := w.putMarker(siteOfflineMessagesBucket, siteChatKey(m.SiteID, m.CreateTime, m.ID)); err != nil {
		return err
	}
	return w.indexVisitorRecord(m.VisitorID, recordOfflineMessage, m.ID)
}

// deleteOfflineMessages deletes messages and their site index entries, not
// their visitor records entries: EraseVisitor drops those all at once.
func (w *writeTx) deleteOfflineMessages(ids [][]byte) error {
	for _, id := range ids {
		m, found, err := get(&w.readTx, offlineMessagesBucket, string(id), protoconv.OfflineMessageFromProto)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if checkID("site id", m.SiteID) == nil {
			if err := w.delete(siteOfflineMessagesBucket, siteChatKey(m.SiteID, m.CreateTime, m.ID)); err != nil {
				return err
			}
		}
		if err := w.delete(offlineMessagesBucket, id); err != nil {
			return err
		}
	}
	return nil
}
