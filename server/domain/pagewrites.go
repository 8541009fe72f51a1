package domain

import (
	"context"
	"sync"
	"time"
)

// pageWriteDelay is how long a visitor's page view waits in memory before
// it is written to the store with the others of that second.
//
// A page view is presence, like a keep-alive, not a record someone was
// promised: it takes effect at once in memory (agents' presence views, the
// launching criteria), and the store keeps each visitor's current page only
// so that a restart or an export knows it. Writing each one in its own
// durable commit made page views most of the server's work with many
// visitors held (an fsync each, for 925 page views/s at 18,500 visitors);
// written behind, a second's page views share a few commits, and a visitor
// who moved on twice in that second is written once. A crash loses at most
// this last second of pages, which each widget sends again when it
// reconnects (WatchVisitor's page_url).
const pageWriteDelay = time.Second

// pageWriteChunk is how many visitors one transaction of a flush writes, so
// that a message committed meanwhile never waits behind a whole second's
// page views.
const pageWriteChunk = 64

// pageWriter holds visitors' latest page views until they are written.
type pageWriter struct {
	s *Service

	mu      sync.Mutex
	pending map[string]PageView // visitor ID → their latest page
	timer   Timer               // armed while pending is not empty
	closed  bool

	// flushing is held by a flush, so that flushes write in the order
	// their pages were taken.
	flushing sync.Mutex
}

func newPageWriter(s *Service) *pageWriter {
	return &pageWriter{s: s, pending: map[string]PageView{}}
}

// record keeps a visitor's page view to be written within pageWriteDelay.
// After close it writes at once, so nothing recorded is left behind.
func (w *pageWriter) record(visitorID string, page PageView) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.write(map[string]PageView{visitorID: page})
		return
	}
	w.pending[visitorID] = page
	if w.timer == nil {
		w.timer = w.s.clock.AfterFunc(pageWriteDelay, w.flush)
	}
	w.mu.Unlock()
}

// latest puts a visitor's page view that is not written yet into v, a copy
// read from the store.
func (w *pageWriter) latest(v *Visitor) {
	w.mu.Lock()
	page, ok := w.pending[v.ID]
	w.mu.Unlock()
	if ok && page.ViewTime.After(v.CurrentPage.ViewTime) {
		v.CurrentPage = page
	}
}

// forget drops a visitor's page view that is not written yet: the visitor
// is being erased.
func (w *pageWriter) forget(visitorID string) {
	w.mu.Lock()
	delete(w.pending, visitorID)
	w.mu.Unlock()
}

// flush writes every page view kept so far.
func (w *pageWriter) flush() {
	w.flushing.Lock()
	defer w.flushing.Unlock()
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string]PageView{}
	w.timer = nil
	w.mu.Unlock()
	w.write(batch)
}

// write stores pages, pageWriteChunk visitors to a transaction. A page
// older than the stored one is left out (a flush never goes back in time),
// and so is a visitor erased meanwhile.
func (w *pageWriter) write(pages map[string]PageView) {
	if len(pages) == 0 {
		return
	}
	ids := make([]string, 0, len(pages))
	for id := range pages {
		ids = append(ids, id)
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), pageWriteChunk)]
		ids = ids[len(chunk):]
		// Not the Service's context: Close writes what is left after
		// cancelling it.
		err := w.s.update(context.Background(), func(tx WriteTx) error {
			for _, id := range chunk {
				v, err := tx.Visitor(id)
				if ErrorCode(err) == CodeNotFound {
					continue
				}
				if err != nil {
					return err
				}
				page := pages[id]
				if !page.ViewTime.After(v.CurrentPage.ViewTime) {
					continue
				}
				// One event per change of page, however often the page
				// was reported: the log summarises presence, it does not
				// repeat its keep-alives.
				if page.URL != v.CurrentPage.URL {
					ev := Event{Type: EventVisitorPageViewed, Time: page.ViewTime, SiteID: v.SiteID, VisitorID: v.ID, URL: page.URL, Title: page.Title}
					if err := w.s.record(tx, ev); err != nil {
						return err
					}
				}
				v.CurrentPage = page
				// The same page again only moves its time: a summary
				// of presence, not a change.
				if err := quiet(tx, "page-view summary", func() error { return tx.PutVisitor(v) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ErrorCode(err) != CodeUnavailable {
			// The pages are presence: they stay correct in memory, and the
			// next page view or stream of each visitor writes theirs again.
			// Not logged when the store cannot write (its disk is full): it
			// says so itself, once, where this would every second.
			w.s.log.Warn("writing page views failed", "visitors", len(chunk), "err", err)
		}
	}
}

// close writes what is left; later page views are written at once.
func (w *pageWriter) close() {
	w.mu.Lock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.flush()
}
