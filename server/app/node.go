package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/cluster"
)

// ClusterConfig is how a node joins a cluster of nodes (docs/cluster.md).
type ClusterConfig struct {
	// Node names this node, unique in the cluster: letters, digits, '-'
	// and '_'. It names the embedded NATS server too.
	Node string
	// NATSListen is the embedded NATS server's cluster-route address
	// (HOST:PORT), which the other nodes list in their NATSRoutes. Empty
	// with a single node or with NATSURL.
	NATSListen string
	// NATSRoutes are the other nodes' route addresses.
	NATSRoutes []string
	// NATSURL, when set, connects to an existing NATS cluster (with
	// JetStream) instead of embedding a server.
	NATSURL string
	// Advertise is the HOST:PORT at which the other nodes reach this
	// node's Addr. Empty: Addr's host if it names one, else NATSListen's
	// host, else localhost.
	Advertise string
	// LeaseTTL is how long a leader that stopped renewing keeps the lease
	// (DefaultLeaseTTL when 0).
	LeaseTTL time.Duration
	// LeaderTimeout is how long the leader's heartbeats may be missing
	// before another node takes the lease from it
	// (DefaultLeaderTimeout when 0).
	LeaderTimeout time.Duration
	// SnapshotEvery is how many log entries past the newest snapshot make
	// the leader take another (DefaultSnapshotEvery when 0).
	SnapshotEvery uint64
	// SnapshotCheck is how often the leader looks whether a snapshot is
	// due (a minute when 0).
	SnapshotCheck time.Duration
	// JoinTimeout is how long a node joining the cluster first waits for
	// each step's answer (opening the log, the lease...; DefaultJoinTimeout
	// when 0); a step without answer three times in a row is tried again
	// with twice as long (Node.open).
	JoinTimeout time.Duration
	// TLSCAFile, when set, is a PEM file of the certificates (a private
	// CA) that a node trusts, beside the system's roots, to verify the
	// leader's certificate when it forwards to a leader serving TLS. With
	// TLS on the node, it is also the only CA trusted on the NATS routes
	// (routeTLS).
	TLSCAFile string
	// ReadsOnLeader sends every read to the leader: the node serves none
	// from its own file (replica.go). For a cluster whose nodes share one
	// machine's cores and disk, where a read served by a follower costs
	// about what it costs the leader, plus the follower's applies.
	ReadsOnLeader bool
	// OnLead runs each time this node becomes the leader, after the
	// domain started and before the node serves it: main prints the admin
	// key made on a new cluster and seeds the demo there.
	OnLead func(ctx context.Context, a *App) error
}

// DefaultLeaseTTL is a node's lease TTL. It is a backstop: a leader that
// dies is replaced once its heartbeats have been missing for the
// LeaderTimeout, not once its lease runs out. It is long enough that a
// leader keeps its lease while the lease bucket's JetStream group elects
// a new leader (up to about 9 s on NATS, when the node leading that group
// dies), during which renewals wait; renewals every third of it.
const DefaultLeaseTTL = 15 * time.Second

// DefaultLeaderTimeout is how long a leader's heartbeats (and its log
// entries) may be missing before another node takes the lease. Heartbeats
// go every sixth of it, so a leader that is alive is deposed only if five
// in a row go missing; deposing it costs a failover, never a write (the
// barrier fences it). It was 1.5 s: a leader busy with a storm of
// arriving or returning visitors then went silent for longer on an
// overloaded machine and was deposed, and the failover's own reconnect
// storm deposed the next leader in turn (bench/README.md, Visitors held
// across three nodes). A dead leader is now replaced in about 3 s.
const DefaultLeaderTimeout = 3 * time.Second

// DefaultJoinTimeout is a joining node's first budget for each step's
// answer (ClusterConfig.JoinTimeout).
const DefaultJoinTimeout = 2 * time.Second

// DefaultSnapshotEvery is how far the log may run past the newest snapshot
// before the leader takes another: each snapshot lets the log be trimmed
// (two are kept, and the log from the older one on), so the log stays
// within about twice this many entries, while a snapshot (a copy of the
// whole file, stored on every server) is not taken more often than a busy
// site's commits make this many.
const DefaultSnapshotEvery = 50_000

const (
	// leaderPoll is how often a node reads who leads, to forward to it.
	leaderPoll = 250 * time.Millisecond
	// campaignEvery is how often a follower reads the lease, to take it
	// when it is free or its holder silent.
	campaignEvery = 250 * time.Millisecond
	// streamLeaderCheck is how often the leader checks that its NATS
	// server does not lead the log's or the lease's JetStream group.
	streamLeaderCheck = time.Second
	// retryAfterSeconds is what a node without a known leader tells
	// clients to wait: about one lease renewal.
	retryAfterSeconds = "1"
)

