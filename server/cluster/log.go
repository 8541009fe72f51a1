package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/bolt"
)

// ErrFenced is the error of a publish refused because the log has moved
// past the position the publisher expected: another leader has published
// since. (An earlier attempt of the same publish, whose answer was lost,
// stored after all, fences its retry too; the Writer recognizes its own
// entry by its message id and takes its position instead.) The publisher
// must acknowledge nothing and catch up before writing again.
var ErrFenced = errors.New("fenced: the log has moved past this writer's position")

// LogConfig names a Log and says how it is stored.
type LogConfig struct {
	// Stream is the JetStream stream's name (default "PROACTIVECHAT_LOG").
	Stream string
	// Subject is the one subject the log's entries are published on
	// (default "proactivechat.log"). Fencing compares positions on it.
	Subject string
	// Replicas is how many servers hold the stream (default 3; at most the
	// cluster's size). An entry is acknowledged once a majority of them
	// stored it.
	Replicas int
	// Duplicates is how long the stream remembers an entry's message id
	// (default 2 minutes; see duplicateWindow).
	Duplicates time.Duration
}

func (c LogConfig) withDefaults() LogConfig {
	if c.Stream == "" {
		c.Stream = "PROACTIVECHAT_LOG"
	}
	if c.Subject == "" {
		c.Subject = "proactivechat.log"
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Duplicates == 0 {
		c.Duplicates = duplicateWindow
	}
	return c
}

// duplicateWindow is how long the stream remembers an entry's message id:
// a Writer's retry of a publish whose PubAck was lost is recognized within
// it, and gets the first publish's position instead of a second entry.
const duplicateWindow = 2 * time.Minute

// Log is a replicated, ordered log of write sets: a JetStream stream on
// file storage with one subject. An entry's position is its stream
// sequence; every entry names the position before it, so a reader
// detects a gap instead of skipping one. It only accepts an entry that
// follows the last one on the subject, whatever the publisher believes.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    LogConfig
}

// OpenLog creates the log's stream, or updates it to cfg, and returns the
// log. The servers must run JetStream with sync always, or an entry
// acknowledged by a majority may still be lost when they lose power
// together.
func OpenLog(ctx context.Context, js jetstream.JetStream, cfg LogConfig) (*Log, error) {
	cfg = cfg.withDefaults()
	var err error
	if cfg.Replicas, err = KeepReplicas(ctx, js, cfg.Stream, cfg.Replicas); err != nil {
		return nil, fmt.Errorf("open log %s: %w", cfg.Stream, err)
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Proactive Chat replicated store: the write sets of the leader's commits",
		Subjects:    []string{cfg.Subject},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Duplicates:  cfg.Duplicates,
		// Entries are never deleted one by one: a hole would stop every
		// follower. Trimming the head behind a snapshot is a purge.
		DenyDelete: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", cfg.Stream, err)
	}
	return &Log{js: js, stream: stream, cfg: cfg}, nil
}

// KeepReplicas is the number of replicas to open the JetStream stream
// named stream with: want, or the stream's own if it exists with more.
// Every node opens the log, the lease, the snapshots and the node
// directory with R = min(3, 1 + its routes), and CreateOrUpdate applies
// what it is given: a node started with fewer routes than the cluster has
// nodes (NATS needs one to find the rest), new or restarted, would
// otherwise lower a running cluster's replicas. Raising them (a cluster
// grown from one or two nodes) still happens.
func KeepReplicas(ctx context.Context, js jetstream.JetStream, stream string, want int) (int, error) {
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return want, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return max(want, s.CachedInfo().Config.Replicas), nil
}

// Entry is one record of the log: the write set of one commit of the
// leader (or none, for a barrier), at Position, following Prev.
type Entry struct {
	Position uint64
	Prev     uint64
	// Leader names the node that published the entry, and Term its lease
	// revision; they say who wrote what, and are not checked.
	Leader   string
	Term     uint64
	WriteSet *bolt.WriteSet
}

// append publishes e after e.Prev and returns its position. msgID makes a
// retry of the same publish return the first one's position. A publish
// that finds the log elsewhere than e.Prev fails with ErrFenced.
func (l *Log) append(ctx context.Context, e *Entry, msgID string) (uint64, error) {
	ack, err := l.js.Publish(ctx, l.cfg.Subject, marshalEntry(e),
		jetstream.WithExpectStream(l.cfg.Stream),
		jetstream.WithExpectLastSequencePerSubject(e.Prev),
		jetstream.WithMsgID(msgID))
	if err != nil {
		if isWrongLastSequence(err) {
			return 0, fmt.Errorf("append to log after %d: %w: %w", e.Prev, ErrFenced, err)
		}
		return 0, fmt.Errorf("append to log after %d: %w", e.Prev, err)
	}
	return ack.Sequence, nil
}

