package bolt_test

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func at(n int) time.Time {
	return time.Date(2026, 11, 24, 10, 0, n, 1000+n, time.UTC)
}

func siteID(i int) string { return fmt.Sprintf("site_%04d", i) }

// fixture is one record of every kind, fully populated.
type fixture struct {
	site    *domain.Site
	agent   *domain.Agent
	visitor *domain.Visitor
	token   []byte
	chat    *domain.Chat
	events  []domain.ChatEvent
	// The invitation is pending and the request open, so they are indexed.
	invitation *domain.Invitation
	request    *domain.ChatRequest
	decision   *domain.RoutingDecision
}

func newFixture() *fixture {
	vis := domain.Participant{Role: domain.RoleVisitor, ID: "vis_1", DisplayName: "Visitor"}
	agt := domain.Participant{Role: domain.RoleAgent, ID: "agt_1", DisplayName: "Ada"}
	left := vis
	token := sha256.Sum256([]byte("secret token"))
	return &fixture{
		site: &domain.Site{
			ID:             "site_1",
			Name:           "Shop",
			AllowedOrigins: []string{"https://shop.example"},
			ProactiveChat: domain.ProactiveChatSettings{
				Enabled:            true,
				Mode:               domain.ModeWithInvite,
				LaunchAfterSeconds: 30,
				InviteText:         "Can we help?",
				FormFields: []domain.FormField{
					{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true, MaxLength: 254},
				},
			},
			CreateTime: at(1),
			UpdateTime: at(2),
		},
		agent: &domain.Agent{
			ID:                 "agt_1",
			DisplayName:        "Ada",
			SiteIDs:            []string{"site_1"},
			MaxConcurrentChats: 3,
			Status:             domain.StatusAvailable,
			StatusChangeTime:   at(3),
			ActiveChatIDs:      []string{"chat_1"},
			CreateTime:         at(4),
			LastChatEndTime:    at(5),
		},
		visitor: &domain.Visitor{
			ID:           "vis_1",
			SiteID:       "site_1",
			CreateTime:   at(6),
			CurrentPage:  domain.PageView{URL: "https://shop.example/", Title: "Home", ViewTime: at(7)},
			ActiveChatID: "chat_1",
			// The last engagement value, so that one stored as a smaller
			// number is noticed.
			Engagement:     domain.EngagementAlerting,
			InvitationID:   "inv_1",
			ChatRequestID:  "req_1",
			DeclineTime:    at(16),
			VisitStartTime: at(17),
			VisitEndTime:   at(18),
			LastLaunchTime: at(19),
		},
		token: token[:],
		chat: &domain.Chat{
			ID:                  "chat_1",
			SiteID:              "site_1",
			Visitor:             vis,
			Agent:               agt,
			State:               domain.ChatStateEnded,
			EndReason:           domain.EndInactive,
			CreateTime:          at(8),
			EndTime:             at(9),
			LastSeq:             5,
			VisitorLeftTime:     at(10),
			AgentLeftTime:       at(11),
			ChatRequestID:       "req_0",
			LastActivityTime:    at(20),
			VisitorMessageCount: 1,
		},
		events: []domain.ChatEvent{
			{ChatID: "chat_1", Seq: 1, Time: at(12), Started: &domain.ChatStarted{Visitor: vis, Agent: agt}},
			{ChatID: "chat_1", Seq: 2, Time: at(13), Message: &domain.ChatMessage{Sender: vis, Text: "Hi", IdempotencyKey: "k1"}},
			{ChatID: "chat_1", Seq: 3, Time: at(14), InactivityWarning: &domain.InactivityWarning{EndTime: at(21)}},
			{ChatID: "chat_1", Seq: 4, Time: at(15), ParticipantLeft: &left},
			{ChatID: "chat_1", Seq: 5, Time: at(21), Ended: &domain.ChatEnded{Reason: domain.EndInactive}},
		},
		invitation: &domain.Invitation{
			ID:               "inv_1",
			SiteID:           "site_1",
			VisitorID:        "vis_1",
			State:            domain.InvitationPending,
			Text:             "Can we help?",
			CreateTime:       at(22),
			ExpireTime:       at(23),
			RespondTime:      at(24),
			InvitedByAgentID: "agt_1",
		},
		request: &domain.ChatRequest{
			ID:             "req_1",
			SiteID:         "site_1",
			VisitorID:      "vis_1",
			Kind:           domain.RequestInvited,
			State:          domain.RequestAlerting,
			FormValues:     map[string]string{"email": "bo@example.com"},
			EnqueueTime:    at(25),
			AlertedAgentID: "agt_1",
			AlertDeadline:  at(26),
			PassedAgentIDs: []string{"agt_2"},
			CloseTime:      at(27),
			PageURL:        "https://shop.example/",
			PageTitle:      "Home",
			VisitStartTime: at(17),
			HoldUntil:      at(28),
			AlertReason:    "longest idle",
		},
		decision: &domain.RoutingDecision{
			ChatRequestID: "req_1",
			SiteID:        "site_1",
			Time:          at(29),
			AgentID:       "agt_1",
			Reason:        "longest idle",
		},
	}
}

