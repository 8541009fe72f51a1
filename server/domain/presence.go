package domain

import (
	"cmp"
	"context"
	"sort"
	"sync"
	"time"
)

// Engagement is where a visitor is in the proactive chat flow.
type Engagement int

// Engagement states.
const (
	EngagementUnspecified Engagement = iota
	EngagementBrowsing
	EngagementChatting
	EngagementInvited
	EngagementDeclined
	EngagementFillingForm
	EngagementQueued
	EngagementAlerting
)

// Presence is a visitor on a site now, as agents see it. It lives in memory
// only: heartbeats and stream counts change far too often to write to disk.
type Presence struct {
	VisitorID      string
	SiteID         string
	CurrentPage    PageView
	VisitStartTime time.Time
	// TimeOnSite is as of ObserveTime.
	TimeOnSite   time.Duration
	ObserveTime  time.Time
	OpenStreams  int
	Engagement   Engagement
	ActiveChatID string
	// Identity is who the visitor is; shared, never changed.
	Identity VisitorIdentity
	// What the trigger rules look at (targeting.go), kept here rather than
	// written on every report.
	visitFacts
}

// PresenceChange is what happened to a visitor's presence.
type PresenceChange int

// Presence changes.
const (
	PresenceArrived PresenceChange = iota + 1
	PresenceChanged
	PresenceDeparted
)

// PresenceEvent is published on a site's presence topic, as a pointer:
// every agent's stream gets the same event, which nobody changes, so a
// transport may encode it once for all of them.
type PresenceEvent struct {
	Change   PresenceChange
	Presence Presence
}

// presenceTracker knows who is on each site. A visitor is present while at
// least one widget stream of theirs is open, and for a grace period after
// the last one closes, so page loads and several tabs are one visit.
type presenceTracker struct {
	s        *Service
	mu       sync.Mutex
	visitors map[string]*visit
	bySite   map[string]map[string]*visit
	// peaks for shrunk: of visitors, and of each site's map.
	peak     int
	sitePeak map[string]*int
	open     int // widget streams open
	mass     massDisconnects
	// watchers are the backlogs of the agents' presence streams, by site:
	// publish adds each change to them directly, so that neither a channel
	// nor a goroutine stands between a change and a lagging stream.
	watchers map[string]map[*presenceBacklog]struct{}
}

type visit struct {
	visitorID  string
	siteID     string
	page       PageView
	start      time.Time
	streams    int
	chatID     string
	engagement Engagement
	identity   VisitorIdentity
	departure  Timer
	departAt   time.Time // when departure fires
	facts      visitFacts
	// gen tells a departure timer whether it is still the current one.
	gen uint64
}

func newPresenceTracker(s *Service) *presenceTracker {
	return &presenceTracker{s: s, visitors: map[string]*visit{}, bySite: map[string]map[string]*visit{}, sitePeak: map[string]*int{},
		watchers: map[string]map[*presenceBacklog]struct{}{}}
}

func (t *presenceTracker) view(v *visit, now time.Time) Presence {
	p := Presence{
		VisitorID:      v.visitorID,
		SiteID:         v.siteID,
		CurrentPage:    v.page,
		VisitStartTime: v.start,
		TimeOnSite:     now.Sub(v.start),
		ObserveTime:    now,
		OpenStreams:    v.streams,
		Engagement:     cmp.Or(v.engagement, EngagementBrowsing),
		ActiveChatID:   v.chatID,
		Identity:       v.identity,
		visitFacts:     v.facts,
	}
	return p
}

// publish must be called with t.mu held, so that events of a site reach
// the watchers in the order they happened and never interleave with a
// snapshot.
func (t *presenceTracker) publish(change PresenceChange, v *visit) {
	watchers := t.watchers[v.siteID]
	if len(watchers) == 0 {
		return
	}
	ev := &PresenceEvent{Change: change, Presence: t.view(v, t.s.clock.Now())}
	for b := range watchers {
		b.add(ev)
	}
}

// MaxStreamsPerVisitor is how many WatchVisitor streams one visitor may have
// open at once (one per tab or window); the next is refused with
// CodeResourceExhausted, so one visitor id cannot pin unbounded server
// resources. Counted here because the tracker already counts the streams.
const MaxStreamsPerVisitor = 8

