// Package app assembles the Proactive Chat server: the bbolt store, the
// in-process broker, the domain service, and every transport on one port.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proactivechat/proactivechat/gen/openapi"
	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/gateway"
	"github.com/proactivechat/proactivechat/server/inmem"
	"github.com/proactivechat/proactivechat/server/metrics"
	"github.com/proactivechat/proactivechat/server/password"
	"github.com/proactivechat/proactivechat/server/rpc"
	"github.com/proactivechat/proactivechat/server/web"
	"github.com/proactivechat/proactivechat/server/webhooks"
)

// Config is how the server runs.
type Config struct {
	// Addr is the TCP address to listen on, e.g. ":8080".
	Addr string
	// DBPath is the bbolt file; its directory is created if missing.
	DBPath string
	Logger *slog.Logger
	// Clock, PresenceGrace and KeepAliveInterval default to the domain's
	// defaults; tests set them.
	Clock             domain.Clock
	PresenceGrace     time.Duration
	KeepAliveInterval time.Duration
	AgentGrace        time.Duration
	// TLSCertFile and TLSKeyFile, when both set, serve HTTPS (HTTP/2 by
	// ALPN, HTTP/1.1 otherwise) on Addr instead of plain HTTP.
	TLSCertFile string
	TLSKeyFile  string
	// RateLimits of the public calls, per client; nil is
	// rpc.DefaultRateLimits (loopback clients exempt).
	RateLimits *rpc.RateLimits
	// PasswordParams are Argon2id's costs for agents' passwords; nil is
	// password.Recommended. Tests make them cheap.
	PasswordParams *password.Params
	// AgentSessionTTL is how long an agent stays signed in (12 h when 0).
	AgentSessionTTL time.Duration
	// Retention is how long visitors and chats are kept unless a site says
	// otherwise; nil is domain.DefaultRetention.
	Retention *domain.Retention
	// BodyTimeout bounds the time to receive a request's body once its
	// headers have arrived, on every request but a client stream
	// (defaultBodyTimeout when 0). Tests shorten it.
	BodyTimeout time.Duration
	// StreamMessageTimeout bounds the time to receive each message of a
	// client stream (ChatService.Converse) once its first byte has
	// arrived, and the first message once the stream has started
	// (defaultStreamMessageTimeout when 0). Tests shorten it.
	StreamMessageTimeout time.Duration
	// WebhooksAllowHTTP accepts http webhook URLs besides https.
	WebhooksAllowHTTP bool
	// WebhooksAllowPrivate lets webhook deliveries reach loopback, private
	// and link-local addresses (tests, on-premises receivers).
	WebhooksAllowPrivate bool
	// WebhookTimeout bounds each delivery (webhooks.DefaultTimeout, 10 s,
	// when 0). Tests shorten it.
	WebhookTimeout time.Duration
	// WebhookJitter draws the random part of retry delays; nil is random.
	// Tests make it 0.
	WebhookJitter func() float64

	// store, when set, is an open store to run the domain on instead of
	// opening DBPath; the App then leaves it open on Shutdown. A cluster
	// node (Node) opens its store once and runs one App on it per
	// leadership term.
	store *bolt.Store
	// logPublishSeconds, set on a cluster's leader, times the Writer's
	// publishes of each commit to the log, for metrics.
	logPublishSeconds *metrics.Histogram
	// trustedProxy, when set, names the peers whose X-Forwarded-For the
	// rate limits believe besides loopback's (RateLimits.TrustedProxy): a
	// cluster node leading gives its fellow nodes, which forward their
	// clients' calls to it.
	trustedProxy func(netip.Addr) bool
}

// Limits of the HTTP server (those of requests are in edge.go).
const (
	// compressMinBytes: smaller responses are not worth gzip's CPU.
	compressMinBytes = 1024
)

