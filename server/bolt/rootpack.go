package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// The root bucket (bbolt's, holding the store's buckets) has an entry per
// bucket, and a bucket smaller than a quarter of a page is written whole
// into that entry. While a new file's buckets are small, a chat's first
// messages (its events, the log's, the chat) grow several of them at once,
// the root outgrows its page and bbolt splits it into a branch and leaves.
// Once they are larger than a quarter page they move to pages of their own
// and the root shrinks again, but bbolt merges a page back into its sibling
// only when a key was deleted from it, which never happens in the root.
// From then on every commit writes the root's branch page and the leaf that
// holds the written buckets' entries, where an unsplit root is one page:
// pages written and fsynced with every message.
//
// So the writer keeps the root to one page when its entries fit: the root's
// FillPercent is 1 (a full page before a split, and pages under half full
// merge), and when the root is split, a transaction moves every bucket out
// and back before its batch runs, which marks each of the root's leaves as
// changed by a deletion so that bbolt merges them at commit. Moving a
// bucket moves its entry only: its own pages stay as they are.

// rootRepackBucket holds the store's buckets during a repack, inside one
// transaction: a committed file never has it.
var rootRepackBucket = []byte("~root repack")

// Repacks are tried this many commits apart at first, and twice as many
// apart after each one that left the root split (its entries do not fit in
// a page), up to rootRepackMaxInterval.
const (
	rootRepackInterval    = 64
	rootRepackMaxInterval = 1 << 16
)

// rootPacker is the writer's schedule of root repacks.
type rootPacker struct {
	commits  int // since the last check
	interval int // commits between checks
	tried    bool
}

// prepare sets up the root of the writer's transaction tx and, when a
// check is due and the root is split, repacks it. The caller runs it before
// anything else in tx: moving a bucket that the transaction has already
// changed would lose the changes.
func (p *rootPacker) prepare(tx *bbolt.Tx) error {
	tx.Cursor().Bucket().FillPercent = 1.0
	if p.interval == 0 {
		p.interval = rootRepackInterval
	}
	p.commits++
	if p.commits < p.interval {
		return nil
	}
	p.commits = 0
	if !rootSplit(tx) {
		p.interval, p.tried = rootRepackInterval, false
		return nil
	}
	if p.tried { // the last repack left it split
		p.interval = min(2*p.interval, rootRepackMaxInterval)
	}
	p.tried = true
	return repackRoot(tx)
}

// rootSplit reports whether tx's root bucket spans more than one page.
func rootSplit(tx *bbolt.Tx) bool {
	info, err := tx.Page(int(tx.Cursor().Bucket().Root()))
	return err == nil && info != nil && info.Type == "branch"
}

// repackRoot moves every bucket of the root into rootRepackBucket and back,
// so that tx's commit merges the root's leaves (see above). tx must not
// have opened any bucket yet.
func repackRoot(tx *bbolt.Tx) error {
	root := tx.Cursor().Bucket()
	root.FillPercent = 1.0
	var names [][]byte // every key of the root is a bucket's name
	c := root.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		names = append(names, append([]byte(nil), k...))
	}
	hold, err := tx.CreateBucket(rootRepackBucket)
	if err != nil {
		return fmt.Errorf("repack root: %w", err)
	}
	for _, name := range names {
		if err := root.MoveBucket(name, hold); err != nil {
			return fmt.Errorf("repack root: move %s out: %w", name, err)
		}
	}
	for _, name := range names {
		if err := hold.MoveBucket(name, root); err != nil {
			return fmt.Errorf("repack root: move %s back: %w", name, err)
		}
	}
	if err := tx.DeleteBucket(rootRepackBucket); err != nil {
		return fmt.Errorf("repack root: %w", err)
	}
	return nil
}
