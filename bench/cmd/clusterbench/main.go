// Command clusterbench measures a 3-node cluster (issue 17) against one
// node on its bbolt file, in the same run, on real processes of the
// server binary: durable messages/s and visitor→agent latency under a
// closed loop, then failover times over SIGKILLs of the leader. With
// -before-bin it measures a second binary's cluster too (an older commit,
// for before/after figures). See bench/README.md, "Cluster".
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/proactivechat/proactivechat/bench/hist"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

type config struct {
	bin, beforeBin string
	chats, agents  int
	duration       time.Duration
	kills          int
	followerKills  int
	out            string
	skipSingle     bool
	rounds         int
	profile        string
	keep           bool
	readers        int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "server binary (default: build ./server/cmd/proactivechat)")
	flag.StringVar(&c.beforeBin, "before-bin", "", "a second server binary whose cluster is measured too, in the same run (e.g. built from main)")
	flag.IntVar(&c.chats, "chats", 60, "chats in the closed loop, each visitor on its own connection")
	flag.IntVar(&c.agents, "agents", 6, "agents, each on its own connection")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "closed loop length")
	flag.IntVar(&c.kills, "kills", 5, "SIGKILLs of the leader, each followed by a restart")
	flag.IntVar(&c.followerKills, "follower-kills", 2, "SIGKILLs of a follower, each followed by a restart")
	flag.StringVar(&c.out, "out", "", "write results.json here (default: print only)")
	flag.BoolVar(&c.skipSingle, "skip-single", false, "measure no single node")
	flag.IntVar(&c.rounds, "rounds", 1, "closed loops of every deployment, interleaved; the kills follow the last")
	flag.StringVar(&c.profile, "profile", "", "write a CPU profile of every node during the closed loop into this directory")
	flag.BoolVar(&c.keep, "keep", false, "keep the temp dir (server logs, databases)")
	flag.IntVar(&c.readers, "readers", 0, "integrations reading chats (ListChatEvents, GetChat) in a closed loop during the messages' loop, each on its own connection to a follower (to the node on one node)")
	flag.Parse()
	if err := run(c); err != nil {
		log.Fatal(err)
	}
}

// Result is one deployment's figures.
type Result struct {
	Round    int          `json:"round"`
	Name     string       `json:"name"`
	Nodes    int          `json:"nodes"`
	Messages int64        `json:"messages"`
	Seconds  float64      `json:"seconds"`
	Rate     float64      `json:"messages_per_second"`
	Latency  hist.Summary `json:"visitor_to_agent"`
	Ack      hist.Summary `json:"send_acknowledged"`
	Errors   int64        `json:"errors"`
	// From the leader's /metrics over the closed loop.
	Commits   float64 `json:"commits_per_second"`
	BatchMean float64 `json:"updates_per_commit"`
	CommitMs  float64 `json:"commit_mean_ms"`
	PublishMs float64 `json:"log_publish_mean_ms,omitempty"`
	// Acknowledgement latency of visitors on the leader's node and on
	// the others (through the reverse proxy).
	AckOnLeader   hist.Summary    `json:"ack_on_leader"`
	AckViaProxy   hist.Summary    `json:"ack_via_proxy,omitempty"`
	LeaderKills   []time.Duration `json:"leader_kill_failover_ns,omitempty"`
	FollowerKills []time.Duration `json:"follower_kill_stall_ns,omitempty"`
	Phases        []string        `json:"leader_kill_phases,omitempty"`
	// Client streams that ended during the kills, by kind, of how many
	// held: each one a widget or console that had to reconnect.
	StreamsEnded map[string]int64 `json:"streams_ended_in_kills,omitempty"`
	StreamsHeld  map[string]int64 `json:"streams_held,omitempty"`
	// CPU time of every node's process over the closed loop, per
	// durable message (user and system, from /proc).
	CPUPerMessageUs float64 `json:"cpu_per_message_us,omitempty"`
	// Why they ended: "kind: status", counted.
	EndedBy map[string]int64 `json:"streams_ended_by,omitempty"`
	// The readers' closed loop (-readers): reads done over the
	// messages' loop, their rate and latency, and the CPU time of the
	// node leading (the one doing the writes) and of the others.
	Reads            int64        `json:"reads,omitempty"`
	ReadRate         float64      `json:"reads_per_second,omitempty"`
	ReadLatency      hist.Summary `json:"read_latency,omitempty"`
	ReadErrors       int64        `json:"read_errors,omitempty"`
	LeaderCPUSeconds float64      `json:"leader_cpu_seconds,omitempty"`
	OtherCPUSeconds  float64      `json:"followers_cpu_seconds,omitempty"`
}

