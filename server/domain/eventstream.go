package domain

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// eventsTopic carries every Event of the log as it commits, in position
// order (the commit handler runs in commit order).
const eventsTopic = "events"

// eventsScanLimit is how many events one ListEvents call reads at most, so
// that a filter matching little of a long log answers in bounded time; the
// caller goes on from next_after.
const eventsScanLimit = 10_000

// outOfOrder is how much earlier than its neighbours an event may be
// stamped: page views are written behind (pageWriteDelay) with the time
// they were viewed. A time-ranged read stops this far past its end.
const outOfOrder = time.Minute

// EventFilter selects events of the log; its zero value selects all.
type EventFilter struct {
	SiteID string
	// SiteIDs, when set, also keep to these sites: a scoped key's
	// (Principal.ScopeEvents).
	SiteIDs []string
	Types   []EventType
	// Start (inclusive) and End (exclusive) bound the events' Time; zero
	// is unbounded.
	Start, End time.Time
}

// check validates f, naming the request fields.
func (f EventFilter) check(v *Violations) {
	for _, t := range f.Types {
		if !t.Valid() {
			v.Add("types", "unknown event type %q", t)
			break
		}
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		v.Add("end_time", "must be after start_time")
	}
}

// match reports whether f selects ev.
func (f EventFilter) match(ev *Event) bool {
	return (f.SiteID == "" || ev.SiteID == f.SiteID) &&
		(len(f.SiteIDs) == 0 || slices.Contains(f.SiteIDs, ev.SiteID)) &&
		(len(f.Types) == 0 || slices.Contains(f.Types, ev.Type)) &&
		(f.Start.IsZero() || !ev.Time.Before(f.Start)) &&
		(f.End.IsZero() || ev.Time.Before(f.End))
}

// EventPage is one page of ListEvents.
type EventPage struct {
	Events []*Event
	// NextAfter is where the next page starts: the last position read.
	NextAfter uint64
	// More is true when the log goes on after NextAfter.
	More bool
}

// ListEvents reads up to pageSize events after position after that f
// selects, in position order.
func (s *Service) ListEvents(ctx context.Context, after uint64, pageSize int, f EventFilter) (*EventPage, error) {
	var v Violations
	if pageSize < 0 || pageSize > MaxPageSize {
		v.Add("page_size", "must be between 1 and %d", MaxPageSize)
	}
	f.check(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	pageSize = cmp.Or(pageSize, DefaultPageSize)
	page := &EventPage{NextAfter: after}
	err := s.store.View(ctx, func(tx ReadTx) error {
		last := tx.LastEventPosition()
		if after > last {
			return afterTheEnd(after, last)
		}
		for scanned := 0; scanned < eventsScanLimit && len(page.Events) < pageSize; {
			evs, err := tx.Events(page.NextAfter, catchUpPage)
			if err != nil {
				return err
			}
			full := false
			for _, ev := range evs {
				if len(page.Events) == pageSize {
					full = true
					break
				}
				if !f.End.IsZero() && !ev.Time.Before(f.End.Add(outOfOrder)) {
					page.NextAfter = last // nothing after can be in range
					return nil
				}
				page.NextAfter = ev.Position
				scanned++
				if f.match(ev) {
					page.Events = append(page.Events, ev)
				}
			}
			if !full && len(evs) < catchUpPage {
				// The end of the log. Its last events may have been
				// deleted: start the next read after them.
				page.NextAfter = max(page.NextAfter, last)
				break
			}
		}
		page.More = page.NextAfter < last
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// afterTheEnd is the error of a cursor past the log's last position: it
// comes from another server's log, or a restored backup's.
func afterTheEnd(after, last uint64) error {
	return invalid("after", "is %d but the event log's last position is %d", after, last)
}

// EventUpdate is one message of an event stream: Event, or a KeepAlive.
type EventUpdate struct {
	Event     *Event
	KeepAlive time.Time
}

// WatchEvents sends the events after position after that f selects, then
// each new one as it commits, exactly once and in position order, until ctx
// ends or send fails. As WatchChat, it subscribes before reading the
// store: live events are hints, and a gap, a subscription cut off for
// being slow, or the switch from the backlog falls back to the store,
// which holds every event published.
func (s *Service) WatchEvents(ctx context.Context, after uint64, f EventFilter, send func(EventUpdate) error) error {
	var v Violations
	f.check(&v)
	if err := v.Err(); err != nil {
		return err
	}
	// A cursor past the end would skip the events up to it as they come.
	err := s.store.View(ctx, func(tx ReadTx) error {
		if last := tx.LastEventPosition(); after > last {
			return afterTheEnd(after, last)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ticker := newTicker(s.clock, s.keepAlive)
	defer ticker.stop()
	defer countStream(&s.counters.eventStreams)()
	w := &eventWatch{s: s, f: f, last: after, send: send, sub: s.broker.Subscribe(eventsTopic)}
	defer func() { w.sub.Close() }()
	if err := w.catchUp(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-ticker.c:
			if err := send(EventUpdate{KeepAlive: now}); err != nil {
				return err
			}
		case item, ok := <-w.sub.Events():
			if err := w.handle(ctx, item, ok); err != nil {
				return err
			}
		}
	}
}

// eventWatch is one WatchEvents stream. last is the last position it has
// passed, sent or filtered out.
type eventWatch struct {
	s    *Service
	f    EventFilter
	last uint64
	send func(EventUpdate) error
	sub  Subscription
}

// catchUp sends the stored events after w.last, in short read
// transactions, and moves w.last to the log's last position, so that the
// next live event follows on even when the log's last events were deleted.
func (w *eventWatch) catchUp(ctx context.Context) error {
	for {
		var evs []*Event
		var last uint64
		err := w.s.store.View(ctx, func(tx ReadTx) error {
			var err error
			evs, err = tx.Events(w.last, catchUpPage)
			last = tx.LastEventPosition()
			return err
		})
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := w.pass(ev); err != nil {
				return err
			}
		}
		if len(evs) < catchUpPage {
			w.last = max(w.last, last)
			return nil
		}
	}
}

// pass sends ev if the filter selects it, and moves w.last past it.
func (w *eventWatch) pass(ev *Event) error {
	w.last = ev.Position
	if !w.f.match(ev) {
		return nil
	}
	return w.send(EventUpdate{Event: ev})
}

// handle takes one receive from w.sub.Events(); ok is false when the
// subscription was closed for falling behind.
func (w *eventWatch) handle(ctx context.Context, item any, ok bool) error {
	if !ok {
		w.sub.Close()
		w.sub = w.s.broker.Subscribe(eventsTopic)
		return w.catchUp(ctx)
	}
	ev, _ := item.(*Event)
	switch {
	case ev == nil || ev.Position <= w.last:
		return nil // already passed, from the store
	case ev.Position == w.last+1:
		return w.pass(ev)
	}
	return w.catchUp(ctx)
}
