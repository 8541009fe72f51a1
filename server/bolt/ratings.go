package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Rating counters: one key per site and UTC day, and one per agent, site
// and UTC day, each holding how many ratings of each score (1 to 5) were
// given that day, as five big-endian uint32. RateChat adds to them in the
// transaction that stores the rating, so a summary reads a few keys per
// day and never the chats.
//
// Keys: 's' site 0x00 day, and 'a' agent 0x00 site 0x00 day, the day
// being the big-endian uint32 count of days since 1970-01-01 UTC, so a
// site's (or an agent's on a site) days form a range in order.

const ratingValueLen = 5 * 4

// ratingDay is t's UTC day number; times before 1970 count as day 0.
func ratingDay(t time.Time) uint32 {
	if t.Unix() < 0 {
		return 0
	}
	return uint32(t.Unix() / 86400)
}

func siteRatingPrefix(siteID string) []byte {
	k := append([]byte{'s'}, siteID...)
	return append(k, 0)
}

func agentRatingPrefix(agentID string) []byte {
	k := append([]byte{'a'}, agentID...)
	return append(k, 0)
}

func agentSiteRatingPrefix(agentID, siteID string) []byte {
	k := append(agentRatingPrefix(agentID), siteID...)
	return append(k, 0)
}

func (w *writeTx) CountRating(siteID, agentID string, t time.Time, score uint32) error {
	if score < 1 || score > 5 {
		return fmt.Errorf("count rating: score %d", score)
	}
	if err := requireID("site id", siteID); err != nil {
		return err
	}
	if err := checkID("agent id", agentID); err != nil {
		return err
	}
	day := ratingDay(t)
	keys := [][]byte{binary.BigEndian.AppendUint32(siteRatingPrefix(siteID), day)}
	if agentID != "" {
		keys = append(keys, binary.BigEndian.AppendUint32(agentSiteRatingPrefix(agentID, siteID), day))
	}
	b := w.tx.Bucket(ratingCountsBucket)
	for _, k := range keys {
		v := make([]byte, ratingValueLen)
		if old := b.Get(k); len(old) == ratingValueLen {
			copy(v, old)
		}
		i := (score - 1) * 4
		binary.BigEndian.PutUint32(v[i:], binary.BigEndian.Uint32(v[i:])+1)
		if err := w.putRaw(ratingCountsBucket, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (r *readTx) RatingCounts(siteID, agentID string, from, to time.Time) (domain.RatingCounts, error) {
	var out domain.RatingCounts
	if err := checkID("site id", siteID); err != nil {
		return out, err
	}
	if err := checkID("agent id", agentID); err != nil {
		return out, err
	}
	var prefix []byte
	switch {
	case agentID == "" && siteID == "":
		return out, fmt.Errorf("rating counts: a site or an agent is required")
	case agentID == "":
		prefix = siteRatingPrefix(siteID)
	case siteID == "":
		prefix = agentRatingPrefix(agentID)
	default:
		prefix = agentSiteRatingPrefix(agentID, siteID)
	}
	first, last := ratingDay(from), ratingDay(to)
	c := r.tx.Bucket(ratingCountsBucket).Cursor()
	seek := prefix
	if siteID != "" {
		// One range of days.
		seek = binary.BigEndian.AppendUint32(bytes.Clone(prefix), first)
	}
	for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) < len(prefix)+4 || len(v) != ratingValueLen {
			return out, fmt.Errorf("decode %s %q: malformed", ratingCountsBucket, k)
		}
		day := binary.BigEndian.Uint32(k[len(k)-4:])
		if day > last && siteID != "" {
			break
		}
		if day < first || day > last {
			continue
		}
		for i := range out {
			out[i] += binary.BigEndian.Uint32(v[i*4:])
		}
	}
	return out, nil
}
