package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Funnel counters (domain/funnel.go): one key per site and UTC hour, 's'
// site 0x00 hour, the hour being the big-endian uint32 count of hours
// since 1970-01-01 UTC, so a site's hours form a range in order. The value
// is the counters by slot, big-endian uint32 each; a value shorter than a
// slot (written before the slot existed) counts zero there.

// funnelHour is t's UTC hour number; times before 1970 count as hour 0.
func funnelHour(t time.Time) uint32 {
	if t.Unix() < 0 {
		return 0
	}
	return uint32(t.Unix() / 3600)
}

func funnelPrefix(siteID string) []byte {
	k := append([]byte{'s'}, siteID...)
	return append(k, 0)
}

func (w *writeTx) AddFunnel(siteID string, t time.Time, slots []int) error {
	if err := requireID("site id", siteID); err != nil {
		return err
	}
	return addFunnel(w.tx, siteID, t, slots, func(k, v []byte) error { return w.putRaw(funnelBucket, k, v) })
}

func addFunnel(tx *bbolt.Tx, siteID string, t time.Time, slots []int, put func(k, v []byte) error) error {
	if len(slots) == 0 {
		return nil
	}
	k := binary.BigEndian.AppendUint32(funnelPrefix(siteID), funnelHour(t))
	old := tx.Bucket(funnelBucket).Get(k)
	n := len(old) / 4
	for _, s := range slots {
		if s < 0 || s > 1<<12 {
			return fmt.Errorf("add funnel: slot %d", s)
		}
		n = max(n, s+1)
	}
	v := make([]byte, n*4)
	copy(v, old)
	for _, s := range slots {
		binary.BigEndian.PutUint32(v[s*4:], binary.BigEndian.Uint32(v[s*4:])+1)
	}
	return put(k, v)
}

func (r *readTx) FunnelCounters(siteID string, from, to time.Time) (domain.FunnelCounters, error) {
	if err := requireID("site id", siteID); err != nil {
		return nil, err
	}
	var out domain.FunnelCounters
	prefix := funnelPrefix(siteID)
	first := funnelHour(from)
	c := r.tx.Bucket(funnelBucket).Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint32(bytes.Clone(prefix), first)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+4 || len(v)%4 != 0 {
			return nil, fmt.Errorf("decode %s %q: malformed", funnelBucket, k)
		}
		hour := binary.BigEndian.Uint32(k[len(prefix):])
		if !time.Unix(int64(hour)*3600, 0).Before(to) {
			break
		}
		for i := 0; i < len(v)/4; i++ {
			if i >= len(out) {
				out = append(out, make(domain.FunnelCounters, i+1-len(out))...)
			}
			out[i] += uint64(binary.BigEndian.Uint32(v[i*4:]))
		}
	}
	return out, nil
}

// backfillFunnel builds the funnel counters from the events in the log,
// once, when the funnel bucket is new: the log is all the history there
// is (retention deleted older events).
func backfillFunnel(tx *bbolt.Tx) error {
	var replay domain.FunnelReplay
	b := tx.Bucket(funnelBucket)
	put := func(k, v []byte) error { return b.Put(k, v) }
	r := &readTx{tx: tx}
	return tx.Bucket(eventsBucket).ForEach(func(k, v []byte) error {
		ev, err := r.logEvent(k, v)
		if err != nil {
			return err
		}
		if slots := replay.Slots(ev); len(slots) > 0 {
			return addFunnel(tx, ev.SiteID, ev.Time, slots, put)
		}
		return nil
	})
}
