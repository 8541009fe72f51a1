// Package bolt implements domain.Store on bbolt, an embedded B+tree in one
// file. Records are the API's protobuf messages, so stored data evolves by
// the same field-numbering rules as the wire format.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/metrics"
)

// Bucket names. All of them are created when the file is opened, so
// transactions never have to check that a bucket exists.
var (
	sitesBucket         = []byte("sites")          // site id → pb.Site
	agentsBucket        = []byte("agents")         // agent id → pb.Agent
	agentLoginsBucket   = []byte("agent_logins")   // domain.LoginKey(login) → agent id
	visitorsBucket      = []byte("visitors")       // visitor id → pb.Visitor
	visitorTokensBucket = []byte("visitor_tokens") // token hash → visitor id
	chatsBucket         = []byte("chats")          // chat id → pb.Chat
	chatEventsBucket    = []byte("chat_events")    // eventKey → pb.ChatEvent
	// chatNotesBucket holds the agents' internal notes, apart from the
	// events so that no read of a chat's events can carry one out.
	chatNotesBucket = []byte("chat_notes") // eventKey (of the note's seq) → pb.ChatNote

	invitationsBucket        = []byte("invitations")         // invitation id → pb.Invitation
	pendingInvitationsBucket = []byte("pending_invitations") // invitation id → empty, while pending
	chatRequestsBucket       = []byte("chat_requests")       // chat request id → pb.ChatRequest
	openChatRequestsBucket   = []byte("open_chat_requests")  // openRequestKey → openRequestValue, while open
	// alertCountsBucket counts the requests alerting each agent, so that
	// routing and invitations learn who is free without reading the queue.
	alertCountsBucket      = []byte("alert_counts")      // agent id → open requests alerting the agent, uint32
	routingDecisionsBucket = []byte("routing_decisions") // routingKey → pb.RoutingDecision
	routingCountsBucket    = []byte("routing_counts")    // site id → decisions kept, uint32

	// visitorRecordsBucket indexes what is stored about each visitor, so it
	// can be exported and erased without scanning every bucket.
	visitorRecordsBucket = []byte("visitor_records") // visitorRecordKey → empty
	// activeChatsBucket lists the chats not yet ended, so their timers are
	// rebuilt at start without reading every chat ever held.
	activeChatsBucket = []byte("active_chats") // chat id → empty, while active
	// siteChatsBucket lists each site's chats newest first, so chats are
	// listed without reading every chat.
	siteChatsBucket = []byte("site_chats") // siteChatKey → empty
	// whispersBucket holds supervisors' whispers apart from the chat
	// events, which visitors read.
	whispersBucket = []byte("chat_whispers") // eventKey(chat, whisper seq) → pb.Whisper
	// offlineMessagesBucket holds the messages visitors left when nobody
	// could chat; siteOfflineMessagesBucket lists each site's newest first.
	offlineMessagesBucket     = []byte("offline_messages")      // message id → pb.OfflineMessage
	siteOfflineMessagesBucket = []byte("site_offline_messages") // siteChatKey(site, create time, id) → empty

	apiKeysBucket        = []byte("api_keys")        // SHA-256 of the key → pb.ApiKey
	agentSessionsBucket  = []byte("agent_sessions")  // SHA-256 of the token → pb.AgentSession
	agentPasswordsBucket = []byte("agent_passwords") // agent id → Argon2id PHC string
	// siteIdentitySecretsBucket holds the keys sites sign their visitors'
	// external ids with; apart from the sites so that no site record
	// carries one out.
	siteIdentitySecretsBucket = []byte("site_identity_secrets") // site id → secret
	// ratingCountsBucket counts the chats' ratings per site and per agent
	// and site, per UTC day, as they are given (ratings.go).
	ratingCountsBucket = []byte("rating_counts") // ratingKey → 5 big-endian uint32

	// eventsBucket is the event log. Its bbolt sequence is the last
	// position assigned.
	eventsBucket        = []byte("events")         // positionKey → pb.Event
	cannedRepliesBucket = []byte("canned_replies") // cannedKey → pb.CannedReply
	// funnelBucket counts each site's proactive funnel per UTC hour, as
	// the events are recorded (funnel.go).
	funnelBucket = []byte("funnel") // funnelKey → big-endian uint32 counters by slot
	// ruleFunnelBucket counts each trigger rule's funnel per UTC hour
	// (domain/rulefunnel.go).
	ruleFunnelBucket = []byte("rule_funnel") // ruleFunnelKey → big-endian uint32 counters by slot
)

