package storetest

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// fixture is one record of most kinds, fully populated, stored by put.
type fixture struct {
	site       *domain.Site
	agent      *domain.Agent
	visitor    *domain.Visitor
	token      []byte
	chat       *domain.Chat
	events     []domain.ChatEvent
	note       domain.ChatNote
	whisper    domain.Whisper
	invitation *domain.Invitation
	request    *domain.ChatRequest
	decision   *domain.RoutingDecision
	canned     *domain.CannedReply
	offline    *domain.OfflineMessage
	apiKey     *domain.APIKey
	session    *domain.AgentSession
	webhook    *domain.Webhook
}

func newFixture() *fixture {
	f := &fixture{
		site:    newSite("site_1"),
		agent:   newAgent("agt_1", "site_1"),
		visitor: newVisitor("vis_1", "site_1"),
		token:   hashOf("visitor token"),
		chat:    newChat("chat_1", "site_1", "vis_1", "agt_1", 10),
	}
	f.agent.Login = "ada@example.com"
	f.agent.SupervisedSiteIDs = []string{"site_1"}
	f.agent.ActiveChatIDs = []string{"chat_1"}
	f.visitor.ActiveChatID = "chat_1"
	f.visitor.Engagement = domain.EngagementChatting
	f.visitor.InvitationID = "inv_1"
	f.visitor.Identity = domain.VisitorIdentity{Name: "Bo", Email: "bo@example.com"}
	f.chat.ChatRequestID = "req_1"
	f.chat.LastSeq = 2
	f.chat.Rating = &domain.Rating{Score: 4, Comment: "good", Time: at(30)}
	f.events = []domain.ChatEvent{
		started(f.chat),
		message("chat_1", 2, f.chat.Visitor, "k1"),
	}
	f.note = domain.ChatNote{ChatID: "chat_1", Seq: 1, Time: at(11), Author: f.chat.Agent, Text: "VIP"}
	f.whisper = domain.Whisper{ChatID: "chat_1", Seq: 1, Time: at(12), FromID: "agt_2", FromName: "Sup", Text: "offer 10%"}
	f.invitation = newInvitation("inv_1", "site_1", "vis_1", domain.InvitationAccepted)
	f.request = newRequest("req_1", "site_1", "vis_1", 8)
	f.request.State, f.request.ChatID, f.request.CloseTime = domain.RequestAccepted, "chat_1", at(10)
	f.request.AlertedAgentID, f.request.PassedAgentIDs = "agt_1", []string{"agt_2"}
	f.decision = &domain.RoutingDecision{ChatRequestID: "req_1", SiteID: "site_1", Time: at(9), AgentID: "agt_1", Reason: "longest idle"}
	f.canned = &domain.CannedReply{ID: "can_1", SiteID: "site_1", Shortcut: "hi", Title: "Hello", Text: "Hello there"}
	f.offline = newOffline("off_1", "site_1", "vis_1", 13)
	f.apiKey = &domain.APIKey{ID: "key_1", Name: "CI", CreateTime: at(14), Hash: hashOf("api key")}
	f.session = &domain.AgentSession{ID: "ses_1", AgentID: "agt_1", CreateTime: at(15), ExpireTime: at(9000), Hash: hashOf("session")}
	f.webhook = &domain.Webhook{ID: "wh_1", URL: "https://hooks.example/x", EventTypes: []domain.EventType{domain.EventChatStarted},
		SiteID: "site_1", Enabled: true, Secret: "whsec_1", CreateTime: at(16), After: 3}
	return f
}

