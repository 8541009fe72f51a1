package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// repoRoot finds the module root (the directory whose go.mod declares our
// module), from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/proactivechat/proactivechat\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run from inside the proactivechat repository (no go.mod of github.com/proactivechat/proactivechat above %s)", dir)
		}
		dir = parent
	}
}

// prepare is what every run starts with: this executable (the workers
// run it), the output directory, a temporary directory (kept with -keep,
// where it holds keep), and the server binary (-server-bin, or
// ./server/cmd/proactivechat built there). cleanup removes the temporary
// directory unless it is kept.
func prepare(cfg Config, prefix, keep string) (exe, tmp, bin string, cleanup func(), err error) {
	if exe, err = os.Executable(); err != nil {
		return
	}
	if err = os.MkdirAll(cfg.Out, 0o755); err != nil {
		return
	}
	if tmp, err = os.MkdirTemp("", prefix); err != nil {
		return
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if cfg.Keep {
		logf("keeping %s (%s)", tmp, keep)
		cleanup = func() {}
	}
	if bin = cfg.ServerBin; bin == "" {
		var root string
		if root, err = repoRoot(); err == nil {
			logf("building the server: go build ./server/cmd/proactivechat")
			bin, err = buildServer(root, tmp)
		}
		if err != nil {
			cleanup()
		}
	}
	return
}

// buildServer compiles the real server binary into dir.
func buildServer(root, dir string) (string, error) {
	bin := filepath.Join(dir, "proactivechat")
	cmd := exec.Command("go", "build", "-o", bin, "./server/cmd/proactivechat")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./server/cmd/proactivechat: %v\n%s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pinned wraps a command in `taskset -c CPU` when pinning is on.
func pinned(cpu string, name string, args ...string) *exec.Cmd {
	if cpu != "" {
		return exec.Command("taskset", append([]string{"-c", cpu, name}, args...)...)
	}
	return exec.Command(name, args...)
}

// benchDB is the server's database file in the run's temp dir.
const benchDB = "bench.db"

// createAPIKey makes the admin API key the load generator sets the server
// up with: `proactivechat api-key` on the database in dir, before the
// server starts (it then holds the file). A server binary from before
// authentication has no such subcommand and needs no key: "" then.
func createAPIKey(bin, dir string) (string, error) {
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	if !strings.Contains(string(help), "proactivechat api-key") {
		return "", nil
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "api-key", "-name", "loadgen", "-db", filepath.Join(dir, benchDB))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("proactivechat api-key: %v\n%s", err, stderr.Bytes())
	}
	key := strings.TrimSpace(stdout.String())
	if key == "" || strings.ContainsAny(key, " \n") {
		return "", fmt.Errorf("proactivechat api-key printed %q, want one key", stdout.String())
	}
	return key, nil
}

type serverProc struct {
	cmd  *exec.Cmd
	pid  int
	addr string
	log  string
	done chan error
	// pprof is the server's profiling address, when its binary has -pprof.
	pprof string
	dead  bool // killed, and not started again
}

// startServer runs the server binary on its own core and waits until it
// accepts connections.
func startServer(bin, dir, cpu string, gomaxprocs int, extra ...string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-addr", addr, "-db", filepath.Join(dir, benchDB), "-log-level", "warn"}, extra...)
	var pprofAddr string
	if hasFlag(bin, "pprof") {
		pport, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", pport)
		args = append(args, "-pprof", pprofAddr)
	}
	cmd := pinned(cpu, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// All goroutines in the dump that SIGQUIT prints at the end.
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	if gomaxprocs > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", gomaxprocs))
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &serverProc{cmd: cmd, pid: cmd.Process.Pid, addr: addr, log: logPath, done: make(chan error, 1), pprof: pprofAddr}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("server exited at start: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("server did not listen on %s within 30 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *serverProc) kill() {
	if s.dead {
		return
	}
	s.dead = true
	s.cmd.Process.Kill()
	<-s.done
}

// restart starts a killed server again, on the same flags and files, its
// output appended to its log.
func (s *serverProc) restart() error {
	f, err := os.OpenFile(s.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.cmd.Env, f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	s.cmd, s.pid, s.done, s.dead = cmd, cmd.Process.Pid, make(chan error, 1), false
	go func() { s.done <- cmd.Wait(); f.Close() }()
	return nil
}

// goroutineDump sends SIGQUIT — the Go runtime prints every goroutine and
// exits — and counts the goroutines in the dump, by the function that
// created them.
func (s *serverProc) goroutineDump() (total int, byCreator map[string]int, err error) {
	if err := s.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return 0, nil, err
	}
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		s.kill()
		return 0, nil, fmt.Errorf("server did not exit on SIGQUIT")
	}
	f, err := os.Open(s.log)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	return parseGoroutineDump(f)
}

// liveGoroutineDump is goroutineDump from pprof (debug=2 has the same
// format), with the server still running; ok is false without pprof.
func (s *serverProc) liveGoroutineDump() (total int, byCreator map[string]int, ok bool, err error) {
	if s.pprof == "" {
		return 0, nil, false, nil
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get("http://" + s.pprof + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		return 0, nil, true, err
	}
	defer resp.Body.Close()
	total, byCreator, err = parseGoroutineDump(resp.Body)
	return total, byCreator, true, err
}

// parseGoroutineDump counts the goroutines of a Go traceback dump, by the
// function that created them.
func parseGoroutineDump(f io.Reader) (total int, byCreator map[string]int, err error) {
	header := regexp.MustCompile(`^goroutine \d+ .*\[`)
	byCreator = map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inG := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case header.MatchString(line):
			total++
			inG = true
		case inG && strings.HasPrefix(line, "created by "):
			fn := strings.TrimPrefix(line, "created by ")
			if i := strings.Index(fn, " in goroutine"); i >= 0 {
				fn = fn[:i]
			}
			byCreator[fn]++
			inG = false
		}
	}
	return total, byCreator, sc.Err()
}

// topN returns the n largest entries of m as "name: count".
func topN(m map[string]int, n int) []string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || all[i].v == all[j].v && all[i].k < all[j].k })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s: %d", all[i].k, all[i].v))
	}
	return out
}

