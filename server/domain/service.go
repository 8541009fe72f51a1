package domain

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Limits on what callers may send. They are part of the API contract and
// documented in the README.
const (
	MaxMessageBytes        = 4096
	MaxIdempotencyKeyBytes = 128
	MaxURLBytes            = 2048
	MaxTitleBytes          = 512
	MaxNameBytes           = 200
	MaxOrigins             = 50
	MaxFormFields          = 20
	MaxPagePatterns        = 50
	MaxInviteTextBytes     = 500
	MaxLaunchAfterSeconds  = 24 * 60 * 60
	MaxConcurrentChatsCap  = 100
	DefaultConcurrentChats = 3
	MaxPageSize            = 1000
	DefaultPageSize        = 100
)

// Config wires a Service to its adapters and sets its timings.
type Config struct {
	Store Store
	// WebhookPolicy is what webhook endpoints' URLs may be.
	WebhookPolicy WebhookPolicy
	Broker        Broker
	// Clock defaults to the system clock.
	Clock Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// PresenceGrace is how long a visitor with no open widget stream still
	// counts as on the site, so that moving to another page (the old
	// page's stream closes, the new page's opens) is not a departure.
	PresenceGrace time.Duration
	// MassDisconnectGrace replaces PresenceGrace for the visitors of a mass
	// disconnect, and of a restart (DefaultMassDisconnectGrace says why).
	// It is never shorter than PresenceGrace.
	MassDisconnectGrace time.Duration
	// KeepAliveInterval is how often idle streams get a KeepAlive, so
	// proxies do not cut them and writes to dead connections fail.
	KeepAliveInterval time.Duration
	// Passwords hashes agents' passwords; without it agents cannot sign in
	// with one (sessions from CreateAgentSession still work).
	Passwords PasswordHasher
	// AgentSessionTTL is how long a signed-in agent stays signed in.
	AgentSessionTTL time.Duration
	// AgentGrace is how long an agent whose WatchAgent streams all closed
	// stays as it was before going offline (a console reload is not a
	// sign-out).
	AgentGrace time.Duration
	// AgentQueueInterval is how often at most an agent's console is sent
	// the changes of its sites' queues (DefaultAgentQueueInterval says why); negative
	// sends every change at once.
	AgentQueueInterval time.Duration
	// Retention is how long visitors and chats are kept unless a site says
	// otherwise; nil is DefaultRetention.
	Retention *Retention
	// RetentionSweepInterval is how often the retention sweeper runs
	// (DefaultRetentionSweepInterval when 0); negative runs it only when
	// SweepRetention is called.
	RetentionSweepInterval time.Duration
	// Mechanisms are the implementations of presence, the timers and the
	// credential and origin caches; the zero value is SingleNode().
	Mechanisms Mechanisms
	// Replica makes the Service a replica (replica.go): it serves reads
	// of a store another Service writes, kept current by FollowWrites.
	Replica bool
}

// Defaults for Config's timings.
const (
	DefaultPresenceGrace     = 15 * time.Second
	DefaultKeepAliveInterval = 20 * time.Second
	DefaultAgentGrace        = 60 * time.Second
)