// opened counts a new widget stream of visitor. It reports whether a new
// visit began (its start time is returned) and whether the visitor came
// back after all its streams had closed. Past MaxStreamsPerVisitor it
// counts nothing and returns an error; closed must then not be called.
// With viewed, the stream came with a page view: visitor.CurrentPage is
// where they are now, shown to agents with the stream in one change.
func (t *presenceTracker) opened(visitor *Visitor, viewed bool, referrer string) (newVisit bool, start time.Time, back bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.s.clock.Now()
	v := t.visitors[visitor.ID]
	if v != nil && v.streams >= MaxStreamsPerVisitor {
		return false, time.Time{}, false, Errorf(CodeResourceExhausted,
			"visitor %q already has %d open WatchVisitor streams, the limit; close one (a tab) before opening another", visitor.ID, v.streams)
	}
	if v == nil {
		start = now
		// A visit that was open when the server stopped goes on if the
		// visitor is back within the mass disconnect grace of the restart
		// (a restart is one).
		if !visitor.VisitStartTime.IsZero() && visitor.VisitEndTime.IsZero() && now.Sub(t.s.started) <= t.s.massGrace {
			start = visitor.VisitStartTime
		}
		v = &visit{visitorID: visitor.ID, siteID: visitor.SiteID, page: visitor.CurrentPage,
			start: start, streams: 1, chatID: visitor.ActiveChatID, engagement: visitor.Engagement,
			identity: visitor.Identity}
		v.facts = newVisitFacts(visitor, start, viewed, referrer)
		t.visitors[v.visitorID] = v
		t.peak = max(t.peak, len(t.visitors))
		if t.bySite[v.siteID] == nil {
			t.bySite[v.siteID] = map[string]*visit{}
			t.sitePeak[v.siteID] = new(int)
		}
		t.bySite[v.siteID][v.visitorID] = v
		peak := t.sitePeak[v.siteID]
		*peak = max(*peak, len(t.bySite[v.siteID]))
		t.open++
		t.publish(PresenceArrived, v)
		return true, start, false, nil
	}
	if v.departure != nil {
		v.departure.Stop()
		v.departure = nil
		v.departAt = time.Time{}
		v.gen++
	}
	v.streams++
	t.open++
	if viewed {
		v.facts.viewed(v.page, visitor.CurrentPage, referrer)
		v.page = visitor.CurrentPage
	}
	t.publish(PresenceChanged, v)
	return false, v.start, v.streams == 1, nil
}

// closed uncounts a widget stream; the visitor departs if no stream opens
// again within the grace period, or the mass disconnect grace if the
// stream closed in one. It reports whether this was the last one.
func (t *presenceTracker) closed(visitorID string) (away bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.visitors[visitorID]
	if v == nil {
		return false
	}
	now := t.s.clock.Now()
	var mass, began bool
	if t.s.ctx.Err() == nil { // the streams a shutdown ends are no disconnect
		mass, began = t.mass.closed(now, t.open, t.s.grace)
	}
	if began {
		t.massDisconnectBegan(now)
	}
	t.open--
	v.streams--
	if v.streams == 0 {
		if mass {
			t.awaitDeparture(v, now.Add(t.s.massGrace))
		} else {
			t.awaitDeparture(v, now.Add(t.s.grace))
			t.mass.pending = append(t.mass.pending, pendingDeparture{v: v, gen: v.gen, closedAt: now})
		}
	}
	t.publish(PresenceChanged, v)
	return v.streams == 0
}

// awaitDeparture arms v's departure for at, replacing any armed before.
func (t *presenceTracker) awaitDeparture(v *visit, at time.Time) {
	if v.departure != nil {
		v.departure.Stop()
	}
	v.gen++
	gen, visitorID := v.gen, v.visitorID
	v.departAt = at
	v.departure = t.s.clock.AfterFunc(at.Sub(t.s.clock.Now()), func() { t.depart(visitorID, gen) })
}

// massDisconnectBegan puts off the departures still pending: the visitors
// whose last stream closed within the presence grace before the second
// that turned out to be a mass disconnect.
func (t *presenceTracker) massDisconnectBegan(now time.Time) {
	t.s.counters.massDisconnects.Add(1)
	put := 0
	for _, p := range t.mass.pending {
		if p.v.gen == p.gen && p.v.streams == 0 && t.visitors[p.v.visitorID] == p.v {
			t.awaitDeparture(p.v, p.closedAt.Add(t.s.massGrace))
			put++
		}
	}
	clear(t.mass.pending)
	t.mass.pending = t.mass.pending[:0]
	t.s.log.Warn("mass disconnect: many widget streams closed at once; their visitors get the longer grace to come back",
		"streams_open", t.mass.openAtStart, "closed_within", massDisconnectWindow, "grace", t.s.massGrace, "departures_put_off", put)
}

// departsAt is when a visitor on the site with no stream open departs
// unless one opens.
func (t *presenceTracker) departsAt(visitorID string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.visitors[visitorID]
	if v == nil || v.streams > 0 {
		return time.Time{}, false
	}
	return v.departAt, true
}