func (f *fixture) put(tx domain.WriteTx) error {
	if err := tx.PutSite(f.site); err != nil {
		return err
	}
	if err := tx.PutAgent(f.agent); err != nil {
		return err
	}
	if err := tx.PutVisitor(f.visitor); err != nil {
		return err
	}
	if err := tx.PutVisitorToken(f.token, f.visitor.ID); err != nil {
		return err
	}
	if err := tx.PutChat(f.chat); err != nil {
		return err
	}
	for _, ev := range f.events {
		if err := tx.AppendChatEvent(ev); err != nil {
			return err
		}
	}
	if err := tx.PutInvitation(f.invitation); err != nil {
		return err
	}
	if err := tx.PutChatRequest(f.request); err != nil {
		return err
	}
	return tx.AppendRoutingDecision(f.decision)
}

// check fails unless tx holds exactly what put stored.
func (f *fixture) check(t *testing.T, tx domain.ReadTx) {
	t.Helper()
	equal := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	site, err := tx.Site(f.site.ID)
	equal("Site", site, f.site, err)
	sites, err := tx.Sites()
	equal("Sites", sites, []*domain.Site{f.site}, err)
	agent, err := tx.Agent(f.agent.ID)
	equal("Agent", agent, f.agent, err)
	agents, err := tx.Agents()
	equal("Agents", agents, []*domain.Agent{f.agent}, err)
	visitor, err := tx.Visitor(f.visitor.ID)
	equal("Visitor", visitor, f.visitor, err)
	visitor, err = tx.VisitorByTokenHash(f.token)
	equal("VisitorByTokenHash", visitor, f.visitor, err)
	chat, err := tx.Chat(f.chat.ID)
	equal("Chat", chat, f.chat, err)
	events, err := tx.ChatEvents(f.chat.ID, 0, 100)
	equal("ChatEvents", events, f.events, err)
	seq, found, err := tx.MessageSeqByKey(f.chat.ID, "vis_1", "k1")
	equal("MessageSeqByKey", []any{seq, found}, []any{uint32(2), true}, err)
	invitation, err := tx.Invitation(f.invitation.ID)
	equal("Invitation", invitation, f.invitation, err)
	var pending []*domain.Invitation
	if f.invitation.State == domain.InvitationPending {
		pending = append(pending, f.invitation)
	}
	invitations, err := tx.PendingInvitations()
	equal("PendingInvitations", invitations, pending, err)
	request, err := tx.ChatRequest(f.request.ID)
	equal("ChatRequest", request, f.request, err)
	var open []*domain.ChatRequest
	if f.request.Open() {
		open = append(open, f.request)
	}
	requests, err := tx.OpenChatRequests(f.site.ID)
	equal("OpenChatRequests", requests, open, err)
	requests, err = tx.OpenChatRequests("")
	equal("OpenChatRequests of all sites", requests, open, err)
	decisions, err := tx.RoutingDecisions(f.site.ID, 10)
	equal("RoutingDecisions", decisions, []*domain.RoutingDecision{f.decision}, err)
}

