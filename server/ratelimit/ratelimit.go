// Package ratelimit limits how often something may happen per key (a client
// address, a visitor id) with one token bucket per key. Memory stays
// bounded: a bucket that has refilled is the same as no bucket and is
// dropped, and the number of buckets is capped.
package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Limit allows Count events per Period on average, and up to Burst at once
// after a quiet spell. A Limit whose Count or Period is zero allows
// everything.
type Limit struct {
	Count  int
	Period time.Duration
	// Burst is the bucket's size; it defaults to 1.
	Burst int
}

// Per returns a Limit of count events per period with the given burst.
func Per(count int, period time.Duration, burst int) Limit {
	return Limit{Count: count, Period: period, Burst: burst}
}

// Unlimited reports whether l allows everything.
func (l Limit) Unlimited() bool { return l.Count <= 0 || l.Period <= 0 }

// String reads like "30/min, burst 10".
func (l Limit) String() string {
	if l.Unlimited() {
		return "unlimited"
	}
	per := map[time.Duration]string{time.Second: "s", time.Minute: "min", time.Hour: "h"}[l.Period]
	if per == "" {
		per = l.Period.String()
	}
	return fmt.Sprintf("%d/%s, burst %d", l.Count, per, max(l.Burst, 1))
}

// DefaultMaxKeys caps the buckets of a Limiter made with MaxKeys zero.
const DefaultMaxKeys = 100_000

// Limiter holds one token bucket per key. It is safe for concurrent use.
type Limiter struct {
	now     func() time.Time
	perTok  time.Duration // time to earn one token
	burst   float64
	full    time.Duration // time for an empty bucket to refill
	maxKeys int
	off     bool

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// New returns a Limiter enforcing l per key, reading the time from now
// (time.Now if nil). At most maxKeys buckets are kept (DefaultMaxKeys if
// zero).
func New(l Limit, now func() time.Time, maxKeys int) *Limiter {
	if now == nil {
		now = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	lim := &Limiter{now: now, maxKeys: maxKeys, off: l.Unlimited(), buckets: map[string]*bucket{}}
	if !lim.off {
		lim.burst = float64(max(l.Burst, 1))
		lim.perTok = l.Period / time.Duration(l.Count)
		lim.perTok = max(lim.perTok, 1)
		lim.full = time.Duration(lim.burst * float64(lim.perTok))
	}
	return lim
}

// Allow takes a token from key's bucket. When the bucket is empty it
// reports false and how long until the next token.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l.off {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evictOne()
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.refill(now, l)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.perTok)))
	return false, max(wait, 1)
}

// Len is how many keys have a bucket now.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (b *bucket) refill(now time.Time, l *Limiter) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.perTok))
		b.at = now
	}
}

// sweep drops the buckets that have refilled, at most once per refill time
// (and per second): every bucket left was used within the last two.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < max(l.full, time.Second) {
		return
	}
	l.lastSweep = now
	for key, b := range l.buckets {
		b.refill(now, l)
		if b.tokens >= l.burst {
			delete(l.buckets, key)
		}
	}
}

// evictOne makes room when the cap is reached and nothing has refilled: it
// drops a bucket at random (map order), which at worst gives that key a
// fresh burst early.
func (l *Limiter) evictOne() {
	for key := range l.buckets {
		delete(l.buckets, key)
		return
	}
}