func run(c config) error {
	dir, err := os.MkdirTemp("", "clusterbench")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	} else {
		log.Printf("temp dir %s", dir)
	}
	if c.bin == "" {
		c.bin = filepath.Join(dir, "proactivechat")
		log.Printf("building the server")
		cmd := exec.Command("go", "build", "-o", c.bin, "./server/cmd/proactivechat")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	// Rounds interleave the deployments, so that a machine whose speed
	// drifts (other jobs, the disk) shifts them all alike; the kills are
	// in the last round only.
	var results []*Result
	kills, followerKills, profile := c.kills, c.followerKills, c.profile
	for round := 1; round <= c.rounds; round++ {
		c.kills, c.followerKills = 0, 0
		if round == c.rounds {
			c.kills, c.followerKills = kills, followerKills
		}
		sub := filepath.Join(dir, fmt.Sprintf("round%d", round))
		if profile != "" {
			c.profile = filepath.Join(profile, fmt.Sprintf("round%d", round))
		}
		if !c.skipSingle {
			r, err := measure(c, c.bin, filepath.Join(sub, "single"), "single node (bbolt)", 1)
			if err != nil {
				return err
			}
			r.Round = round
			results = append(results, r)
		}
		if c.beforeBin != "" {
			r, err := measure(c, c.beforeBin, filepath.Join(sub, "before"), "3 nodes, before", 3)
			if err != nil {
				return err
			}
			r.Round = round
			results = append(results, r)
		}
		r, err := measure(c, c.bin, filepath.Join(sub, "cluster"), "3 nodes", 3)
		if err != nil {
			return err
		}
		r.Round = round
		results = append(results, r)
	}
	report(os.Stdout, results)
	if c.out != "" {
		if err := os.MkdirAll(c.out, 0o755); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(filepath.Join(c.out, "results.json"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func report(w io.Writer, rs []*Result) {
	single := map[int]float64{}
	for _, r := range rs {
		if r.Nodes == 1 {
			single[r.Round] = r.Rate
		}
	}
	fmt.Fprintf(w, "| round | | messages/s | of single | visitor→agent p50 | p99 | ack p50 | p99 | errors | leader kill → write acked p50 | max | follower kill → write acked p50 | max |\n")
	fmt.Fprintf(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		of := ""
		if s := single[r.Round]; s > 0 {
			of = fmt.Sprintf("%.0f %%", 100*r.Rate/s)
		}
		lp50, lmax := quant(r.LeaderKills)
		fp50, fmax := quant(r.FollowerKills)
		fmt.Fprintf(w, "| %d | %s | %.0f | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n", r.Round, r.Name, r.Rate, of,
			ms(r.Latency.P50Ms), ms(r.Latency.P99Ms), ms(r.Ack.P50Ms), ms(r.Ack.P99Ms), r.Errors, lp50, lmax, fp50, fmax)
	}
	fmt.Fprintf(w, "\n| round | | commits/s | updates per commit | commit mean | of which log publish | ack p50 on the leader's node | ack p50 through the proxy | CPU per message, all nodes |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		fmt.Fprintf(w, "| %d | %s | %.0f | %.1f | %.2f ms | %.2f ms | %s | %s | %.0f µs |\n", r.Round, r.Name, r.Commits, r.BatchMean, r.CommitMs, r.PublishMs,
			ms(r.AckOnLeader.P50Ms), ms(r.AckViaProxy.P50Ms), r.CPUPerMessageUs)
	}
	if slices.ContainsFunc(rs, func(r *Result) bool { return r.Reads > 0 }) {
		fmt.Fprintf(w, "\n| round | | reads/s | a page and its chat, p50 | p99 | read errors | CPU of the writing node | of the others |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, r := range rs {
			fmt.Fprintf(w, "| %d | %s | %.0f | %s | %s | %d | %.1f s | %.1f s |\n", r.Round, r.Name, r.ReadRate,
				ms(r.ReadLatency.P50Ms), ms(r.ReadLatency.P99Ms), r.ReadErrors, r.LeaderCPUSeconds, r.OtherCPUSeconds)
		}
	}
	for _, r := range rs {
		if r.StreamsEnded != nil {
			fmt.Fprintf(w, "\n%s, client streams ended during the kills (each a reconnect):", r.Name)
			for _, k := range streamKinds {
				fmt.Fprintf(w, " %s %d of %d;", k, r.StreamsEnded[k], r.StreamsHeld[k])
			}
			fmt.Fprintln(w)
			for _, k := range slices.Sorted(maps.Keys(r.EndedBy)) {
				fmt.Fprintf(w, "  %d× %s\n", r.EndedBy[k], k)
			}
		}
		if len(r.LeaderKills) > 0 {
			fmt.Fprintf(w, "\n%s, leader kills: %s\n", r.Name, durs(r.LeaderKills))
			for _, p := range r.Phases {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
		if len(r.FollowerKills) > 0 {
			fmt.Fprintf(w, "%s, follower kills: %s\n", r.Name, durs(r.FollowerKills))
		}
	}
}

func ms(v float64) string { return fmt.Sprintf("%.1f ms", v) }

func durs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.2f s", d.Seconds())
	}
	return strings.Join(s, ", ")
}

func quant(ds []time.Duration) (p50, max string) {
	if len(ds) == 0 {
		return "", ""
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%.2f s", s[(len(s)-1)/2].Seconds()), fmt.Sprintf("%.2f s", s[len(s)-1].Seconds())
}

// proc is one server process.
type proc struct {
	name, addr string
	pprof      string
	args       []string
	bin        string
	cmd        *exec.Cmd
	logf       *os.File

	mu      sync.Mutex
	key     string
	leading time.Time // when it last logged that it leads
	ended   time.Time // when it last logged that its leadership ended
	exited  chan struct{}
}

var keyLine = regexp.MustCompile(`^  (\S+)$`)

func (p *proc) start() error {
	p.cmd = exec.Command(p.bin, p.args...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return err
	}
	p.cmd.Stdout = p.logf
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.exited = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		afterKeyText := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logf, line)
			now := time.Now()
			p.mu.Lock()
			switch {
			case strings.Contains(line, "keep it somewhere safe"):
				afterKeyText = true
			case afterKeyText && keyLine.MatchString(line):
				p.key = keyLine.FindStringSubmatch(line)[1]
				afterKeyText = false
			case strings.Contains(line, "msg=leading"):
				p.leading = now
			case strings.Contains(line, `msg="leadership ended"`):
				p.ended = now
			}
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	return nil
}

func (p *proc) isLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.leading.IsZero() && p.leading.After(p.ended)
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.mu.Lock()
	p.leading, p.ended = time.Time{}, time.Time{}
	p.mu.Unlock()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startDeployment(bin, dir string, n int) ([]*proc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ps := make([]*proc, n)
	routes := make([]string, n)
	for i := range ps {
		routes[i] = fmt.Sprintf("127.0.0.1:%d", freePort())
	}
	for i := range ps {
		name := fmt.Sprintf("n%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort())
		pprof := fmt.Sprintf("127.0.0.1:%d", freePort())
		args := []string{"-addr", addr, "-db", filepath.Join(dir, name+".db"), "-log-level", "info", "-pprof", pprof}
		if n > 1 {
			var others []string
			for j, r := range routes {
				if j != i {
					others = append(others, r)
				}
			}
			args = append(args, "-node", name, "-nats-listen", routes[i], "-nats-routes", strings.Join(others, ","))
		}
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, err
		}
		ps[i] = &proc{name: name, addr: addr, pprof: pprof, args: args, bin: bin, logf: f}
		if err := ps[i].start(); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<20))
}

func withToken(token string) context.Context {
	return metadata.NewOutgoingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
}

// retry calls f until it succeeds, its error is not UNAVAILABLE (or
// FAILED_PRECONDITION while presence registers), or a minute passed.
func retry(f func(ctx context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := f(ctx)
		cancel()
		c := status.Code(err)
		if err == nil || (c != codes.Unavailable && c != codes.FailedPrecondition && c != codes.DeadlineExceeded) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// chat is one visitor (own connection, its node) and one agent in a chat.
type chat struct {
	id, visitorID string
	vctx          context.Context
	cc            pb.ChatServiceClient
	node          int
	n             atomic.Int64
}

type deployment struct {
	procs []*proc
	// spare connections to each node, on which a stream whose node died
	// opens again, as a widget or a console would.
	spare []*grpc.ClientConn
	done  chan struct{} // closed when the deployment is torn down
	chats []*chat
	// ended counts the client streams that ended (their node died, or
	// the leader's end broke and was not relayed), by kind (streamKinds).
	ended   [3]atomic.Int64
	endedMu sync.Mutex
	endedBy map[string]int64
	lat     *hist.Histogram
	latMu   sync.Mutex
}

func measure(c config, bin, dir, name string, n int) (*Result, error) {
	log.Printf("%s: starting", name)
	ps, err := startDeployment(bin, dir, n)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range ps {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
			p.logf.Close()
		}
	}()
	var key string
	deadline := time.Now().Add(2 * time.Minute)
	for key == "" {
		if time.Now().After(deadline) {
			return nil, errors.New("no admin key printed")
		}
		time.Sleep(100 * time.Millisecond)
		for _, p := range ps {
			p.mu.Lock()
			if p.key != "" {
				key = p.key
			}
			p.mu.Unlock()
		}
	}
	d := &deployment{procs: ps, lat: hist.New(), done: make(chan struct{})}
	defer close(d.done)
	if err := d.setup(c, key); err != nil {
		return nil, err
	}
	log.Printf("%s: %d chats ready; closed loop for %s", name, len(d.chats), c.duration)
	r := &Result{Name: name, Nodes: n}
	m0, err := metricsOf(ps[0].addr)
	if err != nil {
		return nil, err
	}
	var profiled sync.WaitGroup
	if c.profile != "" {
		for _, p := range ps {
			profiled.Add(1)
			go func() {
				defer profiled.Done()
				role := "follower"
				if p.isLeader() || n == 1 {
					role = "leader"
				}
				path := filepath.Join(c.profile, fmt.Sprintf("%s-%s-%s.pprof", strings.ReplaceAll(name, " ", "_"), p.name, role))
				if err := cpuProfile(p.pprof, path, c.duration/2); err != nil {
					log.Printf("profile %s: %v", p.name, err)
				}
			}()
		}
	}
	leaderNode := 0
	for i, p := range ps {
		if p.isLeader() {
			leaderNode = i
		}
	}
	others := slices.Delete(slices.Clone(ps), leaderNode, leaderNode+1)
	cpu0, lead0, other0 := cpuTime(ps), cpuTime(ps[leaderNode:leaderNode+1]), cpuTime(others)
	d.closedLoop(c.duration, c.readers, key, r)
	if r.Messages > 0 {
		r.CPUPerMessageUs = float64((cpuTime(ps) - cpu0).Microseconds()) / float64(r.Messages)
	}
	r.LeaderCPUSeconds = (cpuTime(ps[leaderNode:leaderNode+1]) - lead0).Seconds()
	r.OtherCPUSeconds = (cpuTime(others) - other0).Seconds()
	profiled.Wait()
	m1, err := metricsOf(ps[0].addr)
	if err != nil {
		return nil, err
	}
	delta := func(k string) float64 { return m1[k] - m0[k] }
	if c := delta("proactivechat_bolt_batch_size_count"); c > 0 {
		r.Commits = c / r.Seconds
		r.BatchMean = delta("proactivechat_bolt_batch_size_sum") / c
	}
	if c := delta("proactivechat_bolt_commit_seconds_count"); c > 0 {
		r.CommitMs = 1000 * delta("proactivechat_bolt_commit_seconds_sum") / c
	}
	if c := delta("proactivechat_log_publish_seconds_count"); c > 0 {
		r.PublishMs = 1000 * delta("proactivechat_log_publish_seconds_sum") / c
	}
	if n > 1 && c.kills+c.followerKills > 0 {
		before := d.endedCounts()
		d.endedMu.Lock()
		d.endedBy = nil
		d.endedMu.Unlock()
		defer func() {
			r.StreamsEnded = d.endedCounts()
			for k, v := range before {
				r.StreamsEnded[k] -= v
			}
			d.endedMu.Lock()
			r.EndedBy = maps.Clone(d.endedBy)
			d.endedMu.Unlock()
			r.StreamsHeld = map[string]int64{"WatchVisitor": int64(len(d.chats)), "WatchAgent": int64(c.agents), "WatchChat": int64(len(d.chats))}
		}()
		for k := 0; k < c.kills+c.followerKills; k++ {
			leader := k < c.kills
			dur, phase, err := d.failover(leader, k)
			if err != nil {
				return nil, err
			}
			log.Printf("%s: kill %d (leader %v): write acknowledged again after %s", name, k+1, leader, dur)
			if leader {
				r.LeaderKills = append(r.LeaderKills, dur)
				r.Phases = append(r.Phases, phase)
			} else {
				r.FollowerKills = append(r.FollowerKills, dur)
			}
		}
	}
	return r, nil
}

func (d *deployment) setup(c config, key string) error {
	n := len(d.procs)
	admConn, err := dial(d.procs[0].addr)
	if err != nil {
		return err
	}
	for _, p := range d.procs {
		conn, err := dial(p.addr)
		if err != nil {
			return err
		}
		d.spare = append(d.spare, conn)
	}
	admin := pb.NewAdminServiceClient(admConn)
	actx := withToken(key)
	var site *pb.CreateSiteResponse
	if err := retry(func(ctx context.Context) error {
		ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer "+key))
		var err error
		site, err = admin.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Bench", AllowedOrigins: []string{"https://shop.example"},
			// Agents start chats with visitors on the site; nothing
			// launches by itself during the run.
			ProactiveChat: &pb.ProactiveChatSettings{Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 3600}})
		return err
	}); err != nil {
		return fmt.Errorf("CreateSite: %w", err)
	}
	siteID := site.GetSite().GetId()
	type agent struct {
		id   string
		ctx  context.Context
		ag   pb.AgentServiceClient
		cc   pb.ChatServiceClient
		node int
	}
	var agents []*agent
	for i := range c.agents {
		resp, err := admin.CreateAgent(actx, &pb.CreateAgentRequest{DisplayName: fmt.Sprintf("Agent %d", i+1), SiteIds: []string{siteID},
			MaxConcurrentChats: uint32(c.chats/c.agents + 2)})
		if err != nil {
			return fmt.Errorf("CreateAgent: %w", err)
		}
		sess, err := admin.CreateAgentSession(actx, &pb.CreateAgentSessionRequest{AgentId: resp.GetAgent().GetId()})
		if err != nil {
			return fmt.Errorf("CreateAgentSession: %w", err)
		}
		conn, err := dial(d.procs[(i+1)%n].addr)
		if err != nil {
			return err
		}
		a := &agent{id: resp.GetAgent().GetId(), ctx: withToken(sess.GetToken()), ag: pb.NewAgentServiceClient(conn), cc: pb.NewChatServiceClient(conn), node: (i + 1) % n}
		ws, err := a.ag.WatchAgent(a.ctx, &pb.WatchAgentRequest{AgentId: a.id})
		if err != nil {
			return fmt.Errorf("WatchAgent: %w", err)
		}
		go d.hold(agentStream, (i+1)%n, func(conn *grpc.ClientConn) (recver, error) {
			return pb.NewAgentServiceClient(conn).WatchAgent(a.ctx, &pb.WatchAgentRequest{AgentId: a.id})
		}, ws)
		if err := retry(func(ctx context.Context) error {
			_, err := a.ag.SetAgentStatus(metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer "+sess.GetToken())),
				&pb.SetAgentStatusRequest{AgentId: a.id, Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE})
			return err
		}); err != nil {
			return fmt.Errorf("SetAgentStatus: %w", err)
		}
		agents = append(agents, a)
	}
	for i := range c.chats {
		node := i % n
		conn, err := dial(d.procs[node].addr)
		if err != nil {
			return err
		}
		vc := pb.NewVisitorServiceClient(conn)
		sess, err := vc.StartVisitorSession(context.Background(), &pb.StartVisitorSessionRequest{SiteId: siteID})
		if err != nil {
			return fmt.Errorf("StartVisitorSession: %w", err)
		}
		ch := &chat{visitorID: sess.GetVisitor().GetId(), vctx: withToken(sess.GetToken()), cc: pb.NewChatServiceClient(conn), node: node}
		watch := &pb.WatchVisitorRequest{VisitorId: ch.visitorID, PageUrl: "https://shop.example/products/1", PageTitle: "Page"}
		wv, err := vc.WatchVisitor(ch.vctx, watch)
		if err != nil {
			return fmt.Errorf("WatchVisitor: %w", err)
		}
		go d.hold(visitorStream, node, func(conn *grpc.ClientConn) (recver, error) {
			return pb.NewVisitorServiceClient(conn).WatchVisitor(ch.vctx, watch)
		}, wv)
		a := agents[i%len(agents)]
		var started *pb.StartChatResponse
		if err := retry(func(ctx context.Context) error {
			md, _ := metadata.FromOutgoingContext(a.ctx)
			var err error
			started, err = a.ag.StartChat(metadata.NewOutgoingContext(ctx, md), &pb.StartChatRequest{AgentId: a.id, VisitorId: ch.visitorID})
			return err
		}); err != nil {
			return fmt.Errorf("StartChat: %w", err)
		}
		ch.id = started.GetChat().GetId()
		wc, err := a.cc.WatchChat(a.ctx, &pb.WatchChatRequest{ChatId: ch.id})
		if err != nil {
			return fmt.Errorf("WatchChat: %w", err)
		}
		go d.watch(a.node, func(conn *grpc.ClientConn, after uint32) (grpc.ServerStreamingClient[pb.WatchChatResponse], error) {
			return pb.NewChatServiceClient(conn).WatchChat(a.ctx, &pb.WatchChatRequest{ChatId: ch.id, AfterSeq: after})
		}, wc)
		d.chats = append(d.chats, ch)
	}
	return nil
}

type recver interface{ RecvMsg(any) error }

// The kinds of client stream the bench holds: each visitor's widget
// stream, each agent's WatchAgent, and each chat's WatchChat (on its
// agent's node).
const (
	visitorStream = iota
	agentStream
	chatStream
)

var streamKinds = []string{"WatchVisitor", "WatchAgent", "WatchChat"}

func (d *deployment) endedCounts() map[string]int64 {
	out := map[string]int64{}
	for i, k := range streamKinds {
		out[k] = d.ended[i].Load()
	}
	return out
}

// streamEnded counts a stream of kind that ended after it was up (it read
// a message, or setup opened it), unless the deployment is being torn down; it reports
// whether to open it again. An opening that fails before its first
// message (its node is down, no leader yet) is only tried again.
func (d *deployment) streamEnded(kind int, up bool, err error) bool {
	select {
	case <-d.done:
		return false
	default:
	}
	if up {
		d.ended[kind].Add(1)
		st, _ := status.FromError(err)
		d.endedMu.Lock()
		if d.endedBy == nil {
			d.endedBy = map[string]int64{}
		}
		d.endedBy[fmt.Sprintf("%s: %s %q", streamKinds[kind], st.Code(), st.Message())]++
		d.endedMu.Unlock()
	}
	return true
}

// hold drains a stream, and opens it again through the next node when it
// ends (its node died), so that the visitor or agent stays online.
func (d *deployment) hold(kind, node int, open func(*grpc.ClientConn) (recver, error), s recver) {
	for k := 1; ; {
		up := k == 1 // opened by setup, and read
		var err error
		for err = s.RecvMsg(new(emptypb.Empty)); err == nil; err = s.RecvMsg(new(emptypb.Empty)) {
			up = true
		}
		var ok bool
		if !d.streamEnded(kind, up, err) {
			return
		}
		if s, ok = reopen(d, node, &k, open); !ok {
			return
		}
	}
}

// reopen opens a stream again through the next node that answers (the
// k-th after node, k counting the tries), as a widget or a console does;
// false once the deployment is torn down.
func reopen[S any](d *deployment, node int, k *int, open func(*grpc.ClientConn) (S, error)) (S, bool) {
	for {
		select {
		case <-d.done:
			var none S
			return none, false
		case <-time.After(100 * time.Millisecond):
		}
		s, err := open(d.spare[(node+*k)%len(d.spare)])
		*k++
		if err == nil {
			return s, true
		}
	}
}

// watch records visitor→agent latency: each text carries its send time.
// When the stream ends (its node died) it opens it again through the
// next node after the last event read, as a console does.
func (d *deployment) watch(node int, open func(*grpc.ClientConn, uint32) (grpc.ServerStreamingClient[pb.WatchChatResponse], error),
	wc grpc.ServerStreamingClient[pb.WatchChatResponse]) {
	var last uint32
	up := true // opened by setup
	for k := 1; ; {
		resp, err := wc.Recv()
		if err != nil {
			var ok bool
			if !d.streamEnded(chatStream, up, err) {
				return
			}
			if wc, ok = reopen(d, node, &k, func(c *grpc.ClientConn) (grpc.ServerStreamingClient[pb.WatchChatResponse], error) {
				return open(c, last)
			}); !ok {
				return
			}
			up = false
			continue
		}
		up = true
		if ev := resp.GetChatEvent(); ev != nil {
			last = ev.GetSeq()
		}
		now := time.Now().UnixNano()
		text := resp.GetChatEvent().GetMessage().GetText()
		ts, rest, ok := strings.Cut(text, " ")
		if !ok || rest != "closed" {
			continue
		}
		sent, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			continue
		}
		d.latMu.Lock()
		d.lat.Record(now - sent)
		d.latMu.Unlock()
	}
}