func (t *presenceTracker) depart(visitorID string, gen uint64) {
	t.mu.Lock()
	v := t.visitors[visitorID]
	if v == nil || v.gen != gen || v.streams > 0 {
		t.mu.Unlock()
		return
	}
	delete(t.visitors, visitorID)
	t.visitors = shrunk(t.visitors, &t.peak)
	delete(t.bySite[v.siteID], visitorID)
	if len(t.bySite[v.siteID]) == 0 {
		delete(t.bySite, v.siteID)
		delete(t.sitePeak, v.siteID)
	} else {
		t.bySite[v.siteID] = shrunk(t.bySite[v.siteID], t.sitePeak[v.siteID])
	}
	t.publish(PresenceDeparted, v)
	t.mu.Unlock()
	t.s.creds.forgetVisitor(visitorID)
	t.s.visitEnded(visitorID)
}

func (t *presenceTracker) pageViewed(visitorID string, page PageView, referrer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.visitors[visitorID]; v != nil {
		v.facts.viewed(v.page, page, referrer)
		v.page = page
		t.publish(PresenceChanged, v)
	}
}

// engagementChanged updates what agents see of a visitor's engagement
// and identity.
func (t *presenceTracker) engagementChanged(visitor *Visitor) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.visitors[visitor.ID]; v != nil && (v.chatID != visitor.ActiveChatID || v.engagement != visitor.Engagement || !v.identity.Equal(visitor.Identity)) {
		v.chatID = visitor.ActiveChatID
		v.engagement = visitor.Engagement
		v.identity = visitor.Identity
		t.publish(PresenceChanged, v)
	}
}

// get returns a visitor's presence, if online.
func (t *presenceTracker) get(visitorID string) (Presence, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.visitors[visitorID]
	if v == nil {
		return Presence{}, false
	}
	return t.view(v, t.s.clock.Now()), true
}

// onSite lists the ids of the visitors on a site now.
func (t *presenceTracker) onSite(siteID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.bySite[siteID]))
	for id := range t.bySite[siteID] {
		ids = append(ids, id)
	}
	return ids
}

func (t *presenceTracker) online(visitorID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.visitors[visitorID] != nil
}

// snapshot lists who is on the given sites, longest visit first. With a
// backlog, it also has every later change of those sites added to it, from
// the same critical section, so no change is missed or seen twice; unwatch
// ends that.
func (t *presenceTracker) snapshot(siteIDs []string, watch *presenceBacklog) []Presence {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.s.clock.Now()
	var out []Presence
	for _, id := range siteIDs {
		if watch != nil {
			if t.watchers[id] == nil {
				t.watchers[id] = map[*presenceBacklog]struct{}{}
			}
			t.watchers[id][watch] = struct{}{}
		}
		for _, v := range t.bySite[id] {
			out = append(out, t.view(v, now))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].VisitStartTime.Equal(out[j].VisitStartTime) {
			return out[i].VisitStartTime.Before(out[j].VisitStartTime)
		}
		return out[i].VisitorID < out[j].VisitorID
	})
	return out
}

// unwatch stops adding the changes of siteIDs to b.
func (t *presenceTracker) unwatch(siteIDs []string, b *presenceBacklog) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range siteIDs {
		delete(t.watchers[id], b)
		if len(t.watchers[id]) == 0 {
			delete(t.watchers, id)
		}
	}
}

func (t *presenceTracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range t.visitors {
		if v.departure != nil {
			v.departure.Stop()
		}
	}
}

// ListOnlineVisitors is the presence snapshot of a site.
func (s *Service) ListOnlineVisitors(ctx context.Context, siteID string) ([]Presence, error) {
	if _, err := s.GetSite(ctx, siteID); err != nil {
		return nil, err
	}
	return s.presence.snapshot([]string{siteID}, nil), nil
}

// PresenceUpdate is one message of an agent's presence stream: exactly one
// field is set.
type PresenceUpdate struct {
	Snapshot  []Presence
	Event     *PresenceEvent // the same for every stream: read only
	KeepAlive time.Time
}

// WatchPresence streams the visitors of the agent's sites, those it serves
// and those it supervises, to send: first a snapshot, then every change,
// until ctx ends or send fails. When the agent's sites change the stream starts again with a snapshot of its new
// sites, as the agent's console does. Once UpdateAgent has returned,
// nothing of a site taken away is sent but what the stream was already
// sending: changes held in the backlog are dropped.
func (s *Service) WatchPresence(ctx context.Context, agentID string, send func(PresenceUpdate) error) error {
	// Subscribed before the agent is read, so that a change of its sites
	// committed after the read is heard.
	feed := s.followAgentTopic(agentID, nil, false)
	feed.sitesOf = (*Agent).VisibleSiteIDs
	defer func() { feed.close() }()
	agent, err := s.GetAgent(ctx, agentID)
	if err != nil {
		return err
	}
	defer countStream(&s.counters.presenceStreams)()
	ticker := newTicker(s.clock, s.keepAlive)
	defer ticker.stop()
	for {
		sites := agent.VisibleSiteIDs()
		feed.siteIDs = sites
		backlog := newPresenceBacklog()
		snapshot := s.presence.snapshot(sites, backlog)
		if snapshot == nil {
			snapshot = []Presence{}
		}
		err := send(PresenceUpdate{Snapshot: snapshot})
		if err == nil {
			err = s.followPresence(ctx, feed, backlog, ticker, send)
		}
		s.presence.unwatch(sites, backlog)
		if err != errResubscribe {
			return err
		}
		// Fell too far behind, or the agent's sites changed: start again
		// from a fresh snapshot of the agent's sites now.
		feed.close()
		feed = s.followAgentTopic(agentID, nil, false)
		feed.sitesOf = (*Agent).VisibleSiteIDs
		if agent, err = s.GetAgent(ctx, agentID); err != nil {
			return err
		}
	}
}