// legacyMessageKeysBucket indexed idempotency keys on disk until the
// index moved to memory (messagekeys.go). The events hold the same keys,
// so Open empties it. It stays, empty, because a binary from before
// requires it to restore a backup. Such a binary would not recognize
// retries of messages sent since.
var legacyMessageKeysBucket = []byte("message_keys")

// webhooksBucket holds the webhook endpoints with their delivery state,
// webhookDeliveriesBucket their latest deliveries. Both as JSON: neither
// is on a hot path, and neither is part of the API as it is stored.
var (
	webhooksBucket          = []byte("webhooks")           // webhook id → JSON domain.Webhook
	webhookDeliveriesBucket = []byte("webhook_deliveries") // webhook id 0x00 big-endian uint64 seq → JSON domain.WebhookDelivery
)

var allBuckets = [][]byte{
	webhooksBucket,
	webhookDeliveriesBucket,
	ratingCountsBucket,
	activeChatsBucket,
	siteChatsBucket,
	whispersBucket,
	offlineMessagesBucket,
	siteOfflineMessagesBucket,
	sitesBucket,
	agentsBucket,
	agentLoginsBucket,
	visitorsBucket,
	visitorTokensBucket,
	chatsBucket,
	chatEventsBucket,
	chatNotesBucket,
	invitationsBucket,
	pendingInvitationsBucket,
	chatRequestsBucket,
	openChatRequestsBucket,
	alertCountsBucket,
	routingDecisionsBucket,
	routingCountsBucket,
	visitorRecordsBucket,
	apiKeysBucket,
	agentSessionsBucket,
	agentPasswordsBucket,
	siteIdentitySecretsBucket,
	eventsBucket,
	cannedRepliesBucket,
	funnelBucket,
	ruleFunnelBucket,
}

const (
	defaultMaxBatch    = 512
	defaultLockTimeout = 1 * time.Second
)

// Option configures Open.
type Option func(*options)

type options struct {
	maxBatch    int
	lockTimeout time.Duration
	log         *slog.Logger
	replicator  Replicator
}

// WithLogger sets where the store logs the changes of its state, such as
// the disk filling up (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithLockTimeout sets how long Open waits for another holder of the file
// to release it (default 1s) before giving up.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Store is a domain.Store in one bbolt file. Reads run concurrently; all
// writes go through one writer goroutine that commits whatever has queued
// up in one transaction, so concurrent writers share an fsync while a lone
// writer waits for nothing but its own commit.
type Store struct {
	db       *bbolt.DB
	path     string
	maxBatch int

	// mu is held for reading while a request is sent on queue and for
	// writing while queue is closed, so nobody sends on a closed channel.
	mu     sync.RWMutex
	closed bool
	queue  chan *request

	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error

	agents *agentCache
	keys   *messageKeyIndex // the writer's
	root   rootPacker       // the writer's

	log   *slog.Logger
	space fullState // whether the disk is full (full.go)

	// replicator, when set, gets each commit's write set first (replicate.go).
	replicator Replicator

	// commitSeconds and batchSize describe the writer's commits, for metrics.
	commitSeconds *metrics.Histogram
	batchSize     *metrics.Histogram
}

// CommitSeconds is the histogram of write transaction commit times (fsync included).
func (s *Store) CommitSeconds() *metrics.Histogram { return s.commitSeconds }

// BatchSize is the histogram of how many updates shared one commit.
func (s *Store) BatchSize() *metrics.Histogram { return s.batchSize }

var _ domain.Store = (*Store)(nil)

