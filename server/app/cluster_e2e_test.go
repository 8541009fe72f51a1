package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/ratelimit"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// e2eEnv is where an end-to-end story runs, through one protocol: a server
// of its own, or a cluster shared with other stories.
type e2eEnv struct {
	// agent makes the agent's calls, and the admin's (the integrator's).
	agent api
	// visitor makes the visitor's calls: the widget's.
	visitor api
	// clock drives the domain: timers run inside clock.Advance.
	clock *fakeclock.Clock
	// start is the clock's time when the story began (t0 on a server of
	// its own); the story's expected times are counted from it.
	start time.Time
}

// onOneServer gives a story a server of its own, on a fresh database, with
// webhooks allowed to loopback (startWebhookServer); the agent and the
// visitor share one client.
func onOneServer(t *testing.T, p protocol) *e2eEnv {
	t.Helper()
	srv, clock := newWebhookServer(t)
	c := p.newClient(t, srv)
	return &e2eEnv{agent: c, visitor: c, clock: clock, start: clock.Now()}
}

// clusterLeaseTTL is the lease TTL of the cluster the stories share:
// longer than startNodes' 5 s, since nothing fails over in these stories
// and a lease lost to a slow machine (-race, a busy CI host) would only
// break their streams.
const clusterLeaseTTL = 20 * time.Second

// TestCluster_EndToEnd runs the end-to-end stories of both modes of the
// specification (TestModeWithInvite's, TestModeWithoutInvite's and
// TestProactiveChatWithoutInvite's, which has Converse), over every
// protocol, on one 3-node cluster formed for all of them, with the
// visitor's client on one node and the agent's on another: in mode 1 both
// on followers, so that every call and stream of the story goes through a
// follower's proxy to the leader; in mode 2 the visitor on a follower and
// the agent on the leader, then the other way round (Converse's
// bidirectional stream through a follower). The stories share the
// cluster's database and fake clock: each creates its own site, agent and
// visitor, and counts its expected times from when it began.
//
// The same cluster first checks whose X-Forwarded-For the leader believes
// (checkClusterTrustsOnlyItsNodes): its rate limits count loopback
// clients, and trust no proxy for being on loopback, so that the nodes
// (all on 127.0.0.1) are trusted only as nodes; SignIn, which the stories
// do not call, is limited to one per address.
func TestCluster_EndToEnd(t *testing.T) {
	clock := fakeclock.New(t0)
	nodes := startNodesWith(t, 3, nodeOptions{
		clock: clock, webhooks: true, leaseTTL: clusterLeaseTTL,
		rateLimits: &rpc.RateLimits{SignInsPerAddr: ratelimit.Per(1, time.Hour, 1), Loopback: true},
		configure:  seedDemo,
	})
	leader, followers := leaderAndFollowers(t, nodes)
	checkFollowersAsProxies(t, leader, followers)
	t.Run("CORSThroughAFollower", func(t *testing.T) {
		checkCORSThroughAFollower(t, followers[0])
	})
	t.Run("DemoThroughEveryNode", func(t *testing.T) {
		checkDemoThroughEveryNode(t, nodes)
	})
	stories := []struct {
		name           string
		run            func(*testing.T, *e2eEnv)
		visitor, agent *testNode
	}{
		{"ModeWithInvite", storyModeWithInvite, followers[0], followers[1]},
		{"ModeWithoutInvite", storyModeWithoutInvite, followers[1], leader},
		{"ProactiveChatWithoutInvite", storyProactiveChatWithoutInvite, leader, followers[0]},
	}
	for _, s := range stories {
		t.Run(s.name, func(t *testing.T) {
			forEachProtocol(t, func(story *testing.T, p protocol) {
				s.run(story, &e2eEnv{
					agent:   p.newClient(story, s.agent.srv),
					visitor: p.newClient(story, s.visitor.srv),
					clock:   clock,
					start:   clock.Now(),
				})
			})
		})
	}
	// The stories ran against the cluster they were meant to: one leader
	// all along, the nodes chosen as followers never leading.
	var terms int64
	for _, n := range nodes {
		terms += n.Terms()
	}
	if terms != 1 || !leader.Leading() {
		t.Fatalf("%d leadership terms began during the stories, want the first one only", terms)
	}
}

