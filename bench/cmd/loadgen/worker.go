package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proactivechat/proactivechat/bench/hist"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// A worker is a child process of the load generator that plays visitors:
// each on its own connection, from its own loopback source address. The
// load generator starts as many as the visitors need (a process may open
// at most 20,000 files) and drives them over stdin/stdout.

type worker struct {
	id  int
	cfg Cmd // from init

	outMu sync.Mutex
	out   *json.Encoder

	mu       sync.Mutex
	visitors []*visitor
	hists    map[string]*hist.Histogram
	submits  map[string]int64
	acked    map[string]int64
	firstErr []string

	held, invited, submitted, chatting, resumed, caughtUp  atomic.Int64
	sent, sendErrors, pageViews, errors, replayed, retried atomic.Int64
	brokenAgain, backAgain                                 atomic.Int64
	pageViewsUnavailable                                   atomic.Int64
	muxHeld                                                atomic.Int64

	// The multiplexed visitors' connections, and the end of their calls.
	muxConns  []*grpc.ClientConn
	muxCancel context.CancelFunc

	stopping atomic.Bool
	// widgetResume: every visitor's stream that breaks is resumed as the
	// widget resumes it (Cmd "widget-resume"), counted in brokenAgain.
	widgetResume atomic.Bool
	// Storm results (unix ns), under mu.
	resumedAll, caughtUpAll int64
}

type visitor struct {
	plan VisitorPlan
	id   string
	// auth carries the visitor's token (from StartVisitorSession); every
	// call of the visitor derives from it. Set with id, before any call
	// needs it.
	auth context.Context
	page string

	mu      sync.Mutex
	gen     int
	conn    *grpc.ClientConn
	vc      pb.VisitorServiceClient
	cc      pb.ChatServiceClient
	cancel  context.CancelFunc
	chatID  string
	lastSeq uint32
	// flow steps taken once
	invited, submitted bool
}

func (v *visitor) clients() (pb.VisitorServiceClient, pb.ChatServiceClient) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.vc, v.cc
}

// server is the address v connects to.
func (w *worker) server(v *visitor) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.plan.Server != "" {
		return v.plan.Server
	}
	return w.cfg.Server
}

func runWorker(id int) error {
	w := &worker{
		id: id, out: json.NewEncoder(os.Stdout),
		hists: map[string]*hist.Histogram{}, submits: map[string]int64{}, acked: map[string]int64{},
	}
	go func() {
		for range time.Tick(time.Second) {
			p := w.progress()
			w.emit(Event{Op: "progress", Progress: &p})
		}
	}()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	dec := json.NewDecoder(in)
	for {
		var c Cmd
		if err := dec.Decode(&c); err != nil {
			return nil // the load generator is gone
		}
		switch c.Op {
		case "init":
			w.cfg = c
			w.emit(Event{Op: "done"})
		case "hold":
			go w.hold(c.Visitors)
		case "cohort":
			go w.cohort(c.Visitors, time.Unix(0, c.End))
		case "messages":
			go w.messages(c)
		case "drop":
			go w.drop()
		case "resume":
			go w.resume(c)
		case "widget-resume":
			w.widgetResume.Store(true)
			w.emit(Event{Op: "done"})
		case "remap":
			w.remap(c.From, c.To)
			w.emit(Event{Op: "done"})
		case "mux":
			go w.mux(c)
		case "mux-drop":
			go w.muxDrop()
		case "report":
			w.stopping.Store(true)
			r := w.report()
			w.emit(Event{Op: "report", Report: &r})
		case "quit":
			return nil
		default:
			w.emit(Event{Op: "error", Err: "unknown command " + c.Op})
		}
	}
}

func (w *worker) emit(e Event) {
	e.Worker = w.id
	w.outMu.Lock()
	defer w.outMu.Unlock()
	if err := w.out.Encode(e); err != nil {
		os.Exit(1) // the load generator is gone
	}
}

func (w *worker) fail(format string, args ...any) {
	w.errors.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.firstErr) < 10 {
		w.firstErr = append(w.firstErr, fmt.Sprintf(format, args...))
	}
}

