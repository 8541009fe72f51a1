package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/ratelimit"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// rlServer starts a server with the given rate limits and a fake clock that
// never moves, so no bucket refills during the test. It returns the
// server's URL and its admin API key.
func rlServer(t *testing.T, limits *rpc.RateLimits) (string, string) {
	t.Helper()
	a, err := app.Open(app.Config{
		Addr:       "127.0.0.1:0",
		DBPath:     filepath.Join(t.TempDir(), "rl.db"),
		Clock:      fakeclock.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)),
		RateLimits: limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return "http://" + a.Addr().String(), a.InitialAPIKey
}

// rlHTTPFrom is an HTTP client whose connections come from the loopback
// address ip (any of 127/8 works on Linux), speaking h2c so that bidi
// streams work too.
func rlHTTPFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext, Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type rlClients struct {
	http    *http.Client
	admin   proactivechatv1connect.AdminServiceClient
	agent   proactivechatv1connect.AgentServiceClient
	visitor proactivechatv1connect.VisitorServiceClient
	chat    proactivechatv1connect.ChatServiceClient
}

func rlClientsFrom(t *testing.T, base, ip string, opts ...connect.ClientOption) rlClients {
	hc := rlHTTPFrom(t, ip)
	opts = append(opts, connect.WithInterceptors(connectTokenInterceptor{}))
	return rlClients{
		http:    hc,
		admin:   proactivechatv1connect.NewAdminServiceClient(hc, base, opts...),
		agent:   proactivechatv1connect.NewAgentServiceClient(hc, base, opts...),
		visitor: proactivechatv1connect.NewVisitorServiceClient(hc, base, opts...),
		chat:    proactivechatv1connect.NewChatServiceClient(hc, base, opts...),
	}
}

func rlWantExhausted(t *testing.T, what string, err error) {
	t.Helper()
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("%s: error %v, want resource_exhausted", what, err)
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) || !strings.HasPrefix(cerr.Message(), "rate limit: ") || !strings.Contains(cerr.Message(), "try again in ") {
		t.Fatalf("%s: message %q, want \"rate limit: … try again in …\"", what, cerr.Message())
	}
}

// rlPost sends a REST call and returns its status and body.
func rlPost(t *testing.T, ctx context.Context, hc *http.Client, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestRateLimitPerAddress: session starts are limited per client address
// over Connect and REST alike (REST is keyed by the REST client's address,
// not the gateway's), X-Forwarded-For from clients is not believed, and
// another address has its own allowance.
func TestRateLimitPerAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, &rpc.RateLimits{SessionsPerAddr: ratelimit.Per(2, time.Hour, 2), Loopback: true})
	actx := withToken(ctx, key)
	one := rlClientsFrom(t, base, "127.0.0.1")
	two := rlClientsFrom(t, base, "127.0.0.2")

	site, err := one.admin.CreateSite(actx, connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop"}))
	if err != nil {
		t.Fatal(err)
	}
	siteID := site.Msg.GetSite().GetId()
	start := func(c rlClients, header ...string) error {
		req := connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: siteID})
		for i := 0; i+1 < len(header); i += 2 {
			req.Header().Set(header[i], header[i+1])
		}
		_, err := c.visitor.StartVisitorSession(ctx, req)
		return err
	}
	sessionsURL := base + "/v1/sites/" + siteID + "/sessions"

	// 127.0.0.1: two over Connect, then refused over Connect and REST.
	for i := range 2 {
		if err := start(one); err != nil {
			t.Fatalf("session %d: %v", i+1, err)
		}
	}
	err = start(one, "X-Forwarded-For", "203.0.113.9") // not believed
	rlWantExhausted(t, "third session over Connect", err)
	var cerr *connect.Error
	errors.As(err, &cerr)
	t.Logf("Connect: %v", err)
	if got := cerr.Meta().Get("Retry-After"); got != "1800" {
		t.Errorf("Retry-After = %q, want 1800 (a token every 30 min)", got)
	}
	var retry *errdetails.RetryInfo
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if r, ok := v.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 30*time.Minute {
		t.Errorf("RetryInfo = %v, want a 30m delay", retry)
	}
	status, body := rlPost(t, ctx, one.http, sessionsURL, `{}`)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "rate limit: too many session starts") {
		t.Fatalf("REST from the limited address: %d %s, want 429 with the rate limit message", status, body)
	}
	t.Logf("REST: %d %s", status, body)

	// 127.0.0.2 is unaffected; its REST calls count against its own
	// address even when they claim another, and Connect then shares it.
	for i := range 2 {
		if status, body := rlPost(t, ctx, two.http, sessionsURL, `{}`, "X-Forwarded-For", "127.0.0.3"); status != http.StatusOK {
			t.Fatalf("REST session %d from 127.0.0.2: %d %s", i+1, status, body)
		}
	}
	if status, body := rlPost(t, ctx, two.http, sessionsURL, `{}`); status != http.StatusTooManyRequests {
		t.Fatalf("third REST session from 127.0.0.2: %d %s, want 429", status, body)
	}
	rlWantExhausted(t, "Connect from 127.0.0.2 after its REST calls", start(two))

	// Calls that are not limited go on.
	if _, err := one.admin.ListSites(actx, connect.NewRequest(&pb.ListSitesRequest{})); err != nil {
		t.Fatalf("ListSites: %v", err)
	}
}

