// Package crashtest_test kills the real server with SIGKILL under load and
// checks that every message it acknowledged survived, exactly once and in
// order, and that clients retrying with their idempotency keys get their
// original messages back. Every call carries the credentials the server
// asks for: an admin API key made with `proactivechat api-key` before the
// first start, a session per agent and each visitor's token; all of them
// outlive the kills.
package crashtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// The load and the kills. Each kill comes after a random window of load,
// drawn from a seeded generator: CRASHTEST_SEED=n replays a schedule.
const (
	chats         = 20
	chatsPerAgent = 4
	kills         = 5
	minWindow     = 100 * time.Millisecond
	maxWindow     = 400 * time.Millisecond
	// testTimeout bounds the whole test, so that a hang fails it instead of
	// waiting for go test's own timeout.
	testTimeout = 2 * time.Minute
	// startTimeout bounds one start of the server, health check included,
	// and stopTimeout a graceful stop.
	startTimeout = 20 * time.Second
	stopTimeout  = 20 * time.Second
	// unexpectedErrors is how many errors in a row a client accepts while
	// the server is up and was not killed, before the test fails.
	unexpectedErrors = 5
)

const serverPackage = "github.com/proactivechat/proactivechat/server/cmd/proactivechat"

var (
	buildOnce sync.Once
	binDir    string
	bin       string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// serverBinary builds the server once per test process (go test -count=3
// runs the test three times on one build).
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		if binDir, buildErr = os.MkdirTemp("", "crashtest-"); buildErr != nil {
			return
		}
		bin = filepath.Join(binDir, "proactivechat")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		// go test puts its own go command first on PATH.
		out, err := exec.Command("go", append(args, serverPackage)...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		t.Logf("built the server (race detector: %v) in %v", raceEnabled, time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server runs the binary on one address and one bbolt file, and tells
// clients when it is up. It is marked down before it is killed, so a client
// whose call failed because of a kill always finds the server down, or back
// up, when it looks.
type server struct {
	t      *testing.T
	bin    string
	addr   string
	db     string
	logDir string
	// transport is the clients'; its idle connections to a killed server
	// are closed before the next one starts.
	transport *http.Transport

	mu     sync.Mutex
	epoch  int
	up     bool
	ready  chan struct{} // closed once the server of this epoch is up
	cmd    *exec.Cmd
	exited chan struct{}
	logs   []string
	// downAt is when each epoch after the first was marked down.
	downAt []time.Time
	// args are flags every start adds.
	args []string
	// healthTimeout bounds the wait for a start to answer (startTimeout
	// when 0): a cluster node answers once the cluster has a leader.
	healthTimeout time.Duration
}

func newServer(t *testing.T, bin string, transport *http.Transport) *server {
	dir := t.TempDir()
	return &server{t: t, bin: bin, addr: freeAddr(t), db: filepath.Join(dir, "data", "proactivechat.db"),
		logDir: dir, transport: transport, ready: make(chan struct{})}
}

func (s *server) url() string { return "http://" + s.addr }

// createAPIKey makes an admin API key in the database with the api-key
// subcommand, as an operator provisions a server before starting it.
func (s *server) createAPIKey(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.bin, "api-key", "-name", "crash test", "-db", s.db)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("proactivechat api-key: %v\n%s", err, stderr.Bytes())
	}
	key := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(key, "pca_") || strings.ContainsAny(key, " \n") {
		return "", fmt.Errorf("proactivechat api-key printed %q, want one key", stdout.String())
	}
	return key, nil
}

// start runs the server and returns once it answers HTTP; clients waiting
// for it go on.
func (s *server) start(ctx context.Context) error {
	s.mu.Lock()
	n := len(s.logs)
	log := filepath.Join(s.logDir, fmt.Sprintf("server-%d.log", n))
	s.logs = append(s.logs, log)
	s.mu.Unlock()
	f, err := os.Create(log)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(s.bin, append([]string{"-addr", s.addr, "-db", s.db, "-log-level", "warn"}, s.args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	if err := s.waitHealthy(ctx, exited); err != nil {
		s.stop(syscall.SIGKILL)
		return fmt.Errorf("start %d: %w\n%s", n, err, tail(log))
	}
	s.mu.Lock()
	s.up = true
	close(s.ready)
	s.mu.Unlock()
	return nil
}

// waitHealthy polls the server's index page until it answers.
func (s *server) waitHealthy(ctx context.Context, exited <-chan struct{}) error {
	timeout := startTimeout
	if s.healthTimeout != 0 {
		timeout = s.healthTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url()+"/", nil)
		res, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /: %s", res.Status)
		}
		select {
		case <-exited:
			return errors.New("the server exited")
		case <-ctx.Done():
			return fmt.Errorf("not healthy after %v: %v", timeout, err)
		case <-poll.C:
		}
	}
}

// kill marks the server down, kills it with SIGKILL and waits until it is
// gone, with its file lock.
func (s *server) kill() {
	s.mu.Lock()
	s.epoch++
	s.up = false
	s.ready = make(chan struct{})
	s.downAt = append(s.downAt, time.Now())
	s.mu.Unlock()
	s.stop(syscall.SIGKILL)
	s.transport.CloseIdleConnections()
}

// stop signals the server and waits for it to exit; one that has not
// exited after stopTimeout is killed.
func (s *server) stop(sig syscall.Signal) *os.ProcessState {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		s.t.Errorf("the server did not exit %v after %v", stopTimeout, sig)
		cmd.Process.Kill()
		<-exited
	}
	return cmd.ProcessState
}

