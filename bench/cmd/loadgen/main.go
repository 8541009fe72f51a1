// Command loadgen is Proactive Chat's load generator. It builds and starts
// the real server binary, drives it over loopback with real gRPC clients —
// visitors each on their own connection (spread over worker processes and
// loopback source addresses), agents on theirs — through both proactive
// chat flows and open-loop chat traffic, then drops and resumes every
// visitor stream at once. It measures the floor of this machine in the
// same run (a bare connect-go echo, a bare bbolt put loop) and reports
// against it: one table on stdout, results as JSON and a latency plot.
//
//	go run ./bench/cmd/loadgen -quick          # about a minute
//	go run ./bench/cmd/loadgen                 # the headline run: 5,000 visitors
//
// See bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Config is one run's sizes.
type Config struct {
	Visitors      int           `json:"visitors"`
	Chats         int           `json:"chats"`
	Agents        int           `json:"agents"`
	Rate          float64       `json:"rate_msgs_per_s"`
	Duration      time.Duration `json:"duration"`
	MaxDuration   time.Duration `json:"closed_loop_duration"`
	Mode          string        `json:"mode"`
	LaunchAfter   time.Duration `json:"launch_after"`
	Ramp          time.Duration `json:"cohort_ramp"`
	PageViewEvery time.Duration `json:"page_view_every"`
	ReplyEvery    int           `json:"agent_reply_every"`
	StormMsgs     int           `json:"storm_backlog_per_chat"`
	PerWorker     int           `json:"visitors_per_worker"`
	MsgSize       int           `json:"msg_size"`
	Converse      bool          `json:"converse"`
	Presence      bool          `json:"agents_watch_presence"`
	FloorDuration time.Duration `json:"floor_duration"`
	// LaunchTimers puts the browsing visitors on a third site whose
	// launching criteria match every page but only after BrowseLaunchAfter,
	// so each held visitor has a launch timer armed (and re-armed by each
	// page view) that does not fire during the run.
	LaunchTimers      bool          `json:"browsing_launch_timers"`
	BrowseLaunchAfter time.Duration `json:"browsing_launch_after,omitempty"`
	// Rules > 0 gives every site that many trigger rules instead of its
	// single launching criterion: Rules-1 that nobody meets (several
	// conditions each, one of them time-based), then the criterion itself
	// as the last rule, so that every evaluation goes through all of them.
	Rules int `json:"trigger_rules,omitempty"`
	// MuxStreams visitor streams are held over MuxConns connections after
	// the storm, as behind an L7 proxy; 0 skips that phase.
	MuxStreams int `json:"mux_streams,omitempty"`
	MuxConns   int `json:"mux_conns,omitempty"`
	// Leave: at the end every client leaves, and the server must return
	// to its idle goroutines and heap.
	LeaveWait time.Duration `json:"leave_wait"`
	Pin       bool          `json:"pin"`
	Profile   bool          `json:"profile"`
	// ServerGOMAXPROCS, when set, is the server's GOMAXPROCS (pinned to
	// one CPU, Go's default is 1).
	ServerGOMAXPROCS int           `json:"server_gomaxprocs,omitempty"`
	Quick            bool          `json:"quick"`
	WaitQuiet        time.Duration `json:"-"`
	Out              string        `json:"-"`
	ServerBin        string        `json:"-"`
	Keep             bool          `json:"-"`
	// Nodes ≥ 2 is the cluster run (cluster.go): that many nodes, the
	// visitors held across them; nothing else of the run.
	Nodes int `json:"nodes,omitempty"`
	// KillLeader (with Nodes): once every visitor is held, SIGKILL the
	// leader and start it again; every visitor resumes its stream.
	KillLeader bool `json:"kill_leader,omitempty"`
	// LeaderTimeout (with Nodes) is the nodes' -leader-timeout; 0 leaves
	// their default.
	LeaderTimeout time.Duration `json:"leader_timeout,omitempty"`
	// KillRemap (with KillLeader): the dead leader's visitors reconnect to
	// the other nodes, as behind a load balancer, instead of retrying it
	// until it is back.
	KillRemap bool `json:"kill_remap,omitempty"`
	// NodeLogLevel (with Nodes) is the nodes' -log-level.
	NodeLogLevel string `json:"-"`
}

