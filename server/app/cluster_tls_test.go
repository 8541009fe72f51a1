package app_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/ratelimit"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// TestCluster_TLS runs a 3-node cluster whose nodes serve HTTPS with
// certificates of a private CA, which every node trusts by -tls-ca (the
// system's roots do not): each node serves its clients over TLS (HTTP/2
// by ALPN for gRPC and Connect, HTTP/1.1 for REST), and the followers
// forward to the leader over HTTPS, verifying its certificate. What works
// through a follower without TLS works with it: every protocol's calls and
// server streams, the forwarded mark, the leader's trust of the nodes'
// X-Forwarded-For and their exemption from the stream-reset budget (the
// rate limits and the fake clock are TestCluster_EndToEnd's, for the
// checks it shares). The NATS routes between the nodes are TLS too, with
// the same certificates and CA (node.go, routeTLS).
//
// A follower that cannot verify the leader's certificate answers 503 with
// Retry-After (UNAVAILABLE) and logs why once; a follower without TLS
// forwards to a leader with TLS over TLS (node.go, peerAddress). Those run
// on lone nodes (openLoneNode) told that the cluster's leader leads.
func TestCluster_TLS(t *testing.T) {
	ca := newTestCA(t, t.TempDir())
	nodes := startNodesWith(t, 3, nodeOptions{
		clock: fakeclock.New(t0), tls: ca, leaseTTL: clusterLeaseTTL,
		rateLimits: &rpc.RateLimits{SignInsPerAddr: ratelimit.Per(1, time.Hour, 1), Loopback: true},
	})
	leader, followers := leaderAndFollowers(t, nodes)
	t.Run("EveryProtocolThroughFollowers", func(t *testing.T) {
		forEachProtocol(t, func(t *testing.T, p protocol) {
			chatThroughFollowers(t, p.newClient(t, followers[0].srv), p.newClient(t, followers[1].srv))
		})
	})
	checkFollowersAsProxies(t, leader, followers)

	leaderAddr := "https://" + leader.srv.addr
	t.Run("TheRoutesAreMutualTLS", func(t *testing.T) {
		cert, err := tls.LoadX509KeyPair(ca.certFile, ca.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if _, err := routeInfo(n.route, ca, &cert); err != nil {
				t.Errorf("node %s's NATS route port, over TLS with a node certificate: %v", n.name, err)
			}
			if info, err := routeInfo(n.route, ca, nil); err == nil {
				t.Errorf("node %s's NATS route port answered a peer without a certificate: %s", n.name, info)
			}
		}
	})
	t.Run("ALeaderItCannotVerifyIsUnavailable", func(t *testing.T) {
		// The lone node's own certificate and -tls-ca are another CA's:
		// the leader's certificate is not one it trusts.
		other := newTestCA(t, t.TempDir())
		logs := &syncBuffer{}
		node := openLoneNode(t, app.Config{TLSCertFile: other.certFile, TLSKeyFile: other.keyFile, Logger: testLogger(logs)},
			app.ClusterConfig{TLSCAFile: other.caFile})
		node.SetLeader(leader.name, leaderAddr)
		srv := &testServer{url: "https://" + node.Addr().String(), addr: node.Addr().String(), tls: other.client()}
		wantUnavailable(t, srv, logs, "cannot verify its certificate")
	})
	t.Run("AFollowerWithoutTLSForwardsOverTLS", func(t *testing.T) {
		node := openLoneNode(t, app.Config{}, app.ClusterConfig{TLSCAFile: ca.caFile})
		node.SetLeader(leader.name, leaderAddr)
		res, err := http.Get("http://" + node.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET / through a follower without TLS = %d, want 200 from the leader", res.StatusCode)
		}
	})
}

// routeInfo reads the INFO that a NATS route port sends first, over TLS
// with clientCert (none if nil) as the dialing node's, trusting the
// cluster's CA. It returns an error when the port does not answer that way.
func routeInfo(addr string, ca *testCA, clientCert *tls.Certificate) (string, error) {
	conf := ca.client()
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if clientCert == nil {
			return &tls.Certificate{}, nil
		}
		return clientCert, nil
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", addr, conf)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(testTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return "", fmt.Errorf("the route port's first line is %q, want INFO", line)
	}
	return line, nil
}

