package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// The cluster run (-nodes N, N ≥ 2) is issue 17's capacity figure: visitors
// held across the nodes of one cluster, each visitor on its own connection,
// with presence correct in every agent's view. The N nodes are processes
// of the real binary on loopback (embedded NATS with routes, the log at
// R3), none pinned; the agents and the browsing visitors are dealt round
// robin over the nodes, so a follower's clients reach the domain through
// its reverse proxy to the leader. Only the single server's phase 1 runs
// here (hold, then check presence): the message rate and failover of a
// cluster are bench/cmd/clusterbench's.

// ClusterResults is what the cluster run writes to cluster-held.json.
type ClusterResults struct {
	Start         string         `json:"start"`
	Command       string         `json:"command"`
	CPUs          int            `json:"cpus"`
	GoVersion     string         `json:"go_version"`
	Nodes         []ClusterNode  `json:"nodes"`
	Agents        int            `json:"agents"`
	Workers       int            `json:"worker_processes"`
	PageViewEvery string         `json:"page_view_every"`
	Visitors      int            `json:"visitors_planned"`
	Held          int            `json:"visitors_held"`
	Errors        int64          `json:"errors"`
	FirstErrors   []string       `json:"first_errors,omitempty"`
	HoldSeconds   float64        `json:"hold_seconds"`
	Presence      *PresenceCheck `json:"presence"`
	// LeaderGoroutines and LeaderStreams are from /metrics, which the
	// leader answers on every node.
	LeaderGoroutinesIdle int   `json:"leader_goroutines_idle"`
	LeaderGoroutinesHeld int   `json:"leader_goroutines_held"`
	LeaderVisitorStreams int   `json:"leader_visitor_streams_open"`
	PageViews            int64 `json:"page_views"`
	// BusyOtherCPUPct is the CPU that other processes of the machine
	// used from the hold to the end (of one core): well above 0, they
	// took CPU from the nodes and the workers.
	BusyOtherCPUPct float64 `json:"other_processes_cpu_pct"`
	// Failover is the -kill-leader phase.
	Failover *ClusterFailover `json:"failover,omitempty"`
}

// ClusterFailover is what a leader's death costs the held visitors: the
// leader is SIGKILLed and started again at once (as a supervisor would),
// and every visitor dials again and resumes its stream through its node,
// as the widget does when its stream breaks. Through a follower's proxy
// every stream goes to the leader, so every visitor's breaks.
type ClusterFailover struct {
	Killed string `json:"killed"`
	// NewLeader, and when a survivor first said it leads (/cluster/status).
	NewLeader       string  `json:"new_leader"`
	NewLeaderAfterS float64 `json:"new_leader_after_s"`
	// RestartedServesAfterS: when the killed node answered an admin call
	// again.
	RestartedServesAfterS float64 `json:"restarted_serves_after_s"`
	// AllResumedAfterS: from the kill until every visitor's stream that
	// broke had its first state again.
	AllResumedAfterS float64 `json:"all_resumed_after_s"`
	Resumed          int     `json:"resumed"` // streams that broke and were back
	Errors           int     `json:"errors"`
	// PageViewsUnavailable: page views answered UNAVAILABLE meanwhile.
	PageViewsUnavailable int64 `json:"page_views_unavailable"`
	// BrokenAgain: resumed streams that broke again (another change of
	// leader) and resumed once more, as the widget does, by the presence
	// check; BackAgain of them were back.
	BrokenAgain int `json:"broken_again"`
	BackAgain   int `json:"back_again"`
	// Presence as agents who sign in afterwards see it (the new leader
	// rebuilt it from the visitors that came back).
	Presence *PresenceCheck `json:"presence"`
}

// ClusterNode is one node's share of the run.
type ClusterNode struct {
	Name    string     `json:"name"`
	Addr    string     `json:"addr"`
	Leading bool       `json:"leading"`
	Clients int        `json:"visitors_connected"`
	Idle    ProcExport `json:"idle"`
	Held    ProcExport `json:"held"`
	// CPUPct is the node's share of one core over 5 s with every visitor
	// held (page views, keep-alives, presence fan-out, the proxy).
	CPUPct float64 `json:"held_cpu_pct"`
}

var keyLine = regexp.MustCompile(`keep it somewhere safe:\n\n  (\S+)\n`)