func (f *fixture) put(tx domain.WriteTx) error {
	steps := []func() error{
		func() error { return tx.PutSite(f.site) },
		func() error { return tx.PutAgent(f.agent) },
		func() error { return tx.PutVisitor(f.visitor) },
		func() error { return tx.PutVisitorToken(f.token, f.visitor.ID) },
		func() error { return tx.PutChat(f.chat) },
		func() error { return tx.AppendChatEvent(f.events[0]) },
		func() error { return tx.AppendChatEvent(f.events[1]) },
		func() error { return tx.AppendChatNote(f.note) },
		func() error { return tx.AppendWhisper(f.whisper) },
		func() error { return tx.PutInvitation(f.invitation) },
		func() error { return tx.PutChatRequest(f.request) },
		func() error { return tx.AppendRoutingDecision(f.decision) },
		func() error { return tx.PutCannedReply(f.canned) },
		func() error { return tx.PutOfflineMessage(f.offline) },
		func() error { return tx.PutAPIKey(f.apiKey) },
		func() error { return tx.PutAgentSession(f.session) },
		func() error { return tx.PutAgentPasswordHash("agt_1", "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA") },
		func() error { return tx.PutSiteIdentitySecret("site_1", "identity secret") },
		func() error { return tx.PutWebhook(f.webhook) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// check fails t unless tx holds exactly what put stored.
func (f *fixture) check(t *testing.T, tx domain.ReadTx) {
	t.Helper()
	got := func(what string, v, want any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		equal(t, what, v, want)
	}
	v1, err := tx.Site("site_1")
	got("Site", v1, f.site, err)
	v2, err := tx.Sites()
	got("Sites", v2, []*domain.Site{f.site}, err)
	v3, err := tx.Agent("agt_1")
	got("Agent", v3, f.agent, err)
	v4, err := tx.Agents()
	got("Agents", v4, []*domain.Agent{f.agent}, err)
	v5, err := tx.AgentIDByLogin("ada@example.com")
	got("AgentIDByLogin", v5, "agt_1", err)
	v6, err := tx.Visitor("vis_1")
	got("Visitor", v6, f.visitor, err)
	v7, err := tx.VisitorByTokenHash(f.token)
	got("VisitorByTokenHash", v7, f.visitor, err)
	v8, err := tx.Chat("chat_1")
	got("Chat", v8, f.chat, err)
	v9, err := tx.ChatEvents("chat_1", 0, 100)
	got("ChatEvents", v9, f.events, err)
	seq, found, err := tx.MessageSeqByKey("chat_1", "vis_1", "k1")
	got("MessageSeqByKey", []any{seq, found}, []any{uint32(2), true}, err)
	v10, err := tx.ChatNotes("chat_1")
	got("ChatNotes", v10, []domain.ChatNote{f.note}, err)
	v11, err := tx.ChatWhispers("chat_1")
	got("ChatWhispers", v11, []domain.Whisper{f.whisper}, err)
	v12, err := tx.Invitation("inv_1")
	got("Invitation", v12, f.invitation, err)
	v13, err := tx.ChatRequest("req_1")
	got("ChatRequest", v13, f.request, err)
	v14, err := tx.RoutingDecisions("site_1", 10)
	got("RoutingDecisions", v14, []*domain.RoutingDecision{f.decision}, err)
	v15, err := tx.CannedReply("site_1", "can_1")
	got("CannedReply", v15, f.canned, err)
	v16, err := tx.CannedReplies("site_1")
	got("CannedReplies", v16, []*domain.CannedReply{f.canned}, err)
	v17, err := tx.OfflineMessage("off_1")
	got("OfflineMessage", v17, f.offline, err)
	v18, err := tx.SiteOfflineMessages("site_1")
	got("SiteOfflineMessages", v18, []*domain.OfflineMessage{f.offline}, err)
	v19, err := tx.VisitorOfflineMessages("vis_1")
	got("VisitorOfflineMessages", v19, []*domain.OfflineMessage{f.offline}, err)
	v20, err := tx.APIKeyByHash(f.apiKey.Hash)
	got("APIKeyByHash", v20, f.apiKey, err)
	v21, err := tx.APIKeys()
	got("APIKeys", v21, []*domain.APIKey{f.apiKey}, err)
	v22, err := tx.AgentSessionByHash(f.session.Hash)
	got("AgentSessionByHash", v22, f.session, err)
	v23, err := tx.AgentSessions("agt_1")
	got("AgentSessions", v23, []*domain.AgentSession{f.session}, err)
	v24, err := tx.AgentPasswordHash("agt_1")
	got("AgentPasswordHash", v24, "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", err)
	v25, err := tx.SiteIdentitySecret("site_1")
	got("SiteIdentitySecret", v25, "identity secret", err)
	v26, err := tx.Webhook("wh_1")
	got("Webhook", v26, f.webhook, err)
	v27, err := tx.Webhooks()
	got("Webhooks", v27, []*domain.Webhook{f.webhook}, err)
	chats, invs, reqs, err := tx.VisitorRecords("vis_1")
	got("VisitorRecords", [][]string{chats, invs, reqs}, [][]string{{"chat_1"}, {"inv_1"}, {"req_1"}}, err)
	v28, err := tx.ActiveChatIDs()
	got("ActiveChatIDs", v28, []string{"chat_1"}, err)
}

// testRecords: what is put reads back the same, from the writing
// transaction and from later snapshots.
func testRecords(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	f := newFixture()
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := f.put(tx); err != nil {
			return err
		}
		f.check(t, tx)
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error { f.check(t, tx); return nil })

	t.Run("PutReplaces", func(t *testing.T) {
		site := newSite("site_1")
		site.Name, site.AllowedOrigins = "Renamed", []string{"https://new.example"}
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutSite(site) })
		equal(t, "Site after a second Put", read(t, s, func(tx domain.ReadTx) (*domain.Site, error) { return tx.Site("site_1") }), site)
		equal(t, "Sites after a second Put", len(read(t, s, func(tx domain.ReadTx) ([]*domain.Site, error) { return tx.Sites() })), 1)
	})
}