// chatThroughFollowers has a visitor (visitorC) and an agent (agentC),
// each on a follower, start a chat and exchange a message: unary calls,
// and server streams that deliver each event while they stay open.
func chatThroughFollowers(t *testing.T, visitorC, agentC api) {
	ctx := testContext(t)
	site := createSite(t, ctx, agentC, "Secure shop", enabledWithoutInvite())
	agent := createAvailableAgent(t, ctx, agentC, "Dana", site.GetId())
	visitor, widget := visitorOnline(t, ctx, visitorC, site.GetId(), page1)
	chat := must[*pb.StartChatResponse](t, "StartChat")(agentC.StartChat(ctx, &pb.StartChatRequest{
		AgentId: agent.GetId(), VisitorId: visitor.GetId(),
	})).GetChat()
	if ev := recvUntil(t, widget, func(m *pb.WatchVisitorResponse) bool { return m.GetChatEvent() != nil }).GetChatEvent(); ev.GetChatId() != chat.GetId() {
		t.Fatalf("the visitor's widget got %v, want the chat's start", ev)
	}
	agentStream := openChatStream(t, ctx, agentC, chat.GetId(), 1)
	hello := send(t, ctx, visitorC, chat.GetId(), visitor.GetId(), "Is this site secure?")
	protoEqual(t, "the agent's chat stream", nextChatEvent(t, agentStream), hello)
}

// wantUnavailable checks that the lone node srv answers a REST call over
// HTTP/1.1 503 with Retry-After, and a gRPC call and a widget's stream
// UNAVAILABLE, and that it logged why (want) once for the three.
func wantUnavailable(t *testing.T, srv *testServer, logs *syncBuffer, want string) {
	t.Helper()
	ctx := testContext(t)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: srv.tls.Clone()}}
	defer c.CloseIdleConnections()
	res, err := c.Get(srv.url + "/v1/sites")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":14`) {
		t.Fatalf("GET /v1/sites = %d (Retry-After %q) %s, want 503 UNAVAILABLE with a Retry-After", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	g := rawGRPCClient(t, srv)
	if _, err := g.ListSites(ctx, &pb.ListSitesRequest{}); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("gRPC ListSites: %v, want UNAVAILABLE", err)
	}
	// A widget's stream, which a follower relays rather than proxies.
	s, err := g.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: "visitor_1"})
	if err == nil {
		_, err = s.Recv()
	}
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("gRPC WatchVisitor: %v, want UNAVAILABLE", err)
	}
	if n := strings.Count(logs.String(), want); n != 1 {
		t.Fatalf("logged %q %d times for three requests, want once:\n%s", want, n, logs.String())
	}
}

// httpClientFor is a client of s over HTTP/1.1 (over TLS if s serves it).
func httpClientFor(t *testing.T, s *testServer) *http.Client {
	if s.tls == nil {
		return http.DefaultClient
	}
	tr := &http.Transport{TLSClientConfig: s.tls.Clone()}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestNode_RouteTLSNeedsACertificateOfTheCA: with -tls-ca the node
// certificate secures the NATS routes too, where the node that dials
// shows it as a client certificate and the CA of -tls-ca alone is
// trusted. A certificate for servers only, or one that CA did not sign,
// is refused at startup, saying why, rather than leaving the node waiting
// for a cluster whose routes all fail.
func TestNode_RouteTLSNeedsACertificateOfTheCA(t *testing.T) {
	dir := t.TempDir()
	tmpl := leafTemplate()
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	key := newKey(t)
	serverOnly, serverOnlyKey := writeCert(t, dir, "server-only", issue(t, tmpl, nil, key, key), key)
	ca, other := newTestCA(t, t.TempDir()), newTestCA(t, t.TempDir())
	for _, tc := range []struct {
		name                    string
		cert, key, caFile, want string
	}{
		{"ServerOnly", serverOnly, serverOnlyKey, serverOnly, "incompatible key usage"},
		{"AnotherCAs", ca.certFile, ca.keyFile, other.caFile, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			route := l.Addr().String()
			l.Close()
			_, err = app.OpenNode(app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "n1.db"), TLSCertFile: tc.cert, TLSKeyFile: tc.key},
				app.ClusterConfig{Node: "n1", NATSListen: route, TLSCAFile: tc.caFile})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenNode: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
