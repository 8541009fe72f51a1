package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Replication (server/cluster) keeps several files the same by a log of
// write sets. One store writes, the leader: each of its commits hands its
// write set to a Replicator before the commit, and commits only once the
// Replicator has made it durable in the log. The other stores apply the
// log's entries in order with Apply. Every file records the log position
// it holds, in the same transaction as the changes, so that a node that
// restarts resumes exactly where its file is.

// replicationBucket holds the log position of the file. It is made by the
// first transaction that records one, so a store that never replicates
// keeps the files it always had.
var (
	replicationBucket = []byte("replication")
	positionName      = []byte("position") // big-endian uint64
)

// Replicator makes a write transaction's changes durable elsewhere before
// the transaction commits locally.
type Replicator interface {
	// Replicate is called on the store's writer, inside the write
	// transaction, once per commit with the changes of every Update of the
	// batch (never an empty write set). prev is the log position the file
	// holds. It returns the position of the write set in the log, after
	// prev; the transaction records it and commits. An error rolls the
	// transaction back, and every Update of the batch fails with
	// CodeUnavailable: nothing is acknowledged. Replicate must not call the
	// Store.
	Replicate(prev uint64, ws *WriteSet) (position uint64, err error)
}

// WithReplicator makes the store capture the write set of each commit and
// hand it to r before committing (see Replicator). Without it nothing is
// captured and commits cost what they always did.
func WithReplicator(r Replicator) Option {
	return func(o *options) { o.replicator = r }
}

// Snapshot writes a consistent copy of the whole file to w, as Backup
// does, and returns the log position that copy holds: a node that
// installs it resumes the log after that position.
func (s *Store) Snapshot(w io.Writer) (pos uint64, n int64, err error) {
	if s.isClosed() {
		return 0, 0, errClosed()
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		if pos, err = readPosition(tx); err != nil {
			return err
		}
		n, err = tx.WriteTo(w)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return 0, n, errClosed()
	}
	if err != nil {
		return 0, n, fmt.Errorf("snapshot store %s: %w", s.path, err)
	}
	return pos, n, nil
}

// Position returns the log position the file holds: that of the last
// write set replicated by this store or applied to it, 0 if none.
func (s *Store) Position() (uint64, error) {
	if s.isClosed() {
		return 0, errClosed()
	}
	var pos uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		pos, err = readPosition(tx)
		return err
	})
	return pos, err
}

// Apply applies the log entry at position pos, which follows the entry at
// prev, to the file, with the position, in one transaction. An entry at or
// before the file's position is applied already and changes nothing, so a
// log read again from an earlier point applies each entry once. An entry
// whose prev is not the file's position would leave a gap and fails with
// CodeFailedPrecondition. An empty write set only moves the position.
//
// Apply goes through the writer like Update (several Applies queued
// together share a commit), but never through the Replicator: its changes
// come from the log already.
func (s *Store) Apply(ctx context.Context, prev, pos uint64, ws *WriteSet) error {
	if pos <= prev {
		return domain.Errorf(domain.CodeInvalid, "log entry %d does not follow %d", pos, prev)
	}
	return s.update(ctx, true, func(t domain.WriteTx) error {
		w := t.(*writeTx)
		cur, err := readPosition(w.tx)
		if err != nil {
			return err
		}
		if pos <= cur {
			return nil
		}
		if prev != cur {
			return domain.Errorf(domain.CodeFailedPrecondition,
				"log entry %d follows %d, but the store holds position %d", pos, prev, cur)
		}
		w.wrote = true
		if err := ws.Apply(w.tx); err != nil {
			return err
		}
		return writePosition(w.tx, pos)
	})
}

func readPosition(tx *bbolt.Tx) (uint64, error) {
	b := tx.Bucket(replicationBucket)
	if b == nil {
		return 0, nil
	}
	v := b.Get(positionName)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("decode %s %s: %d bytes, want 8", replicationBucket, positionName, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func writePosition(tx *bbolt.Tx, pos uint64) error {
	b, err := tx.CreateBucketIfNotExists(replicationBucket)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", replicationBucket, err)
	}
	return b.Put(positionName, binary.BigEndian.AppendUint64(nil, pos))
}

// replicate hands the write set rec holds to the replicator and records the
// position it returns in tx. It does nothing when there is nothing to
// replicate.
func (s *Store) replicate(tx *bbolt.Tx, rec *recorder) error {
	if rec == nil || rec.ws.Empty() {
		return nil
	}
	prev, err := readPosition(tx)
	if err != nil {
		return err
	}
	pos, err := s.replicator.Replicate(prev, &rec.ws)
	if err != nil {
		return errNotReplicated(err)
	}
	if pos <= prev {
		return errNotReplicated(fmt.Errorf("replicator returned position %d, not after %d", pos, prev))
	}
	return writePosition(tx, pos)
}

// errNotReplicated is what the Updates of a batch that could not be
// replicated get: CodeUnavailable (another node may be leading now; try
// again), with the cause for errors.Is and the log.
func errNotReplicated(cause error) error {
	return fmt.Errorf("%w: %w", domain.Errorf(domain.CodeUnavailable, "write not replicated; try again"), cause)
}

// reset forgets every chat: applying the log changes chats behind the
// index's back.
func (x *messageKeyIndex) reset() {
	clear(x.chats)
	clear(x.touched)
}
