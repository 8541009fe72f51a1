package bolt_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/storetest"
)

// TestStoreConformance_Replicated runs the Store contract's suite over a
// store that captures its write sets and applies them to a mirror: the
// store still keeps the whole contract, and after each test the mirror
// holds exactly what the store holds, whatever the test wrote and rolled
// back.
func TestStoreConformance_Replicated(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store {
		src, dst, _ := mirrored(t)
		t.Cleanup(func() {
			if _, err := src.Digest(); err != nil {
				return // the test closed the store, as the suite may
			}
			sameContent(t, src, dst)
		})
		return src
	})
}
