package domain_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

const day = 24 * time.Hour

// withRetention sets the server's retention periods and turns the periodic
// sweep off unless every is set, so a test sweeps when it says. Keep-alives
// come once a day: the tests hold streams open for weeks of fake time.
func withRetention(r domain.Retention, every time.Duration) func(*domain.Config) {
	return func(c *domain.Config) {
		c.Retention = &r
		c.RetentionSweepInterval = cmpOr(every, -1)
		c.KeepAliveInterval = day
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

// help is the one page of a quietSite where the launching criteria fire.
const help = "https://shop.example/help"

// quietSite creates a site with proactive chat enabled (so agents may start
// chats) whose launching criteria fire only on the help page, so that no
// visitor is queued unless a test queues them.
func (e *engine) quietSite(t *testing.T, id string, r domain.RetentionSettings) {
	t.Helper()
	pc := withoutInvite()
	pc.IncludePages = []string{help}
	pc.InactivityTimeoutSeconds = uint32(7 * day / time.Second) // chats for weeks
	if _, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: id, Name: "Site " + id, ProactiveChat: pc, Retention: r}); err != nil {
		t.Fatal(err)
	}
}

// session starts a visitor session and returns the visitor's id and token.
func (e *engine) session(t *testing.T, siteID string) (string, string) {
	t.Helper()
	v, token, _, err := e.svc.StartVisitorSession(ctx(t), siteID, "")
	if err != nil {
		t.Fatal(err)
	}
	return v.ID, token
}

// visit opens a widget stream on a page, closes it, and lets the visitor
// depart.
func (e *engine) visit(t *testing.T, visitorID string) {
	t.Helper()
	p, _ := e.page(t, visitorID, home)
	p.stop()
	e.clock.Advance(grace + time.Second)
}

// chatted has agentID start a chat with a visitor on the site, both write
// and leave, and the visitor depart. It returns the chat, ended.
func (e *engine) chatted(t *testing.T, agentID, visitorID string) *domain.Chat {
	t.Helper()
	p, _ := e.page(t, visitorID, home)
	e.setStatus(t, agentID, domain.StatusAvailable)
	chat, err := e.svc.StartChat(ctx(t), agentID, visitorID)
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, chat.ID, agentID, "Hello!")
	e.send(t, chat.ID, visitorID, "Hi.")
	e.leave(t, chat.ID, visitorID)
	e.leave(t, chat.ID, agentID)
	p.stop()
	e.clock.Advance(grace + time.Second)
	chat, err = e.svc.GetChat(ctx(t), chat.ID)
	if err != nil {
		t.Fatal(err)
	}
	if chat.State != domain.ChatStateEnded {
		t.Fatalf("chat %s is %v, want ended", chat.ID, chat.State)
	}
	return chat
}

// chattedFromQueue is chatted, with a chat that answers a chat request:
// the visitor meets the launching criteria on the help page, the agent is
// alerted and accepts.
func (e *engine) chattedFromQueue(t *testing.T, agentID, visitorID string) *domain.Chat {
	t.Helper()
	console, _ := e.console(t, agentID)
	defer console.stop()
	e.setStatus(t, agentID, domain.StatusAvailable)
	p, _ := e.page(t, visitorID, help)
	e.clock.Advance(30 * time.Second)
	chat := e.accept(t, agentID, e.alerted(t, console, "").Request.ID)
	if chat.ChatRequestID == "" {
		t.Fatalf("chat %s answers no request", chat.ID)
	}
	e.send(t, chat.ID, visitorID, "Hi, I need help.")
	e.leave(t, chat.ID, visitorID)
	e.leave(t, chat.ID, agentID)
	p.stop()
	e.clock.Advance(grace + time.Second)
	return chat
}

// sweep runs the retention sweeper and checks what it says it deleted.
func (e *engine) sweep(t *testing.T, want domain.RetentionSweep) {
	t.Helper()
	got, err := e.svc.SweepRetention(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("at day %.2f the sweep deleted %+v, want %+v", e.clock.Now().Sub(t0).Hours()/24, got, want)
	}
}

