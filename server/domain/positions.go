package domain

import (
	"sync"
	"time"
)

// queuePositionRefresh is the least time between two passes that refresh the
// positions a site's waiting visitors are shown. A person reads "you are
// number 12 in line" at about this pace, and at hundreds of requests per
// second a pass per queue event would reach every waiting visitor hundreds
// of times a second, each reading its state: one pass a second is what the
// eye can follow and what the store can afford.
const queuePositionRefresh = time.Second

// queuePositions tells waiting visitors that their place in the queue moved.
// A visitor's own changes (queued, alerted, accepted, gone) reach its
// streams from visitorUpdated; a request ahead leaving does not. Rather
// than every waiting visitor's stream reading its state on every event of
// the site's queue (n visitors × r events a second, each read counting the
// visitor's position), a pass reads the site's queue once, compares the
// positions with those it last published and hints only the visitors whose
// position changed. Passes run off the committing caller, at most one per
// site per queuePositionRefresh: the first change after a quiet interval
// right away, later ones together at the end of the interval.
type queuePositions struct {
	s      *Service
	mu     sync.Mutex
	sites  map[string]*siteQueue
	peak   int // for shrunk
	closed bool
	wg     sync.WaitGroup // passes under way
	passes int            // passes started, for tests
}

// siteQueue is what queuePositions keeps of one site. mu guards all but
// shown, which passes alone read and write under passMu, and which is
// assigned with mu held as well.
type siteQueue struct {
	// window is set from the start of a pass until queuePositionRefresh
	// later, when a timer ends it.
	window bool
	// dirty: the queue moved during the window, so a pass runs at its end.
	dirty   bool
	running int // passes under way
	passMu  sync.Mutex
	// shown is the position, and the wait estimated for it, published to
	// each visitor shown one, by request ID.
	shown map[string]place
}

// place is what a waiting visitor is shown of its place in the queue.
type place struct {
	position int
	wait     time.Duration
}

func newQueuePositions(s *Service) *queuePositions {
	return &queuePositions{s: s, sites: map[string]*siteQueue{}}
}

// queueMoved asks for the site's waiting visitors to be told of their new
// positions. It is called from commit hooks: it neither blocks nor writes.
func (q *queuePositions) queueMoved(siteID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	sq := q.sites[siteID]
	if sq == nil {
		sq = &siteQueue{}
		q.sites[siteID] = sq
		q.peak = max(q.peak, len(q.sites))
	}
	if sq.window {
		sq.dirty = true // the pass at the end of the window covers it
		return
	}
	q.startWindow(siteID, sq)
	go q.pass(siteID, sq)
}

// startWindow counts a pass that is about to run and arms the end of its
// window. q.mu is held.
func (q *queuePositions) startWindow(siteID string, sq *siteQueue) {
	sq.window, sq.dirty = true, false
	sq.running++
	q.passes++
	q.wg.Add(1)
	end := q.s.clock.Now().Add(queuePositionRefresh)
	q.s.timers.at(positionsTimer(siteID), end, func() { q.windowEnded(siteID) })
}

func positionsTimer(siteID string) string { return "positions/" + siteID }

// windowEnded runs the pass the queue's moves during the window asked for,
// here, on the timer's goroutine, or forgets the site if it shows nobody a
// position.
func (q *queuePositions) windowEnded(siteID string) {
	q.mu.Lock()
	sq := q.sites[siteID]
	if q.closed || sq == nil || !sq.window {
		q.mu.Unlock()
		return
	}
	if !sq.dirty {
		sq.window = false
		q.forgetIdle(siteID, sq)
		q.mu.Unlock()
		return
	}
	q.startWindow(siteID, sq)
	q.mu.Unlock()
	q.pass(siteID, sq)
}

// forgetIdle drops the site once nothing is pending for it and nobody is
// shown a position, so that memory follows the queues that are waited in.
// Requests seen again later are new to it and their visitors are hinted,
// which is harmless. q.mu is held.
func (q *queuePositions) forgetIdle(siteID string, sq *siteQueue) {
	if sq.window || sq.running > 0 || len(sq.shown) > 0 || q.sites[siteID] != sq {
		return
	}
	delete(q.sites, siteID)
	q.sites = shrunk(q.sites, &q.peak)
}

// pass reads the site's open requests in one read transaction and hints the
// visitors whose position is not the one last published to them. Positions
// are counted among all open requests, as QueuePosition does, so that the
// hint leads to the position the pass saw, but only requests of visitors
// who asked to chat show one (see queueStatus). A request not seen before is
// hinted too: its visitor may have read its state before a move this pass
// is the first to see. A visitor that read a later position than the one
// recorded (its read came after a move the next pass will see) is hinted
// again at worst: requests join at the back, so a waiting request's
// position only falls and cannot come back to the recorded one.
func (q *queuePositions) pass(siteID string, sq *siteQueue) {
	defer q.wg.Done()
	sq.passMu.Lock()
	defer sq.passMu.Unlock()
	s := q.s
	type waiting struct {
		requestID, visitorID string
		position             int
	}
	var queue []waiting
	err := s.store.View(s.ctx, func(tx ReadTx) error {
		reqs, err := tx.OpenChatRequests(siteID)
		if err != nil {
			return err
		}
		queue = queue[:0]
		for i, req := range reqs {
			if req.Kind != RequestPresence {
				queue = append(queue, waiting{req.ID, req.VisitorID, i + 1})
			}
		}
		return nil
	})
	if err != nil {
		q.mu.Lock()
		sq.running--
		if s.ctx.Err() == nil {
			sq.dirty = true // try again at the end of the window, or with the next move
			s.log.Error("refreshing queue positions failed", "site", siteID, "err", err)
		}
		q.mu.Unlock()
		return
	}
	shown := make(map[string]place, len(queue))
	for _, w := range queue {
		// The estimate moves with the site's observed waits too: a visitor
		// whose place did not change still hears of a new one.
		now := place{w.position, s.waits.estimate(siteID, w.position)}
		shown[w.requestID] = now
		if old, ok := sq.shown[w.requestID]; !ok || old != now {
			s.broker.Publish(visitorTopic(w.visitorID), VisitorChanged{VisitorID: w.visitorID})
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	sq.shown = shown // requests that left the queue are dropped
	sq.running--
	q.forgetIdle(siteID, sq)
}

// close stops passes from starting and waits for those under way.
func (q *queuePositions) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wg.Wait()
}
