package bolt

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// splitRoot leaves s's root split the way a new file's first chat leaves
// it: some buckets grow in the root until it outgrows its page, then grow
// out of it. It fails the test unless the root ends up split.
func splitRoot(t *testing.T, db *bbolt.DB) {
	t.Helper()
	value := bytes.Repeat([]byte{'v'}, 700) // under a quarter page: written in the root
	grow := func(keys int) {
		err := db.Update(func(tx *bbolt.Tx) error {
			for _, name := range allBuckets[:8] {
				// A sequence too, which the bucket's entry in the root holds.
				if _, err := tx.Bucket(name).NextSequence(); err != nil {
					return err
				}
				for k := range keys {
					if err := tx.Bucket(name).Put(fmt.Appendf(nil, "~split %d", k), value); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	grow(1) // 8 buckets of 700 bytes in the root: split
	grow(4) // each on pages of its own: the root is small again
	if err := db.View(func(tx *bbolt.Tx) error {
		if !rootSplit(tx) {
			return fmt.Errorf("the root is one page after the growth, want it split")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// dumpAll is every bucket's keys, values and sequence.
func dumpAll(t *testing.T, db *bbolt.DB) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			m := map[string]string{"sequence": fmt.Sprint(b.Sequence())}
			err := b.ForEach(func(k, v []byte) error {
				m["key "+string(k)] = string(v)
				return nil
			})
			out[string(name)] = m
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isRootSplit(t *testing.T, db *bbolt.DB) bool {
	t.Helper()
	var split bool
	if err := db.View(func(tx *bbolt.Tx) error {
		split = rootSplit(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return split
}

// TestRootRepackedAtOpen: a file whose root an earlier run left split opens
// with its root in one page and every bucket's content unchanged.
func TestRootRepackedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx domain.WriteTx) error {
		return tx.PutSite(&domain.Site{ID: "site_1", Name: "Shop"})
	}); err != nil {
		t.Fatal(err)
	}
	splitRoot(t, s.db)
	before := dumpAll(t, s.db)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if isRootSplit(t, s.db) {
		t.Error("the root is still split after Open")
	}
	if after := dumpAll(t, s.db); !reflect.DeepEqual(after, before) {
		t.Errorf("the repack changed the buckets:\nbefore %v\nafter  %v", before, after)
	}
}

// TestRootRepackedByWriter: the writer puts a root split while the store is
// open back in one page within rootRepackInterval commits, and the
// transaction that repacks it commits its batch's writes too.
func TestRootRepackedByWriter(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	splitRoot(t, s.db) // the writer is idle: no Update is running
	for i := range rootRepackInterval {
		site := &domain.Site{ID: fmt.Sprintf("site_%d", i), Name: "Shop"}
		if err := s.Update(context.Background(), func(tx domain.WriteTx) error { return tx.PutSite(site) }); err != nil {
			t.Fatal(err)
		}
	}
	if isRootSplit(t, s.db) {
		t.Fatalf("the root is still split after %d commits", rootRepackInterval)
	}
	dump := dumpAll(t, s.db)
	sites := 0
	for k := range dump[string(sitesBucket)] {
		if k != "sequence" {
			sites++
		}
	}
	if sites != rootRepackInterval {
		t.Errorf("%d sites stored, want %d", sites, rootRepackInterval)
	}
	for _, name := range allBuckets[:8] {
		for k := range 4 {
			if got := dump[string(name)][fmt.Sprintf("key ~split %d", k)]; len(got) != 700 {
				t.Errorf("bucket %s key %d: %d bytes after the repack, want 700", name, k, len(got))
			}
		}
	}
	if _, ok := dump[string(rootRepackBucket)]; ok {
		t.Errorf("bucket %s left in the file", rootRepackBucket)
	}
}

// TestRootTooBigStaysSplit: when the root's entries do not fit in a page
// the repack leaves it split, changes nothing, and backs off.
func TestRootTooBigStaysSplit(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte{'v'}, 700) // in the root: 8 of them do not fit in one page
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets[:8] {
			if err := tx.Bucket(name).Put([]byte("~big"), value); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := dumpAll(t, s.db)
	if !isRootSplit(t, s.db) {
		t.Fatal("the root fits in a page, want it split")
	}
	var p rootPacker
	for range 3 * rootRepackInterval {
		if err := s.db.Update(p.prepare); err != nil {
			t.Fatal(err)
		}
	}
	if !isRootSplit(t, s.db) {
		t.Error("the root fits in a page after the repacks")
	}
	if p.interval <= rootRepackInterval {
		t.Errorf("repacks %d commits apart after failing, want more than %d", p.interval, rootRepackInterval)
	}
	if after := dumpAll(t, s.db); !reflect.DeepEqual(after, before) {
		t.Errorf("the repacks changed the buckets:\nbefore %v\nafter  %v", before, after)
	}
}