// testNotFound: every getter of a record that does not exist fails with
// CodeNotFound.
func testNotFound(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	// Something of every kind exists, so that a getter that finds the
	// wrong record is noticed too.
	mustUpdate(t, s, newFixture().put)
	mustView(t, s, func(tx domain.ReadTx) error {
		getters := map[string]func() error{
			"Site":                        func() error { _, err := tx.Site("nope"); return err },
			"Agent":                       func() error { _, err := tx.Agent("nope"); return err },
			"AgentIDByLogin":              func() error { _, err := tx.AgentIDByLogin("nope@example.com"); return err },
			"AgentIDByLogin(\"\")":        func() error { _, err := tx.AgentIDByLogin(""); return err },
			"Visitor":                     func() error { _, err := tx.Visitor("nope"); return err },
			"VisitorByTokenHash":          func() error { _, err := tx.VisitorByTokenHash(hashOf("nope")); return err },
			"Chat":                        func() error { _, err := tx.Chat("nope"); return err },
			"Invitation":                  func() error { _, err := tx.Invitation("nope"); return err },
			"ChatRequest":                 func() error { _, err := tx.ChatRequest("nope"); return err },
			"CannedReply":                 func() error { _, err := tx.CannedReply("site_1", "nope"); return err },
			"CannedReply of another site": func() error { _, err := tx.CannedReply("site_2", "can_1"); return err },
			"OfflineMessage":              func() error { _, err := tx.OfflineMessage("nope"); return err },
			"APIKeyByHash":                func() error { _, err := tx.APIKeyByHash(hashOf("nope")); return err },
			"AgentSessionByHash":          func() error { _, err := tx.AgentSessionByHash(hashOf("nope")); return err },
			"AgentPasswordHash":           func() error { _, err := tx.AgentPasswordHash("agt_2"); return err },
			"SiteIdentitySecret":          func() error { _, err := tx.SiteIdentitySecret("site_2"); return err },
			"Webhook":                     func() error { _, err := tx.Webhook("nope"); return err },
		}
		for name, get := range getters {
			wantCode(t, name, get(), domain.CodeNotFound)
		}
		// Lists of nothing are empty, not errors.
		events, err := tx.ChatEvents("nope", 0, 10)
		if err != nil || len(events) != 0 {
			t.Errorf("ChatEvents of an unknown chat: %v, %v", events, err)
		}
		seq, found, err := tx.MessageSeqByKey("chat_1", "vis_1", "nope")
		if err != nil || found || seq != 0 {
			t.Errorf("MessageSeqByKey of an unused key: %d, %v, %v", seq, found, err)
		}
		chats, invs, reqs, err := tx.VisitorRecords("nope")
		if err != nil || len(chats)+len(invs)+len(reqs) != 0 {
			t.Errorf("VisitorRecords of an unknown visitor: %v %v %v, %v", chats, invs, reqs, err)
		}
		return nil
	})
}

// testCopies: changing a returned value changes nothing stored, nor what
// other readers get.
func testCopies(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	f := newFixture()
	mustUpdate(t, s, f.put)
	// Read twice and spoil the first copies, inside the writer too: a
	// store that hands out shared memory (a cache) fails here.
	spoil := func(tx domain.ReadTx) error {
		site, err := tx.Site("site_1")
		if err != nil {
			return err
		}
		site.Name, site.AllowedOrigins[0], site.ProactiveChat.FormFields[0].Key = "x", "x", "x"
		agent, err := tx.Agent("agt_1")
		if err != nil {
			return err
		}
		agent.SiteIDs[0], agent.ActiveChatIDs[0], agent.SupervisedSiteIDs[0] = "x", "x", "x"
		agents, err := tx.Agents()
		if err != nil {
			return err
		}
		agents[0].SiteIDs[0], agents[0].DisplayName = "x", "x"
		req, err := tx.ChatRequest("req_1")
		if err != nil {
			return err
		}
		req.FormValues["email"], req.PassedAgentIDs[0] = "x", "x"
		chat, err := tx.Chat("chat_1")
		if err != nil {
			return err
		}
		chat.Rating.Score = 1
		events, err := tx.ChatEvents("chat_1", 0, 0)
		if err != nil {
			return err
		}
		events[1].Message.Text = "x"
		wh, err := tx.Webhook("wh_1")
		if err != nil {
			return err
		}
		wh.EventTypes[0] = "x"
		key, err := tx.APIKeyByHash(f.apiKey.Hash)
		if err != nil {
			return err
		}
		key.Hash[0] ^= 0xff
		return nil
	}
	mustView(t, s, spoil)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := spoil(tx); err != nil {
			return err
		}
		f.check(t, tx)
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error { f.check(t, tx); return nil })

	t.Run("PutKeepsNoReference", func(t *testing.T) {
		// Changing a record after putting it changes nothing stored.
		s := open(t)
		site := newSite("site_1")
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			err := tx.PutSite(site)
			site.AllowedOrigins[0] = "changed"
			return err
		})
		got := read(t, s, func(tx domain.ReadTx) (*domain.Site, error) { return tx.Site("site_1") })
		equal(t, "origins of a site changed after PutSite", got.AllowedOrigins, []string{"https://site_1.example"})
	})
}

