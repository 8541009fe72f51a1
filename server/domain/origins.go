package domain

import (
	"context"
	"sync/atomic"
)

// origins is the set of every site's allowed origins, kept in memory for the
// cross-origin checks that run on every widget request.
type origins struct {
	set atomic.Pointer[map[string]bool]
}

// refreshOrigins rebuilds the set from the stored sites.
func (s *Service) refreshOrigins(ctx context.Context) error {
	var sites []*Site
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		sites, err = tx.Sites()
		return err
	})
	if err != nil {
		return err
	}
	set := map[string]bool{}
	for _, site := range sites {
		for _, o := range site.AllowedOrigins {
			set[o] = true
		}
	}
	s.origins.set.Store(&set)
	return nil
}

// OriginAllowed reports whether a browser page from origin (scheme://host[:port])
// may call the widget's API: whether any site lists it.
func (s *Service) OriginAllowed(origin string) bool {
	set := s.origins.set.Load()
	return set != nil && (*set)[origin]
}