// signal sends sig to the running server, if any.
func (s *server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(sig)
	}
}

// waitUp returns the epoch of the server once it is up.
func (s *server) waitUp(ctx context.Context) (int, error) {
	s.mu.Lock()
	ready, epoch := s.ready, s.epoch
	s.mu.Unlock()
	select {
	case <-ready:
		return epoch, nil
	case <-ctx.Done():
		return epoch, ctx.Err()
	}
}

// setUp marks the server up or down for the clients that pick among
// several (a paused server is down to them), leaving its process alone.
func (s *server) setUp(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = up
}

// isUp reports whether the server is up now.
func (s *server) isUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// killedSince reports whether the server was marked down since epoch began.
func (s *server) killedSince(epoch int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch != epoch || !s.up
}

// downTime is when epoch ended, or the zero time if it has not.
func (s *server) downTime(epoch int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch >= 0 && epoch < len(s.downAt) {
		return s.downAt[epoch]
	}
	return time.Time{}
}

// scanLogs reports data races the race detector found in any run.
func (s *server) scanLogs(t *testing.T) {
	s.mu.Lock()
	logs := s.logs
	s.mu.Unlock()
	for _, log := range logs {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Error(err)
			continue
		}
		if i := bytes.Index(b, []byte("WARNING: DATA RACE")); i >= 0 {
			t.Errorf("the server had a data race (%s):\n%s", filepath.Base(log), b[i:min(len(b), i+8000)])
		}
	}
}

// failer returns a test's fail, which reports a goroutine's error (unless
// the test's ctx ended first), and failed, closed at the first error so
// that the test stops waiting.
func failer(ctx context.Context, t *testing.T) (fail func(error), failed <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(err error) {
		if err != nil && ctx.Err() == nil {
			t.Error(err)
			once.Do(func() { close(ch) })
		}
	}, ch
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

type clients struct {
	// adminKey is the admin API key, for the admin calls and for reading
	// the transcripts at the end.
	adminKey string
	admin    proactivechatv1connect.AdminServiceClient
	visitor  proactivechatv1connect.VisitorServiceClient
	agent    proactivechatv1connect.AgentServiceClient
	chat     proactivechatv1connect.ChatServiceClient
}

func newClients(hc *http.Client, url, adminKey string) *clients {
	return &clients{
		adminKey: adminKey,
		admin:    proactivechatv1connect.NewAdminServiceClient(hc, url),
		visitor:  proactivechatv1connect.NewVisitorServiceClient(hc, url),
		agent:    proactivechatv1connect.NewAgentServiceClient(hc, url),
		chat:     proactivechatv1connect.NewChatServiceClient(hc, url),
	}
}

// as is a request carrying token as its bearer credential: one header.
func as[T any](token string, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("Authorization", "Bearer "+token)
	return req
}

// definite reports whether err is the server's answer, not a lost call: a
// call answered with one of these codes would fail the same way again.
func definite(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodePermissionDenied, connect.CodeFailedPrecondition, connect.CodeOutOfRange,
		connect.CodeUnimplemented, connect.CodeUnauthenticated:
		return true
	}
	return false
}