// cpuProfile saves a CPU profile of d, taken from the middle of the
// closed loop on.
func cpuProfile(addr, path string, d time.Duration) error {
	time.Sleep(d / 2)
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// cpuTime is the CPU time (user and system) the processes have used, from
// /proc/PID/stat, in clock ticks of 10 ms.
func cpuTime(ps []*proc) time.Duration {
	var total time.Duration
	for _, p := range ps {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// The fields after the command's name, which is in parentheses.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return total
}

// metricsOf reads a node's /metrics (the leader's, through any node).
func metricsOf(addr string) (map[string]float64, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

func (d *deployment) closedLoop(dur time.Duration, readers int, key string, r *Result) {
	ack := hist.New()
	onLeader, viaProxy := hist.New(), hist.New()
	leaderNode := -1
	for i, p := range d.procs {
		if len(d.procs) == 1 || p.isLeader() {
			leaderNode = i
		}
	}
	var ackMu sync.Mutex
	var total, errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for _, ch := range d.chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(ch.vctx, 10*time.Second)
				_, err := ch.cc.SendMessage(ctx, &pb.SendMessageRequest{ChatId: ch.id, SenderId: ch.visitorID,
					Text: fmt.Sprintf("%d closed", t0.UnixNano()), IdempotencyKey: fmt.Sprintf("c%d", ch.n.Add(1))})
				cancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				if time.Since(start) < dur {
					total.Add(1)
				}
				took := time.Since(t0)
				ackMu.Lock()
				ack.RecordDuration(took)
				if ch.node == leaderNode {
					onLeader.RecordDuration(took)
				} else {
					viaProxy.RecordDuration(took)
				}
				ackMu.Unlock()
			}
		}()
	}
	reads, readErrs, readLat := d.readLoop(readers, key, leaderNode, start, dur, stop, &wg)
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	r.Reads, r.ReadErrors = reads.Load(), readErrs.Load()
	r.ReadRate = float64(r.Reads) / dur.Seconds()
	if readLat.Count() > 0 {
		r.ReadLatency = readLat.Summarize()
	}
	time.Sleep(500 * time.Millisecond) // the last messages reach the agents
	r.Messages, r.Seconds, r.Errors = total.Load(), dur.Seconds(), errs.Load()
	r.Rate = float64(r.Messages) / dur.Seconds()
	r.Ack = ack.Summarize()
	r.AckOnLeader = onLeader.Summarize()
	if viaProxy.Count() > 0 {
		r.AckViaProxy = viaProxy.Summarize()
	}
	d.latMu.Lock()
	r.Latency = d.lat.Summarize()
	d.latMu.Unlock()
}