// App is a running server.
type App struct {
	cfg   Config
	log   *slog.Logger
	Store *bolt.Store
	// ownStore: the App opened Store and closes it on Shutdown.
	ownStore bool
	Service  *domain.Service
	// Webhooks delivers the event log to the webhook endpoints.
	Webhooks *webhooks.Engine
	server   *http.Server
	ln       net.Listener
	// gatewayLn carries the REST gateway's gRPC calls to our own handlers
	// in memory, whatever address and TLS the public listener has.
	gatewayLn   *bufconn.Listener
	gatewayConn *grpc.ClientConn
	// h2c serves the plain listener's HTTP/2 connections (nil with TLS).
	h2c *h2cServer
	// resets is the HTTP/2 connections' budget of stream resets.
	resets *resetLimit
	// edge bounds every request's size and time before a handler reads it.
	edge     *edge
	serveErr chan error
	// InitialAPIKey is the admin API key made on the first start (when the
	// database had none), to be shown once; "" on later starts.
	InitialAPIKey string
}

// Open opens the store and builds the server; Start begins serving.
func Open(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	store, ownStore := cfg.store, false
	if store == nil {
		var err error
		if store, err = bolt.Open(cfg.DBPath, bolt.WithLogger(cfg.Logger)); err != nil {
			return nil, err
		}
		ownStore = true
	}
	a := &App{cfg: cfg, log: cfg.Logger, Store: store, ownStore: ownStore, serveErr: make(chan error, 2), resets: resetLimitOn(cfg.Clock)}
	hasher := password.Hasher{Params: password.Recommended}
	if cfg.PasswordParams != nil {
		hasher.Params = *cfg.PasswordParams
	}
	a.Service = domain.NewService(domain.Config{
		Passwords:         hasher,
		AgentSessionTTL:   cfg.AgentSessionTTL,
		Store:             store,
		Broker:            inmem.NewBroker(0),
		Clock:             cfg.Clock,
		Logger:            cfg.Logger,
		PresenceGrace:     cfg.PresenceGrace,
		KeepAliveInterval: cfg.KeepAliveInterval,
		AgentGrace:        cfg.AgentGrace,
		Retention:         cfg.Retention,
		WebhookPolicy:     domain.WebhookPolicy{AllowHTTP: cfg.WebhooksAllowHTTP, AllowPrivate: cfg.WebhooksAllowPrivate},
	})
	a.Webhooks = webhooks.New(webhooks.Config{
		Service: a.Service, Clock: cfg.Clock, Logger: cfg.Logger,
		AllowPrivate: cfg.WebhooksAllowPrivate, Timeout: cfg.WebhookTimeout, Jitter: cfg.WebhookJitter,
	})
	a.Service.SetWebhookSender(a.Webhooks)
	handler, err := a.handler()
	if err == nil {
		err = a.Service.Start(context.Background())
	}
	if err == nil {
		a.InitialAPIKey, err = a.Service.EnsureAPIKey(context.Background(), "initial")
	}
	if err != nil {
		a.Service.Close()
		if a.gatewayConn != nil {
			a.gatewayConn.Close()
		}
		if ownStore {
			store.Close()
		}
		return nil, err
	}
	a.Webhooks.Start()
	a.server = newHTTPServer(handler, cfg.Logger)
	return a, nil
}

