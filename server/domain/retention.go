package domain

import (
	"cmp"
	"context"
	"sync"
	"time"
)

// Retention is how long the server keeps what visitors leave behind, unless
// a site's RetentionSettings say otherwise. Anyone may start visitor
// sessions, so without it the database grows until the disk is full; and
// privacy law asks that personal data be kept no longer than needed.
type Retention struct {
	// Visitors is how long a visitor who owns no chat is kept after they
	// were last seen (Visitor.LastSeen), with their session tokens,
	// invitations and chat requests. 0 keeps them forever.
	Visitors time.Duration
	// Chats is how long an ended chat is kept after it ended, with its
	// events and the chat request it answered (the form values). 0 keeps
	// chats forever.
	Chats time.Duration
	// Events is how long the event log keeps an event (by its Time); 0
	// keeps the log forever. Integrators read the log as it grows, so a
	// month is plenty to catch up after an outage, while the log holds
	// copies of personal data (pages, form values, messages).
	Events time.Duration
}

// DefaultRetention keeps visitors who never chatted for 30 days after they
// were last seen, and chats forever: a chat is a record a contact centre
// usually must keep, a visitor who only browsed is not. The event log
// keeps 30 days.
var DefaultRetention = Retention{Visitors: 30 * 24 * time.Hour, Events: 30 * 24 * time.Hour}

// Bounds of a retention period, of a site's and of the server's. Under an
// hour a visitor between two visits of the same afternoon would be a new
// one; past ten years "forever" (0) is what is meant.
const (
	MinRetention = time.Hour
	MaxRetention = 3650 * 24 * time.Hour
)

// Timings of the retention sweeper.
const (
	// DefaultRetentionSweepInterval is how often the sweeper runs. Retention
	// periods are days, so minutes of delay do not matter, while each sweep
	// reads every visitor.
	DefaultRetentionSweepInterval = 10 * time.Minute
	// retentionFirstSweep is how long after start the first sweep runs:
	// after the restart's reconnect storm, which it should not compete with.
	retentionFirstSweep = time.Minute
	// sweepScanPage is how many visitors one read transaction looks at: a
	// long read transaction would hold bbolt's memory map, which a writer
	// that grows the file must wait for.
	sweepScanPage = 500
	// sweepBatchVisitors and sweepBatchEvents bound one write transaction
	// of the sweeper, so that the writer's other work (messages waiting for
	// their fsync) never queues behind one huge deletion. A single chat
	// larger than sweepBatchEvents is deleted in a transaction of its own.
	sweepBatchVisitors = 100
	sweepBatchEvents   = 10_000
	// sweepBatchLog bounds the log events one write transaction deletes.
	sweepBatchLog = 1000
)

// RetentionSettings override the server's retention periods for one site.
// Zero means the server's period.
type RetentionSettings struct {
	VisitorSeconds uint32
	ChatSeconds    uint32
}

// Visitors is the site's visitor retention given the server's; 0 keeps them.
func (r RetentionSettings) Visitors(server Retention) time.Duration {
	return secondsOr(r.VisitorSeconds, server.Visitors)
}

// Chats is the site's chat retention given the server's; 0 keeps them.
func (r RetentionSettings) Chats(server Retention) time.Duration {
	return secondsOr(r.ChatSeconds, server.Chats)
}

// CheckRetention fails unless d is 0 (keep forever) or within
// [MinRetention, MaxRetention].
func CheckRetention(d time.Duration) error {
	if d != 0 && (d < MinRetention || d > MaxRetention) {
		return Errorf(CodeInvalid, "must be 0 (keep forever) or from an hour to %d days", MaxRetention/(24*time.Hour))
	}
	return nil
}

func checkRetentionSettings(v *Violations, r RetentionSettings) {
	for _, f := range []struct {
		field string
		secs  uint32
	}{{"retention.visitor_seconds", r.VisitorSeconds}, {"retention.chat_seconds", r.ChatSeconds}} {
		if field, secs := f.field, f.secs; secs != 0 && (secs < uint32(MinRetention/time.Second) || secs > uint32(MaxRetention/time.Second)) {
			v.Add(field, "must be 0 (the server's default) or from %d (an hour) to %d (ten years)",
				MinRetention/time.Second, MaxRetention/time.Second)
		}
	}
}