// checkFollowersAsProxies runs, as subtests, what the leader expects of
// the followers that forward to it, with or without TLS: it believes their
// X-Forwarded-For and nobody else's, a request goes through one follower
// at most, and the followers' connections are not held to one client's
// budget of stream resets (on a fake clock that stands still).
func checkFollowersAsProxies(t *testing.T, leader *testNode, followers []*testNode) {
	t.Run("RateLimitsBelieveOnlyTheNodes", func(t *testing.T) {
		checkClusterTrustsOnlyItsNodes(t, leader, followers)
	})
	t.Run("ARequestGoesThroughOneFollowerAtMost", func(t *testing.T) {
		checkForwardedOnce(t, leader, followers)
	})
	t.Run("ClientsResetsDoNotCutAFollowerOff", func(t *testing.T) {
		checkResetsThroughAFollower(t, followers[0])
	})
}

// checkClusterTrustsOnlyItsNodes: the leader counts a client that reached
// it through a follower under the client's address, which the follower
// appended to X-Forwarded-For, and not under the follower's; a client's
// own X-Forwarded-For is believed by nobody, sent to the leader or through
// a follower. The clients call from addresses of their own on loopback
// (127.0.0.2 and up), the nodes are on 127.0.0.1; each address may sign in
// once (the cluster's rate limits), and SignIn as nobody is refused
// anyway, but not with 429.
func checkClusterTrustsOnlyItsNodes(t *testing.T, leader *testNode, followers []*testNode) {
	// Straight to the leader, from an address that is not a node's: the
	// header is ignored, so both calls count under 127.0.0.2.
	signInFrom(t, leader, "127.0.0.2", "198.51.100.1").wantAllowed(t)
	signInFrom(t, leader, "127.0.0.2", "198.51.100.2").wantLimited(t)
	// Through the followers, clients at two addresses each get their own
	// budget; counted under the follower's address, the second would be
	// refused.
	signInFrom(t, followers[0], "127.0.0.3", "").wantAllowed(t)
	signInFrom(t, followers[1], "127.0.0.4", "").wantAllowed(t)
	// The budget is the client's, whichever node it reaches, and what it
	// writes in X-Forwarded-For itself changes nothing.
	signInFrom(t, followers[1], "127.0.0.3", "").wantLimited(t)
	signInFrom(t, followers[0], "127.0.0.4", "198.51.100.3").wantLimited(t)
	// Nor does it for a client that claims to be a follower's client.
	signInFrom(t, leader, "127.0.0.5", "127.0.0.1, 198.51.100.4").wantAllowed(t)
	signInFrom(t, leader, "127.0.0.5", "127.0.0.1, 198.51.100.5").wantLimited(t)
}

// signInResult is how a SignIn call ended over HTTP.
type signInResult struct {
	from       string
	status     int
	retryAfter string
	body       string
}