// newHTTPServer is the public HTTP server around handler: HTTP/1.1 and
// HTTP/2, with or without TLS.
func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true) // over TLS, negotiated by ALPN
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:   handler,
		Protocols: &protocols,
		// No ReadTimeout or WriteTimeout: they would cut long streams.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		HTTP2: &http.HTTP2Config{
			// Ping idle HTTP/2 connections so vanished clients are noticed.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (a *App) handler() (http.Handler, error) {
	mux := http.NewServeMux()
	a.gatewayLn = bufconn.Listen(1 << 20)
	rpc.Mount(mux, a.Service, a.log,
		connect.WithCompressMinBytes(compressMinBytes),
		// The edge refuses bodies and messages over maxRequestBytes
		// first, with INVALID_ARGUMENT; Connect's own check stays
		// behind it, and our gzip stops at the limit too.
		connect.WithReadMaxBytes(maxRequestBytes),
		connect.WithCompression("gzip", nil, nil),
		connect.WithCompression("gzip", newGunzip, newGzip),
		// Authorization first: rate limits count only calls that passed it.
		connect.WithInterceptors(rpc.NewAuthorizer(a.Service, a.log), a.rateLimiter()),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
			a.log.ErrorContext(ctx, "panic in handler", "procedure", spec.Procedure, "panic", p)
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
	)
	mux.Handle(grpchealth.NewHandler(a.healthChecker()))
	reflector := grpcreflect.NewStaticReflector(append(slices.Clone(rpc.ServiceNames),
		grpchealth.HealthV1ServiceName, grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	conn, err := grpc.NewClient("passthrough:///proactivechat",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return a.gatewayLn.DialContext(ctx)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	a.gatewayConn = conn
	rest, err := gateway.New(context.Background(), conn)
	if err != nil {
		return nil, err
	}
	mux.Handle("/v1/", rest)
	a.edge = newEdge(rest, a.cfg.BodyTimeout, a.cfg.StreamMessageTimeout)
	mux.HandleFunc("GET /metrics", a.serveMetrics)
	mux.HandleFunc("GET /admin/backup", a.serveBackup)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.JSON)
	})
	web.Mount(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, indexText)
	})
	// CORS first, so that a browser can read the edge's refusals too.
	return a.withCORS(a.edge.wrap(mux)), nil
}

const indexText = `Proactive Chat server

  REST API      /v1/…         (OpenAPI document: /openapi.json)
  gRPC, Connect, gRPC-Web     proactivechat.v1.{Admin,Visitor,Agent,Chat}Service on this port
  Health        grpc.health.v1.Health; reflection is on (grpcurl -plaintext HOST:PORT list)
  Metrics       /metrics (Prometheus text format)
`

// Listen opens the public TCP listener. TCP keep-alive probes find peers
// that vanished without closing (about 30 s), so their streams end and a
// visitor who is gone stops counting as online.
func (a *App) Listen() error {
	ln, err := listen(a.cfg.Addr)
	a.ln = ln
	return err
}

func listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Addr is the address the server listens on, once Listen returned.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// Start serves on the listener and on the gateway's in-memory listener.
// Errors appear on Wait.
func (a *App) Start() {
	if a.cfg.TLSCertFile != "" || a.cfg.TLSKeyFile != "" {
		if err := guardTLSHTTP2(a.server, a.resets); err != nil {
			a.serveErr <- err
		} else {
			go func() { a.serveErr <- a.server.ServeTLS(a.ln, a.cfg.TLSCertFile, a.cfg.TLSKeyFile) }()
		}
	} else {
		// HTTP/2 without TLS (gRPC clients, proxies) goes straight to the
		// HTTP/2 server, HTTP/1.1 to a.server: see h2cServer.
		h2c, err := newH2CServer(a.ln, a.server, a.server.Handler)
		if err != nil {
			a.serveErr <- err
		} else {
			h2c.resets = a.resets
			a.h2c = h2c
			go h2c.serve()
			go func() { a.serveErr <- a.server.Serve(h2c.http1Listener()) }()
		}
	}
	a.startGateway()
}

// startGateway serves the REST gateway's in-memory listener; it is all a
// cluster node's App serves itself (the node serves the public port).
func (a *App) startGateway() {
	go func() { a.serveErr <- a.server.Serve(a.gatewayLn) }()
}

// Wait returns when serving failed for a reason other than shutdown.
func (a *App) Wait() error {
	err := <-a.serveErr
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops gracefully: streams are told to end (clients resume
// elsewhere), in-flight calls finish, then the database closes. Writes that
// were acknowledged are already durable.
func (a *App) Shutdown(ctx context.Context) error {
	a.Webhooks.Close()
	a.Service.Close()
	h2cDone := make(chan error, 1)
	if a.h2c != nil {
		go func() { h2cDone <- a.h2c.shutdown(ctx) }()
	} else {
		h2cDone <- nil
	}
	err := a.server.Shutdown(ctx)
	err = errors.Join(err, <-h2cDone)
	if err != nil {
		a.server.Close()
	}
	a.gatewayConn.Close()
	if !a.ownStore {
		return err
	}
	return errors.Join(err, a.Store.Close())
}