// wantVisitor checks that a visitor is still stored, or that it is gone
// and its token authenticates no more.
func (e *engine) wantVisitor(t *testing.T, visitorID, token string, kept bool) {
	t.Helper()
	_, err := e.svc.ExportVisitor(ctx(t), visitorID)
	_, authErr := e.svc.Authenticate(ctx(t), token)
	switch {
	case kept && (err != nil || authErr != nil):
		t.Errorf("visitor %s: %v, token: %v; want kept", visitorID, err, authErr)
	case !kept && domain.ErrorCode(err) != domain.CodeNotFound:
		t.Errorf("visitor %s: %v, want deleted (not found)", visitorID, err)
	case !kept && domain.ErrorCode(authErr) != domain.CodeUnauthenticated:
		t.Errorf("visitor %s's token after deletion: %v, want unauthenticated", visitorID, authErr)
	}
}

// seedQueued stores a visitor of site waiting in its queue, as a restart
// finds one whose widget is away: held, not online.
func (e *engine) seedQueued(t *testing.T, siteID, visitorID string) {
	t.Helper()
	now := e.clock.Now()
	err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
		if err := tx.PutVisitor(&domain.Visitor{ID: visitorID, SiteID: siteID, CreateTime: now,
			Engagement: domain.EngagementQueued, ChatRequestID: "req_" + visitorID}); err != nil {
			return err
		}
		if err := tx.PutVisitorToken([]byte("hash of "+visitorID), visitorID); err != nil {
			return err
		}
		return tx.PutChatRequest(&domain.ChatRequest{ID: "req_" + visitorID, SiteID: siteID, VisitorID: visitorID,
			Kind: domain.RequestPresence, State: domain.RequestQueued, EnqueueTime: now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// seedInvited stores a visitor of site with a pending invitation, as a
// restart finds one invited when the server stopped.
func (e *engine) seedInvited(t *testing.T, siteID, visitorID string) {
	t.Helper()
	now := e.clock.Now()
	err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
		if err := tx.PutVisitor(&domain.Visitor{ID: visitorID, SiteID: siteID, CreateTime: now,
			Engagement: domain.EngagementInvited, InvitationID: "inv_" + visitorID}); err != nil {
			return err
		}
		return tx.PutInvitation(&domain.Invitation{ID: "inv_" + visitorID, SiteID: siteID, VisitorID: visitorID,
			State: domain.InvitationPending, CreateTime: now, ExpireTime: now.Add(time.Minute)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRetentionDeletesVisitorsWhoNeverChatted(t *testing.T) {
	r := domain.DefaultRetention
	r.Events = 0 // TestRetentionDeletesOldEvents is about the log
	e := newEngine(t, withRetention(r, 0))
	e.quietSite(t, "shop", domain.RetentionSettings{})
	e.quietSite(t, "queue", domain.RetentionSettings{})
	e.agent(t, "agent-a", "Ada", 3, "shop")

	left, leftToken := e.session(t, "shop")
	e.visit(t, left)
	silent, silentToken := e.session(t, "shop") // never opened the widget
	if _, err := e.svc.Authenticate(ctx(t), silentToken); err != nil {
		t.Fatal(err) // and now its token is cached
	}
	talker, talkerToken := e.session(t, "shop")
	e.chatted(t, "agent-a", talker)
	online, onlineToken := e.session(t, "shop")
	onlinePage, _ := e.page(t, online, home)
	defer onlinePage.stop()
	back, backToken := e.session(t, "shop")
	e.visit(t, back)
	e.seedQueued(t, "queue", "visitor_held")
	e.seedInvited(t, "queue", "visitor_invited")

	e.clock.Advance(25 * day)
	e.visit(t, back) // a returning visitor is as new as their last visit

	e.clock.Set(t0.Add(30*day + time.Hour))
	e.sweep(t, domain.RetentionSweep{Visitors: 2})
	e.wantVisitor(t, left, leftToken, false)
	e.wantVisitor(t, silent, silentToken, false)
	e.wantVisitor(t, talker, talkerToken, true)
	e.wantVisitor(t, online, onlineToken, true)
	e.wantVisitor(t, back, backToken, true)
	for _, id := range []string{"visitor_held", "visitor_invited"} {
		if _, err := e.svc.ExportVisitor(ctx(t), id); err != nil {
			t.Errorf("visitor %s: %v, want kept", id, err)
		}
	}
	if q := e.queue(t, "queue"); len(q) != 1 {
		t.Errorf("queue holds %d requests, want the held one", len(q))
	}
	// The old token starts a new session, as any unknown one does.
	again, _, resumed, err := e.svc.StartVisitorSession(ctx(t), "shop", leftToken)
	if err != nil || resumed || again.ID == left {
		t.Errorf("deleted visitor's token: resumed %v as %v (%v), want a new visitor", resumed, again, err)
	}

	e.sweep(t, domain.RetentionSweep{}) // nothing more is old

	e.clock.Set(t0.Add(56 * day))
	e.sweep(t, domain.RetentionSweep{Visitors: 1})
	e.wantVisitor(t, back, backToken, false)
	e.wantVisitor(t, online, onlineToken, true)

	st, err := e.svc.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.RetentionDeletedVisitors != 3 || st.RetentionDeletedChats != 0 {
		t.Errorf("stats count %d visitors and %d chats deleted, want 3 and 0", st.RetentionDeletedVisitors, st.RetentionDeletedChats)
	}
}

func TestRetentionSweepsPeriodically(t *testing.T) {
	e := newEngine(t, withRetention(domain.DefaultRetention, 10*time.Minute))
	e.quietSite(t, "shop", domain.RetentionSettings{})
	v, token := e.session(t, "shop")
	e.visit(t, v)

	e.clock.Advance(30*day - time.Hour)
	e.wantVisitor(t, v, token, true)
	e.clock.Advance(time.Hour + 10*time.Minute) // a sweep runs within 10 minutes
	e.wantVisitor(t, v, token, false)
	if st, err := e.svc.Stats(ctx(t)); err != nil || st.RetentionDeletedVisitors != 1 {
		t.Errorf("stats: %d visitors deleted (%v), want 1", st.RetentionDeletedVisitors, err)
	}
}

func TestRetentionPerSite(t *testing.T) {
	e := newEngine(t, withRetention(domain.Retention{Visitors: 10 * day}, 0))
	e.quietSite(t, "brief", domain.RetentionSettings{VisitorSeconds: uint32(2 * day / time.Second)})
	e.quietSite(t, "usual", domain.RetentionSettings{})
	brief, briefToken := e.session(t, "brief")
	usual, usualToken := e.session(t, "usual")

	e.clock.Set(t0.Add(2*day + time.Minute))
	e.sweep(t, domain.RetentionSweep{Visitors: 1})
	e.wantVisitor(t, brief, briefToken, false)
	e.wantVisitor(t, usual, usualToken, true)

	// A site's new setting applies from the next sweep.
	if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "usual", Retention: domain.RetentionSettings{VisitorSeconds: 3600}},
		[]string{"retention.visitor_seconds"}); err != nil {
		t.Fatal(err)
	}
	e.sweep(t, domain.RetentionSweep{Visitors: 1})
	e.wantVisitor(t, usual, usualToken, false)

	// Back to the server's period: 10 days.
	if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "usual"}, []string{"retention"}); err != nil {
		t.Fatal(err)
	}
	later, laterToken := e.session(t, "usual")
	e.clock.Advance(9 * day)
	e.sweep(t, domain.RetentionSweep{})
	e.clock.Advance(day)
	e.sweep(t, domain.RetentionSweep{Visitors: 1})
	e.wantVisitor(t, later, laterToken, false)
}

func TestRetentionDeletesEndedChats(t *testing.T) {
	e := newEngine(t, withRetention(domain.Retention{Visitors: 30 * day}, 0))
	e.quietSite(t, "shop", domain.RetentionSettings{ChatSeconds: uint32(7 * day / time.Second)})
	e.quietSite(t, "keep", domain.RetentionSettings{}) // the server keeps chats
	e.agent(t, "agent-a", "Ada", 3, "shop", "keep")

	gone, goneToken := e.session(t, "shop")
	goneChat := e.chattedFromQueue(t, "agent-a", gone)
	back, backToken := e.session(t, "shop")
	backChat := e.chattedFromQueue(t, "agent-a", back)
	kept, keptToken := e.session(t, "keep")
	keptChat := e.chatted(t, "agent-a", kept)
	// A visitor in a chat that goes on for weeks.
	long, longToken := e.session(t, "shop")
	longPage, _ := e.page(t, long, home)
	defer longPage.stop()
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	longChat, err := e.svc.StartChat(ctx(t), "agent-a", long)
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(3 * day)
	recent, recentToken := e.session(t, "shop")
	recentChat := e.chatted(t, "agent-a", recent)
	e.clock.Advance(2 * day)
	e.visit(t, back) // back at day 5, without chatting
	for range 2 {    // to day 7
		e.clock.Advance(day)
		e.send(t, longChat.ID, long, "still there?") // not inactive
	}

	e.clock.Set(t0.Add(7*day + time.Hour))
	e.sweep(t, domain.RetentionSweep{Visitors: 1, Chats: 2})
	for _, c := range []*domain.Chat{goneChat, backChat} {
		if _, err := e.svc.GetChat(ctx(t), c.ID); domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("chat %s ended a week ago: %v, want deleted", c.ID, err)
		}
		if _, _, err := e.svc.ListChatEvents(ctx(t), c.ID, 0, 0); domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("events of chat %s: %v, want not found", c.ID, err)
		}
	}
	for _, c := range []*domain.Chat{keptChat, recentChat, longChat} {
		if events, _, err := e.svc.ListChatEvents(ctx(t), c.ID, 0, 0); err != nil || len(events) < 2 {
			t.Errorf("chat %s: %d events, %v; want kept", c.ID, len(events), err)
		}
	}
	err = e.store.View(ctx(t), func(tx domain.ReadTx) error {
		_, err := tx.ChatRequest(backChat.ChatRequestID)
		return err
	})
	if domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("request %s of deleted chat %s: %v, want deleted", backChat.ChatRequestID, backChat.ID, err)
	}
	for _, d := range e.decisions(t, "shop") {
		if d.ChatRequestID == backChat.ChatRequestID || d.ChatRequestID == goneChat.ChatRequestID {
			t.Errorf("routing decision about deleted request: %+v", d)
		}
	}
	e.wantVisitor(t, gone, goneToken, false) // owned nothing else
	e.wantVisitor(t, back, backToken, true)  // seen at day 5
	e.wantVisitor(t, kept, keptToken, true)  // its site keeps chats
	e.wantVisitor(t, recent, recentToken, true)
	e.wantVisitor(t, long, longToken, true)
	if x, err := e.svc.ExportVisitor(ctx(t), back); err != nil || len(x.Chats)+len(x.ChatRequests) != 0 {
		t.Errorf("visitor %s after their chat was deleted: %+v, %v; want no chat left", back, x, err)
	}

	// The visitor who came back owns no chat now: the visitor retention
	// counts from day 5. The recent chat ended at day 3, and its visitor
	// goes with it; the long chat ended as inactive at day 14, and its
	// visitor, online, stays.
	e.clock.Set(t0.Add(35*day + time.Hour))
	e.sweep(t, domain.RetentionSweep{Visitors: 2, Chats: 2})
	e.wantVisitor(t, back, backToken, false)
	e.wantVisitor(t, recent, recentToken, false)
	e.wantVisitor(t, long, longToken, true)
	if _, err := e.svc.GetChat(ctx(t), longChat.ID); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("chat %s, ended at day 14: %v, want deleted", longChat.ID, err)
	}
	e.wantVisitor(t, kept, keptToken, true)

	e.close()
	checkNoOrphans(t, e.path)
	e.start(t)
}