// Node is one node of a cluster. It serves the public port all the time.
// While it holds the lease it runs the domain (an App on its bbolt file,
// every commit replicated through the log before it is acknowledged) and
// serves requests itself; otherwise it applies the log to its file and
// forwards every request to the leader.
//
// Forwarding is a reverse proxy of whole HTTP requests, over HTTP/2
// without TLS to the leader's port, flushing at once: every RPC, stream
// and protocol (REST, Connect, gRPC, gRPC-Web, the web clients) behaves as
// on one node, and the leader holds a few multiplexed connections per
// follower instead of every client's. docs/cluster.md says what per-RPC
// forwarding and local reads would add.
//
// With TLS (Config.TLSCertFile) every node serves HTTPS on its port, as a
// single node does, and the followers forward to the leader over HTTPS,
// HTTP/2 by ALPN, verifying the leader's certificate for the host of its
// advertised address (see peerAddress for how a follower knows that the
// leader serves TLS, and what a cluster of nodes with and without TLS
// does). With a private CA (ClusterConfig.TLSCAFile) the NATS routes are
// mutual TLS too (routeTLS).
type Node struct {
	cfg       Config
	cc        ClusterConfig
	log       *slog.Logger
	advertise string
	// peer is how this node's address is written in the lease and the
	// node directory (peerAddress).
	peer string
	// cert is the node's certificate when it serves TLS.
	cert *tls.Certificate

	ns       *server.Server // nil with NATSURL
	nc       *nats.Conn
	ln       net.Listener
	front    *http.Server
	h2c      *h2cServer
	proxy    *httputil.ReverseProxy
	proxyTr  *http.Transport
	relay    *streamRelay   // the API's server streams this node relays
	nodes    *nodeDirectory // whose X-Forwarded-For and stream resets the leader trusts
	serveErr chan error

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the lifecycle has ended

	// Set up by the lifecycle before it first campaigns.
	store  *bolt.Store // replaced when a snapshot is installed; read under mu
	logJS  *cluster.Log
	lease  *cluster.Lease
	writer *cluster.Writer
	beats  *cluster.Heartbeats
	js     jetstream.JetStream
	snaps  *cluster.Snapshots
	// wrapJoin, set by tests before Start, wraps the JetStream that the
	// node joins with (Node.open).
	wrapJoin func(jetstream.JetStream) jetstream.JetStream
	// followerWindow, set by tests before Start, is its Followers'
	// cluster.Follower.Window.
	followerWindow time.Duration

	// terms counts the leadership terms this node has begun serving.
	terms atomic.Int64
	// selfForwarded counts the requests this node served as the leader
	// that it had forwarded itself (marked with its own name): a loop
	// through its own port, which the relay no longer takes (inProcess).
	selfForwarded atomic.Int64

	// servedFromFile counts the calls and streams this node served from
	// its own file while following (replica.go).
	servedFromFile atomic.Int64
	// readIndex asks the log's end for the reads served from the file.
	readIndex readIndex

	mu         sync.Mutex
	leader     *App     // while this node leads
	replica    *replica // serves reads from this node's file while it follows
	leaderAddr string   // the other leader's advertised address, "" if none known
	leaderName string   // the lease holder's node name, "" if none known
	// refusedLeader is the leader address this node last logged why it
	// does not forward to (a certificate it cannot verify, or no TLS), so
	// that it logs once per leader, not once per request.
	refusedLeader string
	// forwarding ends when the leader changes: the requests and streams
	// forwarded to the old one end with it (setLeader).
	forwarding context.Context
	endForward context.CancelFunc
	ready      chan struct{}
	readyOnce  sync.Once
}

// OpenNode starts the embedded NATS server (unless cc.NATSURL) and
// listens on cfg.Addr; Start joins the cluster and serves. cfg is as for
// Open: with cfg.TLSCertFile and cfg.TLSKeyFile the node serves HTTPS.
func OpenNode(cfg Config, cc ClusterConfig) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cc.Node == "" {
		return nil, errors.New("a cluster node needs a name (-node)")
	}
	var cert *tls.Certificate
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		// Read now, so that a bad file stops the node before it joins.
		c, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
		cert = &c
	}
	roots, err := LoadCAPool(cc.TLSCAFile)
	if err != nil {
		return nil, err
	}
	if cc.LeaseTTL == 0 {
		cc.LeaseTTL = DefaultLeaseTTL
	}
	if cc.LeaderTimeout == 0 {
		cc.LeaderTimeout = DefaultLeaderTimeout
	}
	if cc.SnapshotEvery == 0 {
		cc.SnapshotEvery = DefaultSnapshotEvery
	}
	if cc.SnapshotCheck == 0 {
		cc.SnapshotCheck = time.Minute
	}
	if cc.JoinTimeout == 0 {
		cc.JoinTimeout = DefaultJoinTimeout
	}
	n := &Node{cfg: cfg, cc: cc, log: cfg.Logger.With("node", cc.Node), cert: cert, serveErr: make(chan error, 3),
		done: make(chan struct{}), ready: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.forwarding, n.endForward = context.WithCancel(n.ctx)
	n.nodes = newNodeDirectory(n.log)
	if cc.NATSURL == "" {
		if err := n.startNATS(); err != nil {
			return nil, err
		}
	}
	ln, err := listen(cfg.Addr)
	if err != nil {
		n.stopNATS()
		return nil, err
	}
	n.ln = ln
	n.advertise = advertiseAddr(cc, ln.Addr())
	n.peer = peerAddress(n.advertise, cert != nil)
	n.initProxy(roots)
	n.initRelay()
	n.front = newHTTPServer(n, cfg.Logger)
	return n, nil
}

