package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// maxWebhookDeliveries is how many deliveries of each endpoint are kept.
const maxWebhookDeliveries = 500

func webhookDeliveryPrefix(id string) []byte {
	return append([]byte(id), 0)
}

func (r *readTx) Webhook(id string) (*domain.Webhook, error) {
	if err := requireID("webhook id", id); err != nil {
		return nil, err
	}
	v := r.tx.Bucket(webhooksBucket).Get([]byte(id))
	if v == nil {
		return nil, domain.Errorf(domain.CodeNotFound, "webhook %q not found", id)
	}
	var w domain.Webhook
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, fmt.Errorf("decode webhook %q: %w", id, err)
	}
	return &w, nil
}

func (r *readTx) Webhooks() ([]*domain.Webhook, error) {
	var out []*domain.Webhook
	err := r.tx.Bucket(webhooksBucket).ForEach(func(k, v []byte) error {
		var w domain.Webhook
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("decode webhook %q: %w", k, err)
		}
		out = append(out, &w)
		return nil
	})
	return out, err
}

func (r *readTx) WebhookDeliveries(webhookID string, limit int) ([]*domain.WebhookDelivery, error) {
	prefix := webhookDeliveryPrefix(webhookID)
	c := r.tx.Bucket(webhookDeliveriesBucket).Cursor()
	// Seek past the prefix's last key: the prefix with 0xff….
	k, _ := c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	var v []byte
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var out []*domain.WebhookDelivery
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
		var d domain.WebhookDelivery
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("decode webhook delivery %q: %w", k, err)
		}
		out = append(out, &d)
	}
	return out, nil
}

func (w *writeTx) PutWebhook(wh *domain.Webhook) error {
	if err := requireID("webhook id", wh.ID); err != nil {
		return err
	}
	v, err := json.Marshal(wh)
	if err != nil {
		return fmt.Errorf("encode webhook %q: %w", wh.ID, err)
	}
	return w.putRaw(webhooksBucket, []byte(wh.ID), v)
}

func (w *writeTx) DeleteWebhook(id string) error {
	if err := requireID("webhook id", id); err != nil {
		return err
	}
	w.wrote = true
	if err := w.bucket(webhooksBucket).Delete([]byte(id)); err != nil {
		return err
	}
	prefix := webhookDeliveryPrefix(id)
	c := w.bucket(webhookDeliveriesBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) AppendWebhookDelivery(d *domain.WebhookDelivery) error {
	if err := requireID("webhook id", d.WebhookID); err != nil {
		return err
	}
	b := w.bucket(webhookDeliveriesBucket)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode webhook delivery: %w", err)
	}
	prefix := webhookDeliveryPrefix(d.WebhookID)
	if err := w.putRaw(webhookDeliveriesBucket, binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq), v); err != nil {
		return err
	}
	// Keep the latest maxWebhookDeliveries: count from the newest down,
	// delete the rest (at most a few per call).
	c := b.Cursor()
	n := 0
	k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq))
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		n++
		if n > maxWebhookDeliveries {
			return c.Delete() // one more each time: one too many at most
		}
	}
	return nil
}