// readLoop starts readers integrations, each on its own connection to a
// node other than the leader's (the node, on one node), reading the chats
// in turn until stop: the first page of a chat's events (100), then the
// chat, as a transcript export does. It counts the reads that began
// within dur.
func (d *deployment) readLoop(readers int, key string, leaderNode int, start time.Time, dur time.Duration,
	stop chan struct{}, wg *sync.WaitGroup) (reads, errs *atomic.Int64, lat *hist.Histogram) {
	reads, errs, lat = new(atomic.Int64), new(atomic.Int64), hist.New()
	var latMu sync.Mutex
	var nodes []int
	for i := range d.procs {
		if i != leaderNode || len(d.procs) == 1 {
			nodes = append(nodes, i)
		}
	}
	for i := range readers {
		conn, err := dial(d.procs[nodes[i%len(nodes)]].addr)
		if err != nil {
			errs.Add(1)
			continue
		}
		cc := pb.NewChatServiceClient(conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			base := withToken(key)
			for j := i; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				ch := d.chats[j%len(d.chats)]
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(base, 10*time.Second)
				_, err := cc.ListChatEvents(ctx, &pb.ListChatEventsRequest{ChatId: ch.id, PageSize: 100})
				if err == nil {
					_, err = cc.GetChat(ctx, &pb.GetChatRequest{ChatId: ch.id})
				}
				cancel()
				if err != nil {
					errs.Add(1)
					continue
				}
				if t0.Sub(start) < dur {
					reads.Add(2)
				}
				latMu.Lock()
				lat.RecordDuration(time.Since(t0))
				latMu.Unlock()
			}
		}()
	}
	return reads, errs, lat
}