// Open opens or creates the store at path, creating its directory if
// needed. It fails after the lock timeout if another process, or another
// Store in this one, has the file open.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{maxBatch: defaultMaxBatch, lockTimeout: defaultLockTimeout, log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: file is in use by another process or store (no lock after %s): %w", path, o.lockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		// A file from before the visitor records index gets it built from
		// the records it indexes.
		backfill := tx.Bucket(visitorRecordsBucket) == nil && tx.Bucket(visitorsBucket) != nil
		// And one from before the site chats index gets that.
		backfillSiteChats := tx.Bucket(siteChatsBucket) == nil && tx.Bucket(chatsBucket) != nil
		// And one from before the funnel gets it built from the log.
		backfillFunnelCounters := tx.Bucket(funnelBucket) == nil && tx.Bucket(eventsBucket) != nil
		// And one from before trigger rules gets its sites' launching
		// criteria as their first rules, once.
		migrateRules := tx.Bucket(ruleFunnelBucket) == nil && tx.Bucket(sitesBucket) != nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if backfill {
			if err := backfillVisitorRecords(tx); err != nil {
				return err
			}
		}
		if backfillSiteChats {
			if err := backfillSiteChatsIndex(tx); err != nil {
				return err
			}
		}
		if backfillFunnelCounters {
			if err := backfillFunnel(tx); err != nil {
				return err
			}
		}
		if migrateRules {
			if err := migrateLegacyRules(tx); err != nil {
				return err
			}
		}
		if err := emptyBucket(tx, legacyMessageKeysBucket); err != nil {
			return err
		}
		return rebuildAlertCounts(tx)
	})
	if err == nil {
		// A file an earlier run left with its root split gets it back in
		// one page (rootpack.go), in a transaction of its own since the
		// repack must come before any change to a bucket. Only a saving:
		// a file that cannot take it (a full disk) opens as it is.
		rerr := db.Update(func(tx *bbolt.Tx) error {
			if !rootSplit(tx) {
				return nil
			}
			return repackRoot(tx)
		})
		if rerr != nil {
			o.log.Warn("store: root bucket left split", "path", path, "err", rerr)
		}
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{
		commitSeconds: metrics.NewHistogram(metrics.LatencyBuckets...),
		batchSize:     metrics.NewHistogram(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
		db:            db,
		path:          path,
		maxBatch:      o.maxBatch,
		queue:         make(chan *request, o.maxBatch),
		writerDone:    make(chan struct{}),
		agents:        newAgentCache(),
		keys:          newMessageKeyIndex(),
		log:           o.log,
		space:         fullState{checkEvery: spaceCheckInterval},
		replicator:    o.replicator,
	}
	go s.write()
	return s, nil
}

// emptyBucket makes name an empty bucket, whatever it held.
func emptyBucket(tx *bbolt.Tx, name []byte) error {
	if b := tx.Bucket(name); b != nil {
		if k, _ := b.Cursor().First(); k == nil {
			return nil
		}
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("delete bucket %s: %w", name, err)
		}
	}
	if _, err := tx.CreateBucket(name); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// Path returns the file the store was opened at.
func (s *Store) Path() string { return s.path }

// Close stops accepting updates, lets the writer commit those already
// queued, and closes the file. It must not be called from an Update fn or an
// OnCommit hook, which run on the writer it waits for. Later calls return
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		<-s.writerDone
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// errClosed is a fresh error each time, because callers may change it.
func errClosed() error {
	return domain.Errorf(domain.CodeUnavailable, "store is closed")
}

// View runs fn in a read-only snapshot. It bypasses the writer, so reads
// never wait for commits.
func (s *Store) View(ctx context.Context, fn func(domain.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return errClosed()
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return fn(&readTx{tx: tx, agents: s.agents})
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return errClosed()
	}
	return err
}

// Backup writes a consistent copy of the whole file to w while reads and
// writes go on, and returns the number of bytes written. The copy is a
// bbolt file that Open accepts.
func (s *Store) Backup(w io.Writer) (int64, error) {
	if s.isClosed() {
		return 0, errClosed()
	}
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return 0, errClosed()
	}
	if err != nil {
		return n, fmt.Errorf("back up store %s: %w", s.path, err)
	}
	return n, nil
}
