package domain_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// Pages of the test site.
const (
	home    = "https://shop.example/"
	pricing = "https://shop.example/pricing"
	cart    = "https://shop.example/cart"
	shoes   = "https://shop.example/products/shoes"
	hats    = "https://shop.example/products/hats"
	secret  = "https://shop.example/products/secret-sale"
	about   = "https://shop.example/about"
)

// engine is a Service over a bolt file that a test can restart: the
// Service and the store are closed, then both are opened again on the same
// file, with a fake clock that goes on from the same instant.
type engine struct {
	path  string
	opts  []func(*domain.Config)
	clock *fakeclock.Clock
	store *bolt.Store
	svc   *domain.Service
}

// withAgentGrace sets Config.AgentGrace.
func withAgentGrace(d time.Duration) func(*domain.Config) {
	return func(c *domain.Config) { c.AgentGrace = d }
}

// withAgentQueueInterval sets Config.AgentQueueInterval.
func withAgentQueueInterval(d time.Duration) func(*domain.Config) {
	return func(c *domain.Config) { c.AgentQueueInterval = d }
}

// withBrokerBuffer gives the broker's subscribers a larger buffer.
func withBrokerBuffer(n int) func(*domain.Config) {
	return func(c *domain.Config) { c.Broker = inmem.NewBroker(n) }
}

func newEngine(t *testing.T, opts ...func(*domain.Config)) *engine {
	t.Helper()
	e := &engine{path: filepath.Join(t.TempDir(), "engine.db"), opts: opts, clock: fakeclock.New(t0)}
	e.start(t)
	t.Cleanup(e.close)
	return e
}

// start opens the store and starts a Service on it, as the server does.
func (e *engine) start(t *testing.T) {
	t.Helper()
	store, err := bolt.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := domain.Config{
		Store:             store,
		Broker:            inmem.NewBroker(0),
		Clock:             e.clock,
		PresenceGrace:     grace,
		KeepAliveInterval: keepAlive,
		// Off unless a test is about it: a batch's timer is armed by the
		// console's goroutine, which may do so after the clock's Advance
		// that should have fired it has returned.
		AgentQueueInterval: -1,
	}
	for _, o := range e.opts {
		o(&cfg)
	}
	svc := domain.NewService(cfg)
	if err := svc.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	e.store, e.svc = store, svc
}

func (e *engine) close() {
	e.svc.Close()
	e.store.Close()
}

// restart stops the server and starts it again on the same file. Streams of
// the old Service end; the test opens new ones as clients would.
func (e *engine) restart(t *testing.T) {
	t.Helper()
	e.restartAfter(t, 0)
}

// restartAfter restarts the server after it has been down for d.
func (e *engine) restartAfter(t *testing.T, d time.Duration) {
	t.Helper()
	e.close()
	e.clock = fakeclock.New(e.clock.Now().Add(d))
	e.start(t)
}

// settle returns once the commit hooks of every write so far have run: the
// store runs hooks in commit order before it answers the next write. An
// offer's hook publishes the alert before it arms the alert deadline, so a
// test that saw the alert settles before advancing to the deadline.
func (e *engine) settle(t *testing.T) {
	t.Helper()
	if err := e.store.Update(ctx(t), func(domain.WriteTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// site creates a site with the given id and proactive chat settings.
func (e *engine) site(t *testing.T, id string, pc domain.ProactiveChatSettings) *domain.Site {
	t.Helper()
	site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: id, Name: "Site " + id, ProactiveChat: pc})
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// agent creates an agent, offline as every new agent is.
func (e *engine) agent(t *testing.T, id, name string, maxChats uint32, siteIDs ...string) *domain.Agent {
	t.Helper()
	a, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{ID: id, DisplayName: name, SiteIDs: siteIDs, MaxConcurrentChats: maxChats})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *engine) setStatus(t *testing.T, agentID string, status domain.AgentStatus) {
	t.Helper()
	if _, err := e.svc.SetAgentStatus(ctx(t), agentID, status); err != nil {
		t.Fatal(err)
	}
}

// visitor starts a visitor session on a site and returns the visitor's id.
func (e *engine) visitor(t *testing.T, siteID string) string {
	t.Helper()
	v, _, _, err := e.svc.StartVisitorSession(ctx(t), siteID, "")
	if err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// page opens a widget stream on a page (a page load or a tab) and returns
// it with the first state it sent.
func (e *engine) page(t *testing.T, visitorID, url string) (*stream[domain.VisitorUpdate], *domain.VisitorState) {
	t.Helper()
	return e.pageResuming(t, domain.VisitorWatch{VisitorID: visitorID, PageURL: url, PageTitle: "Shop"})
}

func (e *engine) pageResuming(t *testing.T, w domain.VisitorWatch) (*stream[domain.VisitorUpdate], *domain.VisitorState) {
	t.Helper()
	svc := e.svc
	s := startStream(t, func(c context.Context, send func(domain.VisitorUpdate) error) error {
		return svc.WatchVisitor(c, w, send)
	})
	return s, s.next(t, isState).State
}

// console opens an agent's WatchAgent stream and returns it with its snapshot.
func (e *engine) console(t *testing.T, agentID string) (*stream[domain.AgentUpdate], *domain.AgentSnapshot) {
	t.Helper()
	svc := e.svc
	s := startStream(t, func(c context.Context, send func(domain.AgentUpdate) error) error {
		return svc.WatchAgent(c, agentID, send)
	})
	return s, s.next(t, func(u domain.AgentUpdate) bool { return u.Snapshot != nil }).Snapshot
}

// chatStream opens WatchChat after seq.
func (e *engine) chatStream(t *testing.T, chatID string, after uint32) *stream[domain.ChatUpdate] {
	t.Helper()
	svc := e.svc
	return startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return svc.WatchChat(c, chatID, after, send)
	})
}

