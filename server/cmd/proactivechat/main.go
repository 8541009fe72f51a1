// Command proactivechat runs the Proactive Chat server: gRPC, Connect,
// gRPC-Web and REST on one port, stored in an embedded bbolt file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
)

func main() {
	// The bbolt writer blocks its thread in fsync. With one thread for Go
	// code (GOMAXPROCS=1, as under taskset or a one-CPU container) nothing
	// else runs meanwhile, so no write joins the next group commit and each
	// commit carries one update: 2.4× fewer durable messages/s measured
	// (bench/README.md). Two threads keep requests flowing during the fsync.
	// An explicit GOMAXPROCS in the environment is respected.
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backup":
			os.Exit(runTool(&Backup{}, os.Args[2:]))
		case "restore":
			os.Exit(runTool(&Restore{}, os.Args[2:]))
		case "api-key":
			os.Exit(runTool(&CreateAPIKey{}, os.Args[2:]))
		case "compact":
			os.Exit(runTool(&Compact{}, os.Args[2:]))
		case "check":
			os.Exit(runTool(&Check{}, os.Args[2:]))
		}
	}
	m := &Main{}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		slog.Error("server failed", "err", err)
		os.Exit(1)
	}
}

// tool is a subcommand: backup, restore, api-key or compact.
type tool interface {
	ParseFlags(args []string) error
	Run(ctx context.Context, out io.Writer) error
}