func TestRecords(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := MustOpen(t)
		f := newFixture()
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			if err := f.put(tx); err != nil {
				return err
			}
			f.check(t, tx) // a write transaction reads its own writes
			return nil
		})
		MustView(t, s, func(tx domain.ReadTx) error { f.check(t, tx); return nil })
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := MustOpen(t)
		f := newFixture()
		MustUpdate(t, s, f.put)
		f.site.Name, f.agent.Status, f.visitor.ActiveChatID, f.chat.LastSeq = "Renamed", domain.StatusAway, "", 6
		f.invitation.State, f.request.State, f.request.ChatID = domain.InvitationAccepted, domain.RequestAccepted, "chat_1"
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			for _, err := range []error{tx.PutSite(f.site), tx.PutAgent(f.agent), tx.PutVisitor(f.visitor), tx.PutChat(f.chat),
				tx.PutInvitation(f.invitation), tx.PutChatRequest(f.request)} {
				if err != nil {
					return err
				}
			}
			return nil
		})
		MustView(t, s, func(tx domain.ReadTx) error { f.check(t, tx); return nil })
	})

	t.Run("ListsInIDOrder", func(t *testing.T) {
		s := MustOpen(t)
		ids := []string{"b", "c", "a"}
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			for _, id := range ids {
				if err := tx.PutSite(&domain.Site{ID: id}); err != nil {
					return err
				}
				if err := tx.PutAgent(&domain.Agent{ID: id}); err != nil {
					return err
				}
			}
			return nil
		})
		MustView(t, s, func(tx domain.ReadTx) error {
			sites, err := tx.Sites()
			if err != nil {
				return err
			}
			agents, err := tx.Agents()
			if err != nil {
				return err
			}
			for i, want := range []string{"a", "b", "c"} {
				if sites[i].ID != want || agents[i].ID != want {
					t.Errorf("item %d: site %q, agent %q, want %q", i, sites[i].ID, agents[i].ID, want)
				}
			}
			return nil
		})
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		s := MustOpen(t)
		MustView(t, s, func(tx domain.ReadTx) error {
			_, siteErr := tx.Site("x")
			_, agentErr := tx.Agent("x")
			_, visitorErr := tx.Visitor("x")
			_, tokenErr := tx.VisitorByTokenHash([]byte("x"))
			_, chatErr := tx.Chat("x")
			_, invitationErr := tx.Invitation("x")
			_, requestErr := tx.ChatRequest("x")
			for _, tc := range []struct {
				err  error
				want string
			}{
				{siteErr, `site "x" not found`},
				{agentErr, `agent "x" not found`},
				{visitorErr, `visitor "x" not found`},
				{tokenErr, `visitor session not found`},
				{chatErr, `chat "x" not found`},
				{invitationErr, `invitation "x" not found`},
				{requestErr, `chat request "x" not found`},
			} {
				if domain.ErrorCode(tc.err) != domain.CodeNotFound || tc.err.Error() != tc.want {
					t.Errorf("got %v (%s), want %q (not_found)", tc.err, domain.ErrorCode(tc.err), tc.want)
				}
			}
			return nil
		})
	})

	t.Run("ErrTokenOfMissingVisitor", func(t *testing.T) {
		s := MustOpen(t)
		MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutVisitorToken([]byte("h"), "gone") })
		MustView(t, s, func(tx domain.ReadTx) error {
			if _, err := tx.VisitorByTokenHash([]byte("h")); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Errorf("got %v, want not found", err)
			}
			return nil
		})
	})

	t.Run("ErrIDRequired", func(t *testing.T) {
		s := MustOpen(t)
		for name, fn := range map[string]func(domain.WriteTx) error{
			"PutSite":              func(tx domain.WriteTx) error { return tx.PutSite(&domain.Site{}) },
			"PutSiteNil":           func(tx domain.WriteTx) error { return tx.PutSite(nil) },
			"PutAgent":             func(tx domain.WriteTx) error { return tx.PutAgent(&domain.Agent{}) },
			"PutVisitor":           func(tx domain.WriteTx) error { return tx.PutVisitor(&domain.Visitor{}) },
			"PutChat":              func(tx domain.WriteTx) error { return tx.PutChat(&domain.Chat{}) },
			"PutChatNUL":           func(tx domain.WriteTx) error { return tx.PutChat(&domain.Chat{ID: "c\x00"}) },
			"PutVisitorToken":      func(tx domain.WriteTx) error { return tx.PutVisitorToken(nil, "v") },
			"PutInvitation":        func(tx domain.WriteTx) error { return tx.PutInvitation(&domain.Invitation{}) },
			"PutInvitationNil":     func(tx domain.WriteTx) error { return tx.PutInvitation(nil) },
			"PutChatRequest":       func(tx domain.WriteTx) error { return tx.PutChatRequest(&domain.ChatRequest{SiteID: "s"}) },
			"PutChatRequestNoSite": func(tx domain.WriteTx) error { return tx.PutChatRequest(&domain.ChatRequest{ID: "r"}) },
			"PutChatRequestNULSite": func(tx domain.WriteTx) error {
				return tx.PutChatRequest(&domain.ChatRequest{ID: "r", SiteID: "s\x00"})
			},
			"PutChatRequestNil":        func(tx domain.WriteTx) error { return tx.PutChatRequest(nil) },
			"AppendRoutingDecision":    func(tx domain.WriteTx) error { return tx.AppendRoutingDecision(&domain.RoutingDecision{}) },
			"AppendRoutingDecisionNil": func(tx domain.WriteTx) error { return tx.AppendRoutingDecision(nil) },
		} {
			if err := s.Update(t.Context(), fn); err == nil {
				t.Errorf("%s succeeded", name)
			}
		}
	})
}

