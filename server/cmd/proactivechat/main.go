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
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
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
	fs.StringVar(&m.PprofAddr, "pprof", env("PROACTIVECHAT_PPROF", ""), "serve /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (env PROACTIVECHAT_PPROF)")
	allowHTTP, _ := strconv.ParseBool(env("PROACTIVECHAT_WEBHOOKS_ALLOW_HTTP", "false"))
	fs.BoolVar(&m.WebhooksAllowHTTP, "webhooks-allow-http", allowHTTP, "accept http webhook URLs, not only https (env PROACTIVECHAT_WEBHOOKS_ALLOW_HTTP)")
	allowPrivate, _ := strconv.ParseBool(env("PROACTIVECHAT_WEBHOOKS_ALLOW_PRIVATE", "false"))
	fs.BoolVar(&m.WebhooksAllowPrivate, "webhooks-allow-private", allowPrivate, "let webhooks reach loopback, private and link-local addresses (env PROACTIVECHAT_WEBHOOKS_ALLOW_PRIVATE)")
	if err := m.retentionFlags(fs); err != nil {
		return err
	}
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
	return m.LogLevel.UnmarshalText([]byte(level))
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
	scheme := "http://"
	if m.TLSCert != "" {
		scheme = "https://"
	}
	base := scheme + displayAddr(a.Addr().String())
	if m.Demo {
		if err := app.SeedDemo(ctx, a.Service, base); err != nil {
			a.Shutdown(context.Background())
			return fmt.Errorf("seed demo: %w", err)
		}
		grpcurlFlag := "-plaintext"
		if m.TLSCert != "" {
			grpcurlFlag = "-insecure"
		}
		fmt.Fprintf(os.Stderr, demoText, base, app.DemoSiteID, app.DemoAgentID, app.DemoInviteSiteID, displayAddr(a.Addr().String()), grpcurlFlag, app.DemoAgentPassword, app.DemoAgentLogin)
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