// Service is the one domain service every transport calls: gRPC, Connect,
// gRPC-Web and REST all meet here.
type Service struct {
	webhookPolicy WebhookPolicy
	webhookSender WebhookSender
	store         Store
	broker        Broker
	clock         Clock
	log           *slog.Logger
	grace         time.Duration
	massGrace     time.Duration // Config.MassDisconnectGrace
	keepAlive     time.Duration
	agentGrace    time.Duration
	// queueEvery is Config.AgentQueueInterval.
	queueEvery time.Duration
	presence   presenceManager
	timers     timerScheduler
	router     *router
	positions  *queuePositions
	agents     *agentConns
	waits      *waitEstimates
	awaiting   *awaitingAgent
	available  *siteAvailability
	counters   *counters
	origins    originCache
	passwords  PasswordHasher
	sessionTTL time.Duration
	creds      credentialCache
	streams    *streamCounts
	pages      *pageWriter
	// retention is Config.Retention; sweepEvery Config.RetentionSweepInterval.
	retention  Retention
	sweepEvery time.Duration
	sweeper    retentionSweeper
	// started is when the Service was made: visits open at a restart go on
	// for visitors back within the grace period of it.
	started time.Time
	// replica is Config.Replica.
	replica bool

	// ctx is cancelled by Close; background work (departures) uses it.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewService returns a Service using cfg.
func NewService(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PresenceGrace <= 0 {
		cfg.PresenceGrace = DefaultPresenceGrace
	}
	if cfg.MassDisconnectGrace <= 0 {
		cfg.MassDisconnectGrace = DefaultMassDisconnectGrace
	}
	cfg.MassDisconnectGrace = max(cfg.MassDisconnectGrace, cfg.PresenceGrace)
	if cfg.KeepAliveInterval <= 0 {
		cfg.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if cfg.AgentGrace <= 0 {
		cfg.AgentGrace = DefaultAgentGrace
	}
	if cfg.AgentSessionTTL <= 0 {
		cfg.AgentSessionTTL = DefaultAgentSessionTTL
	}
	switch {
	case cfg.AgentQueueInterval == 0:
		cfg.AgentQueueInterval = DefaultAgentQueueInterval
	case cfg.AgentQueueInterval < 0:
		cfg.AgentQueueInterval = 0
	}
	retention := DefaultRetention
	if cfg.Retention != nil {
		retention = *cfg.Retention
	}
	switch {
	case cfg.RetentionSweepInterval == 0:
		cfg.RetentionSweepInterval = DefaultRetentionSweepInterval
	case cfg.RetentionSweepInterval < 0:
		cfg.RetentionSweepInterval = 0
	}
	s := &Service{
		retention:     retention,
		sweepEvery:    cfg.RetentionSweepInterval,
		store:         cfg.Store,
		webhookPolicy: cfg.WebhookPolicy,
		broker:        cfg.Broker,
		clock:         cfg.Clock,
		log:           cfg.Logger,
		grace:         cfg.PresenceGrace,
		massGrace:     cfg.MassDisconnectGrace,
		keepAlive:     cfg.KeepAliveInterval,
		agentGrace:    cfg.AgentGrace,
		queueEvery:    cfg.AgentQueueInterval,
		passwords:     cfg.Passwords,
		sessionTTL:    cfg.AgentSessionTTL,
		streams:       newStreamCounts(),
		started:       cfg.Clock.Now(),
		replica:       cfg.Replica,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mech := cfg.Mechanisms.orDefault()
	s.creds = mech.creds()
	s.origins = mech.origins()
	s.presence = mech.presence(s)
	s.timers = mech.timers(s.clock)
	s.agents = &agentConns{open: map[string]int{}}
	s.waits = &waitEstimates{bySite: map[string]time.Duration{}}
	s.counters = newCounters()
	s.awaiting = &awaitingAgent{bySite: map[string]map[string]bool{}}
	s.available = &siteAvailability{bySite: map[string]bool{}}
	s.router = newRouter(s)
	s.positions = newQueuePositions(s)
	s.pages = newPageWriter(s)
	return s
}

// Close stops the Service's timers and background work. Streams end when
// their contexts do.
func (s *Service) Close() {
	s.cancel()
	s.presence.stop()
	s.timers.stop()
	s.sweeper.close() // after cancel: a sweep under way stops at its next batch
	s.router.wait()
	s.positions.close()
	s.pages.close()
}

// Done is closed when the Service is closed, so streams can end cleanly on
// shutdown.
func (s *Service) Done() <-chan struct{} { return s.ctx.Done() }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random identifier such as "chat_mfrggzdfmztwq2lk".
func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

var chosenID = regexp.MustCompile(`^[a-z][a-z0-9_-]{2,63}$`)

// checkChosenID accepts an empty id (one is generated) or a caller-chosen
// one of a safe shape.
func checkChosenID(field, id string) error {
	if id != "" && !chosenID.MatchString(id) {
		return invalid(field, "must match %s", chosenID)
	}
	return nil
}

// required adds a violation when value is blank.
func required(v *Violations, field, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.Add(field, "is required")
		return false
	}
	return true
}