// alerted waits for an alert on an agent's console (for requestID, or any
// when empty) and settles, so that the alert's deadline timer is armed.
func (e *engine) alerted(t *testing.T, console *stream[domain.AgentUpdate], requestID string) *domain.Alert {
	t.Helper()
	a := console.next(t, isAlert(requestID)).Alert
	e.settle(t)
	return a
}

// quiet fails if an agent's console shows an alert before a marker: a
// change of the agent's record, published on the same topic as its alerts
// after everything already committed.
func (e *engine) quiet(t *testing.T, console *stream[domain.AgentUpdate], agentID string) {
	t.Helper()
	a, err := e.svc.GetAgent(ctx(t), agentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: agentID, DisplayName: a.DisplayName}, []string{"display_name"}); err != nil {
		t.Fatal(err)
	}
	console.next(t, func(u domain.AgentUpdate) bool {
		if u.Alert != nil {
			t.Fatalf("agent %s was alerted for request %s (%s)", agentID, u.Alert.Request.ID, u.Alert.Reason)
		}
		return u.AgentChanged != nil
	})
}

// state reads what the visitor's widget should show now.
func (e *engine) state(t *testing.T, visitorID string) *domain.VisitorState {
	t.Helper()
	st, err := e.svc.VisitorState(ctx(t), visitorID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *engine) queue(t *testing.T, siteID string) []*domain.ChatRequest {
	t.Helper()
	q, err := e.svc.ListQueue(ctx(t), siteID)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (e *engine) decisions(t *testing.T, siteID string) []*domain.RoutingDecision {
	t.Helper()
	ds, err := e.svc.ListRoutingDecisions(ctx(t), siteID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// invitation reads an invitation record; the API has no getter for it.
func (e *engine) invitation(t *testing.T, id string) *domain.Invitation {
	t.Helper()
	var inv *domain.Invitation
	err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
		var err error
		inv, err = tx.Invitation(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// request reads a chat request record, open or closed.
func (e *engine) request(t *testing.T, id string) *domain.ChatRequest {
	t.Helper()
	var req *domain.ChatRequest
	err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
		var err error
		req, err = tx.ChatRequest(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// pendingInvitations lists a visitor's pending invitations.
func (e *engine) pendingInvitations(t *testing.T, visitorID string) []*domain.Invitation {
	t.Helper()
	var all []*domain.Invitation
	err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
		var err error
		all, err = tx.PendingInvitations()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(inv *domain.Invitation) bool { return inv.VisitorID != visitorID })
}

func (e *engine) respond(t *testing.T, visitorID, invitationID string, accept bool) *domain.VisitorState {
	t.Helper()
	st, err := e.svc.RespondToInvitation(ctx(t), visitorID, invitationID, accept)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *engine) accept(t *testing.T, agentID, requestID string) *domain.Chat {
	t.Helper()
	chat, err := e.svc.AcceptChatRequest(ctx(t), agentID, requestID)
	if err != nil {
		t.Fatal(err)
	}
	return chat
}

func (e *engine) send(t *testing.T, chatID, senderID, text string) domain.ChatEvent {
	t.Helper()
	ev, err := e.svc.SendMessage(ctx(t), chatID, senderID, text, "")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (e *engine) leave(t *testing.T, chatID, participantID string) {
	t.Helper()
	if _, err := e.svc.LeaveChat(ctx(t), chatID, participantID); err != nil {
		t.Fatal(err)
	}
}

// awaitDue waits for a matching update while letting timers that are
// already due run. Some effects start in background goroutines (a visitor
// waiting for a free agent is looked at again by a routing pass); should
// one of them arm a timer for a time already come, the fake clock runs it
// only when advanced, which Advance(0) does without moving time.
func awaitDue[T any](t *testing.T, e *engine, s *stream[T], match func(T) bool) T {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		e.clock.Advance(0)
		select {
		case u := <-s.updates:
			if match(u) {
				return u
			}
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no matching update within %v", waitTimeout)
		}
	}
}

// Matchers.

func isState(u domain.VisitorUpdate) bool { return u.State != nil }

func stateWhere(f func(*domain.VisitorState) bool) func(domain.VisitorUpdate) bool {
	return func(u domain.VisitorUpdate) bool { return u.State != nil && f(u.State) }
}

func invited(u domain.VisitorUpdate) bool { return u.State != nil && u.State.Invitation != nil }

func engagement(want domain.Engagement) func(domain.VisitorUpdate) bool {
	return stateWhere(func(st *domain.VisitorState) bool { return st.Engagement == want })
}

// atPosition matches a "Waiting in Queue" state at a position.
func atPosition(pos int) func(domain.VisitorUpdate) bool {
	return stateWhere(func(st *domain.VisitorState) bool { return st.Queue != nil && st.Queue.Position == pos })
}

func visitorEvent(f func(*domain.ChatEvent) bool) func(domain.VisitorUpdate) bool {
	return func(u domain.VisitorUpdate) bool { return u.Event != nil && f(u.Event) }
}

func chatEvent(f func(*domain.ChatEvent) bool) func(domain.ChatUpdate) bool {
	return func(u domain.ChatUpdate) bool { return u.Event != nil && f(u.Event) }
}

func isMessage(text string) func(*domain.ChatEvent) bool {
	return func(ev *domain.ChatEvent) bool { return ev.Message != nil && ev.Message.Text == text }
}

func isEnded(ev *domain.ChatEvent) bool   { return ev.Ended != nil }
func isStarted(ev *domain.ChatEvent) bool { return ev.Started != nil }

func isAlert(requestID string) func(domain.AgentUpdate) bool {
	return func(u domain.AgentUpdate) bool {
		return u.Alert != nil && (requestID == "" || u.Alert.Request.ID == requestID)
	}
}

func isWithdrawn(requestID string) func(domain.AgentUpdate) bool {
	return func(u domain.AgentUpdate) bool {
		return u.AlertWithdrawn != nil && u.AlertWithdrawn.RequestID == requestID
	}
}

// violationFields returns the fields an InvalidArgument error names.
func violationFields(t *testing.T, err error) []string {
	t.Helper()
	wantCode(t, err, domain.CodeInvalid)
	var de *domain.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *domain.Error", err)
	}
	var fields []string
	for _, v := range de.Violations {
		fields = append(fields, v.Field)
		if !strings.Contains(err.Error(), v.Field) {
			t.Fatalf("message %q does not name %s", err, v.Field)
		}
	}
	slices.Sort(fields)
	return fields
}

// Settings used across the tests.

func withInvite() domain.ProactiveChatSettings {
	return domain.ProactiveChatSettings{
		Enabled: true, Mode: domain.ModeWithInvite, LaunchAfterSeconds: 30,
		InviteText: "Need a hand? Chat with us.",
	}
}

func withoutInvite() domain.ProactiveChatSettings {
	return domain.ProactiveChatSettings{Enabled: true, Mode: domain.ModeWithoutInvite, LaunchAfterSeconds: 30}
}

// contactForm is a data-collection form with every field type.
func contactForm() []domain.FormField {
	return []domain.FormField{
		{Key: "name", Label: "Name", Type: domain.FieldText, Required: true, MaxLength: 40},
		{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true},
		{Key: "phone", Label: "Phone", Type: domain.FieldPhone},
		{Key: "question", Label: "Question", Type: domain.FieldTextarea, MaxLength: 100},
	}
}

func validForm() map[string]string {
	return map[string]string{"name": " Ann ", "email": "ann@example.com", "phone": "+44 20 7946 0958", "question": "Do you ship to Norway?"}
}