// call runs f until it succeeds, across kills: a call that failed because
// the server was killed is made again, the same, once the server is back.
// It returns how many attempts it took and the epoch of the last.
func call[T any](ctx context.Context, s *server, what string, f func(context.Context) (T, error)) (res T, attempts, epoch int, err error) {
	unexpected := 0
	for {
		if epoch, err = s.waitUp(ctx); err != nil {
			return res, attempts, epoch, fmt.Errorf("%s: %w", what, err)
		}
		attempts++
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err = f(callCtx)
		cancel()
		switch {
		case err == nil:
			return res, attempts, epoch, nil
		case ctx.Err() != nil:
			return res, attempts, epoch, fmt.Errorf("%s: %w", what, ctx.Err())
		case s.killedSince(epoch):
			// Lost to the kill: try again once the server is back.
		case definite(err):
			return res, attempts, epoch, fmt.Errorf("%s: %w", what, err)
		default:
			if unexpected++; unexpected > unexpectedErrors {
				return res, attempts, epoch, fmt.Errorf("%s: %d failures in a row while the server was up: %w", what, unexpected, err)
			}
		}
	}
}

// ack is a message the server acknowledged.
type ack struct {
	chat     int
	sender   string
	key      string
	text     string
	seq      uint32
	attempts int
	// original: the retry was answered with a message stored before the
	// kill that interrupted the first attempt.
	original bool
	// lane names the loop that sent it, when the sender has several: the
	// acknowledgements of one lane come in order (one lane per sender
	// when empty).
	lane string
}

// chatRun is one chat and its two sides.
type chatRun struct {
	idx       int
	id        string
	visitorID string
	agentID   string
	// The credentials of the two sides: the visitor's token from
	// StartVisitorSession and the agent's session.
	visitorToken string
	agentToken   string

	mu   sync.Mutex
	acks []ack

	// What the visitor's widget stream received of the chat.
	streamLast   uint32
	streamEvents int
	reconnects   int
}

// token is the credential of sender, one of the chat's two sides.
func (c *chatRun) token(sender string) string {
	if sender == c.agentID {
		return c.agentToken
	}
	return c.visitorToken
}

func (c *chatRun) record(a ack) {
	c.mu.Lock()
	c.acks = append(c.acks, a)
	c.mu.Unlock()
}

// send loops on SendMessage as sender until stop is closed, each message
// with a new idempotency key, each retried with its key until acknowledged.
func (c *chatRun) send(ctx context.Context, s *server, api *clients, sender, role string, stop <-chan struct{}, progress chan<- struct{}) error {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		key := fmt.Sprintf("c%02d-%s-%05d", c.idx, role, i)
		text := fmt.Sprintf("message %d from the %s of chat %d", i, role, c.idx)
		req := &pb.SendMessageRequest{ChatId: c.id, SenderId: sender, Text: text, IdempotencyKey: key}
		token := c.token(sender)
		res, attempts, epoch, err := call(ctx, s, "send "+key, func(ctx context.Context) (*connect.Response[pb.SendMessageResponse], error) {
			return api.chat.SendMessage(ctx, as(token, req))
		})
		if err != nil {
			return err
		}
		ev := res.Msg.GetEvent()
		m := ev.GetMessage()
		if ev.GetChatId() != c.id || m.GetIdempotencyKey() != key || m.GetText() != text || m.GetSender().GetId() != sender || ev.GetSeq() == 0 {
			return fmt.Errorf("send %s (attempt %d) was acknowledged with %v", key, attempts, ev)
		}
		a := ack{chat: c.idx, sender: sender, key: key, text: text, seq: ev.GetSeq(), attempts: attempts}
		if attempts > 1 {
			// Stored before the server that answered started: the answer
			// is the message the lost attempt wrote.
			if down := s.downTime(epoch - 1); !down.IsZero() && ev.GetTime().AsTime().Before(down) {
				a.original = true
			}
		}
		c.record(a)
		select {
		case progress <- struct{}{}:
		default:
		}
	}
}

