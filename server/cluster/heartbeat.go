package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Heartbeats make a dead leader's death known in about a second instead
// of a lease TTL. The holder publishes its name on a core NATS subject
// every beat (Beat); every other node records when it last heard each
// holder (WatchHeartbeats) and, once the holder named in the lease has
// been silent for longer than its timeout, takes the lease from it with
// TakeFrom. Core NATS, not JetStream, carries them, so that they keep
// flowing while a JetStream group elects a new leader (seconds on NATS,
// during which a lease renewal waits): a leader that is alive is not
// deposed for the servers' election.
//
// A holder that is alive but silent (paused, starved, cut off) is
// deposed all the same. Nothing unsafe follows: the new leader's barrier
// fences the old one's next publish. Each heartbeat carries its holder's
// term, and a holder that hears one of a later term lets go at once
// (supersede): the node that took its lease is beating already, before
// its takeover. Otherwise a deposed leader that is alive after all would
// go on writing until its next renewal found the key taken (a third of a
// TTL, longer while JetStream is slow to answer), each write moving the
// log past the new leader's barrier, and clients would be sent to a
// leader that cannot take over.

// beatSubject is the subject of the lease's heartbeats.
func (l *Lease) beatSubject() string {
	return fmt.Sprintf("proactivechat.lease.%s.%s.beat", l.cfg.Bucket, l.cfg.Key)
}

// Beat publishes a heartbeat naming this holder on nc at once and then
// every interval while the lease is held; it returns when ctx ends or the
// lease is lost. Call it once the lease is won, before taking over, so
// that a slow takeover is not mistaken for a death.
func (l *Lease) Beat(ctx context.Context, nc *nats.Conn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lost := l.Lost()
	for {
		if l.Term() == 0 {
			return
		}
		// A heartbeat that cannot be sent now (a connection moving to
		// another server) is the next one's job.
		_ = nc.Publish(l.beatSubject(), beat(l.cfg.Node, l.Term()))
		select {
		case <-ctx.Done():
			return
		case <-lost:
			return
		case <-t.C:
		}
	}
}

// beat is a heartbeat's payload: the holder, a space, its term. A holder
// cannot hold a space (node names are checked).
func beat(holder string, term uint64) []byte {
	return fmt.Appendf(nil, "%s %d", holder, term)
}

// parseBeat reads a heartbeat. One without a term (a node from before
// terms were sent) has term 0, which supersedes nobody.
func parseBeat(b []byte) (holder string, term uint64) {
	s := string(b)
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return s, 0
	}
	t, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return s, 0
	}
	return s[:i], t
}

// maxHolders bounds the holders Heartbeats remembers: a cluster has a
// few nodes; more names on the subject are forgotten, oldest first.
const maxHolders = 64

// Heartbeats records when each lease holder was last heard.
type Heartbeats struct {
	sub   *nats.Subscription
	lease *Lease
	now   func() time.Time
	mu    sync.Mutex
	last  map[string]time.Time
	// asked is the holder Silence was last asked about, since when.
	asked      string
	askedSince time.Time

	nc   *nats.Conn
	gate atomic.Pointer[chan struct{}] // tests: the handler waits for it
}

// WatchHeartbeats listens to the lease's heartbeats on nc. now is the
// clock (time.Now when nil). While l is held, a heartbeat of a later term
// ends it (see Heartbeats).
func (l *Lease) WatchHeartbeats(nc *nats.Conn, now func() time.Time) (*Heartbeats, error) {
	if now == nil {
		now = time.Now
	}
	h := &Heartbeats{lease: l, now: now, last: make(map[string]time.Time), nc: nc}
	sub, err := nc.Subscribe(l.beatSubject(), func(m *nats.Msg) {
		if g := h.gate.Load(); g != nil {
			<-*g
		}
		holder, term := parseBeat(m.Data)
		h.heard(holder)
		l.supersede(term)
	})
	if err != nil {
		return nil, fmt.Errorf("watch heartbeats: %w", err)
	}
	h.sub = sub
	return h, nil
}

// Heard records that holder was heard otherwise than by a heartbeat: an
// entry it wrote reached the log (Follower.Heard). A leader busy enough to
// be late with its heartbeats (a process with every core taken, its
// heartbeat goroutine queued behind thousands of others) is still
// writing, and is not to be deposed for being late; one that stopped
// writing and beating is.
func (h *Heartbeats) Heard(holder string) { h.heard(holder) }

func (h *Heartbeats) heard(holder string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.last[holder]; !ok && len(h.last) >= maxHolders {
		oldest := ""
		for k, t := range h.last {
			if oldest == "" || t.Before(h.last[oldest]) {
				oldest = k
			}
		}
		delete(h.last, oldest)
	}
	h.last[holder] = h.now()
}

// Silence returns how long holder, the lease's holder as the caller
// reads it, has not been heard: since its last heartbeat, or since the
// caller first asked about it (after asking about another holder), if
// that is later. A holder that has just won the lease thus gets a whole
// timeout before it counts as silent, even from a node that never heard
// it; and so does the holder a node finds on starting.
func (h *Heartbeats) Silence(holder string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if holder != h.asked {
		h.asked, h.askedSince = holder, now
	}
	since := h.askedSince
	if t, ok := h.last[holder]; ok && t.After(since) {
		since = t
	}
	return now.Sub(since)
}

// CaughtUp reports whether this node has handled every heartbeat its NATS
// server had for it: after a round trip to the server, none is waiting
// for the handler, nor in it. A node whose own process is too busy to
// read its heartbeats (thousands of visitors reconnecting to it) is not
// to take a holder's silence, which is then its own, for death: it asks
// again at its next campaign. A holder that stopped beating has nothing
// waiting, and is deposed as before.
func (h *Heartbeats) CaughtUp(ctx context.Context) bool {
	if _, ok := ctx.Deadline(); !ok { // NATS flushes only with a deadline
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	if err := h.nc.FlushWithContext(ctx); err != nil {
		return false
	}
	// A heartbeat counts as pending until its handler has returned.
	pending, _, err := h.sub.Pending()
	return err == nil && pending == 0
}

// Hold makes h's handler wait, before it records each heartbeat, until
// release is called: a node too busy to read its heartbeats, for the
// tests of what such a node does (here and in the nodes' tests).
func (h *Heartbeats) Hold() (release func()) {
	g := make(chan struct{})
	h.gate.Store(&g)
	var once sync.Once
	return func() { once.Do(func() { h.gate.Store(nil); close(g) }) }
}

// Close stops listening.
func (h *Heartbeats) Close() error { return h.sub.Unsubscribe() }
