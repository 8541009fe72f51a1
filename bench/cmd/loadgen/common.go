package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/proactivechat/proactivechat/bench/hist"
)

// Pages the visitors look at. The proactive sites include only help pages
// in their launching criteria, so browsing visitors are held and report
// page views without ever being invited; the chat cohort lands on a help
// page and goes through the whole flow.
const (
	helpPage      = "https://shop.example/help/contact"
	productPrefix = "https://shop.example/products/"
	includeGlob   = "https://shop.example/help/*"
)

// Visitor kinds.
const (
	kindBrowse   = "browse"   // holds its stream and sends page views
	kindInvite   = "invite"   // with-invite flow: invitation, Yes, form, queue, chat
	kindNoInvite = "noinvite" // without-invite flow: agent alerted, agent starts the chat
)

// dial opens one gRPC connection (exactly one TCP connection: grpc-go keeps
// one transport per address) to the server from the given loopback source
// address, as a browser holds its own connection.
func dial(server, src string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	var local *net.TCPAddr
	if src != "" {
		local = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	d := &net.Dialer{LocalAddr: local, Timeout: 30 * time.Second}
	return grpc.NewClient("passthrough:///"+server, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
		// Small buffers: thousands of these live in one process.
		grpc.WithReadBufferSize(8 << 10),
		grpc.WithWriteBufferSize(8 << 10),
		grpc.WithIdleTimeout(0),
		// Fixed flow-control windows, as browsers have: without them
		// grpc-go estimates the bandwidth-delay product by sending the
		// server a PING whenever data arrives and none is outstanding
		// (with small messages, about one per message per connection),
		// and the server spends a read and a flushed write on each.
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(1 << 20),
	}, opts...)...)
}

// withToken returns ctx carrying token as the bearer credential of every
// gRPC call made with it or a context derived from it: one header per call,
// its metadata built once per principal. An empty token (a server from
// before authentication) sends none.
func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
}

// authenticated reports whether ctx carries a bearer credential.
func authenticated(ctx context.Context) bool {
	md, ok := metadata.FromOutgoingContext(ctx)
	return ok && len(md.Get("authorization")) > 0
}

// sourceAddr spreads a process's connections over loopback source
// addresses: each gets its own ephemeral port range (about 28,000 ports).
func sourceAddr(worker, i int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+worker%250, 1+(i/2000)%250)
}

// Message texts carry their phase and scheduled send time so the receiver
// computes the latency on its own: "L t=<unix ns> k=<n> xxxx…" (L: the
// open-loop latency phase, M: the closed-loop throughput phase, S: storm
// backlog, R: an agent's reply).
func messageText(phase byte, sched int64, k, size int) string {
	s := fmt.Sprintf("%c t=%d k=%d ", phase, sched, k)
	if len(s) < size {
		s += strings.Repeat("x", size-len(s))
	}
	return s
}

func parseMessage(text string) (phase byte, sched int64, ok bool) {
	if len(text) < 4 || text[1] != ' ' || !strings.HasPrefix(text[2:], "t=") {
		return 0, 0, false
	}
	rest := text[4:]
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		end = len(rest)
	}
	v, err := strconv.ParseInt(rest[:end], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return text[0], v, true
}

// Worker protocol: JSON lines, commands on the worker's stdin, events on
// its stdout.

// VisitorPlan is one visitor a worker plays.
type VisitorPlan struct {
	Index int    `json:"i"`
	Site  string `json:"site"`
	Kind  string `json:"kind"`
	Src   string `json:"src"`
	// ArriveAt (unix ns): when the cohort visitor lands; 0 = at once.
	ArriveAt int64 `json:"arrive_at,omitempty"`
	// Server is the node this visitor connects to (-nodes); empty: the
	// worker's server.
	Server string `json:"server,omitempty"`
}