func (w *worker) record(name string, ns int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hists[name]
	if h == nil {
		h = hist.New()
		w.hists[name] = h
	}
	h.Record(ns)
}

func (w *worker) progress() Progress {
	return Progress{
		Held: int(w.held.Load()), Invited: int(w.invited.Load()), Submitted: int(w.submitted.Load()),
		Chatting: int(w.chatting.Load()), Sent: w.sent.Load(), SendErrors: w.sendErrors.Load(),
		PageViews: w.pageViews.Load(), PageViewsUnavailable: w.pageViewsUnavailable.Load(), Resumed: int(w.resumed.Load()), BrokenAgain: int(w.brokenAgain.Load()), BackAgain: int(w.backAgain.Load()), CaughtUp: int(w.caughtUp.Load()),
		MuxHeld: int(w.muxHeld.Load()), Errors: w.errors.Load(),
	}
}

func (w *worker) report() WorkerReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := WorkerReport{Progress: w.progress(), Histograms: map[string]hist.Snapshot{}, SubmitTimes: w.submits,
		AckedInWindow: w.acked, FirstErrors: w.firstErr, Replayed: w.replayed.Load(), Retried: w.retried.Load()}
	for k, h := range w.hists {
		r.Histograms[k] = h.Snapshot()
	}
	r.ResumedAll, r.CaughtUpAll = w.resumedAll, w.caughtUpAll
	return r
}

// hold opens the browsing visitors' streams, at most 64 opening at a time,
// then keeps each one sending page views.
func (w *worker) hold(plans []VisitorPlan) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, p := range plans {
		sem <- struct{}{}
		wg.Add(1)
		v := &visitor{plan: p, page: productPrefix + fmt.Sprint(p.Index%500)}
		w.mu.Lock()
		w.visitors = append(w.visitors, v)
		w.mu.Unlock()
		go func() {
			defer func() { <-sem }()
			if w.start(v, &wg) {
				go w.browse(v)
			}
		}()
	}
	wg.Wait()
	w.emit(Event{Op: "done"})
}

