package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeaseLost is why a Lease ended that was not released: a renewal
// failed, or found the key taken or gone.
var ErrLeaseLost = errors.New("lease lost")

// LeaseConfig names a lease and says how long it lasts unrenewed.
type LeaseConfig struct {
	// Bucket is the JetStream KV bucket (default "proactivechat_lease").
	Bucket string
	// Key is the lease's key (default "leader"); one key, one leader.
	Key string
	// Node names the holder; it is the key's value, for operators.
	Node string
	// TTL is how long the lease lasts after its last renewal (default
	// 10s): the bucket's TTL, enforced by the servers. A leader that dies
	// is replaced after at most that.
	TTL time.Duration
	// Replicas is how many servers hold the bucket (default 3).
	Replicas int
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.Bucket == "" {
		c.Bucket = "proactivechat_lease"
	}
	if c.Key == "" {
		c.Key = "leader"
	}
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	return c
}

// Lease is leadership held as a JetStream KV key. Taking it is a create,
// which succeeds for one node only while the key exists; keeping it is a
// compare-and-set on the revision last written, which fails once anyone
// else took it or the servers expired it. The holder stops believing it
// holds the lease when a renewal fails or a TTL has passed since the last
// one that succeeded began, so it mostly lets go before anyone else can
// take over; mostly is enough, since the log fences a stale leader
// (TakeOver), not the lease.
type Lease struct {
	kv    jetstream.KeyValue
	reads keyReader // the bucket's stream, to read the key with its revision even once deleted
	cfg   LeaseConfig

	mu      sync.Mutex
	rev     uint64 // revision last written; 0 when not held
	term    uint64 // revision that took it
	expires time.Time
	lost    chan struct{}
	// latestHolder wrote the key at latestRev, the latest revision this
	// Lease read or wrote (Holder).
	latestHolder string
	latestRev    uint64
}

// OpenLease creates the lease's bucket, or updates it to cfg, and returns
// the lease, not held.
func OpenLease(ctx context.Context, js jetstream.JetStream, cfg LeaseConfig) (*Lease, error) {
	cfg = cfg.withDefaults()
	if cfg.Node == "" {
		return nil, errors.New("open lease: a node name is required")
	}
	var err error
	if cfg.Replicas, err = KeepReplicas(ctx, js, "KV_"+cfg.Bucket, cfg.Replicas); err != nil {
		return nil, fmt.Errorf("open lease %s: %w", cfg.Bucket, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "Proactive Chat leadership",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open lease %s: %w", cfg.Bucket, err)
	}
	st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open lease %s: %w", cfg.Bucket, err)
	}
	l := &Lease{kv: kv, reads: st, cfg: cfg, lost: make(chan struct{})}
	close(l.lost) // not held
	return l, nil
}

// TryAcquire takes the lease if nobody holds it, or if the key names this
// node (reclaim), and reports whether it did.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	l.mu.Lock()
	held := l.rev != 0
	l.mu.Unlock()
	if held {
		return true, nil
	}
	start := time.Now()
	rev, err := l.kv.Create(ctx, l.cfg.Key, []byte(l.cfg.Node))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return l.reclaim(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	l.took(rev, start)
	return true, nil
}

// took records a holding that began with the write of rev, asked at
// start: its term is rev, and it lasts a TTL from start unless renewed.
func (l *Lease) took(rev uint64, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.term, l.expires = rev, rev, start.Add(l.cfg.TTL)
	l.lost = make(chan struct{})
	l.wrote(rev)
}

// reclaim takes the lease when the key already names this node although
// this Lease does not hold it: a create or a takeover whose answer was
// lost (a timeout on a busy server that wrote it all the same), or this
// node's holding before a restart. Node names are unique in a cluster, so
// nobody else wrote it, and nobody heartbeats for it: left alone, the key
// would wait for the others' leader timeout, or the TTL, with no leader.
// The compare-and-set on the revision read keeps it safe: it fails if
// anyone has moved the key since.
func (l *Lease) reclaim(ctx context.Context) (bool, error) {
	holder, rev, err := l.Holder(ctx)
	if err != nil || holder != l.cfg.Node {
		return false, err
	}
	return l.TakeFrom(ctx, rev)
}

