package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// Trigger rule funnel counters (domain/rulefunnel.go): one key per site,
// UTC hour, rule and variant: site 0x00 hour rule 0x00 variant, the hour
// a big-endian uint32 as in funnel.go, so a site's hours form a range in
// order and a query reads only the hours it sums. The value is the
// counters by slot, big-endian uint32 each.

func ruleFunnelPrefix(siteID string) []byte {
	return append([]byte(siteID), 0)
}

func (w *writeTx) AddRuleFunnel(siteID, ruleID, variantID string, t time.Time, slots []int) error {
	for what, id := range map[string]string{"site id": siteID, "rule id": ruleID} {
		if err := requireID(what, id); err != nil {
			return err
		}
	}
	if err := checkID("variant id", variantID); err != nil {
		return err
	}
	if len(slots) == 0 {
		return nil
	}
	k := binary.BigEndian.AppendUint32(ruleFunnelPrefix(siteID), funnelHour(t))
	k = append(append(append(k, ruleID...), 0), variantID...)
	old := w.tx.Bucket(ruleFunnelBucket).Get(k)
	n := len(old) / 4
	for _, s := range slots {
		if s < 0 || s > 1<<8 {
			return fmt.Errorf("add rule funnel: slot %d", s)
		}
		n = max(n, s+1)
	}
	v := make([]byte, n*4)
	copy(v, old)
	for _, s := range slots {
		binary.BigEndian.PutUint32(v[s*4:], binary.BigEndian.Uint32(v[s*4:])+1)
	}
	return w.putRaw(ruleFunnelBucket, k, v)
}

func (r *readTx) RuleFunnelCounters(siteID string, from, to time.Time) (map[domain.RuleVariant]domain.FunnelCounters, error) {
	if err := requireID("site id", siteID); err != nil {
		return nil, err
	}
	out := map[domain.RuleVariant]domain.FunnelCounters{}
	prefix := ruleFunnelPrefix(siteID)
	c := r.tx.Bucket(ruleFunnelBucket).Cursor()
	for k, v := c.Seek(binary.BigEndian.AppendUint32(bytes.Clone(prefix), funnelHour(from))); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		rest := k[len(prefix):]
		sep := bytes.IndexByte(rest[min(4, len(rest)):], 0)
		if len(rest) < 5 || sep < 0 || len(v)%4 != 0 {
			return nil, fmt.Errorf("decode %s %q: malformed", ruleFunnelBucket, k)
		}
		hour := binary.BigEndian.Uint32(rest)
		if !time.Unix(int64(hour)*3600, 0).Before(to) {
			break
		}
		id := domain.RuleVariant{RuleID: string(rest[4 : 4+sep]), VariantID: string(rest[4+sep+1:])}
		counts := out[id]
		for i := 0; i < len(v)/4; i++ {
			if i >= len(counts) {
				counts = append(counts, make(domain.FunnelCounters, i+1-len(counts))...)
			}
			counts[i] += uint64(binary.BigEndian.Uint32(v[i*4:]))
		}
		out[id] = counts
	}
	return out, nil
}

// migrateLegacyRules gives each site stored before trigger rules its
// launching criterion as its first rule (domain.MigrateLegacyRules).
func migrateLegacyRules(tx *bbolt.Tx) error {
	b := tx.Bucket(sitesBucket)
	type change struct {
		k []byte
		v []byte
	}
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		site, err := decode(v, protoconv.SiteFromProto)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", sitesBucket, k, err)
		}
		if !domain.MigrateLegacyRules(site) {
			return nil
		}
		nv, err := proto.Marshal(protoconv.SiteToProto(site))
		if err != nil {
			return fmt.Errorf("encode site %q: %w", k, err)
		}
		changes = append(changes, change{bytes.Clone(k), nv})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := b.Put(c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}
