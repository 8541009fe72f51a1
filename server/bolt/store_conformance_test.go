package bolt_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/storetest"
)

// TestStoreConformance runs the domain.Store conformance suite against the
// bbolt store.
func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store { return MustOpen(t) })
}