// appendMessages appends n messages to chatID after its current last event.
func appendMessages(tx domain.WriteTx, chatID string, n int) error {
	last, err := tx.ChatEvents(chatID, 0, 0)
	if err != nil {
		return err
	}
	for i := range n {
		seq := uint32(len(last) + 1 + i)
		ev := domain.ChatEvent{ChatID: chatID, Seq: seq, Message: &domain.ChatMessage{Text: fmt.Sprint(seq)}}
		if err := tx.AppendChatEvent(ev); err != nil {
			return err
		}
	}
	return nil
}

func seqs(events []domain.ChatEvent) []uint32 {
	var out []uint32
	for _, ev := range events {
		out = append(out, ev.Seq)
	}
	return out
}

func seqRange(from, to uint32) []uint32 {
	var out []uint32
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestChatEvents(t *testing.T) {
	s := MustOpen(t)
	// 300 events cross a byte boundary of the big-endian seq; "c1" is a
	// prefix of "c10", and "c" of both.
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for id, n := range map[string]int{"c": 2, "c1": 300, "c10": 3, "c2": 1} {
			if err := appendMessages(tx, id, n); err != nil {
				return err
			}
		}
		return nil
	})

	for _, tc := range []struct {
		name     string
		chatID   string
		afterSeq uint32
		limit    int
		want     []uint32
	}{
		{"FirstPage", "c1", 0, 10, seqRange(1, 10)},
		{"NextPage", "c1", 10, 10, seqRange(11, 20)},
		{"AcrossByte", "c1", 250, 10, seqRange(251, 260)},
		{"LastPage", "c1", 295, 10, seqRange(296, 300)},
		{"AfterLast", "c1", 300, 10, nil},
		{"AfterMax", "c1", ^uint32(0), 10, nil},
		{"NoLimit", "c1", 0, 0, seqRange(1, 300)},
		{"OtherChat", "c10", 0, 100, seqRange(1, 3)},
		{"ShortID", "c", 0, 100, seqRange(1, 2)},
		{"LastChat", "c2", 0, 100, seqRange(1, 1)},
		{"NoEvents", "c3", 0, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			MustView(t, s, func(tx domain.ReadTx) error {
				events, err := tx.ChatEvents(tc.chatID, tc.afterSeq, tc.limit)
				if err != nil {
					return err
				}
				if got := seqs(events); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("seqs %v, want %v", got, tc.want)
				}
				for _, ev := range events {
					if ev.ChatID != tc.chatID || ev.Message.Text != fmt.Sprint(ev.Seq) {
						t.Errorf("event %+v does not belong to chat %q", ev, tc.chatID)
					}
				}
				return nil
			})
		})
	}

	t.Run("ErrNUL", func(t *testing.T) {
		MustView(t, s, func(tx domain.ReadTx) error {
			if _, err := tx.ChatEvents("c1\x00", 0, 10); domain.ErrorCode(err) != domain.CodeInvalid {
				t.Errorf("got %v, want invalid argument", err)
			}
			return nil
		})
	})
}

