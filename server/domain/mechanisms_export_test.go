package domain

import (
	"context"
	"crypto/sha256"
	"time"
)

// MechanismSets names every implementation of the Service's mechanisms:
// the shared suites (mechanisms_test.go) run each of them. A new
// implementation (one that reaches every node) is added here.
func MechanismSets() map[string]Mechanisms {
	return map[string]Mechanisms{"SingleNode": SingleNode()}
}

// StoreRetryDelay exports storeRetryDelay to the tests.
const StoreRetryDelay = storeRetryDelay

// TimerScheduler exposes a timerScheduler to the suite.
type TimerScheduler struct{ ts timerScheduler }

// NewTimerScheduler makes m's timer scheduler on clock.
func NewTimerScheduler(m Mechanisms, clock Clock) TimerScheduler {
	return TimerScheduler{m.orDefault().timers(clock)}
}

// At is timerScheduler.at.
func (x TimerScheduler) At(key string, t time.Time, f func()) { x.ts.at(key, t, f) }

// Cancel is timerScheduler.cancel.
func (x TimerScheduler) Cancel(key string) { x.ts.cancel(key) }

// Retry is timerScheduler.retry.
func (x TimerScheduler) Retry(key string, err error, f func()) bool { return x.ts.retry(key, err, f) }

// Stop is timerScheduler.stop.
func (x TimerScheduler) Stop() { x.ts.stop() }

// PresenceManager exposes a Service's presenceManager to the suite.
type PresenceManager struct{ p presenceManager }

// Presence returns the Service's presence manager.
func (s *Service) Presence() PresenceManager { return PresenceManager{s.presence} }

// Opened is presenceManager.opened.
func (x PresenceManager) Opened(v *Visitor, viewed bool) (bool, time.Time, bool, error) {
	return x.p.opened(v, viewed, "")
}

// Closed is presenceManager.closed.
func (x PresenceManager) Closed(visitorID string) bool { return x.p.closed(visitorID) }

// DepartsAt is presenceManager.departsAt.
func (x PresenceManager) DepartsAt(visitorID string) (time.Time, bool) {
	return x.p.departsAt(visitorID)
}

// PageViewed is presenceManager.pageViewed.
func (x PresenceManager) PageViewed(visitorID string, page PageView) {
	x.p.pageViewed(visitorID, page, "")
}

// EngagementChanged is presenceManager.engagementChanged.
func (x PresenceManager) EngagementChanged(v *Visitor) { x.p.engagementChanged(v) }

// Get is presenceManager.get.
func (x PresenceManager) Get(visitorID string) (Presence, bool) { return x.p.get(visitorID) }

// Online is presenceManager.online.
func (x PresenceManager) Online(visitorID string) bool { return x.p.online(visitorID) }

// OnSite is presenceManager.onSite.
func (x PresenceManager) OnSite(siteID string) []string { return x.p.onSite(siteID) }

// Snapshot is presenceManager.snapshot without a watch.
func (x PresenceManager) Snapshot(siteIDs []string) []Presence { return x.p.snapshot(siteIDs, nil) }

// Unwatch is presenceManager.unwatch.
func (x PresenceManager) Unwatch(siteIDs []string, w *PresenceWatch) { x.p.unwatch(siteIDs, w.b) }

// Stop is presenceManager.stop.
func (x PresenceManager) Stop() { x.p.stop() }

// PresenceWatch is a presence backlog, as an agent's stream holds.
type PresenceWatch struct{ b *presenceBacklog }

// Watch takes a snapshot of the sites and starts adding their changes to
// the returned watch.
func (x PresenceManager) Watch(siteIDs []string) ([]Presence, *PresenceWatch) {
	w := &PresenceWatch{newPresenceBacklog()}
	return x.p.snapshot(siteIDs, w.b), w
}

// Take returns the changes held, merged as a lagging stream gets them.
func (w *PresenceWatch) Take() []*PresenceEvent {
	select {
	case <-w.b.ready:
	default:
	}
	evs, _ := w.b.take()
	return evs
}

// CredentialCache exposes a credentialCache to the suite.
type CredentialCache struct{ c credentialCache }

// NewCredentialCache makes m's credential cache.
func NewCredentialCache(m Mechanisms) CredentialCache { return CredentialCache{m.orDefault().creds()} }

// TokenPrincipal is p as found valid for the token hashing to hash.
func TokenPrincipal(p Principal, hash [sha256.Size]byte) Principal {
	p.tokenHash = hash
	return p
}

// Cached is credentialCache.cached.
func (x CredentialCache) Cached(hash [sha256.Size]byte) (Principal, bool, uint64) {
	return x.c.cached(hash)
}

// Remember is credentialCache.remember.
func (x CredentialCache) Remember(hash [sha256.Size]byte, p Principal, gen uint64) {
	x.c.remember(hash, p, gen)
}

// ForgetVisitor is credentialCache.forgetVisitor.
func (x CredentialCache) ForgetVisitor(visitorID string) { x.c.forgetVisitor(visitorID) }

// ForgetVisitors is credentialCache.forgetVisitors.
func (x CredentialCache) ForgetVisitors(visitorIDs []string) { x.c.forgetVisitors(visitorIDs) }

// Revoke is credentialCache.revoke.
func (x CredentialCache) Revoke(match func(Principal) bool) { x.c.revoke(match) }

// RightsChanged is credentialCache.rightsChanged.
func (x CredentialCache) RightsChanged(match func(Principal) bool) { x.c.rightsChanged(match) }

// BoundStream is a stream registered with a credential cache.
type BoundStream struct {
	c credentialCache
	b *binding
}

// Bind registers a stream of p, found valid at generation gen.
func (x CredentialCache) Bind(p Principal, gen uint64) (*BoundStream, bool) {
	p.gen = gen
	ctx, cancel := context.WithCancelCause(context.Background())
	b := &binding{p: p, ctx: ctx, cancel: cancel}
	return &BoundStream{x.c, b}, x.c.bind(b)
}

// Context ends when the stream's credential is revoked.
func (s *BoundStream) Context() context.Context { return s.b.ctx }

// Noticed counts the changes of rights the stream was told of.
func (s *BoundStream) Noticed() uint64 { return s.b.noticed.Load() }

// Unbind unregisters the stream.
func (s *BoundStream) Unbind() { s.c.unbind(s.b) }

// OriginCache exposes an originCache to the suite.
type OriginCache struct{ o originCache }

// NewOriginCache makes m's origin cache.
func NewOriginCache(m Mechanisms) OriginCache { return OriginCache{m.orDefault().origins()} }

// Replace is originCache.replace.
func (x OriginCache) Replace(set map[string]bool) { x.o.replace(set) }

// Allowed is originCache.allowed.
func (x OriginCache) Allowed(origin string) bool { return x.o.allowed(origin) }
