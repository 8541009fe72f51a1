package domain

import (
	"crypto/sha256"
	"time"
)

// The Service keeps some state in memory rather than in the Store, because
// it changes too often or lives too briefly to write down: who is on the
// site, the pending deadlines, the authenticated tokens and the allowed
// origins. Each is a mechanism behind one of the small interfaces below,
// apart from the rules that use it, so that a deployment of several nodes
// can put in one that reaches every node (docs/store-contract.md). The
// interfaces are the methods the domain calls, nothing more; SingleNode's
// implementations hold everything in this process. Each interface has one
// test suite (mechanisms_test.go) that every implementation runs.

// timerScheduler runs the engine's deadlines, at most one per key
// ("invite/…", "alert/…"): arming a key again replaces its deadline. Every
// deadline is also stored with its record, so a scheduler may lose them
// all (a restart, a failover) and be armed again from the store
// (recover.go); and a callback runs at most once per arming, but must
// check its record, since a late or duplicate firing is harmless only so.
type timerScheduler interface {
	// at arms key to run f at t (at once if t has passed), replacing the
	// key's deadline. f runs in its own goroutine.
	at(key string, t time.Time, f func())
	// cancel disarms key; a callback already running goes on.
	cancel(key string)
	// retry arms key to run f again after storeRetryDelay when err says
	// the store could not write (CodeUnavailable), unless key was armed
	// again meanwhile. It reports whether err was such a failure.
	retry(key string, err error, f func()) bool
	// stop disarms every key for good: at does nothing afterwards.
	stop()
}

// presenceManager knows who is on each site now: a visitor is present
// while a widget stream of theirs is open and for a grace period after the
// last one closes (presence.go says how a mass disconnect lengthens it).
// Changes are added to the backlogs of the agents' presence streams that
// watch the visitor's site, in the order they happened.
type presenceManager interface {
	// opened counts a new widget stream of visitor (viewed: it came with
	// a page view, visitor.CurrentPage, and the page's referrer). It reports whether a new visit
	// began and when the visit started, and whether the visitor came back
	// after all their streams had closed. Past MaxStreamsPerVisitor it
	// counts nothing and fails with CodeResourceExhausted.
	opened(visitor *Visitor, viewed bool, referrer string) (newVisit bool, start time.Time, back bool, err error)
	// closed uncounts a widget stream; it reports whether it was the
	// visitor's last. The visitor departs when none opens within the grace.
	closed(visitorID string) (away bool)
	// departsAt is when a present visitor with no stream open departs.
	departsAt(visitorID string) (time.Time, bool)
	pageViewed(visitorID string, page PageView, referrer string)
	// activity adds what the widget saw the visitor do on pageURL (ignored
	// unless it is the current page) and reports whether a fact the
	// trigger rules read changed.
	activity(visitorID, pageURL string, a VisitorActivity, now time.Time) (changed bool)
	// client sets the device and language the widget reported.
	client(visitorID string, device DeviceClass, language string)
	// engagementChanged updates what agents see of the visitor's
	// engagement, active chat and identity.
	engagementChanged(visitor *Visitor)
	// get returns a visitor's presence, if present.
	get(visitorID string) (Presence, bool)
	online(visitorID string) bool
	// onSite lists the ids of a site's present visitors, in any order.
	onSite(siteID string) []string
	// snapshot lists who is on the sites, longest visit first (then by
	// id). With watch, every later change of those sites is added to
	// watch, none missed nor seen twice, until unwatch.
	snapshot(siteIDs []string, watch *presenceBacklog) []Presence
	unwatch(siteIDs []string, watch *presenceBacklog)
	// stop cancels the pending departures: the Service is closing.
	stop()
}

// credentialCache remembers the principals of authenticated tokens and the
// streams opened with them, so that a revocation or a change of rights
// reaches every open stream at once. Its generation counts revocations: a
// lookup that raced one must neither be cached nor bind a stream.
type credentialCache interface {
	// cached returns the principal remembered for a token's hash, and the
	// generation to pass to remember after reading the store.
	cached(hash [sha256.Size]byte) (Principal, bool, uint64)
	// remember caches p for hash unless a revocation happened since gen.
	remember(hash [sha256.Size]byte, p Principal, gen uint64)
	// forgetVisitor drops a visitor's token: they left the site.
	forgetVisitor(visitorID string)
	// forgetVisitors drops deleted visitors' tokens, as a revocation.
	forgetVisitors(visitorIDs []string)
	// bind registers an open stream; false when a revocation happened
	// since its principal was found valid.
	bind(b *binding) bool
	unbind(b *binding)
	// revoke forgets the principals that match and ends their streams
	// with an Unauthenticated cause.
	revoke(match func(Principal) bool)
	// rightsChanged marks the streams of the principals that match for a
	// new check of their scope (rights.go), before it returns.
	rightsChanged(match func(Principal) bool)
}

// originCache is the set of every site's allowed origins, for the
// cross-origin checks of every widget request. refreshOrigins replaces it
// from the stored sites after each change.
type originCache interface {
	replace(set map[string]bool)
	// allowed reports whether any site allows origin; false before the
	// first replace.
	allowed(origin string) bool
}

// The single-node implementations.
var (
	_ timerScheduler  = (*timers)(nil)
	_ presenceManager = (*presenceTracker)(nil)
	_ credentialCache = (*credentials)(nil)
	_ originCache     = (*origins)(nil)
)

// Mechanisms chooses the implementations of the Service's in-memory
// mechanisms (Config.Mechanisms). Its zero value is SingleNode's.
type Mechanisms struct {
	timers   func(Clock) timerScheduler
	presence func(*Service) presenceManager
	creds    func() credentialCache
	origins  func() originCache
}

// SingleNode keeps every mechanism in this process's memory, for a
// Service that is the only one serving its Store: the default.
func SingleNode() Mechanisms {
	return Mechanisms{
		timers:   func(c Clock) timerScheduler { return newTimers(c) },
		presence: func(s *Service) presenceManager { return newPresenceTracker(s) },
		creds:    func() credentialCache { return newCredentials() },
		origins:  func() originCache { return &origins{} },
	}
}

// orDefault fills the mechanisms m leaves out with SingleNode's.
func (m Mechanisms) orDefault() Mechanisms {
	d := SingleNode()
	if m.timers == nil {
		m.timers = d.timers
	}
	if m.presence == nil {
		m.presence = d.presence
	}
	if m.creds == nil {
		m.creds = d.creds
	}
	if m.origins == nil {
		m.origins = d.origins
	}
	return m
}
