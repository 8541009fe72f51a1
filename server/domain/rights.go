package domain

import (
	"context"
	"slices"
)

// Rights that change under open streams. A stream is authorized when it
// opens, but it may stay open for hours, and what its principal may see can
// change meanwhile. Two kinds of change reach open streams at once, from the
// hook of the commit that made them:
//
//   - A credential that goes (a session revoked or signed out, an API key
//     revoked, a visitor erased) cancels every stream opened with it, with
//     an Unauthenticated cause (credentials.revoke).
//   - A change of a principal's rights (an agent's sites updated) marks
//     every stream of that principal for a new check of the scope it was
//     opened for, the same check a unary call makes. Until that check has
//     passed against the new state the stream sends nothing; when it fails,
//     the stream ends with its error (PermissionDenied).
//
// Streams whose scope is the principal itself rather than something it
// names (an agent's console and presence streams, which show all of the
// agent's sites) pass that check and narrow instead: they hear of the new
// sites on the agent's topic, as AgentChanged, and start again from a
// snapshot of what the agent may see now (agentFeed).

// StreamGrant is the authorization of one open stream: who opened it, the
// context that ends with the credential, and the check of the stream's
// scope that runs again whenever its principal's rights change. The
// transport calls Authorize with the stream's first request, Allowed before
// each message it sends, and Release when the stream ends.
type StreamGrant struct {
	Principal Principal

	b     *binding
	creds credentialCache
	timer Timer
}

// Context is the stream's context: cancelled, with the reason as its cause,
// when the credential goes or the stream's scope is no longer allowed.
func (g *StreamGrant) Context() context.Context { return g.b.ctx }

// Authorize runs check, which says whether the principal may have the
// stream it asked for, and keeps it to run again after each change of the
// principal's rights. A change noticed while check runs is checked again:
// the stream was registered before, so no change can slip between the two.
func (g *StreamGrant) Authorize(check func() error) error {
	b := g.b
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.noticed.Load()
	if err := check(); err != nil {
		return err
	}
	b.check = check
	b.checked.Store(n)
	return nil
}

// Allowed returns nil when the stream may send its next message, or why it
// must end. It checks the stream's scope again first when the principal's
// rights changed since the last check, so nothing is sent on rights the
// principal no longer has, even before the stream has noticed.
func (g *StreamGrant) Allowed() error {
	select {
	case <-g.b.ctx.Done():
		return context.Cause(g.b.ctx)
	default:
	}
	if g.b.noticed.Load() != g.b.checked.Load() {
		return g.b.recheck()
	}
	return nil
}

// Release unregisters the stream; call it when the stream ends.
func (g *StreamGrant) Release() {
	if g.timer != nil {
		g.timer.Stop()
	}
	g.creds.unbind(g.b)
	g.b.cancel(nil)
}

// recheck runs the stream's check if a change is due, and ends the stream
// with its error when the stream is no longer allowed.
func (b *binding) recheck() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return context.Cause(b.ctx) // ended meanwhile, by an earlier check perhaps
	}
	n := b.noticed.Load()
	if b.check == nil || b.checked.Load() == n {
		// Checked meanwhile, or not authorized yet: Authorize will read
		// the new state.
		return nil
	}
	if err := b.check(); err != nil {
		b.cancel(err)
		return err
	}
	b.checked.Store(n)
	return nil
}

// rightsChanged marks the streams of the principals that match for a new
// check, and runs those checks in the background so that a stream with
// nothing to send ends at once too. The marks are made before it returns:
// called from a commit hook, no stream sends anything on the old rights
// once the commit is acknowledged. The checks read the Store, which a
// commit hook must not wait for.
func (c *credentials) rightsChanged(match func(Principal) bool) {
	c.mu.Lock()
	var due []*binding
	for b := range c.streams {
		if match(b.p) {
			b.noticed.Add(1)
			due = append(due, b)
		}
	}
	c.mu.Unlock()
	if len(due) > 0 {
		go func() {
			for _, b := range due {
				b.recheck()
			}
		}()
	}
}

// agentRightsChanged tells the streams of an agent's sessions that the
// agent's sites changed.
func (s *Service) agentRightsChanged(agentID string) {
	s.creds.rightsChanged(func(p Principal) bool { return p.Kind == AgentPrincipal && p.ID == agentID })
}

// agentFeed is an agent's topic as read by a stream that shows the agent's
// sites (WatchPresence, WatchAgent). Both follow one rule: before sending
// anything of a site, the stream reads what is already on the agent's
// topic (changedAhead), and when the agent's sites changed there it sends
// nothing more of the old ones and starts again from a snapshot. UpdateAgent
// publishes the agent's new sites before it returns, and the in-memory
// Broker delivers within Publish, so once UpdateAgent has returned nothing
// of a site taken away is sent, but what the stream was already sending.
// The check is a receive that does not wait: no read of the Store.
type agentFeed struct {
	sub     Subscription
	siteIDs []string // the sites the stream shows
	// sitesOf says which of an agent's sites the stream shows: the sites
	// it serves when nil (WatchAgent), those it also supervises for
	// WatchPresence.
	sitesOf func(*Agent) []string
	// keep keeps the topic's other events (alerts, changes of the agent's
	// status) that were read ahead, in order, for the stream to handle
	// next; WatchPresence needs none of them.
	keep  bool
	ahead []any
	// changed: the sites changed (or may have: the subscription was cut
	// off) after the events ahead. change is the new record, if known.
	changed bool
	change  *AgentChanged
}

// maxAgentAhead bounds the events an agentFeed holds: a stream that falls
// that far behind starts again, as one cut off by the Broker does.
const maxAgentAhead = 256

// followAgentTopic subscribes to an agent's topic, for a stream that shows
// siteIDs (which may be set once the agent has been read).
func (s *Service) followAgentTopic(agentID string, siteIDs []string, keep bool) *agentFeed {
	return &agentFeed{sub: s.broker.Subscribe(agentTopic(agentID)), siteIDs: siteIDs, keep: keep}
}

func (f *agentFeed) close() { f.sub.Close() }

// sites returns the sites of a the stream shows.
func (f *agentFeed) sites(a *Agent) []string {
	if f.sitesOf == nil {
		return a.SiteIDs
	}
	return f.sitesOf(a)
}

// take takes one receive from f.sub.Events() (ok is false when the
// subscription was cut off) and reports whether the agent's sites are no
// longer f.siteIDs, or may no longer be.
func (f *agentFeed) take(ev any, ok bool) bool {
	if f.changed {
		return true
	}
	c, isChange := ev.(AgentChanged)
	switch {
	case !ok || f.keep && len(f.ahead) >= maxAgentAhead:
		f.changed = true
	case isChange && !slices.Equal(f.sites(&c.Agent), f.siteIDs):
		f.changed, f.change = true, &c
	case f.keep:
		f.ahead = append(f.ahead, ev)
	}
	return f.changed
}

// changedAhead reads what is buffered on the agent's topic without waiting,
// as take. Call it before sending anything of the agent's sites.
func (f *agentFeed) changedAhead() bool {
	for !f.changed {
		select {
		case ev, ok := <-f.sub.Events():
			f.take(ev, ok)
		default:
			return false
		}
	}
	return true
}

// next returns the first event read ahead, if any.
func (f *agentFeed) next() (any, bool) {
	if len(f.ahead) == 0 {
		return nil, false
	}
	ev := f.ahead[0]
	f.ahead[0] = nil
	f.ahead = f.ahead[1:]
	return ev, true
}