func main() {
	var cfg Config
	var workerID int
	var echoServer bool
	var boltDir string
	flag.IntVar(&cfg.Visitors, "visitors", 5000, "visitor streams held in all (browsing visitors plus the chat cohort)")
	flag.IntVar(&cfg.Chats, "chats", 0, "visitors who go through a flow and chat (default visitors/10, at most 1000)")
	flag.IntVar(&cfg.Agents, "agents", 0, "agents (default: enough for chats at 50 each, at least 2)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "visitor messages per second over all chats, open loop (default one per chat per second, at least 200)")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "open-loop message phase")
	flag.DurationVar(&cfg.MaxDuration, "max-duration", 10*time.Second, "closed-loop throughput phase (0 skips it)")
	flag.StringVar(&cfg.Mode, "mode", "both", "flows: both, invite or noinvite")
	flag.DurationVar(&cfg.LaunchAfter, "launch-after", 1*time.Second, "the sites' launching criteria (whole seconds)")
	flag.DurationVar(&cfg.Ramp, "ramp", 10*time.Second, "the chat cohort arrives spread over this")
	flag.DurationVar(&cfg.PageViewEvery, "page-view-every", 20*time.Second, "each browsing visitor reports a page view about this often")
	flag.IntVar(&cfg.ReplyEvery, "reply-every", 4, "agents answer every n-th visitor message (0: never)")
	flag.IntVar(&cfg.StormMsgs, "storm-backlog", 3, "messages each agent writes to each chat while the visitors are away")
	flag.IntVar(&cfg.PerWorker, "per-worker", 4000, "visitors per worker process (a process may open at most 20,000 files)")
	flag.IntVar(&cfg.MsgSize, "size", 64, "message size in bytes")
	flag.BoolVar(&cfg.Converse, "converse", false, "closed loop over one Converse stream per chat (native gRPC clients) instead of unary SendMessage calls (browsers)")
	flag.BoolVar(&cfg.Presence, "presence", true, "agents also watch presence (every arrival and page view fans out to them)")
	flag.DurationVar(&cfg.FloorDuration, "floor-duration", 5*time.Second, "each floor measurement")
	flag.BoolVar(&cfg.LaunchTimers, "launch-timers", true, "browsing visitors are on a site whose launch criteria match every page after -browse-launch-after, so each has a launch timer armed")
	flag.DurationVar(&cfg.BrowseLaunchAfter, "browse-launch-after", time.Hour, "the browsing visitors' site's launch_after (with -launch-timers)")
	flag.IntVar(&cfg.Rules, "rules", 0, "give each site this many trigger rules, the launching criterion last (0: the single criterion, as before rules)")
	flag.IntVar(&cfg.MuxStreams, "mux-streams", 0, "after the storm, hold this many more visitor streams multiplexed over -mux-conns HTTP/2 connections (0: skip)")
	flag.IntVar(&cfg.MuxConns, "mux-conns", 1000, "connections for -mux-streams")
	flag.DurationVar(&cfg.LeaveWait, "leave-wait", 2*time.Minute, "at the end, how long to wait for the server to notice that every client left (the 60 s mass disconnect grace included: they all leave at once)")
	flag.BoolVar(&cfg.Pin, "pin", true, "pin the server to CPU 1 and the load generator to CPU 0 (taskset)")
	flag.BoolVar(&cfg.Profile, "profile", true, "take a CPU profile of the server during the closed-loop phase (when its binary has -pprof)")
	flag.IntVar(&cfg.ServerGOMAXPROCS, "server-gomaxprocs", 0, "GOMAXPROCS of the server (0: Go's default, 1 when pinned to one CPU)")
	flag.DurationVar(&cfg.WaitQuiet, "wait-quiet", 0, "first wait up to this long for the machine to be idle (other processes under 10% of a core for 5 s)")
	flag.BoolVar(&cfg.Quick, "quick", false, "a run of about a minute: 400 visitors, 40 chats, 10 s of messages")
	flag.StringVar(&cfg.Out, "out", "", "directory for latest.json and latency.svg (default bench/results)")
	flag.StringVar(&cfg.ServerBin, "server-bin", "", "use this server binary instead of building ./server/cmd/proactivechat")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directory (server log, database)")
	flag.IntVar(&cfg.Nodes, "nodes", 1, "2 or more: run a cluster of this many nodes and only hold -visitors across them, checking presence (issue 17's capacity figure; see bench/README.md)")
	flag.BoolVar(&cfg.KillLeader, "kill-leader", false, "with -nodes: then SIGKILL the leader, start it again at once, and time every visitor's stream back and presence right again")
	flag.DurationVar(&cfg.LeaderTimeout, "leader-timeout", 0, "with -nodes: the nodes' -leader-timeout (0: their default)")
	flag.BoolVar(&cfg.KillRemap, "kill-remap", false, "with -kill-leader: the dead leader's visitors reconnect to the other nodes (a load balancer's view) instead of retrying it until it is back")
	flag.StringVar(&cfg.NodeLogLevel, "node-log-level", "warn", "with -nodes: the nodes' -log-level (their logs are server.log in each node's directory)")
	flag.IntVar(&workerID, "worker", -1, "internal: run as worker process n")
	flag.BoolVar(&echoServer, "floor-echo-server", false, "internal: serve the echo floor")
	flag.StringVar(&boltDir, "floor-bolt", "", "internal: run the bbolt floor in this directory")
	flag.Parse()

	var err error
	switch {
	case workerID >= 0:
		err = runWorker(workerID)
	case echoServer:
		err = runEchoServer()
	case boltDir != "":
		err = runBoltFloor(boltDir, cfg.FloorDuration, cfg.MsgSize)
	default:
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		cfg.defaults(set)
		if err = cfg.check(); err == nil {
			if cfg.Nodes > 1 {
				err = runCluster(cfg)
			} else {
				pinSelf(&cfg)
				err = run(cfg)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// defaults fills what the flags left to the run's size; -quick changes
// only what was not given explicitly.
func (c *Config) defaults(set map[string]bool) {
	if c.Quick {
		quick := map[string]func(){
			"visitors":       func() { c.Visitors = 400 },
			"duration":       func() { c.Duration = 10 * time.Second },
			"max-duration":   func() { c.MaxDuration = 4 * time.Second },
			"ramp":           func() { c.Ramp = 3 * time.Second },
			"floor-duration": func() { c.FloorDuration = 2 * time.Second },
			"page-view-every": func() {
				c.PageViewEvery = 10 * time.Second
			},
		}
		for name, f := range quick {
			if !set[name] {
				f()
			}
		}
	}
	if c.Chats == 0 {
		c.Chats = min(max(c.Visitors/10, 2), 1000)
	}
	if c.Agents == 0 {
		c.Agents = max(2, (c.Chats+49)/50)
	}
	if c.Rate == 0 {
		c.Rate = max(200, float64(c.Chats))
	}
	if c.Out == "" {
		if root, err := repoRoot(); err == nil {
			c.Out = root + "/bench/results"
		} else {
			c.Out = "bench/results"
		}
	}
}

func (c *Config) check() error {
	switch {
	case c.Mode != "both" && c.Mode != "invite" && c.Mode != "noinvite":
		return fmt.Errorf("-mode must be both, invite or noinvite")
	case c.Chats > c.Visitors:
		return fmt.Errorf("-chats (%d) is more than -visitors (%d)", c.Chats, c.Visitors)
	case c.Nodes < 1 || c.Nodes > 9:
		return fmt.Errorf("-nodes must be 1–9")
	case c.KillLeader && c.Nodes < 2:
		return fmt.Errorf("-kill-leader needs -nodes")
	case c.Nodes > 1 && (c.MuxStreams > 0 || c.Converse):
		return fmt.Errorf("-nodes: the cluster run only holds visitors (no -mux-streams, no -converse)")
	case ceilDiv(c.Visitors, c.Nodes)+c.Agents+c.MuxConns*min(1, c.MuxStreams)+100 > 19900:
		return fmt.Errorf("%d visitors and %d agents: one server process holds at most about 19,900 connections (20,000 files); spread them with -nodes", c.Visitors, c.Agents)
	case c.PerWorker < 1 || c.PerWorker > 18000:
		return fmt.Errorf("-per-worker must be 1–18000 (a process may open at most 20,000 files)")
	case c.LaunchAfter < time.Second || c.LaunchAfter%time.Second != 0:
		return fmt.Errorf("-launch-after must be whole seconds, at least 1s")
	case c.Rate <= 0 || c.Duration <= 0:
		return fmt.Errorf("-rate and -duration must be positive")
	case c.MsgSize < 48 || c.MsgSize > 4096:
		return fmt.Errorf("-size must be 48–4096")
	case c.MuxStreams < 0 || c.MuxStreams > 0 && (c.MuxConns < 1 || c.MuxConns > c.MuxStreams):
		return fmt.Errorf("-mux-conns must be 1–%d (-mux-streams)", c.MuxStreams)
	case c.MuxStreams > 0 && c.MuxConns > 8000:
		return fmt.Errorf("-mux-conns: at most 8,000 (each is a connection of the server's)")
	case c.LaunchTimers && (c.BrowseLaunchAfter < time.Second || c.BrowseLaunchAfter%time.Second != 0 || c.BrowseLaunchAfter > 24*time.Hour):
		return fmt.Errorf("-browse-launch-after must be whole seconds, 1s–24h")
	case c.Rules < 0 || c.Rules > 50:
		return fmt.Errorf("-rules must be 0–50 (a site has at most 50 rules)")
	}
	if c.Agents*100 < c.Chats {
		return fmt.Errorf("%d agents take at most %d chats (max_concurrent_chats ≤ 100): raise -agents", c.Agents, c.Agents*100)
	}
	return nil
}

// pinSelf re-executes the load generator under `taskset -c 0` (the server
// gets CPU 1), so the two sides do not share a core. Its workers inherit
// the affinity; Go then runs each with GOMAXPROCS=1.
func pinSelf(c *Config) {
	if !c.Pin {
		return
	}
	if os.Getenv("PCBENCH_PINNED") == "1" {
		return
	}
	taskset, err := exec.LookPath("taskset")
	if err != nil || runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "loadgen: not pinning (needs taskset and 2 CPUs): server and load generator share the cores")
		c.Pin = false
		return
	}
	exe, err := os.Executable()
	if err != nil {
		c.Pin = false
		return
	}
	args := append([]string{"taskset", "-c", "0", exe}, os.Args[1:]...)
	err = syscall.Exec(taskset, args, append(os.Environ(), "PCBENCH_PINNED=1"))
	fmt.Fprintln(os.Stderr, "loadgen: could not re-execute under taskset:", err)
	c.Pin = false
}

// logf prints a progress line with the time since the start.
var started = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

// watchProgress prints a progress line every 2 s until ctx ends.
func watchProgress(ctx context.Context, what func() string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			logf("  %s", what())
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func pct(d, over time.Duration) float64 {
	if over <= 0 {
		return 0
	}
	return 100 * d.Seconds() / over.Seconds()
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