// TestRateLimitSendsAndPageViews: sends are limited per sender, on
// SendMessage and on Converse alike (where the send over the limit ends the
// stream), page views per visitor; and a visitor may hold at most
// domain.MaxStreamsPerVisitor widget streams.
func TestRateLimitSendsAndPageViews(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, &rpc.RateLimits{
		SendsPerSender:      ratelimit.Per(2, time.Hour, 2),
		PageViewsPerVisitor: ratelimit.Per(2, time.Hour, 2),
		ActivityPerVisitor:  ratelimit.Per(2, time.Hour, 2),
		Loopback:            true,
	})
	c := rlClientsFrom(t, base, "127.0.0.1", connect.WithGRPC())
	actx := withToken(ctx, key)

	// The fake clock stands still, so the launch never comes; the agent
	// starts the chat.
	site, err := c.admin.CreateSite(actx, connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop", ProactiveChat: &pb.ProactiveChatSettings{
		Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 30,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	agent, err := c.admin.CreateAgent(actx, connect.NewRequest(&pb.CreateAgentRequest{DisplayName: "Dana", SiteIds: []string{site.Msg.GetSite().GetId()}}))
	if err != nil {
		t.Fatal(err)
	}
	agentID := agent.Msg.GetAgent().GetId()
	agentSession, err := c.admin.CreateAgentSession(actx, connect.NewRequest(&pb.CreateAgentSessionRequest{AgentId: agentID}))
	if err != nil {
		t.Fatal(err)
	}
	agentCtx := withToken(ctx, agentSession.Msg.GetToken())
	if _, err := c.agent.SetAgentStatus(agentCtx, connect.NewRequest(&pb.SetAgentStatusRequest{AgentId: agentID, Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE})); err != nil {
		t.Fatal(err)
	}
	session, err := c.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: site.Msg.GetSite().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	visitorID := session.Msg.GetVisitor().GetId()
	visitorCtx := withToken(ctx, session.Msg.GetToken())
	tokens := map[string]context.Context{agentID: agentCtx, visitorID: visitorCtx}

	// Page views: the widget stream's page_url is the first, one
	// ReportPageView the second, the next is refused.
	watch := func(page string) (*connect.ServerStreamForClient[pb.WatchVisitorResponse], error) {
		s, err := c.visitor.WatchVisitor(visitorCtx, connect.NewRequest(&pb.WatchVisitorRequest{VisitorId: visitorID, PageUrl: page}))
		if err != nil {
			return nil, err
		}
		for s.Receive() {
			if s.Msg().GetState() != nil {
				t.Cleanup(func() { s.Close() })
				return s, nil
			}
		}
		s.Close()
		return nil, s.Err()
	}
	if _, err := watch("https://shop.example/"); err != nil {
		t.Fatal(err)
	}
	report := func() error {
		_, err := c.visitor.ReportPageView(visitorCtx, connect.NewRequest(&pb.ReportPageViewRequest{VisitorId: visitorID, Url: "https://shop.example/shoes"}))
		return err
	}
	if err := report(); err != nil {
		t.Fatal(err)
	}
	rlWantExhausted(t, "third page view", report())
	_, err = watch("https://shop.example/socks")
	rlWantExhausted(t, "a widget stream with a fourth page view", err)
	// The launcher and ratings count with the page views.
	_, err = c.visitor.RequestChat(visitorCtx, connect.NewRequest(&pb.RequestChatRequest{VisitorId: visitorID}))
	rlWantExhausted(t, "RequestChat past the page views", err)
	_, err = c.chat.RateChat(visitorCtx, connect.NewRequest(&pb.RateChatRequest{ChatId: "chat_x", VisitorId: visitorID, Score: 5}))
	rlWantExhausted(t, "RateChat past the page views", err)
	// The page's attributes count with the page views; activity reports
	// have an allowance of their own.
	_, err = c.visitor.UpdateVisitorAttributes(visitorCtx, connect.NewRequest(&pb.UpdateVisitorAttributesRequest{VisitorId: visitorID, Set: map[string]string{"cart_value": "1"}}))
	rlWantExhausted(t, "UpdateVisitorAttributes past the page views", err)
	activity := func() error {
		_, err := c.visitor.ReportActivity(visitorCtx, connect.NewRequest(&pb.ReportActivityRequest{VisitorId: visitorID, PageUrl: "https://shop.example/shoes",
			Activity: &pb.VisitorActivity{ScrollPercent: 30}}))
		return err
	}
	for i := range 2 {
		if err := activity(); err != nil {
			t.Fatalf("activity report %d: %v", i+1, err)
		}
	}
	rlWantExhausted(t, "the third activity report", activity())

	// Streams per visitor: the limit is the domain's, with its own message.
	for i := 1; i < domain.MaxStreamsPerVisitor; i++ {
		if _, err := watch(""); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
	}
	_, err = watch("")
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "open WatchVisitor streams") {
		t.Fatalf("stream %d: %v, want resource_exhausted for too many streams", domain.MaxStreamsPerVisitor+1, err)
	}

	// Sends, per sender: the visitor's third is refused, the agent's own
	// allowance is untouched.
	chat, err := c.agent.StartChat(agentCtx, connect.NewRequest(&pb.StartChatRequest{AgentId: agentID, VisitorId: visitorID}))
	if err != nil {
		t.Fatal(err)
	}
	chatID := chat.Msg.GetChat().GetId()
	sendAs := func(sender, text string) error {
		_, err := c.chat.SendMessage(tokens[sender], connect.NewRequest(&pb.SendMessageRequest{ChatId: chatID, SenderId: sender, Text: text}))
		return err
	}
	for _, text := range []string{"hello", "anyone?"} {
		if err := sendAs(visitorID, text); err != nil {
			t.Fatal(err)
		}
	}
	rlWantExhausted(t, "the visitor's third message", sendAs(visitorID, "hello??"))
	if err := sendAs(agentID, "Hi!"); err != nil {
		t.Fatalf("the agent's first message: %v", err)
	}

	// Converse shares the agent's allowance: one more send, then the stream
	// ends with ResourceExhausted.
	conv := c.chat.Converse(agentCtx)
	defer conv.CloseResponse()
	cmds := []*pb.ConverseRequest{
		{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chatID, ParticipantId: agentID}}},
		{CommandId: "s1", Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: "How can I help?"}}},
		{CommandId: "s2", Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: "Hello?"}}},
	}
	for _, cmd := range cmds {
		if err := conv.Send(cmd); err != nil {
			break // the server ended the stream; Receive reports why
		}
	}
	var results []string
	for {
		res, err := conv.Receive()
		if err != nil {
			rlWantExhausted(t, "Converse past the limit", err)
			break
		}
		if r := res.GetResult(); r != nil {
			results = append(results, r.GetCommandId()+":"+r.GetErrorCode())
		}
	}
	if got := strings.Join(results, " "); got != "join: s1:" {
		t.Errorf("Converse results = %q, want join and s1 done before the stream ended", got)
	}
}