// Acquire takes the lease once nobody holds it, trying every quarter TTL,
// or returns ctx.Err().
func (l *Lease) Acquire(ctx context.Context) error {
	t := time.NewTicker(l.cfg.TTL / 4)
	defer t.Stop()
	for {
		ok, err := l.TryAcquire(ctx)
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Renew extends the lease by a TTL. It fails with ErrLeaseLost, and the
// lease ends, when the key is no longer the one this holder wrote, or
// when a TTL has passed since the last renewal began.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	rev, expires := l.rev, l.expires
	l.mu.Unlock()
	if rev == 0 {
		return ErrLeaseLost
	}
	start := time.Now()
	if !start.Before(expires) {
		l.end(rev)
		return fmt.Errorf("%w: not renewed within %s", ErrLeaseLost, l.cfg.TTL)
	}
	next, err := l.kv.Update(ctx, l.cfg.Key, []byte(l.cfg.Node), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		l.end(rev)
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wrote(next)
	if l.rev == rev {
		l.rev, l.expires = next, start.Add(l.cfg.TTL)
	}
	return nil
}

// Hold renews the lease every third of its TTL until ctx ends (it
// returns ctx.Err(), still holding) or the lease is lost (it returns why).
// A renewal that fails for want of an answer is tried again at the next
// tick, until the TTL runs out.
func (l *Lease) Hold(ctx context.Context) error {
	t := time.NewTicker(l.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.Lost():
			return ErrLeaseLost
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.cfg.TTL/3)
		err := l.Renew(rctx)
		cancel()
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
	}
}

// Release gives the lease up at once, if this holder still has it, so
// another node need not wait for the TTL.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	if rev == 0 {
		return nil
	}
	l.end(rev)
	err := l.kv.Delete(ctx, l.cfg.Key, jetstream.LastRevision(rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// supersede ends the holding if a later term holds the lease: only the
// holder that took the key after this one has such a term (terms are
// revisions of the key), so the key is no longer this holder's.
func (l *Lease) supersede(term uint64) {
	l.mu.Lock()
	rev, mine := l.rev, l.term
	l.mu.Unlock()
	if rev != 0 && term > mine {
		l.end(rev)
	}
}

// end ends the holding that wrote rev.
func (l *Lease) end(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rev != rev || rev == 0 {
		return
	}
	l.rev, l.term = 0, 0
	close(l.lost)
}

// wrote records that this holder wrote the key at rev; l.mu is held.
func (l *Lease) wrote(rev uint64) {
	if rev > l.latestRev {
		l.latestHolder, l.latestRev = l.cfg.Node, rev
	}
}

// Term returns the revision that took the lease, which no other holding
// ever has: the leader's term. It is 0 when the lease is not held.
func (l *Lease) Term() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term
}

// Lost is closed when the lease ends (and while it is not held).
func (l *Lease) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Name is how this Lease names its holder in the key.
func (l *Lease) Name() string { return l.cfg.Node }

// StreamName is the JetStream stream that holds the lease's bucket.
func (l *Lease) StreamName() string { return "KV_" + l.cfg.Bucket }

// Holder returns the node holding the lease as the servers see it ("" if
// none) and the revision it last wrote, which every renewal moves on.
//
// Reads never go back in time: an answer older than one this Lease has
// already read or written is replaced by that newer one. The key is read
// by JetStream's direct get, which any replica answers, and a replica
// that is behind (its server paused, or busy, and not yet told it is
// behind) answers with a holder that has been replaced. Believed, such an
// answer had the followers send their clients to the deposed leader and
// back, ending every forwarded stream at each turn, and restarted a
// holder's silence each time the name changed.
func (l *Lease) Holder(ctx context.Context) (node string, revision uint64, err error) {
	// Read as the key's last message, not with KeyValue.Get: a released
	// key (a delete marker) then has a revision too, and is no older
	// than the holding it ended.
	m, err := l.reads.GetLastMsgForSubject(ctx, "$KV."+l.cfg.Bucket+"."+l.cfg.Key)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// Never written, or expired (the TTL removes the key with no
		// revision to compare): nobody holds it, as far as anyone knows.
		return "", 0, nil
	case err != nil:
		return "", 0, fmt.Errorf("read lease: %w", err)
	case m.Header.Get("KV-Operation") != "" || m.Header.Get(jetstream.MarkerReasonHeader) != "":
		// Deleted or purged: released, nobody holds it since.
		return l.seen("", m.Sequence)
	}
	return l.seen(string(m.Data), m.Sequence)
}

// keyReader reads the last message of a subject of a stream.
type keyReader interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// seen records a read of the key at rev, and returns it unless a later
// revision is known, which it returns instead.
func (l *Lease) seen(holder string, rev uint64) (string, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rev < l.latestRev {
		return l.latestHolder, l.latestRev, nil
	}
	l.latestHolder, l.latestRev = holder, rev
	return holder, rev, nil
}

// TakeFrom takes the lease from a holder that seems dead, as a
// compare-and-set on rev, the revision the holder last wrote as the
// caller read it: it fails (false, nil) if the holder renewed since, or
// another node took it first. Taking a live holder's lease is safe, if
// disruptive: the holder learns at its next renewal, and the new leader's
// barrier (TakeOver) fences its writes meanwhile. That is why detecting
// a dead leader may be quick rather than certain (Heartbeats).
func (l *Lease) TakeFrom(ctx context.Context, rev uint64) (bool, error) {
	l.mu.Lock()
	held := l.rev != 0
	l.mu.Unlock()
	if held {
		return true, nil
	}
	start := time.Now()
	next, err := l.kv.Update(ctx, l.cfg.Key, []byte(l.cfg.Node), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease: %w", err)
	}
	l.took(next, start)
	return true, nil
}