// cohort lands the chat cohort at their arrival times; done once every one
// of them is chatting.
func (w *worker) cohort(plans []VisitorPlan, deadline time.Time) {
	var wg sync.WaitGroup
	var vs []*visitor
	for _, p := range plans {
		v := &visitor{plan: p, page: helpPage}
		vs = append(vs, v)
		w.mu.Lock()
		w.visitors = append(w.visitors, v)
		w.mu.Unlock()
		wg.Add(1)
		go func() {
			time.Sleep(time.Until(time.Unix(0, p.ArriveAt)))
			w.start(v, &wg)
		}()
	}
	wg.Wait()
	for {
		chats := map[string]string{}
		for _, v := range vs {
			v.mu.Lock()
			if v.chatID != "" {
				chats[v.id] = v.chatID
			}
			v.mu.Unlock()
		}
		if len(chats) == len(vs) || time.Now().After(deadline) {
			w.emit(Event{Op: "done", Chats: chats})
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start begins a visitor's session and opens its stream; wg is done at the
// first state (or on failure).
func (w *worker) start(v *visitor, wg *sync.WaitGroup) bool {
	conn, err := dial(w.server(v), v.plan.Src)
	if err != nil {
		w.fail("dial: %v", err)
		wg.Done()
		return false
	}
	vc := pb.NewVisitorServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	sess, err := vc.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: v.plan.Site})
	cancel()
	if err != nil {
		w.fail("StartVisitorSession: %v", err)
		conn.Close()
		wg.Done()
		return false
	}
	v.id = sess.GetVisitor().GetId()
	v.auth = withToken(context.Background(), sess.GetToken())
	return w.open(v, conn, wg, nil)
}

// widgetRetries bounds a widget-like resume's attempts (Cmd.Widget): with
// the widget's pauses, about four minutes.
const widgetRetries = 12

// broken tells a stream that broke (the widget resumes it) from one the
// server ended with its answer: UNAVAILABLE, or what a client reads from a
// connection that died (INTERNAL, UNKNOWN: the widget resumes after any
// network error).
func broken(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// retry reports whether a resume that failed with err is to be tried again.
func (rs *resumeState) retry(err error) bool {
	max := maxResumeRetries
	if rs.widget {
		max = widgetRetries
	}
	return rs.attempts < max && status.Code(err) == codes.Unavailable
}

// pause is the wait before attempt rs.attempts: the storm's doubling
// pauses, or the widget's (clients/widget/stream.ts, backoff: from 0.5 s
// doubling to 30 s, each a random half to whole of that).
func (rs *resumeState) pause() time.Duration {
	if !rs.widget {
		return time.Duration(250<<rs.attempts) * time.Millisecond
	}
	d := min(30*time.Second, 500*time.Millisecond<<min(rs.attempts, 10))
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// resumeState is what a resumed stream must reach.
type resumeState struct {
	widget   bool // retried as the widget does (a stream resumed after a break)
	again    bool // a resumed stream that broke again, resumed once more
	t0       time.Time
	after    uint32
	target   uint32
	attempts int // dials so far after the first
}

// maxResumeRetries is how often a visitor dials again when the server
// closes its new connection before the stream begins, as the widget does
// (with a growing pause), before it counts as an error. Only UNAVAILABLE
// (the connection is gone) is retried: any other error is the server's answer.
const maxResumeRetries = 5

// open opens the visitor's stream on conn (which it then owns).
func (w *worker) open(v *visitor, conn *grpc.ClientConn, wg *sync.WaitGroup, rs *resumeState) bool {
	ctx, cancel := context.WithCancel(v.auth)
	v.mu.Lock()
	v.gen++
	gen := v.gen
	v.conn, v.cancel = conn, cancel
	v.vc, v.cc = pb.NewVisitorServiceClient(conn), pb.NewChatServiceClient(conn)
	req := &pb.WatchVisitorRequest{VisitorId: v.id, PageUrl: v.page, PageTitle: "Page"}
	if rs != nil && v.chatID != "" {
		req.ResumeChatId, req.ResumeAfterSeq = v.chatID, v.lastSeq
	}
	vc := v.vc
	v.mu.Unlock()
	stream, err := vc.WatchVisitor(ctx, req)
	if err != nil && rs != nil && rs.retry(err) && !w.stopping.Load() {
		w.retried.Add(1)
		v.mu.Lock()
		v.gen++
		v.mu.Unlock()
		go w.retryResume(v, rs, wg)
		return true
	}
	if err != nil {
		w.fail("WatchVisitor: %v", err)
		wg.Done()
		return false
	}
	go w.watch(v, gen, stream, wg, rs)
	return true
}

// watch reads a visitor's stream and plays the widget: it answers the
// invitation, fills the form, and notes the chat.
func (w *worker) watch(v *visitor, gen int, stream grpc.ServerStreamingClient[pb.WatchVisitorResponse], wg *sync.WaitGroup, rs *resumeState) {
	first, caught := true, false
	for {
		m, err := stream.Recv()
		if err != nil {
			v.mu.Lock()
			current := v.gen == gen
			v.mu.Unlock()
			if first && rs != nil && current && !w.stopping.Load() && rs.retry(err) {
				w.retried.Add(1)
				v.mu.Lock()
				v.gen++ // this connection is done with: what else fails on it is no error
				v.mu.Unlock()
				go w.retryResume(v, rs, wg)
				return
			}
			if first {
				wg.Done()
			}
			if !first && w.widgetResume.Load() && current && !w.stopping.Load() && broken(err) {
				// The widget resumes whenever its stream breaks: another
				// change of leader is no error for it.
				w.brokenAgain.Add(1)
				v.mu.Lock()
				v.gen++
				again := &resumeState{t0: time.Now(), after: v.lastSeq, target: v.lastSeq, widget: true, again: true}
				v.mu.Unlock()
				var none sync.WaitGroup
				none.Add(1)
				go w.retryResume(v, again, &none)
				return
			}
			if current && !w.stopping.Load() {
				w.fail("visitor stream ended: %v", err)
			}
			return
		}
		now := time.Now()
		switch ev := m.GetEvent().(type) {
		case *pb.WatchVisitorResponse_State:
			st := ev.State
			w.onState(v, st, now)
			if first {
				first = false
				if rs == nil {
					w.held.Add(1)
				} else if rs.again {
					w.backAgain.Add(1)
					caught = true
				} else {
					w.resumed.Add(1)
					w.record("resume_state", now.Sub(rs.t0).Nanoseconds())
					v.mu.Lock()
					done := v.chatID == "" || v.lastSeq >= rs.target
					v.mu.Unlock()
					if done {
						caught = true
						w.caughtUp.Add(1)
						w.record("resume_caught_up", now.Sub(rs.t0).Nanoseconds())
					}
				}
				wg.Done()
			}
		case *pb.WatchVisitorResponse_ChatEvent:
			e := ev.ChatEvent
			v.mu.Lock()
			if e.GetChatId() == v.chatID && e.GetSeq() > v.lastSeq {
				v.lastSeq = e.GetSeq()
			}
			seq := v.lastSeq
			v.mu.Unlock()
			if rs != nil && !caught {
				if e.GetSeq() > rs.after && e.GetSeq() <= rs.target {
					w.replayed.Add(1)
				}
				if seq >= rs.target {
					caught = true
					w.caughtUp.Add(1)
					w.record("resume_caught_up", now.Sub(rs.t0).Nanoseconds())
				}
			}
			if msg := e.GetMessage(); msg != nil && msg.GetSender().GetRole() == pb.ParticipantRole_PARTICIPANT_ROLE_AGENT {
				if phase, sched, ok := parseMessage(msg.GetText()); ok && phase == 'R' {
					w.record("agent_to_visitor", now.UnixNano()-sched)
				}
			}
		}
	}
}

func (w *worker) onState(v *visitor, st *pb.VisitorState, now time.Time) {
	switch st.GetEngagement() {
	case pb.EngagementState_ENGAGEMENT_STATE_INVITED:
		v.mu.Lock()
		already := v.invited
		v.invited = true
		v.mu.Unlock()
		if already {
			return
		}
		w.invited.Add(1)
		due := st.GetVisitor().GetVisitStartTime().AsTime().Add(w.cfg.LaunchAfter)
		w.record("invitation", now.Sub(due).Nanoseconds())
		inv := st.GetInvitation().GetId()
		vc, _ := v.clients()
		go func() {
			ctx, cancel := context.WithTimeout(v.auth, 60*time.Second)
			defer cancel()
			if _, err := vc.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{VisitorId: v.id, InvitationId: inv, Accept: true}); err != nil {
				w.fail("RespondToInvitation: %v", err)
			}
		}()
	case pb.EngagementState_ENGAGEMENT_STATE_FILLING_FORM:
		v.mu.Lock()
		already := v.submitted
		v.submitted = true
		v.mu.Unlock()
		if already {
			return
		}
		vc, _ := v.clients()
		go func() {
			ctx, cancel := context.WithTimeout(v.auth, 60*time.Second)
			defer cancel()
			sent := time.Now().UnixNano()
			w.mu.Lock()
			w.submits[v.id] = sent
			w.mu.Unlock()
			w.submitted.Add(1)
			_, err := vc.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: v.id, Values: map[string]string{
				"name": fmt.Sprintf("Visitor %d", v.plan.Index), "email": fmt.Sprintf("v%d@example.com", v.plan.Index),
				"question": "Do you ship to Norway?",
			}})
			if err != nil {
				w.fail("SubmitForm: %v", err)
			}
		}()
	case pb.EngagementState_ENGAGEMENT_STATE_CHATTING:
		v.mu.Lock()
		isNew := v.chatID == ""
		if isNew {
			v.chatID = st.GetChat().GetId()
		}
		v.mu.Unlock()
		if isNew {
			w.chatting.Add(1)
		}
	}
}