// watch keeps the visitor's widget stream open across kills, resuming after
// the last chat event received, and checks that events arrive once each and
// in order. online is closed once the first stream has said who the visitor
// is.
func (c *chatRun) watch(ctx context.Context, s *server, api *clients, online chan<- struct{}) error {
	first := true
	unexpected := 0
	for {
		epoch, err := s.waitUp(ctx)
		if err != nil {
			return nil
		}
		c.mu.Lock()
		req := &pb.WatchVisitorRequest{VisitorId: c.visitorID, ResumeChatId: c.id, ResumeAfterSeq: c.streamLast}
		c.mu.Unlock()
		if first {
			req.PageUrl = "https://shop.example.com/pricing"
		}
		stream, err := api.visitor.WatchVisitor(ctx, as(c.visitorToken, req))
		if err == nil {
			for stream.Receive() {
				msg := stream.Msg()
				if msg.GetState() != nil && first {
					first = false
					close(online)
				}
				if ev := msg.GetChatEvent(); ev != nil {
					if err := c.streamed(ev); err != nil {
						stream.Close()
						return err
					}
				}
			}
			err = stream.Err()
			stream.Close()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case s.killedSince(epoch):
			c.mu.Lock()
			c.reconnects++
			c.mu.Unlock()
		case definite(err):
			return fmt.Errorf("watch visitor %s: %w", c.visitorID, err)
		default:
			if unexpected++; unexpected > unexpectedErrors {
				return fmt.Errorf("watch visitor %s: ended %d times in a row while the server was up: %v", c.visitorID, unexpected, err)
			}
		}
	}
}

func (c *chatRun) streamed(ev *pb.ChatEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == "" {
		// The chat began before its starter heard of it (or the visitor's
		// request was claimed): resume that chat.
		c.id = ev.GetChatId()
	}
	if ev.GetChatId() != c.id {
		return fmt.Errorf("visitor %s streamed an event of chat %s, want chat %s", c.visitorID, ev.GetChatId(), c.id)
	}
	if ev.GetSeq() != c.streamLast+1 {
		return fmt.Errorf("visitor %s streamed event %d of chat %s after event %d: want %d, no gap and no duplicate",
			c.visitorID, ev.GetSeq(), ev.GetChatId(), c.streamLast, c.streamLast+1)
	}
	c.streamLast = ev.GetSeq()
	c.streamEvents++
	return nil
}