// failover kills the leader (or a follower), measures the time from the
// kill to the first message acknowledged through a surviving node by a
// call that began after the kill, then restarts the node and waits until
// every node serves and a leader is known.
//
// Followers are killed in turn (the k-th kill takes the k-th follower),
// so that the kills hit the follower leading the log's JetStream group
// about half the time.
func (d *deployment) failover(leader bool, k int) (time.Duration, string, error) {
	var victim *proc
	deadline := time.Now().Add(time.Minute)
	for victim == nil {
		if time.Now().After(deadline) {
			return 0, "", errors.New("no leader known")
		}
		var candidates []*proc
		known := false
		for _, p := range d.procs {
			if p.isLeader() {
				known = true
			}
			if p.isLeader() == leader {
				candidates = append(candidates, p)
			}
		}
		if known && len(candidates) > 0 {
			victim = candidates[k%len(candidates)]
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Probe through one chat per surviving node, a message every 20 ms
	// each, from before the kill on.
	var probes []*chat
	seen := map[int]bool{}
	for _, ch := range d.chats {
		if d.procs[ch.node] != victim && !seen[ch.node] {
			seen[ch.node] = true
			probes = append(probes, ch)
		}
	}
	var killed atomic.Int64
	first := make(chan time.Time, len(probes))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ch := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(ch.vctx, 2*time.Second)
				_, err := ch.cc.SendMessage(ctx, &pb.SendMessageRequest{ChatId: ch.id, SenderId: ch.visitorID,
					Text: fmt.Sprintf("%d probe", t0.UnixNano()), IdempotencyKey: fmt.Sprintf("c%d", ch.n.Add(1))})
				cancel()
				if k := killed.Load(); err == nil && k != 0 && t0.UnixNano() > k {
					select {
					case first <- time.Now():
					default:
					}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	t := time.Now()
	killed.Store(t.UnixNano())
	victim.cmd.Process.Signal(syscall.SIGKILL)
	var dur time.Duration
	select {
	case at := <-first:
		dur = at.Sub(t)
	case <-time.After(90 * time.Second):
		close(stop)
		wg.Wait()
		return 0, "", errors.New("no write acknowledged within 90 s of the kill")
	}
	close(stop)
	wg.Wait()
	<-victim.exited
	victim.mu.Lock()
	victim.leading, victim.ended = time.Time{}, time.Time{}
	victim.mu.Unlock()
	phase := ""
	for _, p := range d.procs {
		if p != victim && p.isLeader() {
			p.mu.Lock()
			phase = fmt.Sprintf("%s leads %.2f s after the kill; first write acknowledged at %.2f s", p.name, p.leading.Sub(t).Seconds(), dur.Seconds())
			p.mu.Unlock()
		}
	}
	if err := victim.start(); err != nil {
		return 0, "", err
	}
	// Back: it serves (through the leader) and the cluster has a leader.
	conn, err := dial(victim.addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	err = retry(func(ctx context.Context) error {
		_, err := pb.NewChatServiceClient(conn).SendMessage(metadata.NewOutgoingContext(ctx, mdOf(probes[0].vctx)), &pb.SendMessageRequest{
			ChatId: probes[0].id, SenderId: probes[0].visitorID, Text: "back", IdempotencyKey: fmt.Sprintf("c%d", probes[0].n.Add(1))})
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("the restarted node does not serve: %w", err)
	}
	// Let it catch up and the streams' groups settle, as between
	// independent failures.
	time.Sleep(5 * time.Second)
	return dur, phase, nil
}

func mdOf(ctx context.Context) metadata.MD {
	md, _ := metadata.FromOutgoingContext(ctx)
	return md
}