// browse sends a page view now and then, as a visitor moving around the shop.
func (w *worker) browse(v *visitor) {
	every := w.cfg.PageViewEvery
	if every <= 0 {
		return
	}
	time.Sleep(time.Duration(rand.Int64N(int64(every))))
	for n := 0; !w.stopping.Load(); n++ {
		v.mu.Lock()
		vc, gen := v.vc, v.gen
		v.mu.Unlock()
		if vc != nil {
			url := productPrefix + fmt.Sprint((v.plan.Index*7+n)%500)
			ctx, cancel := context.WithTimeout(v.auth, 30*time.Second)
			_, err := vc.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: v.id, Url: url, Title: "Product"})
			cancel()
			if err == nil {
				w.pageViews.Add(1)
				v.mu.Lock()
				v.page = url
				v.mu.Unlock()
			} else if status.Code(err) == codes.Unavailable {
				w.pageViewsUnavailable.Add(1)
			} else if status.Code(err) == codes.Canceled {
				// Only the visitor's connection closing cancels it (a
				// resume replaces it): the widget's page view is lost as
				// with a page that unloads.
			} else if !dropped(v) && !replaced(v, gen) {
				w.fail("ReportPageView: %v", err)
			}
		}
		time.Sleep(every/2 + time.Duration(rand.Int64N(int64(every))))
	}
}