func runCluster(cfg Config) error {
	res := &ClusterResults{Start: time.Now().UTC().Format(time.RFC3339), Command: strings.Join(os.Args, " "),
		CPUs: numCPU(), GoVersion: goVersion(), Visitors: cfg.Visitors, Agents: cfg.Agents, PageViewEvery: cfg.PageViewEvery.String()}
	exe, tmp, bin, cleanup, err := prepare(cfg, "pcbench-cluster-", "node logs, databases")
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.WaitQuiet > 0 {
		waitQuiet(cfg.WaitQuiet)
	}

	logf("cluster of %d nodes: %d visitors, each on its own connection, dealt round robin over the nodes; %d agents watching presence",
		cfg.Nodes, cfg.Visitors, cfg.Agents)
	var extra []string
	if cfg.NodeLogLevel != "" {
		extra = append(extra, "-log-level", cfg.NodeLogLevel)
	}
	if cfg.LeaderTimeout > 0 {
		extra = append(extra, "-leader-timeout", cfg.LeaderTimeout.String())
	}
	nodes, err := startNodes(bin, tmp, cfg.Nodes, cfg.ServerGOMAXPROCS, extra...)
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	if err != nil {
		return err
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	key, err := printedKey(nodes, 2*time.Minute)
	if err != nil {
		return err
	}
	ctx := withToken(context.Background(), key)
	// Every node serves (through the leader) before anyone arrives.
	for _, a := range addrs {
		if err := untilServes(ctx, a, 2*time.Minute); err != nil {
			return err
		}
	}
	adminConn, err := dial(addrs[0], "127.0.253.1")
	if err != nil {
		return err
	}
	defer adminConn.Close()
	admin := pb.NewAdminServiceClient(adminConn)
	cfg.Mode = "noinvite" // one flow site besides the browsing one; nobody chats here
	sites, err := createSites(ctx, admin, cfg)
	if err != nil {
		return err
	}
	site := sites[kindBrowse]
	if site == "" {
		site = sites[kindNoInvite]
	}
	agents, err := startAgents(ctx, addrs, admin, cfg.Agents, 1, []string{site}, true, cfg.LaunchAfter, 0, cfg.MsgSize)
	if err != nil {
		return err
	}
	defer agents.close()

	nWorkers := ceilDiv(cfg.Visitors, cfg.PerWorker)
	ws, err := startWorkers(exe, nWorkers, Cmd{Op: "init", Server: addrs[0], LaunchAfter: cfg.LaunchAfter, PageViewEvery: cfg.PageViewEvery, MsgSize: cfg.MsgSize})
	defer func() { ws.quit() }()
	if err != nil {
		return err
	}
	res.Workers = nWorkers
	plans := make([][]VisitorPlan, nWorkers)
	res.Nodes = make([]ClusterNode, len(nodes))
	for i := range cfg.Visitors {
		w, local := i%nWorkers, i/nWorkers
		node := i % len(nodes)
		plans[w] = append(plans[w], VisitorPlan{Index: i, Src: sourceAddr(w, local), Site: site, Kind: kindBrowse, Server: addrs[node]})
		res.Nodes[node].Clients++
	}

	time.Sleep(time.Second)
	for i, n := range nodes {
		ps, err := readProc(n.pid)
		if err != nil {
			return err
		}
		res.Nodes[i].Name, res.Nodes[i].Addr, res.Nodes[i].Idle = fmt.Sprintf("n%d", i+1), n.addr, ps.export()
	}
	if m, err := nodes[0].metrics(); err == nil {
		res.LeaderGoroutinesIdle = int(m["go_goroutines"])
	}
	status := func() string {
		p := ws.progress()
		var rss []string
		for i, n := range nodes {
			ps, _ := readProc(n.pid)
			rss = append(rss, fmt.Sprintf("n%d %d MB %d fds", i+1, ps.RSSKB/1024, ps.FDs))
		}
		return fmt.Sprintf("held %d, resumed %d, broken again %d (back %d), page views %d, errors %d | %s", p.Held, p.Resumed, p.BrokenAgain, p.BackAgain, p.PageViews, p.Errors+agents.errors.Load(), strings.Join(rss, ", "))
	}
	pctx, stopProgress := context.WithCancel(context.Background())
	go watchProgress(pctx, status)
	defer stopProgress()

	ours := func() time.Duration { // the nodes', the workers' and this process's CPU
		t := selfCPU() + ws.cpu()
		for _, n := range nodes {
			c, _ := procCPU(n.pid)
			t += c
		}
		return t
	}
	busy0, ours0, t0 := systemBusy(), ours(), time.Now()
	logf("holding %d visitors' streams over %d nodes (%s)", cfg.Visitors, len(nodes), plural(nWorkers, "worker process"))
	if _, err := ws.all(func(i int) Cmd { return Cmd{Op: "hold", Visitors: plans[i]} }, 30*time.Minute); err != nil {
		return err
	}
	res.HoldSeconds = round(time.Since(t0).Seconds(), 1)
	time.Sleep(2 * time.Second) // the workers' progress lines come every second
	p := ws.progress()
	res.Held, res.Errors = p.Held, p.Errors
	logf("  %d held in %.1f s, %d errors; checking presence", res.Held, res.HoldSeconds, res.Errors)
	res.Presence = checkPresence(nodes[0], agents, res.Held, 5*time.Minute)
	logf("  presence: %s", res.Presence)

	var cpu0 []time.Duration
	for _, n := range nodes {
		c, _ := procCPU(n.pid)
		cpu0 = append(cpu0, c)
	}
	time.Sleep(5 * time.Second)
	for i, n := range nodes {
		c, _ := procCPU(n.pid)
		res.Nodes[i].CPUPct = round(pct(c-cpu0[i], 5*time.Second), 1)
		ps, err := readProc(n.pid)
		if err != nil {
			return err
		}
		res.Nodes[i].Held = ps.export()
		res.Nodes[i].Leading = leading(n.addr)
	}
	// What each node keeps per visitor: its heap after a collection
	// (go tool pprof -sample_index=inuse_space).
	for i, n := range nodes {
		n.gcAndSave(filepath.Join(cfg.Out, fmt.Sprintf("cluster-heap-n%d.pprof", i+1)))
	}
	if m, err := nodes[0].metrics(); err == nil {
		res.LeaderGoroutinesHeld = int(m["go_goroutines"])
		res.LeaderVisitorStreams = int(m[`proactivechat_streams_open{kind="visitor"}`])
	}
	res.PageViews = ws.progress().PageViews
	if el := time.Since(t0); el > 0 {
		res.BusyOtherCPUPct = round(pct(systemBusy()-busy0-(ours()-ours0), el), 1)
	}
	if cfg.KillLeader {
		if res.Failover, err = killLeader(ctx, cfg, nodes, ws, site); err != nil {
			return err
		}
	}
	// After the failover: a report stops the workers' retries.
	reports, err := ws.all(func(int) Cmd { return Cmd{Op: "report"} }, time.Minute)
	if err == nil {
		for _, e := range reports {
			if e.Report != nil && len(res.FirstErrors) < 10 {
				res.FirstErrors = append(res.FirstErrors, e.Report.FirstErrors...)
			}
		}
	}

	printCluster(res)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.Out, "cluster-held.json")
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s", path)
	if !res.Presence.Correct || res.Held != cfg.Visitors {
		return fmt.Errorf("%d of %d visitors held; presence %s", res.Held, cfg.Visitors, res.Presence)
	}
	if f := res.Failover; f != nil && (!f.Presence.Correct || f.BackAgain != f.BrokenAgain) {
		return fmt.Errorf("after the leader's death %d of the %d visitors' streams that broke were back; presence %s", f.BackAgain, f.BrokenAgain, f.Presence)
	}
	return nil
}

