package bolt

import (
	"context"

	"github.com/proactivechat/proactivechat/server/domain"
)

// ChangeBuckets creates and deletes top-level buckets in one Update, as a
// write path would, so tests can see bucket ops captured.
func ChangeBuckets(ctx context.Context, s *Store, create, del [][]byte) error {
	return s.Update(ctx, func(t domain.WriteTx) error {
		w := t.(*writeTx)
		for _, name := range create {
			if err := w.createBucket(name); err != nil {
				return err
			}
		}
		for _, name := range del {
			if err := w.deleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}