// isWrongLastSequence reports whether err is the stream refusing an
// expected last sequence; replicated streams use a code of their own.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// msgIDAt returns the message id of the entry at pos, or "" and
// jetstream.ErrMsgNotFound while there is none.
func (l *Log) msgIDAt(ctx context.Context, pos uint64) (string, error) {
	msg, err := l.stream.GetMsg(ctx, pos)
	if err != nil {
		return "", err
	}
	return msg.Header.Get(jetstream.MsgIDHeader), nil
}

// StreamName is the log's JetStream stream.
func (l *Log) StreamName() string { return l.cfg.Stream }

// get returns the entry at pos, asked of the stream's leader: unlike
// Read, it needs no consumer, so it works while the cluster's meta
// group, which places consumers, elects a new leader.
func (l *Log) get(ctx context.Context, pos uint64) (*Entry, error) {
	msg, err := l.stream.GetMsg(ctx, pos)
	if err != nil {
		return nil, fmt.Errorf("read log entry %d: %w", pos, err)
	}
	e, err := unmarshalEntry(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("read log entry %d: %w", pos, err)
	}
	e.Position = msg.Sequence
	return e, nil
}

// Last returns the position of the log's last entry, 0 when it has none.
func (l *Log) Last(ctx context.Context) (uint64, error) {
	msg, err := l.stream.GetLastMsgForSubject(ctx, l.cfg.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read log end: %w", err)
	}
	return msg.Sequence, nil
}

// Read calls fn with each entry after position after, in order, as they
// are published, until ctx ends (it then returns ctx.Err()) or fn fails
// (it returns fn's error). A server that dies or a connection that drops
// is survived: the reader resumes after the last entry it delivered, if
// need be through a new consumer. An entry it cannot decode is an error:
// skipping it would leave the store without it.
func (l *Log) Read(ctx context.Context, after uint64, fn func(*Entry) error) error {
	for {
		err := l.readFrom(ctx, &after, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		// The consumer could not be made, or stopped: another, after a
		// pause, from where this one got to.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryWait):
		}
	}
}

// stopError carries an error that ends Read: fn's, or an entry that
// cannot be decoded.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// consumerTimeout bounds making a reader's consumer: a request that got
// lost with a dying server is given up soon and made again, through
// another.
const consumerTimeout = 2 * time.Second

// readFrom reads with one consumer from *after on, moving *after along.
// The consumer is ephemeral and pushes nothing back to the stream (no
// acks, one replica, in memory): a reader's place is its store's
// position, not the consumer's. Any trouble (a missed heartbeat, a gap in
// the deliveries, the consumer gone with its server) ends it, and Read
// makes another from *after.
func (l *Log) readFrom(ctx context.Context, after *uint64, fn func(*Entry) error) error {
	cctx, cancel := context.WithTimeout(ctx, consumerTimeout)
	cons, err := l.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		FilterSubject:     l.cfg.Subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       *after + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		Replicas:          1,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("read log after %d: %w", *after, err)
	}
	defer func() {
		// Best effort, and not waited for: the inactive threshold
		// removes it otherwise, and a delete waits for the meta group's
		// leader, which may be electing (a new leader's follower stops
		// reading right then).
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), consumerTimeout)
			_ = l.stream.DeleteConsumer(dctx, cons.CachedInfo().Name)
			cancel()
		}()
	}()
	// Heartbeats every second: a reader whose server died notices within
	// a few, and resumes through another.
	msgs, err := cons.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("read log after %d: %w", *after, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	var delivered uint64
	for {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read log after %d: %w", *after, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read log after %d: %w", *after, err)
		}
		if meta.Sequence.Consumer != delivered+1 {
			return fmt.Errorf("read log after %d: delivery %d after %d", *after, meta.Sequence.Consumer, delivered)
		}
		delivered = meta.Sequence.Consumer
		e, err := unmarshalEntry(msg.Data())
		if err != nil {
			return stopError{fmt.Errorf("read log entry %d: %w", meta.Sequence.Stream, err)}
		}
		e.Position = meta.Sequence.Stream
		if e.Position <= *after {
			continue
		}
		if err := fn(e); err != nil {
			return stopError{err}
		}
		*after = e.Position
	}
}
