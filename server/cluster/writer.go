package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/metrics"
)

// ErrNotLeader is the error of a write on a node that is not leading (or
// no longer is): the write must go to the leader.
var ErrNotLeader = errors.New("not the leader")

// A publish that failed for want of an answer (a server dying, a
// connection moving to another server) is tried again with the same
// message id, so that the stream stores it once, for up to
// defaultRetryFor; each attempt waits attemptTimeout for its answer.
const (
	defaultRetryFor = 10 * time.Second
	attemptTimeout  = time.Second
	retryWait       = 100 * time.Millisecond
	// storedWait bounds storedAfter's wait for an entry in flight.
	storedWait = 5 * time.Second
)

// Writer is the leader's end of a Log, and the bolt.Replicator of the
// leader's store (bolt.WithReplicator): each commit's write set is
// published after the position the store holds and committed only once
// the log acknowledged it.
//
// A Writer publishes only between TakeOver and the first refusal: a
// publish that finds another leader's entry at its position (ErrFenced)
// steps it down for good, before anything of that commit is acknowledged.
// It then fails every write with ErrNotLeader until the next TakeOver,
// which first brings the store to the log's end.
type Writer struct {
	log  *Log
	node string
	// publishSeconds times Replicate's publishes, retries included.
	publishSeconds *metrics.Histogram

	mu      sync.Mutex
	term    uint64 // the lease revision it leads under; 0 while not leading
	nonce   uint64 // numbers publishes, for their message ids
	stepped chan struct{}
	why     error
}

var _ bolt.Replicator = (*Writer)(nil)

// NewWriter returns a Writer for node on log, not leading.
func NewWriter(log *Log, node string) *Writer {
	return &Writer{log: log, node: node, stepped: make(chan struct{}), publishSeconds: metrics.NewHistogram(metrics.LatencyBuckets...)}
}

// PublishSeconds is how long Replicate's publishes took, from the first
// attempt to the log's acknowledgement.
func (w *Writer) PublishSeconds() *metrics.Histogram { return w.publishSeconds }

// Replicate publishes ws after prev, retrying a publish that got no
// answer for up to 10 s, and returns its position. It fails with
// ErrNotLeader while the Writer does not lead, and with ErrFenced (and
// steps down) when the log has moved past prev.
func (w *Writer) Replicate(prev uint64, ws *bolt.WriteSet) (uint64, error) {
	w.mu.Lock()
	term := w.term
	w.mu.Unlock()
	if term == 0 {
		return 0, ErrNotLeader
	}
	start := time.Now()
	pos, err := w.publish(context.Background(), term, prev, ws)
	if err == nil {
		w.publishSeconds.Observe(time.Since(start).Seconds())
	}
	return pos, err
}

// publish publishes ws after prev under term, whether or not the Writer
// leads yet (TakeOver's barrier is published before it does).
func (w *Writer) publish(ctx context.Context, term, prev uint64, ws *bolt.WriteSet) (uint64, error) {
	w.mu.Lock()
	w.nonce++
	nonce := w.nonce
	w.mu.Unlock()
	e := &Entry{Prev: prev, Leader: w.node, Term: term, WriteSet: ws}
	// Unique per publish, the same for its retries: a retry whose first
	// attempt was stored gets that attempt's position back.
	msgID := fmt.Sprintf("%s/%d/%d", w.node, term, nonce)
	ctx, cancel := context.WithTimeout(ctx, defaultRetryFor)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		pos, err := w.log.append(actx, e, msgID)
		acancel()
		if err == nil {
			return pos, nil
		}
		if errors.Is(err, ErrFenced) {
			pos, after := w.storedAfter(prev, msgID)
			switch after {
			case entryOurs:
				return pos, nil
			case entryOthers:
				w.stepDown(term, err)
				return 0, err
			}
			// Nothing after prev, though the stream refused prev: an
			// attempt of this publish still on its way, or one the
			// stream did not keep. Publishing again, still after prev,
			// either stores the entry or finds what is there now.
			// Stepping down here deposed a live leader under load (a
			// cluster test): the next leader's barrier then took the
			// very position the stream had refused it.
		}
		select {
		case <-ctx.Done():
			// The entry may have been stored all the same: the next
			// publish, after the same prev, is then fenced, and this
			// Writer steps down rather than write on a store that lacks
			// it.
			return 0, err
		case <-time.After(retryWait):
		}
	}
}

// afterPrev is what the log holds after the position a publish expected,
// when the stream refused the publish as fenced.
type afterPrev int

const (
	// entryNone: no entry yet, or none could be read in time.
	entryNone afterPrev = iota
	// entryOurs: the publish's own, an attempt whose answer was lost.
	entryOurs
	// entryOthers: another publish's: the log moved on without this
	// Writer, which must step down.
	entryOthers
)

// storedAfter reads whose entry follows prev: an attempt whose answer was
// lost, still on its way through the stream's replicas when the retry
// came, makes the retry look fenced (the stream has not learned its id
// yet, but counts it in the subject's last sequence). Without this check
// a busy leader stepped down over its own write. Only one subject is
// published on the log, so the entry after prev is at prev+1. A read
// that gets no answer is asked again, for up to storedWait.
func (w *Writer) storedAfter(prev uint64, msgID string) (uint64, afterPrev) {
	ctx, cancel := context.WithTimeout(context.Background(), storedWait)
	defer cancel()
	for {
		id, err := w.log.msgIDAt(ctx, prev+1)
		switch {
		case err == nil && id == msgID:
			return prev + 1, entryOurs
		case err == nil:
			return prev + 1, entryOthers
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return 0, entryNone
		}
		select {
		case <-ctx.Done():
			return 0, entryNone
		case <-time.After(retryWait):
		}
	}
}

// lead makes the Writer publish under term.
func (w *Writer) lead(term uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.term == 0 {
		w.stepped = make(chan struct{})
		w.why = nil
	}
	w.term = term
}

// StepDown stops the Writer publishing, as when its lease is lost. A
// publish already under way may still be acknowledged: the log accepted
// it, so no other leader has written since.
func (w *Writer) StepDown() { w.stepDown(0, ErrNotLeader) }

// stepDown stops leading under term (any term when 0).
func (w *Writer) stepDown(term uint64, why error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.term == 0 || (term != 0 && w.term != term) {
		return
	}
	w.term, w.why = 0, why
	close(w.stepped)
}

// Leading reports whether the Writer publishes, and under which term.
func (w *Writer) Leading() (term uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.term, w.term != 0
}

// SteppedDown is closed when the Writer stops leading; Err then says why
// (ErrFenced when another leader wrote).
func (w *Writer) SteppedDown() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stepped
}

// Err is why the Writer last stepped down, nil while it leads or never
// led.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}