func TestAcknowledgedMessagesSurviveKills(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kills the server with POSIX signals")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CRASHTEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CRASHTEST_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay the kill schedule with CRASHTEST_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	began := time.Now()

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	s := newServer(t, serverBinary(t), transport)
	built := time.Now()
	adminKey, err := s.createAPIKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, log := range s.logs {
				t.Logf("%s:\n%s", filepath.Base(log), tail(log))
			}
		}
	}()
	defer s.stop(syscall.SIGKILL)
	api := newClients(&http.Client{Transport: transport}, s.url(), adminKey)

	// The server enforces the credentials: the admin API needs the key.
	_, err = api.admin.ListSites(ctx, connect.NewRequest(&pb.ListSitesRequest{}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("ListSites without credentials: %v, want Unauthenticated", err)
	}

	// A site with proactive chat on (the launching criteria never met in
	// this test, so nothing but StartChat starts chats), agents, and a
	// visitor per chat keeping a widget stream open.
	site := must(api.admin.CreateSite(ctx, as(adminKey, &pb.CreateSiteRequest{
		Name:           "crash test",
		AllowedOrigins: []string{"https://shop.example.com"},
		ProactiveChat: &pb.ProactiveChatSettings{
			Enabled:            true,
			Mode:               pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
			LaunchAfterSeconds: 24 * 60 * 60,
		},
	})))(t).Msg.GetSite()
	type agentCreds struct{ id, token string }
	var agents []agentCreds
	for i := range (chats + chatsPerAgent - 1) / chatsPerAgent {
		agent := must(api.admin.CreateAgent(ctx, as(adminKey, &pb.CreateAgentRequest{
			DisplayName: fmt.Sprintf("Agent %d", i), SiteIds: []string{site.GetId()}, MaxConcurrentChats: 2 * chatsPerAgent,
		})))(t).Msg.GetAgent()
		// The agent's console signs in: a session the admin hands out.
		token := must(api.admin.CreateAgentSession(ctx, as(adminKey, &pb.CreateAgentSessionRequest{AgentId: agent.GetId()})))(t).Msg.GetToken()
		must(api.agent.SetAgentStatus(ctx, as(token, &pb.SetAgentStatusRequest{
			AgentId: agent.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE,
		})))(t)
		agents = append(agents, agentCreds{agent.GetId(), token})
	}

	var wg, senders sync.WaitGroup
	fail, failed := failer(ctx, t)
	streamCtx, stopStreams := context.WithCancel(ctx)
	// However the test ends, no client outlives it.
	defer func() {
		stopStreams()
		cancel()
		senders.Wait()
		wg.Wait()
	}()
	runs := make([]*chatRun, chats)
	for i := range runs {
		session := must(api.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: site.GetId()})))(t).Msg
		agent := agents[i/chatsPerAgent]
		c := &chatRun{idx: i, visitorID: session.GetVisitor().GetId(), visitorToken: session.GetToken(),
			agentID: agent.id, agentToken: agent.token}
		online := make(chan struct{})
		wg.Go(func() { fail(c.watch(streamCtx, s, api, online)) })
		select {
		case <-online:
		case <-ctx.Done():
			t.Fatalf("visitor %d never got its first state", i)
		}
		chat := must(api.agent.StartChat(ctx, as(c.agentToken, &pb.StartChatRequest{AgentId: c.agentID, VisitorId: c.visitorID})))(t).Msg.GetChat()
		c.mu.Lock()
		c.id = chat.GetId()
		c.mu.Unlock()
		runs[i] = c
	}

	// The load: both sides of every chat write without pause.
	stop := make(chan struct{})
	// progress hears of acknowledgements, so that each window of load
	// starts when messages flow again, not merely when the server is up.
	progress := make(chan struct{}, 1)
	for _, c := range runs {
		for _, side := range []struct{ id, role string }{{c.agentID, "agent"}, {c.visitorID, "visitor"}} {
			senders.Go(func() { fail(c.send(ctx, s, api, side.id, side.role, stop, progress)) })
		}
	}
	acked := func() int {
		n := 0
		for _, c := range runs {
			c.mu.Lock()
			n += len(c.acks)
			c.mu.Unlock()
		}
		return n
	}

	// The kills, each after a random window of load. The windows decide
	// when the server dies, never whether something happened.
	window := func() time.Duration { return minWindow + time.Duration(rng.Int64N(int64(maxWindow-minWindow)+1)) }
	var schedule []string