func TestRetentionSettingsValidation(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		name  string
		r     domain.RetentionSettings
		field string
	}{
		{"VisitorTooShort", domain.RetentionSettings{VisitorSeconds: 60}, "retention.visitor_seconds"},
		{"ChatTooLong", domain.RetentionSettings{ChatSeconds: 3651 * 86400}, "retention.chat_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop", Retention: tc.r})
			wantCode(t, err, domain.CodeInvalid)
			if got := violationFields(t, err); !slices.Equal(got, []string{tc.field}) {
				t.Errorf("violations name %q, want %q", got, tc.field)
			}
			id := "site-" + strings.ToLower(tc.name)
			e.site(t, id, domain.ProactiveChatSettings{})
			_, err = e.svc.UpdateSite(ctx(t), &domain.Site{ID: id, Retention: tc.r}, []string{tc.field})
			wantCode(t, err, domain.CodeInvalid)
			if got := violationFields(t, err); !slices.Equal(got, []string{tc.field}) {
				t.Errorf("violations name %q, want %q", got, tc.field)
			}
		})
	}
	site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop", Retention: domain.RetentionSettings{VisitorSeconds: 3600, ChatSeconds: 86400}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.GetSite(ctx(t), site.ID); err != nil || got.Retention != site.Retention {
		t.Errorf("stored retention = %+v, %v; want %+v", got.Retention, err, site.Retention)
	}
	for _, d := range []time.Duration{0, time.Hour, 3650 * day} {
		if err := domain.CheckRetention(d); err != nil {
			t.Errorf("CheckRetention(%s) = %v", d, err)
		}
	}
	for _, d := range []time.Duration{time.Minute, 3651 * day, -time.Hour} {
		if err := domain.CheckRetention(d); err == nil {
			t.Errorf("CheckRetention(%s) accepted it", d)
		}
	}
}