// TestRateLimitsDefaultExemptLoopback: with the default limits, loopback
// clients (local tools, the load generator, a reverse proxy on the host)
// are not limited.
func TestRateLimitsDefaultExemptLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, nil)
	c := rlClientsFrom(t, base, "127.0.0.1")
	site, err := c.admin.CreateSite(withToken(ctx, key), connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop"}))
	if err != nil {
		t.Fatal(err)
	}
	burst := rpc.DefaultRateLimits().SessionsPerAddr.Burst
	for i := range burst + 5 {
		if _, err := c.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: site.Msg.GetSite().GetId()})); err != nil {
			t.Fatalf("session %d of %d from loopback: %v", i+1, burst+5, err)
		}
	}
}

// TestRateLimitSignIns: password guesses are limited per agent (whatever
// the address) and per address, over Connect and REST alike.
func TestRateLimitSignIns(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, &rpc.RateLimits{
		SignInsPerAgent: ratelimit.Per(3, time.Hour, 3),
		SignInsPerAddr:  ratelimit.Per(4, time.Hour, 4),
		Loopback:        true,
	})
	one := rlClientsFrom(t, base, "127.0.0.1")
	two := rlClientsFrom(t, base, "127.0.0.2")
	actx := withToken(ctx, key)
	var agents []string
	for _, name := range []string{"Dana", "Eli"} {
		a, err := one.admin.CreateAgent(actx, connect.NewRequest(&pb.CreateAgentRequest{DisplayName: name}))
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a.Msg.GetAgent().GetId())
	}
	guess := func(c rlClients, agentID string) error {
		_, err := c.agent.SignIn(ctx, connect.NewRequest(&pb.SignInRequest{AgentId: agentID, Password: "guess"}))
		return err
	}
	// Three wrong guesses for Dana from two addresses, then she is
	// limited from either.
	for i, c := range []rlClients{one, two, one} {
		if err := guess(c, agents[0]); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("guess %d: %v, want unauthenticated", i+1, err)
		}
	}
	rlWantExhausted(t, "a fourth guess for the same agent", guess(two, agents[0]))
	status, body := rlPost(t, ctx, two.http, base+"/v1/agents/"+agents[0]+"/sign-in", `{"password":"guess"}`)
	if status != http.StatusTooManyRequests {
		t.Fatalf("REST sign-in past the limit: %d %s, want 429", status, body)
	}
	// 127.0.0.1 has used 2 of its 4, and Eli none of his 3: two more
	// from there, then the address is limited while Eli is not.
	for i := range 2 {
		if err := guess(one, agents[1]); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("guess %d for another agent: %v, want unauthenticated", i+1, err)
		}
	}
	err := guess(one, agents[1])
	rlWantExhausted(t, "a fifth guess from the same address", err)
	if !strings.Contains(err.Error(), "from your address") {
		t.Errorf("%v, want the address's limit", err)
	}
}