// signInFrom signs in as an agent that does not exist, with Connect's
// JSON over HTTP/1.1 (as a browser would), on node's port, from the local
// address from, with X-Forwarded-For xff unless it is "".
func signInFrom(t *testing.T, node *testNode, from, xff string) signInResult {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, TLSClientConfig: node.srv.tls.Clone()}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node.srv.url+"/proactivechat.v1.AgentService/SignIn",
		strings.NewReader(`{"agentId":"agent_nobody","password":"not the password"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("SignIn from %s: %v", from, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return signInResult{from: from, status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), body: string(body)}
}

// wantAllowed checks that the call was not rate limited: it was refused
// for the agent it named.
func (r signInResult) wantAllowed(t *testing.T) {
	t.Helper()
	if r.status == http.StatusTooManyRequests || r.status < 400 || r.status >= 500 {
		t.Fatalf("SignIn from %s: %d %s, want refused for the agent (not rate limited)", r.from, r.status, r.body)
	}
}

// wantLimited checks that the call was rate limited, saying when to retry.
func (r signInResult) wantLimited(t *testing.T) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.retryAfter == "" || !strings.Contains(r.body, "resource_exhausted") {
		t.Fatalf("SignIn from %s: %d (Retry-After %q) %s, want 429 resource_exhausted with a Retry-After", r.from, r.status, r.retryAfter, r.body)
	}
}

// checkForwardedOnce: a follower forwards to the leader a request no node
// has forwarded yet, and refuses, UNAVAILABLE, one that a node forwarded
// already, which the leader serves. Two nodes that each took the other
// for the leader (each reads the lease on its own schedule) would
// otherwise bounce a request between them until the next read.
func checkForwardedOnce(t *testing.T, leader *testNode, followers []*testNode) {
	get := func(n *testNode, forwardedBy string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, n.srv.url+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if forwardedBy != "" {
			req.Header.Set("Proactivechat-Forwarded-By", forwardedBy)
		}
		res, err := httpClientFor(t, n.srv).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, f := range followers {
		if res := get(f, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("GET / on %s = %d, want 200 from the leader", f.name, res.StatusCode)
		}
		if res := get(f, followers[0].name); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("GET / forwarded once already, on %s = %d (Retry-After %q), want 503 with a Retry-After", f.name, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	if res := get(leader, followers[0].name); res.StatusCode != http.StatusOK {
		t.Fatalf("GET / forwarded by %s, on the leader = %d, want 200", followers[0].name, res.StatusCode)
	}
}

// checkCORSThroughAFollower: a browser on a site's page reaches a follower
// as it would the leader: preflights of the site's origin are answered, its
// calls get the CORS headers, and an origin no site lists gets none. (The
// leader answers them, on the sites it holds, and the follower passes on
// the request's Host, by which same-origin calls are told apart.)
func checkCORSThroughAFollower(t *testing.T, f *testNode) {
	ctx := testContext(t)
	site := createSite(t, ctx, newConnectClient(t, f.srv), "CORS shop", nil)
	do := func(method, path, origin, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, f.srv.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type,connect-protocol-version")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const watch = "/proactivechat.v1.VisitorService/StartVisitorSession"
	if res := do(http.MethodOptions, watch, origin, ""); res.StatusCode != http.StatusNoContent ||
		res.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Connect-Protocol-Version") {
		t.Fatalf("preflight from the site's origin through %s = %d %v, want 204 allowing it", f.name, res.StatusCode, res.Header)
	}
	if res := do(http.MethodPost, watch, origin, `{"siteId":"`+site.GetId()+`"}`); res.StatusCode != http.StatusOK ||
		res.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
		t.Fatalf("call from the site's origin through %s = %d %v, want 200 with the CORS headers", f.name, res.StatusCode, res.Header)
	}
	if res := do(http.MethodOptions, "/proactivechat.v1.VisitorService/WatchVisitor", "https://elsewhere.example", ""); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from an origin no site lists, through %s: %d %v, want no CORS headers", f.name, res.StatusCode, res.Header)
	}
	// Same origin (the page is served by the node itself): no CORS, and
	// the call goes through as any non-browser caller's.
	if res := do(http.MethodPost, watch, "http://"+f.srv.addr, `{"siteId":"`+site.GetId()+`"}`); res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same-origin call through %s = %d %v, want 200 without CORS headers", f.name, res.StatusCode, res.Header)
	}
	// The widget's stream, which a follower relays rather than proxies,
	// carries the leader's CORS answer too, and none for a same-origin page.
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(newConnectClient(t, f.srv).StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	stream := func(origin string) http.Header {
		t.Helper()
		body := envelopeJSON(`{"visitorId":"` + session.GetVisitor().GetId() + `"}`)
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		req, err := http.NewRequestWithContext(sctx, http.MethodPost, f.srv.url+"/proactivechat.v1.VisitorService/WatchVisitor", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/connect+json")
		req.Header.Set("Authorization", "Bearer "+session.GetToken())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("the widget's stream from %s through %s: %d", origin, f.name, res.StatusCode)
		}
		return res.Header
	}
	if h := stream(origin); h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
		t.Fatalf("the widget's stream from the site's origin through %s: %v, want the CORS headers", f.name, h)
	}
	if h := stream("http://" + f.srv.addr); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("the widget's stream from the node's own page through %s: %v, want no CORS headers", f.name, h)
	}
}

// envelopeJSON frames one Connect streaming request message.
func envelopeJSON(msg string) string {
	return string([]byte{0, 0, 0, byte(len(msg) >> 8), byte(len(msg))}) + msg
}

// demoOrigin is the only origin the cluster's demo sites list: what main
// seeds them with when the first leader runs with -addr :8081, the README's
// first node; none of the test's nodes has it.
const demoOrigin = "http://localhost:8081"

// seedDemo makes each node, on becoming the leader, seed the demo when
// there are no sites yet, as main does with -demo on every node.
func seedDemo(cc *app.ClusterConfig) {
	onLead := cc.OnLead
	cc.OnLead = func(ctx context.Context, a *app.App) error {
		if err := onLead(ctx, a); err != nil {
			return err
		}
		sites, err := a.Service.ListSites(ctx)
		if err != nil || len(sites) > 0 {
			return err
		}
		return app.SeedDemo(ctx, a.Service, demoOrigin)
	}
}

// checkDemoThroughEveryNode: the demo pages work through every node, the
// followers as well as the leader, although the demo sites list none of
// their origins. Each node serves the demo pages, and the widget calls the
// node it was loaded from, so its calls are same-origin: the browser's
// Origin names the Host it sends them to, which a follower passes on to
// the leader, and a same-origin page needs no allowed origin (cors.go).
// A browser sends the origin of the URL the user opened: the base URL
// main prints (localhost:PORT for -addr :PORT) or the node's address.
func checkDemoThroughEveryNode(t *testing.T, nodes []*testNode) {
	ctx := testContext(t)
	for _, id := range []string{app.DemoSiteID, app.DemoInviteSiteID} {
		res, err := newConnectClient(t, nodes[0].srv).GetSite(ctx, &pb.GetSiteRequest{SiteId: id})
		if err != nil {
			t.Fatalf("the demo site %s: %v", id, err)
		}
		if got := res.GetSite().GetAllowedOrigins(); len(got) != 1 || got[0] != demoOrigin {
			t.Fatalf("the demo site %s allows %v, want only %s", id, got, demoOrigin)
		}
		for _, n := range nodes {
			_, port, _ := net.SplitHostPort(n.srv.addr)
			for _, host := range []string{n.srv.addr, "localhost:" + port} {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.srv.url+"/proactivechat.v1.VisitorService/StartVisitorSession",
					strings.NewReader(`{"siteId":"`+id+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				req.Header.Set("Origin", "http://"+host)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("the widget on http://%s/demo/ (node %s, leading %v; site %s): %d %s, want 200",
						host, n.name, n.Leading(), id, res.StatusCode, body)
				}
			}
		}
	}
}