// replaced reports whether the visitor's connection changed since gen (a
// storm's dial retried): a page view on the old one was lost with it.
func replaced(v *visitor, gen int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.gen != gen
}

func dropped(v *visitor) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conn == nil
}

// messages runs every chatting visitor's sender for one phase.
func (w *worker) messages(c Cmd) {
	w.mu.Lock()
	var vs []*visitor
	all := append([]*visitor(nil), w.visitors...)
	w.mu.Unlock()
	for _, v := range all {
		v.mu.Lock()
		if v.chatID != "" {
			vs = append(vs, v)
		}
		v.mu.Unlock()
	}
	var wg sync.WaitGroup
	var inWindow atomic.Int64
	sent0 := w.sent.Load()
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.send(v, c, &inWindow)
		}()
	}
	wg.Wait()
	w.mu.Lock()
	w.acked[c.Phase] += inWindow.Load()
	w.mu.Unlock()
	w.emit(Event{Op: "done", Sent: w.sent.Load() - sent0, Acked: inWindow.Load()})
}

// send is one chat's sender. Open loop ('L'): message k is due at
// start + phase + k×interval whatever happened to the ones before, and its
// latency counts from then. Closed loop ('M'): the next message goes as
// soon as the previous one is acknowledged.
func (w *worker) send(v *visitor, c Cmd, inWindow *atomic.Int64) {
	phase := c.Phase[0]
	if phase == 'M' && w.cfg.Converse {
		w.converse(v, c, inWindow)
		return
	}
	start := c.Start
	if phase == 'L' && c.Interval > 0 {
		start += rand.Int64N(int64(c.Interval))
	}
	_, cc := v.clients()
	v.mu.Lock()
	chatID := v.chatID
	v.mu.Unlock()
	for k := 0; ; k++ {
		var sched int64
		if phase == 'L' {
			sched = start + int64(k)*int64(c.Interval)
			if sched >= c.End {
				return
			}
			if wait := time.Until(time.Unix(0, sched)); wait > 0 {
				time.Sleep(wait)
				// How late the load generator itself woke up: a busy
				// machine delays the sends, and the open-loop latency
				// then counts that delay too.
				w.record("loadgen_lateness", time.Now().UnixNano()-sched)
			}
		} else {
			if k == 0 {
				time.Sleep(time.Until(time.Unix(0, start)))
			}
			sched = time.Now().UnixNano()
			if sched >= c.End {
				return
			}
		}
		ctx, cancel := context.WithTimeout(v.auth, 30*time.Second)
		_, err := cc.SendMessage(ctx, &pb.SendMessageRequest{
			ChatId: chatID, SenderId: v.id, Text: messageText(phase, sched, k, w.cfg.MsgSize),
			IdempotencyKey: fmt.Sprintf("%c%d-%d", phase, c.Start%1e6, k),
		})
		cancel()
		now := time.Now().UnixNano()
		if err != nil {
			w.sendErrors.Add(1)
			w.fail("SendMessage: %v", err)
			continue
		}
		w.sent.Add(1)
		w.record("ack_"+c.Phase, now-sched)
		if now >= c.Start && now <= c.End {
			inWindow.Add(1)
		}
	}
}