// Cmd is a command from the load generator to a worker.
type Cmd struct {
	Op string `json:"op"` // init, hold, cohort, messages, drop, resume, widget-resume, remap, report, quit
	// init
	Server        string        `json:"server,omitempty"`
	LaunchAfter   time.Duration `json:"launch_after,omitempty"`
	PageViewEvery time.Duration `json:"page_view_every,omitempty"`
	MsgSize       int           `json:"msg_size,omitempty"`
	// Converse: the closed loop sends over one Converse stream per chat.
	Converse bool `json:"converse,omitempty"`
	// hold, cohort
	Visitors []VisitorPlan `json:"visitors,omitempty"`
	// messages: each chat sends one message every Interval from Start
	// (plus a random phase) until End; Phase 'L' is the open-loop latency
	// run, 'M' the closed-loop throughput run (send as fast as acked).
	Start    int64         `json:"start,omitempty"`
	End      int64         `json:"end,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
	Phase    string        `json:"phase,omitempty"`
	// resume: the last event of each chat, which the resumed streams must reach.
	Targets map[string]uint32 `json:"targets,omitempty"`
	// remap (-nodes, a node killed): the visitors of node From connect to
	// the nodes To from now on, dealt round robin.
	From string   `json:"from,omitempty"`
	To   []string `json:"to,omitempty"`
	// mux: hold MuxStreams visitor streams of MuxSite over MuxConns
	// connections.
	MuxStreams int    `json:"mux_streams,omitempty"`
	MuxConns   int    `json:"mux_conns,omitempty"`
	MuxSite    string `json:"mux_site,omitempty"`
}

// Progress is a worker's running counts.
type Progress struct {
	Held       int   `json:"held"`
	Invited    int   `json:"invited"`
	Submitted  int   `json:"submitted"`
	Chatting   int   `json:"chatting"`
	Sent       int64 `json:"sent"`
	SendErrors int64 `json:"send_errors"`
	PageViews  int64 `json:"page_views"`
	// PageViewsUnavailable were answered UNAVAILABLE (a cluster between
	// leaders): the widget drops them, its next stream reports the page.
	PageViewsUnavailable int64 `json:"page_views_unavailable,omitempty"`
	Resumed              int   `json:"resumed"`
	// BrokenAgain counts widget-like resumed streams that broke again
	// (UNAVAILABLE: another change of leader) and were resumed once more,
	// as the widget does; Back counts those that are.
	BrokenAgain int   `json:"broken_again,omitempty"`
	BackAgain   int   `json:"back_again,omitempty"`
	CaughtUp    int   `json:"caught_up"`
	MuxHeld     int   `json:"mux_held"`
	Errors      int64 `json:"errors"`
}

// WorkerReport is what a worker measured.
type WorkerReport struct {
	Progress
	Histograms map[string]hist.Snapshot `json:"histograms"`
	// SubmitTimes: with-invite visitors' SubmitForm send times (unix ns),
	// by visitor id, matched with the agents' alert times.
	SubmitTimes map[string]int64 `json:"submit_times"`
	// Acked in each messages phase window, by phase.
	AckedInWindow map[string]int64 `json:"acked_in_window"`
	// Storm: when every stream had its first state again and when every
	// chat had caught up (unix ns), and how many events were replayed.
	ResumedAll  int64 `json:"resumed_all"`
	CaughtUpAll int64 `json:"caught_up_all"`
	Replayed    int64 `json:"replayed"`
	// Retried counts resumed streams dialed again after the server closed
	// their connection first.
	Retried     int64    `json:"retried"`
	FirstErrors []string `json:"first_errors,omitempty"`
}

// Event is a message from a worker.
type Event struct {
	Op       string        `json:"op"` // ready, progress, done, report, error
	Worker   int           `json:"worker"`
	Progress *Progress     `json:"progress,omitempty"`
	Report   *WorkerReport `json:"report,omitempty"`
	// chat_ids: the chat of each chatting visitor, by visitor id (sent with "done" of cohort).
	Chats map[string]string `json:"chats,omitempty"`
	// messages: acknowledged sends of the phase, and those acknowledged
	// within its window.
	Sent  int64 `json:"sent,omitempty"`
	Acked int64 `json:"acked,omitempty"`
	// mux: the streams held.
	Held int    `json:"held,omitempty"`
	Err  string `json:"err,omitempty"`
}