// peerAddress is how a node's address is written where the other nodes
// read it, in the lease (NAME@ADDRESS, which a follower forwards to) and in
// the node directory: its advertised HOST:PORT, prefixed with "https://"
// when the node serves TLS. So a follower knows from the lease alone
// whether the leader speaks TLS, and a cluster without TLS writes what it
// always wrote.
//
// A cluster whose nodes do not all serve TLS (while -tls-cert is being
// rolled out, say) is handled, never downgraded:
//   - a follower without TLS forwards to a leader with TLS over TLS,
//     verifying its certificate as any follower does;
//   - a follower with TLS does not forward to a leader without it: its
//     clients' requests, which came over TLS, would cross the network in
//     the clear. It answers them 503 with Retry-After (UNAVAILABLE) and
//     logs why once per leader, until a node with TLS leads.
//
// Such a mixed cluster forms only where the NATS routes allow it: with a
// private CA (ClusterConfig.TLSCAFile) the routes are TLS too (routeTLS),
// and a node without TLS cannot route to one with it.
func peerAddress(advertise string, tls bool) string {
	if tls {
		return "https://" + advertise
	}
	return advertise
}

// parsePeerAddress returns the HOST:PORT of a peerAddress and whether the
// node serves TLS there.
func parsePeerAddress(peer string) (hostport string, tls bool) {
	hostport, tls = strings.CutPrefix(peer, "https://")
	return hostport, tls
}

// peerURL is the base URL of the node at peer (a peerAddress).
func peerURL(peer string) *url.URL {
	hostport, tls := parsePeerAddress(peer)
	if tls {
		return &url.URL{Scheme: "https", Host: hostport}
	}
	return &url.URL{Scheme: "http", Host: hostport}
}

// LoadCAPool returns the system's root certificates plus those of the PEM
// file caFile (none when it is ""): what a node trusts to verify the
// leader's certificate. A file that cannot be read, or that holds no
// certificate, is an error naming it.
func LoadCAPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	return pool, appendCAFile(pool, caFile)
}

// appendCAFile adds the certificates of the PEM file caFile to pool.
func appendCAFile(pool *x509.CertPool, caFile string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("-tls-ca %q: %w", caFile, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("-tls-ca %q: no PEM certificate in the file", caFile)
	}
	return nil
}