// killLeader is the -kill-leader phase (ClusterFailover).
func killLeader(ctx context.Context, cfg Config, nodes []*serverProc, ws workerSet, site string) (*ClusterFailover, error) {
	f := &ClusterFailover{}
	var dead *serverProc
	var survivors []*serverProc
	for i, n := range nodes {
		if dead == nil && leading(n.addr) {
			dead, f.Killed = n, fmt.Sprintf("n%d", i+1)
		} else {
			survivors = append(survivors, n)
		}
	}
	if dead == nil {
		return nil, fmt.Errorf("no node leads")
	}
	// From now on every stream that breaks resumes as the widget resumes
	// it: the dead node's visitors' streams (they retry it, with the
	// widget's pauses, until it is back), and those that went through it.
	if _, err := ws.all(func(int) Cmd { return Cmd{Op: "widget-resume"} }, time.Minute); err != nil {
		return nil, err
	}
	if cfg.KillRemap {
		// As a load balancer in front of the nodes would: the dead node's
		// visitors reconnect to the others.
		var to []string
		for _, n := range survivors {
			to = append(to, n.addr)
		}
		if _, err := ws.all(func(int) Cmd { return Cmd{Op: "remap", From: dead.addr, To: to} }, time.Minute); err != nil {
			return nil, err
		}
	}
	logf("failover: SIGKILL of the leader %s with %d visitors held; it starts again at once", f.Killed, cfg.Visitors)
	t0 := time.Now()
	dead.kill()
	if err := dead.restart(); err != nil {
		return nil, err
	}
	// Where the survivors' CPU goes from the kill, the takeover included,
	// while the streams come back: each survivor's profile over the first
	// seconds (storm-cpu-nN.pprof; go tool pprof -top).
	profiled := profileStorm(cfg, nodes, dead, 20*time.Second)
	defer profiled()
	served := make(chan float64, 1)
	go func() {
		if untilServes(ctx, dead.addr, 5*time.Minute) == nil {
			served <- round(time.Since(t0).Seconds(), 2)
		}
		close(served)
	}()
	for f.NewLeader == "" {
		for i, n := range nodes {
			if n != dead && leading(n.addr) {
				f.NewLeader, f.NewLeaderAfterS = fmt.Sprintf("n%d", i+1), round(time.Since(t0).Seconds(), 2)
			}
		}
		if time.Since(t0) > 2*time.Minute {
			return nil, fmt.Errorf("no survivor leads 2 minutes after the kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logf("  %s leads after %.2f s", f.NewLeader, f.NewLeaderAfterS)
	// Every broken stream is back once as many came back as broke, and
	// that held for a few seconds (a stream breaks when its connection
	// does, at once for a SIGKILL).
	var backAt time.Time
	for {
		p := ws.progress()
		switch {
		case p.BrokenAgain == 0 || p.BackAgain < p.BrokenAgain:
			backAt = time.Time{}
		case backAt.IsZero():
			backAt = time.Now()
		}
		if !backAt.IsZero() && time.Since(backAt) > 3*time.Second {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			logf("  not every broken stream was back 10 minutes after the kill")
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !backAt.IsZero() {
		f.AllResumedAfterS = round(backAt.Sub(t0).Seconds(), 2)
	}
	f.RestartedServesAfterS = <-served
	p := ws.progress()
	f.Resumed, f.Errors, f.PageViewsUnavailable = p.BackAgain, int(p.Errors), p.PageViewsUnavailable
	f.BrokenAgain, f.BackAgain = p.BrokenAgain, p.BackAgain
	logf("  %d visitors' streams broke, %d were back %.2f s after the kill (%d errors); the restarted node served after %.2f s",
		f.BrokenAgain, f.BackAgain, f.AllResumedAfterS, f.Errors, f.RestartedServesAfterS)

	// Agents who sign in now see everyone who came back.
	var addrs []string
	for _, n := range survivors {
		addrs = append(addrs, n.addr)
	}
	conn, err := dial(addrs[0], "127.0.253.2")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The leader may change again meanwhile (a node starved after the
	// failover is deposed): what a console does, the agents sign in again.
	var agents *agentPool
	for try := 1; ; try++ {
		agents, err = startAgents(ctx, addrs, pb.NewAdminServiceClient(conn), cfg.Agents, 1, []string{site}, true, cfg.LaunchAfter, 0, cfg.MsgSize)
		if err == nil || status.Code(err) != codes.Unavailable || try == 5 {
			break
		}
		logf("  agents signing in: %v; again", err)
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	defer agents.close()
	f.Presence = checkPresence(survivors[0], agents, cfg.Visitors, 5*time.Minute)
	p = ws.progress()
	f.BrokenAgain, f.BackAgain = p.BrokenAgain, p.BackAgain
	logf("  presence: %s (streams broken by then: %d, back: %d)", f.Presence, f.BrokenAgain, f.BackAgain)
	// How each node ended up: one leads, the others follow it and keep up
	// (a node stuck between following and leading shows here), with
	// every goroutine of each in goroutines-nK.txt.
	for i, n := range nodes {
		logf("  n%d: %s", i+1, nodeStatus(n.addr))
		if n.pprof != "" && cfg.Out != "" {
			saveGoroutines(n.pprof, filepath.Join(cfg.Out, fmt.Sprintf("goroutines-n%d.txt", i+1)))
		}
	}
	return f, nil
}

// profileStorm takes a CPU profile of every node but dead over d, in the
// background; the function it returns waits for them.
func profileStorm(cfg Config, nodes []*serverProc, dead *serverProc, d time.Duration) func() {
	var wg sync.WaitGroup
	for i, n := range nodes {
		if n == dead || n.pprof == "" || cfg.Out == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(cfg.Out, fmt.Sprintf("storm-cpu-n%d.pprof", i+1))
			if err := saveProfile(n.pprof, "profile", path, d); err != nil {
				logf("  storm profile of n%d: %v", i+1, err)
			}
		}()
	}
	return wg.Wait
}

// startNodes starts n cluster nodes of bin at once (a node alone cannot
// elect a leader), each in its own directory under dir.
func startNodes(bin, dir string, n, gomaxprocs int, extra ...string) ([]*serverProc, error) {
	routes := make([]string, n)
	for i := range routes {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		routes[i] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	var nodes []*serverProc
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nodes, err
		}
		others := append(append([]string{}, routes[:i]...), routes[i+1:]...)
		args := append([]string{"-node", name, "-nats-listen", routes[i], "-nats-routes", strings.Join(others, ",")}, extra...)
		s, err := startServer(bin, d, "", gomaxprocs, args...)
		if err != nil {
			return nodes, fmt.Errorf("node %s: %w", name, err)
		}
		nodes = append(nodes, s)
	}
	return nodes, nil
}

// printedKey is the admin key that the cluster's first leader prints.
func printedKey(nodes []*serverProc, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			b, _ := os.ReadFile(n.log)
			if m := keyLine.FindSubmatch(b); m != nil {
				return string(m[1]), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no node printed an admin key within %v", timeout)
}

// untilServes waits until addr answers an admin call.
func untilServes(ctx context.Context, addr string, timeout time.Duration) error {
	conn, err := dial(addr, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	admin := pb.NewAdminServiceClient(conn)
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := admin.ListSites(cctx, &pb.ListSitesRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not serve: %w", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leading asks a node's /cluster/status whether it leads.
func leading(addr string) bool {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/cluster/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Leading bool `json:"leading"`
	}
	return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Leading
}

// nodeStatus is what the node at addr says of itself (/cluster/status).
func nodeStatus(addr string) string {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/cluster/status")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(b))
}

// saveGoroutines writes every goroutine of the server whose pprof is at
// pprofAddr to path, counted by stack (debug=1): a dump of each one
// (debug=2) stops the whole process while it is written, which at 50,000
// goroutines was long enough for the others to depose a leader as silent.
func saveGoroutines(pprofAddr, path string) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		logf("  goroutines: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		logf("  goroutines: %v", err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

func printCluster(r *ClusterResults) {
	fmt.Printf("\nVisitors held across %d nodes (each visitor on its own connection; page view every ~%s)\n\n", len(r.Nodes), r.PageViewEvery)
	// The leader serves every visitor's stream (a follower's through its
	// proxy); a follower holds its own visitors' connections and their
	// proxied streams.
	fmt.Printf("| node | role | visitors connected | streams served | RSS idle → held | KB per stream served | fds held | threads held | CPU with all held |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, n := range r.Nodes {
		role, served := "follower", n.Clients
		if n.Leading {
			role, served = "leader", r.Held
		}
		per := 0.0
		if served > 0 {
			per = (n.Held.RSSMB - n.Idle.RSSMB) * 1024 / float64(served)
		}
		fmt.Printf("| %s | %s | %s | %s | %.0f → %.0f MB | %.1f | %d | %d | %.0f %% |\n", n.Name, role, num(float64(n.Clients)), num(float64(served)),
			n.Idle.RSSMB, n.Held.RSSMB, per, n.Held.FDs, n.Held.Threads, n.CPUPct)
	}
	fmt.Printf("\nheld %s of %s in %.1f s (%d errors); presence: %s\n", num(float64(r.Held)), num(float64(r.Visitors)), r.HoldSeconds, r.Errors, r.Presence)
	fmt.Printf("leader goroutines %s → %s; visitor streams open at the leader %s; page views %s; other processes %.0f %% of a core\n",
		num(float64(r.LeaderGoroutinesIdle)), num(float64(r.LeaderGoroutinesHeld)), num(float64(r.LeaderVisitorStreams)), num(float64(r.PageViews)), r.BusyOtherCPUPct)
	if f := r.Failover; f != nil {
		fmt.Printf("\nleader %s SIGKILLed and started again: %s led after %.2f s; %s visitors' streams broke, every one back %.2f s after the kill (%d errors; %d page views answered UNAVAILABLE meanwhile); %s served again after %.2f s; presence then: %s; streams broken by then %s, back %s\n",
			f.Killed, f.NewLeader, f.NewLeaderAfterS, num(float64(f.Resumed)), f.AllResumedAfterS, f.Errors, f.PageViewsUnavailable, f.Killed, f.RestartedServesAfterS, f.Presence, num(float64(f.BrokenAgain)), num(float64(f.BackAgain)))
	}
	for _, e := range r.FirstErrors {
		fmt.Printf("error: %s\n", e)
	}
}