func TestAppendChatEvent(t *testing.T) {
	msg := func(seq uint32) domain.ChatEvent {
		return domain.ChatEvent{ChatID: "c1", Seq: seq, Message: &domain.ChatMessage{Text: "x"}}
	}
	for _, tc := range []struct {
		name string
		ev   domain.ChatEvent
	}{
		{"ErrGap", msg(5)},
		{"ErrDuplicate", msg(2)},
		{"ErrZero", msg(0)},
		{"ErrNoKind", domain.ChatEvent{ChatID: "c1", Seq: 4}},
		{"ErrTwoKinds", domain.ChatEvent{ChatID: "c1", Seq: 4, Message: &domain.ChatMessage{}, Ended: &domain.ChatEnded{}}},
		{"ErrNoChatID", domain.ChatEvent{Seq: 1, Message: &domain.ChatMessage{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpen(t)
			MustUpdate(t, s, func(tx domain.WriteTx) error { return appendMessages(tx, "c1", 2) })
			err := s.Update(t.Context(), func(tx domain.WriteTx) error {
				if err := tx.AppendChatEvent(msg(3)); err != nil { // valid, but undone with the rest
					return err
				}
				return tx.AppendChatEvent(tc.ev)
			})
			if err == nil {
				t.Fatal("AppendChatEvent succeeded")
			}
			MustView(t, s, func(tx domain.ReadTx) error {
				events, err := tx.ChatEvents("c1", 0, 0)
				if got := seqs(events); !reflect.DeepEqual(got, seqRange(1, 2)) {
					t.Errorf("seqs %v after failed append, want [1 2]", got)
				}
				return err
			})
		})
	}

	t.Run("OK", func(t *testing.T) {
		s := MustOpen(t)
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			for seq := uint32(1); seq <= 3; seq++ {
				if err := tx.AppendChatEvent(msg(seq)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func TestMessageSeqByKey(t *testing.T) {
	alice := domain.Participant{Role: domain.RoleVisitor, ID: "alice"}
	bob := domain.Participant{Role: domain.RoleAgent, ID: "bob"}
	msg := func(chatID string, seq uint32, from domain.Participant, key string) domain.ChatEvent {
		return domain.ChatEvent{ChatID: chatID, Seq: seq, Message: &domain.ChatMessage{Sender: from, Text: "x", IdempotencyKey: key}}
	}
	s := MustOpen(t)
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, ev := range []domain.ChatEvent{
			msg("c1", 1, alice, "k1"),
			msg("c1", 2, bob, "k1"),
			msg("c1", 3, alice, ""),
			msg("c1", 4, alice, "k2"),
			msg("c10", 1, alice, "k3"),
		} {
			if err := tx.AppendChatEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})

	for _, tc := range []struct {
		name, chatID, senderID, key string
		seq                         uint32
		found                       bool
	}{
		{"OK", "c1", "alice", "k1", 1, true},
		{"OtherSender", "c1", "bob", "k1", 2, true},
		{"Later", "c1", "alice", "k2", 4, true},
		{"OtherChat", "c10", "alice", "k3", 1, true},
		{"NotInOtherChat", "c1", "alice", "k3", 0, false},
		{"UnknownSender", "c1", "carol", "k1", 0, false},
		{"EmptyKeyNotIndexed", "c1", "alice", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			MustView(t, s, func(tx domain.ReadTx) error {
				seq, found, err := tx.MessageSeqByKey(tc.chatID, tc.senderID, tc.key)
				if seq != tc.seq || found != tc.found {
					t.Errorf("got %d, %v; want %d, %v", seq, found, tc.seq, tc.found)
				}
				return err
			})
		})
	}

	t.Run("ErrKeyReused", func(t *testing.T) {
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(msg("c1", 5, alice, "k1"))
		})
		if err == nil {
			t.Fatal("reusing an idempotency key succeeded")
		}
	})
}