// LastSeen is when the visitor was last known to be on the site: the latest
// of their session's start, their visits' starts and ends, their current
// page's view, a launch and a refused invitation. It is activity, not
// creation, so a visitor who keeps coming back is never old. A resumed
// session that opens no stream is not activity: the visitor was not on a
// page.
func (v *Visitor) LastSeen() time.Time {
	t := v.CreateTime
	for _, u := range []time.Time{v.VisitStartTime, v.VisitEndTime, v.CurrentPage.ViewTime, v.LastLaunchTime, v.DeclineTime} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// RetentionSweep counts what a sweep deleted.
type RetentionSweep struct {
	Visitors int
	Chats    int
	// Events counts the events of the log deleted for their age, not those
	// that went with a visitor or chat.
	Events int
}

// retentionSweeper runs one sweep at a time, and none once the Service
// is closed.
type retentionSweeper struct {
	mu     sync.Mutex // held by the sweep running
	closed bool
}

// close waits for a running sweep to end, and stops later ones.
func (r *retentionSweeper) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// startRetention schedules the periodic sweep: once shortly after start,
// then every interval.
func (s *Service) startRetention() {
	if s.sweepEvery <= 0 {
		return
	}
	s.timers.at("retention", s.clock.Now().Add(retentionFirstSweep), s.sweepAndReschedule)
}

func (s *Service) sweepAndReschedule() {
	if s.ctx.Err() != nil {
		return
	}
	// Run in the timer's goroutine, not another: a test's fake clock then
	// returns from Advance once the sweep is done.
	start := time.Now()
	if _, err := s.SweepRetention(s.ctx); err != nil && s.ctx.Err() == nil {
		s.log.Error("retention sweep failed", "err", err)
	}
	// A sweep reads every visitor: on a database so large that this takes
	// long, sweep less often, so the sweeper never takes more than a tenth
	// of a core.
	s.timers.at("retention", s.clock.Now().Add(max(s.sweepEvery, 10*time.Since(start))), s.sweepAndReschedule)
}

// SweepRetention deletes what the retention periods say is old, as of the
// clock's now:
//
//   - ended chats older than their site's chat retention (by end time), with
//     their events and the chat request each answered;
//   - visitors who own no chat (any more) and were last seen longer ago than
//     their site's visitor retention, or than its chat retention if their
//     last chats went in this sweep, with their tokens, invitations and
//     requests.
//
// It never deletes a visitor who is online, in an active chat, queued or
// invited, nor their active chats. It reads the visitors a page at a time in
// short read transactions and deletes in batches of at most
// sweepBatchVisitors visitors, each batch re-checked inside its write
// transaction, so it is safe beside any concurrent activity and idempotent.
// A sweep already running makes this one wait for it; a sweep under way
// when the Service closes stops at its next page or batch.
func (s *Service) SweepRetention(ctx context.Context) (RetentionSweep, error) {
	s.sweeper.mu.Lock()
	defer s.sweeper.mu.Unlock()
	if s.sweeper.closed {
		return RetentionSweep{}, errShuttingDown
	}
	start := time.Now()
	now := s.clock.Now()
	var total RetentionSweep
	after := ""
	for {
		var page []*Visitor
		var due []expiry
		err := s.store.View(ctx, func(tx ReadTx) error {
			var err error
			if page, err = tx.Visitors(after, sweepScanPage); err != nil {
				return err
			}
			sites := map[string]*Site{}
			for _, v := range page {
				x, err := s.expiry(tx, v, now, sites)
				if err != nil {
					return err
				}
				if x.visitor || len(x.chats) > 0 {
					due = append(due, x)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		for len(due) > 0 && s.ctx.Err() == nil {
			n, events := 0, 0
			for n < len(due) && n < sweepBatchVisitors && (n == 0 || events+due[n].events <= sweepBatchEvents) {
				events += due[n].events
				n++
			}
			done, err := s.sweepBatch(ctx, due[:n], now)
			total.Visitors += done.Visitors
			total.Chats += done.Chats
			if err != nil {
				return total, err
			}
			due = due[n:]
		}
		if len(page) < sweepScanPage {
			break
		}
		after = page[len(page)-1].ID
		if err := cmp.Or(ctx.Err(), s.ctx.Err()); err != nil {
			return total, err
		}
	}
	n, err := s.sweepEvents(ctx, now)
	total.Events = n
	if total.Visitors+total.Chats+total.Events > 0 {
		s.log.Info("retention sweep", "visitors_deleted", total.Visitors, "chats_deleted", total.Chats,
			"events_deleted", total.Events, "took", time.Since(start).Round(time.Millisecond))
	}
	return total, err
}

// sweepEvents deletes the log's events older than the event retention at
// now, from the head of the log, sweepBatchLog to a write transaction.
func (s *Service) sweepEvents(ctx context.Context, now time.Time) (int, error) {
	if s.retention.Events <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-s.retention.Events)
	total := 0
	for {
		// Looked at first in a read transaction: most sweeps find nothing
		// old, and a write would cost an fsync (and fail while the disk is
		// full) for nothing.
		var old bool
		err := s.store.View(ctx, func(tx ReadTx) error {
			head, err := tx.Events(0, 1)
			old = len(head) == 1 && head[0].Time.Before(cutoff)
			return err
		})
		if err != nil || !old {
			return total, err
		}
		var n int
		err = s.update(ctx, func(tx WriteTx) (err error) {
			err = quiet(tx, "the log's retention", func() (err error) {
				n, err = tx.DeleteEventsBefore(cutoff, sweepBatchLog)
				return err
			})
			return err
		})
		total += n
		if err != nil || n < sweepBatchLog {
			return total, err
		}
		if err := cmp.Or(ctx.Err(), s.ctx.Err()); err != nil {
			return total, err
		}
	}
}

// expiry is what a sweep deletes of one visitor.
type expiry struct {
	visitorID string
	// chats are the visitor's ended chats past their retention.
	chats []string
	// visitor: the visitor goes too, with everything else they own.
	visitor bool
	// events counts the events of chats, to size the write batches.
	events int
}

// expiry decides what of visitor v is past retention at now. sites caches
// the sites read in this transaction.
func (s *Service) expiry(tx ReadTx, v *Visitor, now time.Time, sites map[string]*Site) (expiry, error) {
	x := expiry{visitorID: v.ID}
	rs, err := siteRetention(tx, v.SiteID, sites)
	if err != nil {
		return x, err
	}
	visitorTTL, chatTTL := rs.Visitors(s.retention), rs.Chats(s.retention)
	chatIDs, invitationIDs, requestIDs, err := tx.VisitorRecords(v.ID)
	if err != nil {
		return x, err
	}
	if chatTTL <= 0 && len(chatIDs) > 0 {
		return x, nil // chats are kept, and so is whoever had one
	}
	kept := false
	for _, id := range chatIDs {
		// A visitor's chats are all on the visitor's site.
		c, err := tx.Chat(id)
		if ErrorCode(err) == CodeNotFound {
			continue
		}
		if err != nil {
			return x, err
		}
		if c.State == ChatStateEnded && !c.EndTime.IsZero() && !c.EndTime.After(now.Add(-chatTTL)) {
			x.chats = append(x.chats, id)
			x.events += int(c.LastSeq)
		} else {
			kept = true
		}
	}
	if kept || v.ActiveChatID != "" || v.ChatRequestID != "" {
		return x, nil
	}
	// A visitor whose last chats go now goes with them unless seen within
	// the chat retention; otherwise they are now a visitor who never
	// chatted, kept for the visitor retention from when they were last seen.
	ttl := visitorTTL
	if len(x.chats) > 0 && chatTTL > 0 && (ttl <= 0 || chatTTL < ttl) {
		ttl = chatTTL
	}
	if ttl <= 0 {
		return x, nil
	}
	seen := *v
	s.pages.latest(&seen) // a page view not written yet is activity too
	if seen.LastSeen().After(now.Add(-ttl)) || s.presence.online(v.ID) {
		return x, nil
	}
	if err := checkNothingOpen(tx, v.ID, nil, invitationIDs, requestIDs); err != nil {
		if ErrorCode(err) == CodeFailedPrecondition {
			return x, nil
		}
		return x, err
	}
	x.visitor = true
	return x, nil
}

// siteRetention reads a site's retention settings, through sites, a cache
// of the sites read in this transaction; a site that is gone has none.
func siteRetention(tx ReadTx, siteID string, sites map[string]*Site) (RetentionSettings, error) {
	site, ok := sites[siteID]
	if !ok {
		var err error
		site, err = tx.Site(siteID)
		if ErrorCode(err) == CodeNotFound {
			site, err = nil, nil
		}
		if err != nil {
			return RetentionSettings{}, err
		}
		sites[siteID] = site
	}
	if site == nil {
		return RetentionSettings{}, nil
	}
	return site.Retention, nil
}

// sweepBatch deletes what due says in one write transaction, deciding
// again for each visitor inside it: since the read, a visitor may have come
// back or started a chat. As with EraseVisitor, a widget stream that read
// its visitor just before the commit can still open; its writes then fail
// as not found, and the widget starts a new session.
func (s *Service) sweepBatch(ctx context.Context, due []expiry, now time.Time) (RetentionSweep, error) {
	var done RetentionSweep
	err := s.update(ctx, func(tx WriteTx) error {
		done = RetentionSweep{} // fn may run more than once
		var erased []string
		sites := map[string]*Site{}
		for _, d := range due {
			v, err := tx.Visitor(d.visitorID)
			if ErrorCode(err) == CodeNotFound {
				continue
			}
			if err != nil {
				return err
			}
			x, err := s.expiry(tx, v, now, sites)
			if err != nil {
				return err
			}
			done.Chats += len(x.chats)
			if x.visitor {
				if err := quiet(tx, "retention", func() error { return tx.EraseVisitor(v.ID) }); err != nil {
					return err
				}
				done.Visitors++
				erased = append(erased, v.ID)
				continue
			}
			for _, id := range x.chats {
				if err := quiet(tx, "retention", func() error { return tx.DeleteChat(id) }); err != nil {
					return err
				}
			}
		}
		return afterCommit(tx, func() {
			s.counters.deletedVisitors.Add(uint64(done.Visitors))
			s.counters.deletedChats.Add(uint64(done.Chats))
			if len(erased) > 0 {
				s.creds.forgetVisitors(erased)
				for _, id := range erased {
					s.pages.forget(id)
				}
			}
		})
	})
	if err != nil {
		return RetentionSweep{}, err
	}
	return done, nil
}