// converse is the closed loop over one Converse stream per chat, as a
// native gRPC client sends: a join, then each message as soon as the
// CommandResult of the last one is back. The stream also carries the
// chat's events, the client's own messages included, as it would.
func (w *worker) converse(v *visitor, c Cmd, inWindow *atomic.Int64) {
	_, cc := v.clients()
	v.mu.Lock()
	chatID, after := v.chatID, v.lastSeq
	v.mu.Unlock()
	ctx, cancel := context.WithCancel(v.auth)
	defer cancel()
	stream, err := cc.Converse(ctx)
	if err != nil {
		w.fail("Converse: %v", err)
		return
	}
	result := func(id string) (*pb.CommandResult, error) {
		for {
			m, err := stream.Recv()
			if err != nil {
				return nil, err
			}
			if r := m.GetResult(); r != nil && r.GetCommandId() == id {
				return r, nil
			}
		}
	}
	join := &pb.ConverseJoin{ChatId: chatID, ParticipantId: v.id, AfterSeq: after}
	if err := stream.Send(&pb.ConverseRequest{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: join}}); err != nil {
		w.fail("Converse join: %v", err)
		return
	}
	if r, err := result("join"); err != nil || r.GetErrorCode() != "" {
		w.fail("Converse join: %v %s", err, r.GetErrorMessage())
		return
	}
	time.Sleep(time.Until(time.Unix(0, c.Start)))
	for k := 0; ; k++ {
		sched := time.Now().UnixNano()
		if sched >= c.End {
			return
		}
		id := fmt.Sprint(k)
		send := &pb.ConverseSend{Text: messageText('M', sched, k, w.cfg.MsgSize), IdempotencyKey: fmt.Sprintf("C%d-%d", c.Start%1e6, k)}
		if err := stream.Send(&pb.ConverseRequest{CommandId: id, Command: &pb.ConverseRequest_Send{Send: send}}); err != nil {
			w.fail("Converse send: %v", err)
			return
		}
		r, err := result(id)
		now := time.Now().UnixNano()
		if err != nil {
			w.sendErrors.Add(1)
			w.fail("Converse send: %v", err)
			return
		}
		if r.GetErrorCode() != "" {
			w.sendErrors.Add(1)
			w.fail("Converse send: %s %s", r.GetErrorCode(), r.GetErrorMessage())
			continue
		}
		w.sent.Add(1)
		w.record("ack_"+c.Phase, now-sched)
		if now >= c.Start && now <= c.End {
			inWindow.Add(1)
		}
	}
}

// drop closes every visitor's connection at once.
func (w *worker) drop() {
	w.mu.Lock()
	vs := append([]*visitor(nil), w.visitors...)
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.mu.Lock()
			v.gen++ // the old stream's end is expected
			conn, cancel := v.conn, v.cancel
			v.conn, v.vc, v.cc = nil, nil, nil
			v.mu.Unlock()
			if cancel != nil {
				cancel()
			}
			if conn != nil {
				conn.Close()
			}
		}()
	}
	wg.Wait()
	w.emit(Event{Op: "done"})
}

// retryResume dials again for a resumed stream whose connection the
// server closed before the stream began (under a storm, x/net's HTTP/2
// server drops a connection whose client SETTINGS it has not read within
// two seconds), after a pause that doubles with each attempt.
func (w *worker) retryResume(v *visitor, rs *resumeState, wg *sync.WaitGroup) {
	rs.attempts++
	time.Sleep(rs.pause())
	v.mu.Lock()
	old := v.conn
	v.mu.Unlock()
	if old != nil {
		old.Close()
	}
	conn, err := dial(w.server(v), v.plan.Src)
	if err != nil {
		w.fail("dial: %v", err)
		wg.Done()
		return
	}
	w.open(v, conn, wg, rs)
}