load:
	for k := range kills + 1 {
		w := window()
		select {
		case <-progress: // drain what the previous server acknowledged
		default:
		}
		select {
		case <-progress:
		case <-failed:
			break load
		case <-ctx.Done():
			t.Fatalf("no message was acknowledged after start %d: %v", k, ctx.Err())
		}
		before := acked()
		select {
		case <-time.After(w):
		case <-failed:
			break load
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if k == kills {
			schedule = append(schedule, fmt.Sprintf("%v of load (%d acks) then stop", w, acked()-before))
			break
		}
		s.kill()
		schedule = append(schedule, fmt.Sprintf("%v of load (%d acks) then SIGKILL", w, acked()-before))
		if err := s.start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	senders.Wait()
	t.Logf("schedule: %s", strings.Join(schedule, "; "))
	if t.Failed() {
		return
	}

	// Every acknowledged message is stored once, where it was acknowledged,
	// the events of every chat are numbered without a gap, and nothing was
	// stored that was not acknowledged.
	st := checkTranscripts(ctx, t, api, runs)

	// After the restarts each credential still speaks only for its own
	// principal (the resends below then check that nothing was stored).
	if len(runs) > 1 {
		a, b := runs[0], runs[1]
		for _, tc := range []struct {
			what, token, sender string
			want                connect.Code
		}{
			{"a visitor as another chat's visitor", a.visitorToken, b.visitorID, connect.CodePermissionDenied},
			{"a visitor as its chat's agent", a.visitorToken, a.agentID, connect.CodePermissionDenied},
			{"the admin key as a visitor", adminKey, a.visitorID, connect.CodePermissionDenied},
			{"an unknown token", "pcv_unknown", a.visitorID, connect.CodeUnauthenticated},
		} {
			_, err := api.chat.SendMessage(ctx, as(tc.token, &pb.SendMessageRequest{ChatId: a.id, SenderId: tc.sender, Text: "forged", IdempotencyKey: "forged"}))
			if connect.CodeOf(err) != tc.want {
				t.Errorf("SendMessage with %s: %v, want %v", tc.what, err, tc.want)
			}
		}
	}

	// A retry with the same key, now, returns the original and adds
	// nothing: every message retried across a kill, and a sample of others.
	resent := checkResends(ctx, t, runs, rng, func(int) *clients { return api })

	// The server still shuts down cleanly after all that.
	stopStreams()
	wg.Wait()
	if ps := s.stop(syscall.SIGTERM); ps == nil || !ps.Success() {
		t.Errorf("after SIGTERM the server exited with %v, want 0", ps)
	}
	s.scanLogs(t)

	t.Logf("kills: %d; messages acknowledged: %d, found: %d; acknowledged after a retry: %d (answered with the message stored before the kill: %d); resent with their keys at the end: %d",
		kills, st.acked, st.found, st.retried, st.originals, resent)
	t.Logf("visitor streams: %d reconnects, %d chat events received in order; %d chats still active; test took %v (plus %v to build)",
		st.reconnects, st.streamed, chats, time.Since(built).Round(time.Millisecond), built.Sub(began).Round(time.Millisecond))
}

// transcriptStats counts what checkTranscripts checked.
type transcriptStats struct {
	acked, found, retried, originals int
	// What the visitors' widget streams did.
	reconnects, streamed int
}

// checkTranscripts checks, through api, that every message acknowledged
// in runs is stored once, where it was acknowledged, that the events of
// every chat are numbered without a gap, that nothing was stored that was
// not acknowledged, and that every chat is still active.
func checkTranscripts(ctx context.Context, t *testing.T, api *clients, runs []*chatRun) transcriptStats {
	t.Helper()
	var st transcriptStats
	for _, c := range runs {
		c.mu.Lock()
		acks := c.acks
		st.reconnects += c.reconnects
		c.mu.Unlock()
		st.acked += len(acks)
		byKey := map[string]ack{}
		lastSeq := map[string]uint32{}
		for _, a := range acks {
			lane := a.sender + "/" + a.lane
			if a.seq <= lastSeq[lane] {
				t.Errorf("chat %d: %s acknowledged with seq %d after an earlier message of the same sender at seq %d", c.idx, a.key, a.seq, lastSeq[lane])
			}
			lastSeq[lane] = a.seq
			byKey[a.key] = a
			if a.attempts > 1 {
				st.retried++
			}
			if a.original {
				st.originals++
			}
		}
		events := listEvents(ctx, t, api, c.id)
		seen := map[string]bool{}
		for i, ev := range events {
			if ev.GetSeq() != uint32(i+1) {
				t.Fatalf("chat %d: event %d has seq %d: a gap or a duplicate", c.idx, i+1, ev.GetSeq())
			}
			switch {
			case i == 0:
				if ev.GetStarted() == nil {
					t.Errorf("chat %d: event 1 is %v, want ChatStarted", c.idx, ev)
				}
			case ev.GetMessage() != nil:
				st.found++
				m := ev.GetMessage()
				a, ok := byKey[m.GetIdempotencyKey()]
				switch {
				case !ok:
					t.Errorf("chat %d: stored message %d (key %q) was never acknowledged", c.idx, ev.GetSeq(), m.GetIdempotencyKey())
				case seen[a.key]:
					t.Errorf("chat %d: message %q is stored twice", c.idx, a.key)
				case a.seq != ev.GetSeq() || a.text != m.GetText() || a.sender != m.GetSender().GetId():
					t.Errorf("chat %d: message %q acknowledged as seq %d from %s %q, stored as seq %d from %s %q",
						c.idx, a.key, a.seq, a.sender, a.text, ev.GetSeq(), m.GetSender().GetId(), m.GetText())
				}
				seen[m.GetIdempotencyKey()] = true
			default:
				t.Errorf("chat %d: unexpected event %d: %v", c.idx, ev.GetSeq(), ev)
			}
		}
		for _, a := range acks {
			if !seen[a.key] {
				t.Errorf("chat %d: acknowledged message %q (seq %d) is missing", c.idx, a.key, a.seq)
			}
		}
		chat := must(api.chat.GetChat(ctx, as(api.adminKey, &pb.GetChatRequest{ChatId: c.id})))(t).Msg.GetChat()
		if chat.GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chat.GetLastSeq() != uint32(len(events)) {
			t.Errorf("chat %d is %v with last seq %d after %d events, want ACTIVE", c.idx, chat.GetState(), chat.GetLastSeq(), len(events))
		}
		c.mu.Lock()
		if c.streamLast > uint32(len(events)) {
			t.Errorf("chat %d: the visitor's stream got event %d, but only %d are stored", c.idx, c.streamLast, len(events))
		}
		st.streamed += c.streamEvents
		c.mu.Unlock()
	}
	if st.acked == 0 || st.found != st.acked {
		t.Errorf("acknowledged %d messages, found %d", st.acked, st.found)
	}
	return st
}

// checkResends sends again, with their idempotency keys, every message of
// runs acknowledged after a retry and a sample of the others, spread over
// apiFor(0..15): each must be answered with the original and add nothing.
// It returns how many it sent.
func checkResends(ctx context.Context, t *testing.T, runs []*chatRun, rng *rand.Rand, apiFor func(int) *clients) int {
	t.Helper()
	var again []ack
	for _, c := range runs {
		for _, a := range c.acks {
			if a.attempts > 1 || rng.IntN(20) == 0 {
				again = append(again, a)
			}
		}
	}
	var resend sync.WaitGroup
	work := make(chan ack)
	for w := range 16 {
		api := apiFor(w)
		resend.Go(func() {
			for a := range work {
				c := runs[a.chat]
				res, err := api.chat.SendMessage(ctx, as(c.token(a.sender), &pb.SendMessageRequest{ChatId: c.id, SenderId: a.sender, Text: a.text, IdempotencyKey: a.key}))
				if err != nil {
					t.Errorf("resend %s: %v", a.key, err)
					continue
				}
				if ev := res.Msg.GetEvent(); ev.GetSeq() != a.seq || ev.GetMessage().GetText() != a.text || ev.GetMessage().GetIdempotencyKey() != a.key {
					t.Errorf("resend %s returned %v, want the original at seq %d", a.key, ev, a.seq)
				}
			}
		})
	}
	for _, a := range again {
		work <- a
	}
	close(work)
	resend.Wait()
	api := apiFor(0)
	for _, c := range runs {
		chat := must(api.chat.GetChat(ctx, as(api.adminKey, &pb.GetChatRequest{ChatId: c.id})))(t).Msg.GetChat()
		c.mu.Lock()
		want := uint32(len(c.acks) + 1)
		c.mu.Unlock()
		if chat.GetLastSeq() != want {
			t.Errorf("chat %d has last seq %d after the resends, want %d", c.idx, chat.GetLastSeq(), want)
		}
	}
	return len(again)
}

// listEvents reads a chat's whole transcript, page by page.
func listEvents(ctx context.Context, t *testing.T, api *clients, chatID string) []*pb.ChatEvent {
	t.Helper()
	var events []*pb.ChatEvent
	var after uint32
	for {
		res := must(api.chat.ListChatEvents(ctx, as(api.adminKey, &pb.ListChatEventsRequest{ChatId: chatID, AfterSeq: after, PageSize: 1000})))(t).Msg
		events = append(events, res.GetEvents()...)
		if res.GetNextAfterSeq() == 0 {
			return events
		}
		after = res.GetNextAfterSeq()
	}
}

// must fails the test unless a call succeeded.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
