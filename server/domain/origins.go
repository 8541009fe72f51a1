package domain

import (
	"context"
	"slices"
	"sync/atomic"
)

// origins is the single-node originCache: the set in this process's
// memory, replaced whole so that readers never lock.
type origins struct {
	set atomic.Pointer[map[string]bool]
}

func (o *origins) replace(set map[string]bool) { o.set.Store(&set) }

func (o *origins) allowed(origin string) bool {
	set := o.set.Load()
	return set != nil && (*set)[origin]
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
	s.origins.replace(set)
	return nil
}

// CheckWidgetOrigin refuses a visitor session started by a browser page
// whose origin the site does not list in its allowed origins. origin is
// empty for callers that are not cross-origin browser pages.
func (s *Service) CheckWidgetOrigin(ctx context.Context, siteID, origin string) error {
	if origin == "" {
		return nil
	}
	site, err := s.GetSite(ctx, siteID)
	if err != nil {
		return err
	}
	if slices.Contains(site.AllowedOrigins, origin) {
		return nil
	}
	return Errorf(CodePermissionDenied, "origin %q may not embed the widget of site %q: add it to the site's allowed_origins", origin, siteID)
}

// OriginAllowed reports whether a browser page from origin (scheme://host[:port])
// may call the widget's API: whether any site lists it.
func (s *Service) OriginAllowed(origin string) bool {
	return s.origins.allowed(origin)
}