// routeTLS is the TLS of the embedded NATS server's cluster routes, which
// carry the replicated log and the lease: with a node certificate and a
// private CA (-tls-ca), each route is mutual TLS, both ends showing their
// node certificate and trusting that CA alone. The system's roots are not
// trusted there: any certificate a public CA issued would make its holder
// a member of the cluster. Without -tls-ca (certificates of a public CA)
// the routes stay unencrypted, as without TLS, and the node says so.
//
// The node certificate is then a client certificate too (the end that
// dials a route), so it needs the clientAuth extended key usage beside
// serverAuth, and the CA's signature; a node whose own certificate does
// not verify so could route to no one (NATS's own logs, which the node
// keeps off, would say why), so it refuses to start, saying why. It must
// also name the host of each route address the other nodes dial
// (-nats-routes), as it names the advertised host. Every node of the
// cluster must have route TLS, or none: NATS refuses a route whose ends
// disagree, and the node waits for the cluster.
func (n *Node) routeTLS() (*tls.Config, error) {
	if n.cert == nil {
		return nil, nil
	}
	if n.cc.TLSCAFile == "" {
		n.log.Warn("the NATS routes between the nodes are not encrypted: -tls-ca names the private CA that secures them")
		return nil, nil
	}
	pool := x509.NewCertPool()
	if err := appendCAFile(pool, n.cc.TLSCAFile); err != nil {
		return nil, err
	}
	intermediates := x509.NewCertPool()
	for _, der := range n.cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			intermediates.AddCert(c)
		}
	}
	if _, err := n.cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("-tls-cert: with -tls-ca the node certificate also secures the NATS routes, where the node that dials shows it as a client certificate, and only the CA of -tls-ca is trusted; it must carry the clientAuth extended key usage beside serverAuth and be signed by that CA: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*n.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// advertiseAddr is where the other nodes reach the listener at addr.
func advertiseAddr(cc ClusterConfig, addr net.Addr) string {
	if cc.Advertise != "" {
		return cc.Advertise
	}
	_, port, _ := net.SplitHostPort(addr.String())
	host, _, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
		if h, _, err := net.SplitHostPort(cc.NATSListen); err == nil && h != "" {
			if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
				host = h
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// startNATS starts the embedded NATS server: JetStream with an fsync on
// every write (Jepsen found acknowledged writes lost without it), stored
// next to the bbolt file, joined to the others by routes. This process
// connects in-process; the client port is on loopback, at a random port.
func (n *Node) startNATS() error {
	opts := &server.Options{
		ServerName: n.cc.Node,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   strings.TrimSuffix(n.cfg.DBPath, filepath.Ext(n.cfg.DBPath)) + "-jetstream",
		SyncAlways: true,
		NoSigs:     true,
	}
	if n.cc.NATSListen != "" {
		host, port, err := net.SplitHostPort(n.cc.NATSListen)
		if err != nil {
			return fmt.Errorf("-nats-listen %q: %w", n.cc.NATSListen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: "proactivechat", Host: host}
		if _, err := fmt.Sscan(port, &opts.Cluster.Port); err != nil {
			return fmt.Errorf("-nats-listen %q: bad port", n.cc.NATSListen)
		}
		tc, err := n.routeTLS()
		if err != nil {
			return err
		}
		opts.Cluster.TLSConfig = tc
	}
	if len(n.cc.NATSRoutes) > 0 {
		urls := make([]string, len(n.cc.NATSRoutes))
		for i, r := range n.cc.NATSRoutes {
			urls[i] = "nats://" + strings.TrimPrefix(r, "nats://")
		}
		opts.Routes = server.RoutesFromStr(strings.Join(urls, ","))
		if n.cc.NATSListen == "" {
			return errors.New("-nats-routes needs -nats-listen: the others route to it")
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	ns.SetLogger(natsLog{n.log}, false, false)
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return errors.New("embedded NATS did not start")
	}
	n.ns = ns
	return nil
}

func (n *Node) stopNATS() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

// replicas is R = min(3, the cluster's size): the log, the lease and the
// node directory keep that many copies.
func (n *Node) replicas() int {
	size := 1 + len(n.cc.NATSRoutes)
	if n.cc.NATSURL != "" {
		size = len(n.nc.Servers())
	}
	return max(1, min(3, size))
}

// Addr is the address the node listens on.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// Store is the node's bbolt file, once Ready is closed.
func (n *Node) Store() *bolt.Store {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.store
}

// Ready is closed once the node has joined the cluster and opened its file.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Leading reports whether this node runs the domain now.
func (n *Node) Leading() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader != nil
}

// Start serves the public port and runs the node's lifecycle: join, then
// follow until it wins the lease, lead until it loses it, and so on.
func (n *Node) Start() {
	// Every client connection has its budget of HTTP/2 stream resets,
	// except the other nodes' (nodeDirectory), with or without TLS.
	resets := resetLimitOn(n.cfg.Clock)
	resets.exempt = n.nodes.trusted
	if n.cert != nil {
		// As a single node serves TLS (App.Start): HTTP/2 by ALPN behind
		// the reset guard, and HTTP/1.1.
		if err := guardTLSHTTP2(n.front, resets); err != nil {
			n.serveErr <- err
			close(n.done)
			return
		}
		n.front.TLSConfig.Certificates = []tls.Certificate{*n.cert}
		go func() { n.serveErr <- n.front.ServeTLS(n.ln, "", "") }()
	} else {
		h2c, err := newH2CServer(n.ln, n.front, n)
		if err != nil {
			n.serveErr <- err
			close(n.done)
			return
		}
		h2c.resets = resets
		n.h2c = h2c
		go h2c.serve()
		go func() { n.serveErr <- n.front.Serve(h2c.http1Listener()) }()
	}
	go func() {
		defer close(n.done)
		if err := n.run(n.ctx); err != nil && n.ctx.Err() == nil {
			n.serveErr <- err
		}
	}()
}

// Wait returns when serving failed for a reason other than shutdown.
func (n *Node) Wait() error {
	err := <-n.serveErr
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeHTTP serves a request with the domain on the leader, and forwards
// it to the leader elsewhere.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == NodeStatusPath {
		n.serveStatus(w, r)
		return
	}
	n.mu.Lock()
	a, addr, forwarding := n.leader, n.leaderAddr, n.forwarding
	n.mu.Unlock()
	if a != nil {
		forwardedBy := r.Header.Get(forwardedByHeader)
		if forwardedBy == n.cc.Node {
			n.selfForwarded.Add(1)
		}
		if forwardedBy == "" && relayOwnStreams && n.relay.relays(r) {
			// The leader's own clients' streams are relayed too, in
			// process: deposed while alive (too slow to beat under
			// load, its lease lost), it opens them again at the next
			// leader, and they read on, where its App's end used to
			// end them all at once and every one reconnected. A stream
			// a follower relays here is served directly: it has its
			// own relay.
			n.relay.ServeHTTP(w, r)
			return
		}
		a.server.Handler.ServeHTTP(w, r)
		return
	}
	if r.Header.Get(forwardedByHeader) == "" && n.serveFromReplica(w, r) {
		return
	}
	if addr == "" || addr == n.peer {
		unavailable(w, r, "no leader is known yet")
		return
	}
	if n.inTheClear(addr) {
		unavailable(w, r, "the leader is not reachable")
		return
	}
	if r.Header.Get(forwardedByHeader) != "" {
		// Another node took this one for the leader: the two disagree
		// on who leads until one of them reads the lease again.
		// Forwarding on could bounce the request between them; the
		// client retries instead.
		unavailable(w, r, "the leader is changing")
		return
	}
	if n.relay.relays(r) {
		n.relay.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithCancel(context.WithValue(r.Context(), leaderKey{}, addr))
	defer cancel()
	defer context.AfterFunc(forwarding, cancel)()
	if r.Body != nil && r.Body != http.NoBody {
		ctx = context.WithValue(ctx, inboundBodyKey{}, r.Body)
	}
	n.proxy.ServeHTTP(w, r.WithContext(ctx))
}

type leaderKey struct{}

// forwardedByHeader names the node that forwarded a request to the leader.
// A node never forwards a request that carries it: a request goes through
// at most one follower. A client that sends it gets UNAVAILABLE from the
// followers, which harms nobody else.
const forwardedByHeader = "Proactivechat-Forwarded-By"

// unavailable answers 503 with Retry-After: gRPC, gRPC-Web and Connect
// clients see UNAVAILABLE, which they retry. The body is an error as the
// REST API writes them (a google.rpc.Status) on its paths, as Connect
// writes them elsewhere.
func unavailable(w http.ResponseWriter, r *http.Request, why string) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		json.NewEncoder(w).Encode(map[string]any{"code": 14, "message": why, "details": []any{}})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"code": "unavailable", "message": why})
}

// inTheClear reports whether forwarding to the leader at addr would take
// this node's clients' requests, which came over TLS, across the network
// without it (peerAddress); it logs why it refuses, once per leader.
func (n *Node) inTheClear(addr string) bool {
	if _, tls := parsePeerAddress(addr); tls || n.cert == nil {
		return false
	}
	n.refuseLeader(addr, "the leader serves without TLS, and this node, which serves TLS, forwards to a leader only over TLS: give every node -tls-cert")
	return true
}

// noteForwardError logs, once per leader, a certificate of the leader at
// addr that this node cannot verify: not the client's fault, nor a
// passing one, an operator must fix the certificate or -tls-ca. It
// reports whether err was that.
func (n *Node) noteForwardError(addr string, err error) bool {
	certErr := (*tls.CertificateVerificationError)(nil)
	if !errors.As(err, &certErr) {
		return false
	}
	n.refuseLeader(addr, "cannot verify its certificate", "err", certErr)
	return true
}

// refuseLeader logs why this node does not forward to the leader at
// addr, once per leader: every request would log it otherwise.
func (n *Node) refuseLeader(addr, why string, args ...any) {
	n.mu.Lock()
	first := n.refusedLeader != addr
	n.refusedLeader = addr
	n.mu.Unlock()
	if first {
		n.log.Error("not forwarding to the leader: "+why, append([]any{"leader", addr}, args...)...)
	}
}

// initProxy makes the reverse proxy to the leader: HTTP/2 over TLS (ALPN
// h2) to a leader serving TLS, verifying its certificate with roots for
// the host of its advertised address, else HTTP/2 without TLS (h2c).
func (n *Node) initProxy(roots *x509.CertPool) {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	protocols.SetHTTP2(true) // over TLS, by ALPN
	n.proxyTr = &http.Transport{
		Protocols:   &protocols,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		// The server name is the host of the leader's URL: its advertised
		// address, which its certificate must name.
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
		HTTP2: &http.HTTP2Config{
			// A leader that vanished is noticed, and its streams end, so
			// that clients resume elsewhere.
			SendPingTimeout: 10 * time.Second,
			PingTimeout:     5 * time.Second,
		},
	}
	n.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(peerURL(pr.In.Context().Value(leaderKey{}).(string)))
			pr.Out.Host = pr.In.Host
			// The leader's rate limits name the client by the last
			// X-Forwarded-For entry of a proxy on loopback.
			if xff := pr.In.Header["X-Forwarded-For"]; xff != nil {
				pr.Out.Header["X-Forwarded-For"] = xff
			}
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedByHeader, n.cc.Node)
			closeInboundWithOutbound(pr)
		},
		Transport: n.proxyTr,
		ModifyResponse: func(res *http.Response) error {
			if err := readWhole(res); err != nil {
				return err
			}
			endUnavailable(res)
			closeRequestWithResponse(res)
			return nil
		},
		BufferPool:    proxyBuffers{},
		FlushInterval: -1, // server streams stream
		ErrorLog:      slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !n.noteForwardError(r.Context().Value(leaderKey{}).(string), err) {
				n.log.Debug("forward to leader", "err", err)
			}
			unavailable(w, r, "the leader is not reachable")
		},
	}
}