// resume reconnects every visitor at once and resumes its stream after the
// last event it saw; done when every stream is back and caught up.
func (w *worker) resume(c Cmd) {
	targets := c.Targets
	t0 := time.Now()
	w.mu.Lock()
	vs := append([]*visitor(nil), w.visitors...)
	w.mu.Unlock()
	w.resumed.Store(0)
	w.caughtUp.Store(0)
	// The old streams' ends are no errors (drop moved every visitor to a
	// new generation); a resumed stream's failure is.
	var wg sync.WaitGroup
	n := 0
	for _, v := range vs {
		if v.id == "" {
			continue
		}
		n++
		wg.Add(1)
		go func() {
			conn, err := dial(w.server(v), v.plan.Src)
			if err != nil {
				w.fail("dial: %v", err)
				wg.Done()
				return
			}
			v.mu.Lock()
			rs := &resumeState{t0: t0, after: v.lastSeq, target: targets[v.chatID]}
			v.mu.Unlock()
			w.open(v, conn, &wg, rs)
		}()
	}
	wg.Wait()
	resumedAll := time.Now().UnixNano()
	deadline := time.Now().Add(60 * time.Second)
	for int(w.caughtUp.Load()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	w.mu.Lock()
	w.resumedAll, w.caughtUpAll = resumedAll, time.Now().UnixNano()
	w.mu.Unlock()
	w.emit(Event{Op: "done"})
}

// remap moves the visitors of node from to the nodes to, round robin.
func (w *worker) remap(from string, to []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := 0
	for _, v := range w.visitors {
		v.mu.Lock()
		if v.plan.Server == from && len(to) > 0 {
			v.plan.Server = to[k%len(to)]
			k++
		}
		v.mu.Unlock()
	}
}

// mux holds c.MuxStreams visitor streams over c.MuxConns connections, as an
// L7 proxy in front of the server would: each visitor starts its session
// and opens its stream on a product page (so its launch timer is armed, on
// a site with -launch-timers), then only listens. At most 256 open at a
// time; done once every stream has its first state.
func (w *worker) mux(c Cmd) {
	ctx, cancel := context.WithCancel(context.Background())
	conns := make([]*grpc.ClientConn, c.MuxConns)
	for i := range conns {
		conn, err := dial(w.cfg.Server, sourceAddr(w.id, 100_000+i))
		if err != nil {
			w.fail("dial: %v", err)
			cancel()
			w.emit(Event{Op: "done"})
			return
		}
		conns[i] = conn
	}
	w.mu.Lock()
	w.muxConns, w.muxCancel = conns, cancel
	w.mu.Unlock()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i := range c.MuxStreams {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			first := true
			defer func() {
				if first {
					<-sem
					wg.Done()
				}
			}()
			vc := pb.NewVisitorServiceClient(conns[i%len(conns)])
			sess, err := vc.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: c.MuxSite})
			if err != nil {
				w.fail("mux StartVisitorSession: %v", err)
				return
			}
			auth := withToken(ctx, sess.GetToken())
			stream, err := vc.WatchVisitor(auth, &pb.WatchVisitorRequest{VisitorId: sess.GetVisitor().GetId(),
				PageUrl: productPrefix + fmt.Sprint(i%500), PageTitle: "Product"})
			if err != nil {
				w.fail("mux WatchVisitor: %v", err)
				return
			}
			for {
				if _, err := stream.Recv(); err != nil {
					if ctx.Err() == nil {
						w.fail("mux visitor stream ended: %v", err)
					}
					return
				}
				if first {
					first = false
					w.muxHeld.Add(1)
					<-sem
					wg.Done()
				}
			}
		}()
	}
	wg.Wait()
	w.emit(Event{Op: "done", Held: int(w.muxHeld.Load())})
}

// muxDrop closes the multiplexed visitors' connections.
func (w *worker) muxDrop() {
	w.mu.Lock()
	conns, cancel := w.muxConns, w.muxCancel
	w.muxConns, w.muxCancel = nil, nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	for _, c := range conns {
		c.Close()
	}
	w.muxHeld.Store(0)
	w.emit(Event{Op: "done"})
}