// testReadOwnWrites: a WriteTx reads its own writes, deletes included,
// before it commits; and earlier Updates' writes after.
func testReadOwnWrites(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.PutSite(newSite("site_1")); err != nil {
			return err
		}
		if _, err := tx.Site("site_1"); err != nil {
			t.Errorf("Site after PutSite in the same transaction: %v", err)
		}
		if err := tx.PutAPIKey(&domain.APIKey{ID: "k", Hash: hashOf("k"), CreateTime: at(1)}); err != nil {
			return err
		}
		if err := tx.DeleteAPIKey(hashOf("k")); err != nil {
			return err
		}
		_, err := tx.APIKeyByHash(hashOf("k"))
		wantCode(t, "APIKeyByHash after DeleteAPIKey in the same transaction", err, domain.CodeNotFound)
		return nil
	})
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if _, err := tx.Site("site_1"); err != nil {
			t.Errorf("Site written by an earlier Update: %v", err)
		}
		return nil
	})
}

// testAgentLogins: PutAgent keeps the login index: compared by LoginKey,
// moved when the login changes, dropped when it is cleared.
func testAgentLogins(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	a := newAgent("agt_1")
	a.Login = "Ada@Example.com"
	b := newAgent("agt_2")
	b.Login = "bob"
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.PutAgent(a); err != nil {
			return err
		}
		return tx.PutAgent(b)
	})
	login := func(l string) (string, error) {
		var id string
		err := s.View(bg, func(tx domain.ReadTx) (err error) { id, err = tx.AgentIDByLogin(l); return err })
		return id, err
	}
	for _, l := range []string{"ada@example.com", " ADA@EXAMPLE.COM "} {
		if id, err := login(l); err != nil || id != "agt_1" {
			t.Errorf("AgentIDByLogin(%q) = %q, %v; want agt_1", l, id, err)
		}
	}
	a.Login = "ada2"
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutAgent(a) })
	_, err := login("ada@example.com")
	wantCode(t, "old login after a change", err, domain.CodeNotFound)
	if id, err := login("ADA2"); err != nil || id != "agt_1" {
		t.Errorf("new login: %q, %v", id, err)
	}
	if id, err := login("bob"); err != nil || id != "agt_2" {
		t.Errorf("another agent's login: %q, %v", id, err)
	}
	a.Login = ""
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutAgent(a) })
	_, err = login("ada2")
	wantCode(t, "login after it was cleared", err, domain.CodeNotFound)
}

// testVisitorTokens: a token finds its visitor, several tokens may find
// one visitor, and a token whose visitor is gone finds nothing.
func testVisitorTokens(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, v := range []string{"vis_1", "vis_2"} {
			if err := tx.PutVisitor(newVisitor(v, "site_1")); err != nil {
				return err
			}
		}
		for tok, v := range map[string]string{"a": "vis_1", "b": "vis_1", "c": "vis_2"} {
			if err := tx.PutVisitorToken(hashOf(tok), v); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		for tok, want := range map[string]string{"a": "vis_1", "b": "vis_1", "c": "vis_2"} {
			v, err := tx.VisitorByTokenHash(hashOf(tok))
			if err != nil || v.ID != want {
				t.Errorf("VisitorByTokenHash(%s): %v, %v; want %s", tok, v, err, want)
			}
		}
		return nil
	})
	// Token b moves to vis_2 (a visitor signed in again elsewhere):
	// erasing vis_1 must not take it.
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutVisitorToken(hashOf("b"), "vis_2") })
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_1") })
	mustView(t, s, func(tx domain.ReadTx) error {
		if v, err := tx.VisitorByTokenHash(hashOf("b")); err != nil || v.ID != "vis_2" {
			t.Errorf("a token moved to another visitor, after EraseVisitor of the first: %v, %v", v, err)
		}
		for _, tok := range []string{"a"} {
			_, err := tx.VisitorByTokenHash(hashOf(tok))
			wantCode(t, "token of an erased visitor", err, domain.CodeNotFound)
		}
		if v, err := tx.VisitorByTokenHash(hashOf("c")); err != nil || v.ID != "vis_2" {
			t.Errorf("another visitor's token after EraseVisitor: %v, %v", v, err)
		}
		return nil
	})
}