// runTool runs a subcommand and returns the process's exit code.
func runTool(t tool, args []string) int {
	if err := t.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := t.Run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Main is the program: its flags and its running server.
type Main struct {
	Addr     string
	DBPath   string
	Demo     bool
	LogLevel slog.Level
	// PprofAddr, when set, serves Go's profiling endpoints there, apart
	// from the public port.
	PprofAddr string
	// TLSCert and TLSKey are PEM files; with both, the port serves HTTPS.
	TLSCert string
	TLSKey  string
	// Retention is how long visitors who never chatted and ended chats are
	// kept (0: forever) unless a site says otherwise.
	Retention domain.Retention
	// WebhooksAllowHTTP and WebhooksAllowPrivate relax what webhook
	// endpoints may be: http URLs; loopback, private and link-local
	// addresses.
	WebhooksAllowHTTP    bool
	WebhooksAllowPrivate bool
	// Cluster is how this node joins a cluster (docs/cluster.md); with no
	// Node name it runs alone on its bbolt file.
	Cluster app.ClusterConfig
}

// ParseFlags reads flags; each has an environment variable that sets its default.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat", flag.ContinueOnError)
	fs.StringVar(&m.Addr, "addr", env("PROACTIVECHAT_ADDR", ":8080"), "address to listen on (env PROACTIVECHAT_ADDR)")
	fs.StringVar(&m.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "bbolt database file; its directory is created (env PROACTIVECHAT_DB)")
	demo, _ := strconv.ParseBool(env("PROACTIVECHAT_DEMO", "false"))
	fs.BoolVar(&m.Demo, "demo", demo, "seed two demo sites with proactive chat enabled (one per mode) and a demo agent (env PROACTIVECHAT_DEMO)")
	fs.StringVar(&m.TLSCert, "tls-cert", env("PROACTIVECHAT_TLS_CERT", ""), "PEM certificate (chain) file: serve HTTPS with HTTP/2 (env PROACTIVECHAT_TLS_CERT)")
	fs.StringVar(&m.TLSKey, "tls-key", env("PROACTIVECHAT_TLS_KEY", ""), "PEM private key file for -tls-cert (env PROACTIVECHAT_TLS_KEY)")
	fs.StringVar(&m.Cluster.TLSCAFile, "tls-ca", env("PROACTIVECHAT_TLS_CA", ""), "cluster node: PEM file of a private CA, trusted beside the system's roots to verify the leader's certificate, and alone on the NATS routes, which it makes mutual TLS with -tls-cert (env PROACTIVECHAT_TLS_CA)")
	fs.StringVar(&m.PprofAddr, "pprof", env("PROACTIVECHAT_PPROF", ""), "serve /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (env PROACTIVECHAT_PPROF)")
	allowHTTP, _ := strconv.ParseBool(env("PROACTIVECHAT_WEBHOOKS_ALLOW_HTTP", "false"))
	fs.BoolVar(&m.WebhooksAllowHTTP, "webhooks-allow-http", allowHTTP, "accept http webhook URLs, not only https (env PROACTIVECHAT_WEBHOOKS_ALLOW_HTTP)")
	allowPrivate, _ := strconv.ParseBool(env("PROACTIVECHAT_WEBHOOKS_ALLOW_PRIVATE", "false"))
	fs.BoolVar(&m.WebhooksAllowPrivate, "webhooks-allow-private", allowPrivate, "let webhooks reach loopback, private and link-local addresses (env PROACTIVECHAT_WEBHOOKS_ALLOW_PRIVATE)")
	if err := m.retentionFlags(fs); err != nil {
		return err
	}
	fs.StringVar(&m.Cluster.Node, "node", env("PROACTIVECHAT_NODE", ""), "run as the cluster node of this name, unique in the cluster (env PROACTIVECHAT_NODE)")
	fs.StringVar(&m.Cluster.NATSListen, "nats-listen", env("PROACTIVECHAT_NATS_LISTEN", ""), "HOST:PORT of this node's embedded NATS cluster routes (env PROACTIVECHAT_NATS_LISTEN)")
	routes := env("PROACTIVECHAT_NATS_ROUTES", "")
	fs.StringVar(&routes, "nats-routes", routes, "the other nodes' -nats-listen addresses, HOST:PORT,HOST:PORT (env PROACTIVECHAT_NATS_ROUTES)")
	fs.StringVar(&m.Cluster.NATSURL, "nats-url", env("PROACTIVECHAT_NATS_URL", ""), "use this existing NATS cluster (with JetStream) instead of embedding one (env PROACTIVECHAT_NATS_URL)")
	fs.StringVar(&m.Cluster.Advertise, "advertise", env("PROACTIVECHAT_ADVERTISE", ""), "HOST:PORT at which the other nodes reach -addr (default: -addr's host, else -nats-listen's, else localhost) (env PROACTIVECHAT_ADVERTISE)")
	readsOnLeader, _ := strconv.ParseBool(env("PROACTIVECHAT_READS_ON_LEADER", "false"))
	fs.BoolVar(&m.Cluster.ReadsOnLeader, "reads-on-leader", readsOnLeader, "cluster node: send every read to the leader, instead of serving the reads of what is stored (the event log, chats, sites, agents) from this node's file; for nodes sharing one machine (env PROACTIVECHAT_READS_ON_LEADER)")
	leaderTimeout := env("PROACTIVECHAT_LEADER_TIMEOUT", app.DefaultLeaderTimeout.String())
	fs.Func("leader-timeout", "cluster node: how long the leader's heartbeats may be missing before another node takes over; more on a loaded or distant cluster, where a live leader may be deposed needlessly (default "+app.DefaultLeaderTimeout.String()+"; env PROACTIVECHAT_LEADER_TIMEOUT)", func(s string) error { leaderTimeout = s; return nil })
	level := env("PROACTIVECHAT_LOG_LEVEL", "info")
	fs.Func("log-level", "debug, info, warn or error (default info; env PROACTIVECHAT_LOG_LEVEL)", func(s string) error { level = s; return nil })
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat [flags]          serve
       proactivechat backup -h         back up the database (hot, from a running server, or offline)
       proactivechat restore -h        replace the database with a backup
       proactivechat api-key -h        create an admin API key (server stopped)
       proactivechat compact -h        shrink the database file (server stopped)

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	for _, r := range strings.Split(routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			m.Cluster.NATSRoutes = append(m.Cluster.NATSRoutes, r)
		}
	}
	d, err := time.ParseDuration(leaderTimeout)
	if err != nil || d < 300*time.Millisecond || d > time.Minute {
		return fmt.Errorf("-leader-timeout %q: want a duration from 300ms to 1m", leaderTimeout)
	}
	m.Cluster.LeaderTimeout = d
	if err := m.checkCluster(); err != nil {
		return err
	}
	return m.LogLevel.UnmarshalText([]byte(level))
}