// proxyBufferSize is the size of the reverse proxy's copy buffers. A
// proxied stream holds its buffer for as long as it lives, a visitor's
// widget stream for the whole visit, and with the proxy's own default
// (32 KiB) those buffers were most of a follower's heap per visitor
// (bench/README.md, Cluster). Events are far smaller; a bigger response
// takes a few more reads.
const proxyBufferSize = 4 << 10

// proxyBuffers is the reverse proxy's pool of copy buffers.
type proxyBuffers struct{}

var proxyBufferPool = sync.Pool{New: func() any { b := make([]byte, proxyBufferSize); return &b }}

func (proxyBuffers) Get() []byte  { return *proxyBufferPool.Get().(*[]byte) }
func (proxyBuffers) Put(b []byte) { proxyBufferPool.Put(&b) }

// run is the node's lifecycle.
func (n *Node) run(ctx context.Context) error {
	if err := n.join(ctx); err != nil {
		return err
	}
	n.readyOnce.Do(func() { close(n.ready) })
	go n.watchLeader(ctx)
	go n.nodes.watch(ctx)
	for ctx.Err() == nil {
		if err := n.follow(ctx); err != nil {
			continue // ctx ended
		}
		if err := n.lead(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("leadership ended", "err", err)
		}
	}
	return nil
}