// checkNoOrphans reads the closed database at path and fails for every
// record or index entry that refers to a visitor, chat or chat request no
// longer stored: what deletion leaves dangling.
func checkNoOrphans(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		has := func(bucket string, key []byte) bool { return tx.Bucket([]byte(bucket)).Get(key) != nil }
		each := func(bucket string, f func(k, v []byte)) {
			tx.Bucket([]byte(bucket)).ForEach(func(k, v []byte) error { f(k, v); return nil })
		}
		before0 := func(k []byte) []byte {
			if i := bytes.IndexByte(k, 0); i >= 0 {
				return k[:i]
			}
			return k
		}
		orphan := func(bucket string, k []byte, what string) {
			t.Errorf("%s %q refers to %s, which is gone", bucket, k, what)
		}
		each("visitor_records", func(k, _ []byte) {
			if !has("visitors", before0(k)) {
				orphan("visitor_records", k, "its visitor")
			}
		})
		each("visitor_tokens", func(k, v []byte) {
			if !has("visitors", v) {
				orphan("visitor_tokens", k, "visitor "+string(v))
			}
		})
		each("chat_events", func(k, _ []byte) {
			if !has("chats", before0(k)) {
				orphan("chat_events", k, "its chat")
			}
		})
		each("active_chats", func(k, _ []byte) {
			if !has("chats", k) {
				orphan("active_chats", k, "its chat")
			}
		})
		// site_chats keys: site id, 0x00, 8 bytes of time, 0x00, chat id.
		indexed, chats := 0, 0
		each("site_chats", func(k, _ []byte) {
			indexed++
			if i := bytes.IndexByte(k, 0); i < 0 || len(k) < i+1+8+1 || !has("chats", k[i+1+8+1:]) {
				orphan("site_chats", k, "its chat")
			}
		})
		defer func() {
			if indexed != chats {
				t.Errorf("site_chats has %d entries for %d chats", indexed, chats)
			}
		}()
		each("chats", func(k, v []byte) {
			chats++
			var c pb.Chat
			if err := proto.Unmarshal(v, &c); err != nil {
				t.Fatal(err)
			}
			if !has("visitors", []byte(c.GetVisitor().GetId())) {
				orphan("chats", k, "visitor "+c.GetVisitor().GetId())
			}
		})
		each("invitations", func(k, v []byte) {
			var i pb.Invitation
			if err := proto.Unmarshal(v, &i); err != nil {
				t.Fatal(err)
			}
			if !has("visitors", []byte(i.GetVisitorId())) {
				orphan("invitations", k, "visitor "+i.GetVisitorId())
			}
		})
		each("pending_invitations", func(k, _ []byte) {
			if !has("invitations", k) {
				orphan("pending_invitations", k, "its invitation")
			}
		})
		each("chat_requests", func(k, v []byte) {
			var r pb.ChatRequest
			if err := proto.Unmarshal(v, &r); err != nil {
				t.Fatal(err)
			}
			if !has("visitors", []byte(r.GetVisitorId())) {
				orphan("chat_requests", k, "visitor "+r.GetVisitorId())
			}
			if id := r.GetChatId(); id != "" && !has("chats", []byte(id)) {
				orphan("chat_requests", k, "chat "+id)
			}
		})
		each("routing_decisions", func(k, v []byte) {
			var d pb.RoutingDecision
			if err := proto.Unmarshal(v, &d); err != nil {
				t.Fatal(err)
			}
			if !has("chat_requests", []byte(d.GetChatRequestId())) {
				orphan("routing_decisions", k, "request "+d.GetChatRequestId())
			}
		})
		var agents []*pb.Agent
		each("agents", func(_, v []byte) {
			var a pb.Agent
			if err := proto.Unmarshal(v, &a); err != nil {
				t.Fatal(err)
			}
			agents = append(agents, &a)
		})
		for _, a := range agents {
			for _, id := range a.GetActiveChatIds() {
				if !has("chats", []byte(id)) {
					orphan("agents", []byte(a.GetId()), "chat "+id)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