// nodeName is what -node may be: it is a NATS server name and a KV key.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (m *Main) checkCluster() error {
	c := m.Cluster
	if c.Node == "" {
		if c.NATSListen != "" || len(c.NATSRoutes) > 0 || c.NATSURL != "" || c.Advertise != "" || c.TLSCAFile != "" {
			return errors.New("-nats-listen, -nats-routes, -nats-url, -advertise and -tls-ca need -node")
		}
		if c.ReadsOnLeader {
			return errors.New("-reads-on-leader needs -node")
		}
		return nil
	}
	if !nodeName.MatchString(c.Node) {
		return fmt.Errorf("-node %q: use 1 to 64 letters, digits, '-' or '_'", c.Node)
	}
	if c.NATSURL != "" && (c.NATSListen != "" || len(c.NATSRoutes) > 0) {
		return errors.New("-nats-url uses an existing NATS: -nats-listen and -nats-routes are for the embedded one")
	}
	if len(c.NATSRoutes) > 0 && c.NATSListen == "" {
		return errors.New("-nats-routes needs -nats-listen: the other nodes route to it")
	}
	for _, a := range append([]string{c.NATSListen}, c.NATSRoutes...) {
		if a == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(a, "nats://")); err != nil || port == "" {
			return fmt.Errorf("NATS route address %q: want HOST:PORT", a)
		}
	}
	// The CA file is read now, so that a missing or unreadable one is a
	// clear error at startup, not 503s once a leader with TLS is known.
	if _, err := app.LoadCAPool(c.TLSCAFile); err != nil {
		return err
	}
	return nil
}

func env(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}