// join connects to NATS, opens the log and the lease (retrying while the
// cluster forms), opens the bbolt file with the Writer
// as its Replicator, and advertises this node's address.
func (n *Node) join(ctx context.Context) error {
	var err error
	opts := []nats.Option{nats.Name(n.cc.Node), nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	if n.ns != nil {
		n.nc, err = nats.Connect("", append(opts, nats.InProcessServer(n.ns))...)
	} else {
		n.nc, err = nats.Connect(n.cc.NATSURL, opts...)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(n.nc)
	if err != nil {
		return err
	}
	n.js = js
	if n.wrapJoin != nil {
		js = n.wrapJoin(js)
	}
	if err := n.open(ctx, js, n.replicas()); err != nil {
		return err
	}
	if n.beats, err = n.lease.WatchHeartbeats(n.nc, nil); err != nil {
		return err
	}
	// The log's entries name their leader as the lease does, so that a
	// follower reading them hears the lease's holder (Follower.Heard).
	n.writer = cluster.NewWriter(n.logJS, n.lease.Name())
	store, err := n.openStore()
	n.mu.Lock()
	n.store = store
	n.mu.Unlock()
	return err
}

func (n *Node) openStore() (*bolt.Store, error) {
	return bolt.Open(n.cfg.DBPath, bolt.WithLogger(n.cfg.Logger), bolt.WithReplicator(n.writer))
}

// installIfBehind replaces the node's file with the newest snapshot when
// the log no longer holds the entries after the file's position (a new
// node, or one back after the log was trimmed past it). It runs while the
// node follows, before a Follower is made for the file.
func (n *Node) installIfBehind(ctx context.Context) error {
	if n.store == nil {
		// An earlier install could not open the file again.
		store, err := n.openStore()
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.store = store
		n.mu.Unlock()
	}
	pos, err := n.store.Position()
	if err != nil {
		return err
	}
	behind, err := n.logJS.Behind(ctx, pos)
	if err != nil || !behind {
		return err
	}
	n.log.Info("the log was trimmed past this node's file: installing the newest snapshot", "position", pos)
	if err := n.store.Close(); err != nil {
		return err
	}
	installed, ierr := n.snaps.Install(ctx, n.cfg.DBPath)
	// The file is opened again whether or not the install worked: as it
	// was, or as the snapshot made it.
	store, err := n.openStore()
	n.mu.Lock()
	n.store = store
	n.mu.Unlock()
	if err != nil {
		// Nothing can go on without the file.
		return fmt.Errorf("reopen %s: %w", n.cfg.DBPath, err)
	}
	if ierr != nil {
		return ierr
	}
	n.log.Info("snapshot installed", "position", installed)
	return nil
}

// takeSnapshot stores a snapshot of the leader's file and trims the log
// behind the older one kept.
func (n *Node) takeSnapshot(ctx context.Context) (uint64, error) {
	pos, err := n.snaps.Take(ctx, n.store)
	if err != nil {
		return 0, err
	}
	n.log.Info("snapshot taken", "position", pos)
	return pos, nil
}

// snapshots takes a snapshot whenever the log has run SnapshotEvery
// entries past the newest one, while this node leads (until ctx ends).
func (n *Node) snapshots(ctx context.Context) {
	t := time.NewTicker(n.cc.SnapshotCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		latest, err := n.snaps.Latest(ctx)
		if err == nil {
			var pos uint64
			if pos, err = n.store.Position(); err == nil && pos >= latest+n.cc.SnapshotEvery {
				_, err = n.takeSnapshot(ctx)
			}
		}
		if err != nil && ctx.Err() == nil {
			n.log.Warn("snapshot", "err", err)
		}
	}
}

// open opens the log, the lease, the snapshots and the node directory,
// and registers this node's address, each step tried until it is done
// (until ctx ends). A step once done is kept: a node that restarts while
// the cluster is busy (thousands of widgets reconnecting to it, the
// others serving the rest) gets slow answers, and starting over from the
// first step after any step's timeout made its join many times longer,
// each attempt redoing steps done before (bench/README.md, A restarted
// node's join).
//
// Attempts are short at first: a node that restarts asks before its
// embedded server is current with the cluster, and such a request may get
// no answer at all, so a long wait only delays its return; an attempt cut
// short after the server did the work finds it done. A step that gets no
// answer three times in a row is tried with twice the budget, up to
// joinBudgetGrowth times the first (ClusterConfig.JoinTimeout): a
// cluster that answers, but slower than the first budget, is joined all
// the same.
func (n *Node) open(ctx context.Context, js jetstream.JetStream, r int) error {
	steps := []struct {
		done func() bool
		do   func(ctx context.Context) error
	}{
		{func() bool { return n.logJS != nil }, func(ctx context.Context) (err error) {
			n.logJS, err = cluster.OpenLog(ctx, js, cluster.LogConfig{Replicas: r})
			return err
		}},
		{func() bool { return n.lease != nil }, func(ctx context.Context) (err error) {
			n.lease, err = cluster.OpenLease(ctx, js, cluster.LeaseConfig{Node: n.cc.Node + "@" + n.peer, TTL: n.cc.LeaseTTL, Replicas: r})
			return err
		}},
		{func() bool { return n.snaps != nil }, func(ctx context.Context) (err error) {
			n.snaps, err = cluster.OpenSnapshots(ctx, js, n.logJS, cluster.SnapshotConfig{Replicas: r})
			return err
		}},
		{n.nodes.opened, func(ctx context.Context) error { return n.nodes.open(ctx, js, r) }},
		{func() bool { return false }, func(ctx context.Context) error { return n.nodes.register(ctx, n.cc.Node, n.peer) }},
	}
	budget := n.cc.JoinTimeout
	for _, step := range steps {
		unanswered := 0
		for !step.done() {
			began := time.Now()
			sctx, cancel := context.WithTimeout(ctx, budget)
			err := step.do(sctx)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n.log.Info("waiting for the cluster", "err", err, "budget", budget)
			if errors.Is(err, context.DeadlineExceeded) {
				// No answer in time: a request lost (asked before
				// JetStream could answer it: a cluster forming, a
				// server not yet current), or a cluster slower than
				// the budget. A lost request is best asked again
				// soon, so the budget grows only after three in a
				// row (growing at each one slowed a new cluster's
				// forming several times over, each lost request
				// waited for in full); it stays grown for the next
				// steps, which ask the same cluster.
				if unanswered++; unanswered%3 == 0 {
					budget = min(2*budget, joinBudgetGrowth*n.cc.JoinTimeout)
				}
			}
			// A quick refusal (JetStream not ready yet) is asked again
			// after a pause, not in a loop.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(n.cc.JoinTimeout/2 - time.Since(began)):
			}
		}
	}
	return nil
}

// joinBudgetGrowth bounds how far a step's budget grows while joining,
// as a multiple of ClusterConfig.JoinTimeout.
const joinBudgetGrowth = 8

// watchLeader keeps leaderAddr on the advertised address of the lease's
// holder: the lease's value is NAME@ADDR.
func (n *Node) watchLeader(ctx context.Context) {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		addr := ""
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		holder, _, err := n.lease.Holder(rctx)
		name, addr, _ := strings.Cut(holder, "@")
		cancel()
		if err == nil && n.setLeader(name, addr) {
			n.log.Info("leader", "name", name, "addr", addr)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setLeader records who leads and reports whether that changed. On a
// change the requests and streams forwarded to the old leader end (their
// clients get UNAVAILABLE or a broken stream, and retry or resume through
// the new one) rather than wait on a leader that may be paused, or cut
// off, until the proxy's pings give up on its connection.
func (n *Node) setLeader(name, addr string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leaderAddr == addr {
		n.leaderName = name
		return false
	}
	n.leaderAddr, n.leaderName = addr, name
	n.endForward()
	n.forwarding, n.endForward = context.WithCancel(n.ctx)
	n.proxyTr.CloseIdleConnections()
	return true
}

// follow applies the log to the file until this node wins the lease; it
// returns an error only when ctx ends.
func (n *Node) follow(ctx context.Context) error {
	fctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for fctx.Err() == nil {
			// A file behind the log's start (a gap is also how the
			// Follower finds it) starts again from a snapshot.
			err := n.installIfBehind(fctx)
			var f *cluster.Follower
			if err == nil {
				f, err = cluster.NewFollower(n.logJS, n.store)
			}
			if err == nil {
				f.Heard = n.beats.Heard
				f.Window = n.followerWindow
				if !n.cc.ReadsOnLeader {
					n.followWithReplica(f)
				}
				err = f.Run(fctx)
				// Stopped to lead (or to stop), the file goes on; after
				// an error, it may be replaced (installIfBehind).
				n.closeReplica(fctx.Err() == nil)
			}
			if err != nil && fctx.Err() == nil {
				n.log.Error("applying the log", "err", err)
				select {
				case <-fctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
	}()
	defer func() { stop(); <-stopped }()
	t := time.NewTicker(campaignEvery)
	defer t.Stop()
	var told time.Time
	for {
		ok, err := n.campaign(ctx)
		if ok {
			// Heartbeats at once, while the follower stops: a slow
			// takeover is not a dead leader. They end with the lease.
			go n.lease.Beat(ctx, n.nc, n.cc.LeaderTimeout/6)
			return nil
		}
		// What keeps a dead leader from being replaced (the lease not
		// read, the leader's silence not sure, the lease not taken):
		// said once per leader timeout, for whoever watches a failover.
		if err != nil && ctx.Err() == nil && time.Since(told) >= n.cc.LeaderTimeout {
			n.log.Info("campaign", "err", err)
			told = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// campaign takes the lease if it is free or names this node already (an
// answer lost, see Lease.TryAcquire), or if its holder's heartbeats
// have been missing for the LeaderTimeout: a leader that died (or is
// paused, or cut off from the others) is replaced without waiting for its
// lease to run out. Its writes are fenced by TakeOver's barrier, so taking
// the lease of a leader that is alive after all loses nothing.
func (n *Node) campaign(ctx context.Context) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	holder, rev, err := n.lease.Holder(rctx)
	if err != nil {
		return false, err
	}
	if holder == "" || holder == n.lease.Name() {
		return n.lease.TryAcquire(rctx)
	}
	silence := n.beats.Silence(holder)
	if silence < n.cc.LeaderTimeout {
		return false, nil
	}
	// Silent, or only not read yet? A node too busy to read its
	// heartbeats asks again at its next campaign.
	if !n.beats.CaughtUp(rctx) {
		return false, fmt.Errorf("%w: %s for %v, but this node has not read every heartbeat its NATS server has for it",
			errLeaderSilent, holder, silence.Round(time.Millisecond))
	}
	if silence = n.beats.Silence(holder); silence < n.cc.LeaderTimeout {
		return false, nil
	}
	ok, err := n.lease.TakeFrom(rctx, rev)
	if ok {
		n.log.Warn("took the lease from a silent leader", "leader", holder, "silent", silence.Round(time.Millisecond))
	}
	if err != nil {
		err = fmt.Errorf("%w: %s for %v; taking its lease: %w", errLeaderSilent, holder, silence.Round(time.Millisecond), err)
	}
	return ok, err
}

// errLeaderSilent marks a campaign that found the leader silent and did
// not take its lease.
var errLeaderSilent = errors.New("the leader is silent")

// shedStreamLeaders asks the log's and the lease's JetStream groups to
// elect another leader if this node's embedded NATS server leads them.
// NATS elects a group's new leader seconds after its leader's server
// died (an election timeout of 4 to 9 s, not configurable); kept off the
// leading node, the groups lose no leader when it dies, and the node that
// takes over publishes at once. A follower that dies costs that election
// instead, but not a change of leader.
//
// It returns once each group it asked has another leader (or ctx ended),
// so that a publish right after it finds one.
func (n *Node) shedStreamLeaders(ctx context.Context) {
	if n.ns == nil || n.replicas() < 2 {
		return
	}
	acc := n.ns.GlobalAccount().Name
	for _, s := range []string{n.logJS.StreamName(), n.lease.StreamName()} {
		if !n.ns.JetStreamIsStreamLeader(acc, s) || !n.peersHealthy(ctx, s) {
			continue
		}
		if err := n.ns.JetStreamStepdownStream(acc, s); err != nil {
			n.log.Debug("hand the stream's leadership over", "stream", s, "err", err)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		for wctx.Err() == nil {
			// The stream's leader answers: none does until the transfer
			// is done, so each asking is short.
			ictx, icancel := context.WithTimeout(wctx, 100*time.Millisecond)
			st, err := n.js.Stream(ictx, s)
			icancel()
			if err == nil {
				if c := st.CachedInfo().Cluster; c != nil && c.Leader != "" && c.Leader != n.cc.Node {
					break
				}
			}
			select {
			case <-wctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
	}
}

// peersHealthy reports whether every other replica of stream is caught
// up, and connected to this node's server by a route: NATS hands a
// group's leadership to a peer it heard from in the last 3 s, which may
// be one that has just died, and the group would then wait for an
// election; better keep leading it then.
func (n *Node) peersHealthy(ctx context.Context, stream string) bool {
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := n.js.Stream(ictx, stream)
	if err != nil {
		return false
	}
	c := st.CachedInfo().Cluster
	if c == nil || len(c.Replicas) == 0 {
		return false
	}
	routez, err := n.ns.Routez(nil)
	if err != nil {
		return false
	}
	routed := map[string]bool{}
	for _, r := range routez.Routes {
		routed[r.RemoteName] = true
	}
	for _, p := range c.Replicas {
		if !p.Current || p.Offline || p.Active > 2*time.Second || !routed[p.Name] {
			return false
		}
	}
	return true
}

// lead takes over (the file catches up with the log, then a barrier fences
// every earlier leader), runs the domain as after a restart, and serves
// until the lease is lost, the Writer is fenced or ctx ends: then the
// domain stops before anything more is acknowledged.
func (n *Node) lead(ctx context.Context) error {
	release := func() {
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n.lease.Release(rctx)
	}
	start := time.Now()
	hctx, stopHold := context.WithCancel(ctx)
	defer stopHold()
	go n.lease.Hold(hctx)
	f, err := cluster.NewFollower(n.logJS, n.store)
	if err == nil {
		err = cluster.TakeOver(ctx, n.lease, f, n.writer)
	}
	if err != nil {
		release()
		return err
	}
	tookOver := time.Since(start)
	go n.snapshots(hctx)
	stepped := n.writer.SteppedDown()
	cfg := n.cfg
	cfg.store = n.store
	cfg.trustedProxy = n.nodes.trusted
	cfg.logPublishSeconds = n.writer.PublishSeconds()
	a, err := Open(cfg)
	opened := time.Since(start)
	if err == nil && n.cc.OnLead != nil {
		if err = n.cc.OnLead(ctx, a); err != nil {
			a.Shutdown(context.Background())
		}
	}
	if err != nil {
		n.writer.StepDown()
		release()
		return fmt.Errorf("start the domain: %w", err)
	}
	a.startGateway()
	// When each step ended, since the lease was won: what a failover
	// costs beyond noticing the old leader's death (taking over the log,
	// starting the domain, serving).
	n.log.Info("leading", "term", n.lease.Term(), "position", f.Position(),
		"took_over", tookOver.Round(time.Millisecond), "domain_started", opened.Round(time.Millisecond),
		"serving", time.Since(start).Round(time.Millisecond))
	n.mu.Lock()
	n.leader = a
	n.mu.Unlock()
	// The JetStream groups' leadership is handed over once the node
	// serves, not before it takes over: the transfer (seconds on a busy
	// machine) made every failover that much longer, for the sake of the
	// next one.
	go func() {
		t := time.NewTicker(streamLeaderCheck)
		defer t.Stop()
		for {
			n.shedStreamLeaders(hctx)
			select {
			case <-hctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	n.terms.Add(1)
	var why error
	select {
	case <-ctx.Done():
	case <-n.lease.Lost():
		why = cluster.ErrLeaseLost
	case <-stepped:
		why = n.writer.Err()
	}
	// Nothing more is acknowledged from here: the Writer refuses to
	// publish, so every Update fails.
	n.writer.StepDown()
	n.mu.Lock()
	n.leader = nil
	n.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	a.Shutdown(sctx)
	cancel()
	release()
	return why
}

// Shutdown stops the node gracefully: it hands the lease over at once (if
// it leads), stops serving, and closes its file and NATS.
func (n *Node) Shutdown(ctx context.Context) error {
	n.cancel()
	<-n.done
	var err error
	if n.h2c != nil {
		h2cDone := make(chan error, 1)
		go func() { h2cDone <- n.h2c.shutdown(ctx) }()
		err = errors.Join(n.front.Shutdown(ctx), <-h2cDone)
	} else if n.cert != nil {
		// Serving TLS, front serves every connection (guardTLSHTTP2
		// registered the GOAWAY of its HTTP/2 ones).
		err = n.front.Shutdown(ctx)
	}
	if err != nil {
		n.front.Close()
	}
	n.proxyTr.CloseIdleConnections()
	return errors.Join(err, n.closeBackends())
}

func (n *Node) closeBackends() error {
	var err error
	if n.store != nil {
		err = n.store.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	n.stopNATS()
	return err
}