// TestRateLimitSignInsByLogin: guesses by login are limited per login,
// any case, whether an agent has it or not.
func TestRateLimitSignInsByLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, &rpc.RateLimits{SignInsPerAgent: ratelimit.Per(2, time.Hour, 2), Loopback: true})
	one := rlClientsFrom(t, base, "127.0.0.1")
	two := rlClientsFrom(t, base, "127.0.0.2")
	if _, err := one.admin.CreateAgent(withToken(ctx, key), connect.NewRequest(&pb.CreateAgentRequest{DisplayName: "Dana", Login: "dana@shop.example"})); err != nil {
		t.Fatal(err)
	}
	guess := func(c rlClients, login string) error {
		_, err := c.agent.SignIn(ctx, connect.NewRequest(&pb.SignInRequest{Login: login, Password: "guess"}))
		return err
	}
	for _, login := range []string{"nobody@shop.example", "dana@shop.example"} {
		for i, c := range []rlClients{one, two} {
			if err := guess(c, login); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("%s: guess %d: %v, want unauthenticated", login, i+1, err)
			}
		}
		rlWantExhausted(t, "a third guess for "+login, guess(one, "  "+strings.ToUpper(login)))
	}
}

// TestRateLimitLeaveMessage: leaving a message is limited per visitor (a
// retry counts too), with Retry-After, and the refused call stores nothing.
func TestRateLimitLeaveMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	base, key := rlServer(t, &rpc.RateLimits{LeaveMessagesPerVisitor: ratelimit.Per(2, time.Hour, 2), Loopback: true})
	c := rlClientsFrom(t, base, "127.0.0.1", connect.WithGRPC())
	actx := withToken(ctx, key)
	site, err := c.admin.CreateSite(actx, connect.NewRequest(&pb.CreateSiteRequest{Name: "Shop"}))
	if err != nil {
		t.Fatal(err)
	}
	siteID := site.Msg.GetSite().GetId()
	session, err := c.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: siteID}))
	if err != nil {
		t.Fatal(err)
	}
	visitorID := session.Msg.GetVisitor().GetId()
	vctx := withToken(ctx, session.Msg.GetToken())
	leave := func(requestID string) error {
		_, err := c.visitor.LeaveMessage(vctx, connect.NewRequest(&pb.LeaveMessageRequest{VisitorId: visitorID,
			Name: "Grace", Email: "grace@example.com", Text: "Call me", RequestId: requestID}))
		return err
	}
	if err := leave("a"); err != nil {
		t.Fatal(err)
	}
	if err := leave("a"); err != nil { // the retry: the same message, counted
		t.Fatal(err)
	}
	err = leave("b")
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("third LeaveMessage: %v, want ResourceExhausted", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Meta().Get("Retry-After") == "" {
		t.Errorf("no Retry-After on %v", err)
	}
	list, err := c.agent.ListOfflineMessages(actx, connect.NewRequest(&pb.ListOfflineMessagesRequest{SiteId: siteID}))
	if err != nil || len(list.Msg.GetMessages()) != 1 {
		t.Fatalf("ListOfflineMessages = %v, %v, want the one message", list, err)
	}
}