// followPresence passes presence changes on as the agent's stream can take
// them. The tracker adds them to backlog as they happen, where the changes
// of one visitor not sent yet become one; the stream is sent the backlog
// whenever it is ready. A console that lags behind (a reconnect storm:
// every visitor's stream closes and opens again, thousands of changes a
// second) is sent less, and late, but is not cut off and sent a snapshot of
// everyone again unless its backlog outgrows maxPresenceBacklog. A change of
// the agent's sites (on feed) returns errResubscribe.
func (s *Service) followPresence(ctx context.Context, feed *agentFeed, backlog *presenceBacklog, ticker *ticker, send func(PresenceUpdate) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-ticker.c:
			if err := send(PresenceUpdate{KeepAlive: now}); err != nil {
				return err
			}
		case ev, ok := <-feed.sub.Events():
			if feed.take(ev, ok) {
				return errResubscribe
			}
		case <-backlog.ready:
			// The agent's topic first (agentFeed): a change of a site the
			// agent no longer serves, made after UpdateAgent returned, is
			// never sent.
			if feed.changedAhead() {
				return errResubscribe
			}
			events, err := backlog.take()
			for _, ev := range events {
				if err := send(PresenceUpdate{Event: ev}); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
		}
	}
}

// maxPresenceBacklog bounds a presence backlog: past it the stream starts
// again from a snapshot, which is then the smaller message. A site's
// presence changes with every page view of every visitor: at 20,000
// visitors, a thousand changes a second, and tens of thousands in a
// reconnect storm, most of which merge.
const maxPresenceBacklog = 65536

// presenceBacklog holds the presence changes an agent's stream has not been
// sent yet, in order, with one entry per visitor where changes can be
// merged: arrived then changed is arrived (with the latest presence),
// changed then changed is the latest, changed then departed is departed,
// and arrived then departed is nothing. Departed then arrived (a new visit)
// stays two changes.
type presenceBacklog struct {
	ready chan struct{} // has a value while there is something to take

	mu     sync.Mutex
	events []*PresenceEvent // nil where an entry was merged away
	last   map[string]int   // visitor ID → index of their latest entry
	err    error
}

func newPresenceBacklog() *presenceBacklog {
	return &presenceBacklog{ready: make(chan struct{}, 1), last: map[string]int{}}
}

func (b *presenceBacklog) add(ev *PresenceEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return
	}
	id := ev.Presence.VisitorID
	if i, ok := b.last[id]; ok {
		old := b.events[i]
		switch {
		case old.Change == PresenceArrived && ev.Change == PresenceDeparted:
			b.events[i] = nil
			delete(b.last, id)
			return
		case old.Change == PresenceArrived && ev.Change == PresenceChanged:
			b.events[i] = &PresenceEvent{Change: PresenceArrived, Presence: ev.Presence}
			return
		case old.Change == PresenceChanged:
			b.events[i] = ev // changed or departed: the latest says it all
			return
		}
	}
	if len(b.events) >= maxPresenceBacklog {
		b.err = errResubscribe
		b.signal()
		return
	}
	b.last[id] = len(b.events)
	b.events = append(b.events, ev)
	b.signal()
}

func (b *presenceBacklog) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take returns the changes held, in order, and the error that ends the
// stream's following, if any.
func (b *presenceBacklog) take() ([]*PresenceEvent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*PresenceEvent, 0, len(b.events))
	for _, ev := range b.events {
		if ev != nil {
			out = append(out, ev)
		}
	}
	clear(b.events)
	b.events = b.events[:0]
	if len(b.last) > 0 {
		b.last = map[string]int{} // not clear: a storm's map would keep its room
	}
	if b.err == errResubscribe && len(out) > 0 {
		// Cut off: what is held is stale next to the snapshot to come.
		out = nil
	}
	return out, b.err
}

func (e Engagement) String() string {
	return [...]string{"unspecified", "browsing", "chatting", "invited", "declined", "filling the form", "queued", "being alerted"}[e]
}
