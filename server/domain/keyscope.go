package domain

import (
	"context"
	"slices"
)

// Keys scoped to sites. An admin API key may be limited to some sites
// (APIKey.SiteIDs), for an integrator who runs one brand of several, or an
// agency serving one customer. Such a key is an admin of its sites only:
//
//   - it reads what admins read of its sites (settings, visitors, queue,
//     chats and transcripts, live chats, the funnel, offline messages) and
//     changes their settings, canned replies and identity secret, through
//     the per-site rules (siteRule) every other check goes through too;
//   - it sees only its sites' events (ListEvents, WatchEvents: the filter
//     is applied on the server, the positions stay the log's, so a cursor
//     means the same whatever the key; events of no site, such as
//     agent.status_changed, are not its sites');
//   - it manages only the webhooks whose site filter is one of its sites,
//     and a webhook it creates or updates must have one;
//   - it creates, changes and reads no sites, agents or keys, and exports
//     or erases only its sites' visitors: agents and keys span sites, and a
//     new site would be outside its scope.
//
// Anything outside the scope is PermissionDenied, also for records named
// by id (a chat, a visitor, a webhook, an event): their ids are random, so
// telling that one exists reveals nothing a caller could use, and one rule
// is easier to reason about than two. A record that does not exist at all
// is NotFound, as for every key. An unscoped key is an admin of every site,
// as before scopes.

// MaxKeySites bounds the sites a key is scoped to.
const MaxKeySites = 100

// checkKeySites validates the sites a key is scoped to.
func checkKeySites(v *Violations, siteIDs []string) {
	if len(siteIDs) > MaxKeySites {
		v.Add("site_ids", "names %d sites; the limit is %d", len(siteIDs), MaxKeySites)
		return
	}
	for i, id := range siteIDs {
		switch {
		case id == "":
			v.Add("site_ids", "entry %d is empty", i)
			return
		case slices.Contains(siteIDs[:i], id):
			v.Add("site_ids", "names site %q twice", id)
			return
		}
	}
}

// Scoped reports whether p is an admin API key limited to some sites.
func (p Principal) Scoped() bool { return p.Kind == AdminPrincipal && len(p.SiteIDs) > 0 }

// InScope reports whether p's key scope, if any, covers siteID: always
// for principals other than scoped keys.
func (p Principal) InScope(siteID string) bool {
	return !p.Scoped() || slices.Contains(p.SiteIDs, siteID)
}

// checkScope is the one rule of a key's scope: nil when p's key may act on
// siteID, PermissionDenied otherwise ("" is no site: outside every scope).
func (p Principal) checkScope(siteID string) error {
	if p.InScope(siteID) {
		return nil
	}
	if siteID == "" {
		return Errorf(CodePermissionDenied, "API key %q is scoped to sites %q: name one of them (site_id)", p.ID, p.SiteIDs)
	}
	return Errorf(CodePermissionDenied, "API key %q is scoped to sites %q, not %q", p.ID, p.SiteIDs, siteID)
}

// CheckUnscoped lets only keys of every site make calls that span sites:
// creating or changing sites, agents and keys.
func (p Principal) CheckUnscoped(what string) error {
	if p.Scoped() {
		return Errorf(CodePermissionDenied, "API key %q is scoped to sites %q; only a key of every site may %s", p.ID, p.SiteIDs, what)
	}
	return nil
}

// CanAdministerSite reports whether p may change a site's settings,
// canned replies and identity secret: admins whose key covers the site.
// Agents never may.
func (s *Service) CanAdministerSite(ctx context.Context, p Principal, siteID string) error {
	return s.siteRule(ctx, p, siteID, "administer", "administer", nil)
}

// CanAdministerVisitor reports whether p may export or erase a visitor:
// admins whose key covers the visitor's site. A visitor that does not
// exist is NotFound (for unscoped keys the call itself says so).
func (s *Service) CanAdministerVisitor(ctx context.Context, p Principal, visitorID string) error {
	if p.Kind != AdminPrincipal || !p.Scoped() {
		return needAdmin(p, "administer visitors")
	}
	if visitorID == "" {
		return invalid("visitor_id", "is required")
	}
	v, err := s.getVisitor(ctx, visitorID)
	if err != nil {
		return err
	}
	return p.checkScope(v.SiteID)
}

// needAdmin refuses p unless it is an admin key, as not allowed to verb.
func needAdmin(p Principal, verb string) error {
	if p.Kind != AdminPrincipal {
		return Errorf(CodePermissionDenied, "a %s may not %s", p.Kind, verb)
	}
	return nil
}

// CanManageWebhook reports whether p may see and change webhook id:
// admins, and for a scoped key only an endpoint whose site filter is one
// of its sites (an endpoint of every site would deliver other sites'
// events).
func (s *Service) CanManageWebhook(ctx context.Context, p Principal, id string) error {
	if p.Kind != AdminPrincipal || !p.Scoped() {
		return needAdmin(p, "manage webhooks")
	}
	w, err := s.GetWebhook(ctx, id)
	if err != nil {
		return err
	}
	return p.checkScope(w.SiteID)
}

// CanReadEvent reports whether p may have event eventID of the log
// (RedeliverWebhookEvent sends it whatever the endpoint's filter): admins,
// a scoped key only its sites' events.
func (s *Service) CanReadEvent(ctx context.Context, p Principal, eventID string) error {
	if p.Kind != AdminPrincipal || !p.Scoped() {
		return needAdmin(p, "read events")
	}
	ev, err := s.EventByID(ctx, eventID)
	if err != nil {
		return err
	}
	return p.checkScope(ev.SiteID)
}

// ScopeEvents narrows f to the events p may read: a scoped key's sites
// (naming another is PermissionDenied); f as it is for everyone else.
func (p Principal) ScopeEvents(f EventFilter) (EventFilter, error) {
	if !p.Scoped() {
		return f, nil
	}
	if f.SiteID != "" {
		return f, p.checkScope(f.SiteID)
	}
	f.SiteIDs = p.SiteIDs
	return f, nil
}