// checkResetsThroughAFollower: the leader does not hold a follower to the
// stream-reset budget of one HTTP/2 connection (app.ResetBurst), since the
// follower carries many clients' streams on a few connections, and each
// of those clients has its budget on the follower. Clients that give up on
// more streams than that through one follower (each within its own budget)
// leave another client's stream through it alone. The fake clock stands
// still, so no budget refills meanwhile.
func checkResetsThroughAFollower(t *testing.T, f *testNode) {
	ctx, cancel := context.WithTimeout(t.Context(), converge)
	defer cancel()
	c := newGRPCClient(t, f.srv)
	w := newWorld(t, ctx, c, enabledWithoutInvite())
	chat := w.startChat(t, ctx, c)
	victim := openChatStream(t, ctx, c, chat.GetId(), 0)
	if ev := nextChatEvent(t, victim); ev.GetStarted() == nil {
		t.Fatalf("the chat stream starts with %v, want ChatStarted", ev)
	}
	// Each client opens streams, reads their first event (so the leader
	// serves them) and gives up on them: an RST_STREAM to the follower,
	// which resets its own stream to the leader.
	const clients = 4
	perClient := app.ResetBurst/clients + app.ResetBurst/10
	for i := range clients {
		giver := newGRPCClient(t, f.srv)
		for range perClient {
			sctx, stop := context.WithCancel(ctx)
			s, err := giver.WatchChat(sctx, &pb.WatchChatRequest{ChatId: chat.GetId()})
			if err != nil {
				t.Fatalf("client %d: WatchChat: %v", i, err)
			}
			nextChatEvent(t, s)
			stop()
		}
	}
	hello := send(t, ctx, c, chat.GetId(), w.agent.GetId(), "still there?")
	protoEqual(t, "the other client's stream", nextChatEvent(t, victim), hello)
}