// procStat is what /proc says about a process.
type procStat struct {
	RSSKB   int64
	Threads int
	FDs     int
	CPU     time.Duration // user + system
}

const clockTick = 100 // USER_HZ on Linux

func readProc(pid int) (procStat, error) {
	var ps procStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			ps.RSSKB, _ = strconv.ParseInt(f[1], 10, 64)
		case "Threads:":
			ps.Threads, _ = strconv.Atoi(f[1])
		}
	}
	ps.CPU, err = procCPU(pid)
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		ps.FDs = len(fds)
	}
	return ps, err
}

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metrics reads the server's Prometheus text at /metrics, when it has one:
// each sample by its name and labels as written, e.g.
// `proactivechat_streams_open{kind="visitor"}`.
func (s *serverProc) metrics() (map[string]float64, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + s.addr + "/metrics")
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
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// hasFlag says whether the server binary lists a flag in its -h output.
func hasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+name+" ")
}

// cpuProfile fetches a CPU profile of d from the server's pprof address
// into path and returns `go tool pprof -top` of it.
func cpuProfile(pprofAddr, bin, path string, d time.Duration) ([]string, error) {
	if err := saveProfile(pprofAddr, "profile", path, d); err != nil {
		return nil, err
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", bin, path).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return lines, nil
}

// saveProfile writes the server's profile of kind ("profile" for CPU,
// "allocs" for what it allocated), taken over d, to path.
func saveProfile(pprofAddr, kind, path string, d time.Duration) error {
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", pprofAddr, kind, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// systemBusy is the CPU time all processes of the machine used (from
// /proc/stat: everything but idle and iowait).
func systemBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, s := range f[1:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTick
}

// gc makes the server collect garbage now, through pprof's heap endpoint
// (which collects before it writes the profile), so that the heap figures
// read next are its live objects. Without pprof it does nothing.
func (s *serverProc) gc() { s.gcAndSave("") }

// gcAndSave is gc that also writes the heap profile taken after the last
// collection to path (unless path is empty), for `go tool pprof`.
func (s *serverProc) gcAndSave(path string) {
	if s.pprof == "" {
		return
	}
	client := &http.Client{Timeout: time.Minute}
	// Twice: what sync.Pools hold survives one collection.
	for i := range 2 {
		resp, err := client.Get("http://" + s.pprof + "/debug/pprof/heap?gc=1")
		if err != nil {
			return
		}
		out := io.Discard
		if i == 1 && path != "" {
			if f, err := os.Create(path); err == nil {
				defer f.Close()
				out = f
			}
		}
		io.Copy(out, resp.Body)
		resp.Body.Close()
	}
}

// procIO returns how many read and write system calls the process made
// (/proc/PID/io syscr and syscw: sockets and files alike).
func procIO(pid int) (reads, writes int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// sumPrefix adds up the samples whose name (with labels) starts with prefix.
func sumPrefix(m map[string]float64, prefix string) float64 {
	var t float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			t += v
		}
	}
	return t
}