// Run serves until ctx is cancelled (SIGINT, SIGTERM), then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: m.LogLevel}))
	slog.SetDefault(log)
	if m.Cluster.Node != "" {
		return m.runNode(ctx, log)
	}
	a, err := app.Open(app.Config{Addr: m.Addr, DBPath: m.DBPath, Logger: log, TLSCertFile: m.TLSCert, TLSKeyFile: m.TLSKey,
		Retention: &m.Retention, WebhooksAllowHTTP: m.WebhooksAllowHTTP, WebhooksAllowPrivate: m.WebhooksAllowPrivate})
	if err != nil {
		return err
	}
	if err := a.Listen(); err != nil {
		a.Shutdown(ctx)
		return err
	}
	a.Start()
	if m.PprofAddr != "" {
		go servePprof(m.PprofAddr, log)
	}
	base := m.scheme() + displayAddr(a.Addr().String())
	if m.Demo {
		if err := app.SeedDemo(ctx, a.Service, base); err != nil {
			a.Shutdown(context.Background())
			return fmt.Errorf("seed demo: %w", err)
		}
		fmt.Fprintf(os.Stderr, demoText, base, app.DemoSiteID, app.DemoAgentID, app.DemoInviteSiteID, displayAddr(a.Addr().String()), m.grpcurlFlag(), app.DemoAgentPassword, app.DemoAgentLogin)
	}
	if a.InitialAPIKey != "" {
		fmt.Fprintf(os.Stderr, initialKeyText, a.InitialAPIKey, base)
	}
	log.Info("serving", "addr", a.Addr().String(), "db", m.DBPath)

	select {
	case <-ctx.Done():
	case err := <-waitErr(a):
		if err != nil {
			a.Shutdown(context.Background())
			return err
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return a.Shutdown(shutdownCtx)
}

// runNode serves as a cluster node until ctx is cancelled. The node that
// leads prints the admin key when it made one (the first leader of a new
// cluster) and, with -demo, seeds the demo when there are no sites yet.
func (m *Main) runNode(ctx context.Context, log *slog.Logger) error {
	cc := m.Cluster
	var base string
	cc.OnLead = func(ctx context.Context, a *app.App) error {
		if m.Demo {
			sites, err := a.Service.ListSites(ctx)
			if err != nil {
				return err
			}
			if len(sites) == 0 {
				if err := app.SeedDemo(ctx, a.Service, base); err != nil {
					return fmt.Errorf("seed demo: %w", err)
				}
				fmt.Fprintf(os.Stderr, demoText, base, app.DemoSiteID, app.DemoAgentID, app.DemoInviteSiteID, displayAddr(strings.TrimPrefix(base, m.scheme())), m.grpcurlFlag(), app.DemoAgentPassword, app.DemoAgentLogin)
			}
		}
		if a.InitialAPIKey != "" {
			fmt.Fprintf(os.Stderr, initialKeyText, a.InitialAPIKey, base)
		}
		return nil
	}
	n, err := app.OpenNode(app.Config{Addr: m.Addr, DBPath: m.DBPath, Logger: log, TLSCertFile: m.TLSCert, TLSKeyFile: m.TLSKey,
		Retention: &m.Retention, WebhooksAllowHTTP: m.WebhooksAllowHTTP, WebhooksAllowPrivate: m.WebhooksAllowPrivate}, cc)
	if err != nil {
		return err
	}
	base = m.scheme() + displayAddr(n.Addr().String())
	n.Start()
	if m.PprofAddr != "" {
		go servePprof(m.PprofAddr, log)
	}
	log.Info("serving as a cluster node", "node", cc.Node, "addr", n.Addr().String(), "db", m.DBPath)
	errc := make(chan error, 1)
	go func() { errc <- n.Wait() }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			n.Shutdown(context.Background())
			return err
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return n.Shutdown(shutdownCtx)
}

// scheme is what the port serves: "https://" with -tls-cert.
func (m *Main) scheme() string {
	if m.TLSCert != "" {
		return "https://"
	}
	return "http://"
}

// grpcurlFlag is the grpcurl flag for the port: -insecure trusts any
// certificate, for the demo's certificate made for localhost.
func (m *Main) grpcurlFlag() string {
	if m.TLSCert != "" {
		return "-insecure"
	}
	return "-plaintext"
}

func waitErr(a *app.App) <-chan error {
	c := make(chan error, 1)
	go func() { c <- a.Wait() }()
	return c
}

// displayAddr turns ":8080" or "[::]:8080" into "localhost:8080" for links.
func displayAddr(addr string) string {
	for _, p := range []string{"[::]", "0.0.0.0"} {
		if len(addr) > len(p) && addr[:len(p)] == p {
			return "localhost" + addr[len(p):]
		}
	}
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	return addr
}

const initialKeyText = `
This is a new database, so an admin API key was made. It is shown only now
(the server keeps its hash); keep it somewhere safe:

  %[1]s

  curl -H "Authorization: Bearer %[1]s" %[2]s/v1/sites

Create more, and revoke this one, with the AdminService (POST /v1/api-keys).
`

const demoText = `
Proactive Chat demo is running at %[1]s

  Be a visitor:  %[1]s/demo/          (without invite: an agent is alerted after 10 s)
                 %[1]s/demo/invite/   (with invite: Yes/No, a form, the queue)
  Be the agent:  %[1]s/agent/   (sign in as %[8]s, password %[7]s; set yourself Available)

  demo sites: %[2]s, %[4]s; demo agent: %[3]s
  gRPC: grpcurl %[6]s %[5]s list

The README walks through a whole chat from the command line.
`

// servePprof serves the profiling endpoints on their own address, so they
// are never exposed on the public port.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("profiling", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		log.Error("pprof server failed", "err", err)
	}
}
