package cluster

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Lead makes w publish under term without a lease or a barrier, as a
// leader that has not noticed it was deposed believes it may.
func Lead(w *Writer, term uint64) { w.lead(term) }

// Append publishes e with msgID, as a Writer's attempt does.
func Append(ctx context.Context, l *Log, e *Entry, msgID string) (uint64, error) {
	return l.append(ctx, e, msgID)
}

// Beat is the heartbeat of holder at term, published on BeatSubject(l).
func Beat(holder string, term uint64) []byte { return beat(holder, term) }

// BeatSubject is the subject of l's heartbeats.
func BeatSubject(l *Lease) string { return l.beatSubject() }

// KeyReader reads the lease's key.
type KeyReader = keyReader

// WrapReads puts wrap around what l reads its key with.
func WrapReads(l *Lease, wrap func(KeyReader) KeyReader) { l.reads = wrap(l.reads) }

// WrapKV puts wrap around the bucket l writes its key in.
func WrapKV(l *Lease, wrap func(jetstream.KeyValue) jetstream.KeyValue) { l.kv = wrap(l.kv) }
