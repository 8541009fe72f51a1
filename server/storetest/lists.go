package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// testChatEvents: events come back in Seq order after afterSeq, up to
// limit (none when limit <= 0), and AppendChatEvent accepts only the next
// Seq.
func testChatEvents(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	c := newChat("chat_1", "site_1", "vis_1", "agt_1", 10)
	other := newChat("chat_10", "site_1", "vis_2", "agt_1", 11) // shares a prefix with chat_1
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, ch := range []*domain.Chat{c, other} {
			if err := tx.PutChat(ch); err != nil {
				return err
			}
			if err := tx.AppendChatEvent(started(ch)); err != nil {
				return err
			}
		}
		for seq := uint32(2); seq <= 12; seq++ {
			if err := tx.AppendChatEvent(message("chat_1", seq, c.Visitor, "")); err != nil {
				return err
			}
		}
		return tx.AppendChatEvent(message("chat_10", 2, other.Visitor, ""))
	})
	cases := []struct {
		after uint32
		limit int
		want  []uint32
	}{
		{0, 100, seqRange(1, 12)},
		{0, 0, seqRange(1, 12)},
		{0, -1, seqRange(1, 12)},
		{0, 5, seqRange(1, 5)},
		{5, 3, seqRange(6, 8)},
		{11, 10, seqRange(12, 12)},
		{12, 10, seqRange(13, 12)},
		{1 << 31, 10, seqRange(13, 12)},
		{^uint32(0), 10, seqRange(13, 12)},
	}
	mustView(t, s, func(tx domain.ReadTx) error {
		for _, tc := range cases {
			events, err := tx.ChatEvents("chat_1", tc.after, tc.limit)
			if err != nil {
				t.Errorf("ChatEvents(after %d, limit %d): %v", tc.after, tc.limit, err)
				continue
			}
			equal(t, fmt.Sprintf("ChatEvents(after %d, limit %d)", tc.after, tc.limit), seqsOf(events, eventSeq), tc.want)
			for _, ev := range events {
				if ev.ChatID != "chat_1" {
					t.Errorf("ChatEvents of chat_1 returned an event of %s", ev.ChatID)
				}
			}
		}
		return nil
	})

	t.Run("SeqRules", func(t *testing.T) {
		bad := []struct {
			name string
			ev   domain.ChatEvent
		}{
			{"Gap", message("chat_1", 14, c.Visitor, "")},
			{"Repeat", message("chat_1", 12, c.Visitor, "")},
			{"Zero", message("chat_1", 0, c.Visitor, "")},
			{"FirstNotOne", message("chat_new", 2, c.Visitor, "")},
			{"NoKind", domain.ChatEvent{ChatID: "chat_1", Seq: 13, Time: at(1)}},
			{"TwoKinds", domain.ChatEvent{ChatID: "chat_1", Seq: 13, Time: at(1),
				Message: &domain.ChatMessage{Sender: c.Visitor, Text: "x"}, Ended: &domain.ChatEnded{Reason: domain.EndBothLeft}}},
		}
		for _, b := range bad {
			err := s.Update(bg, func(tx domain.WriteTx) error { return tx.AppendChatEvent(b.ev) })
			if err == nil {
				t.Errorf("%s: AppendChatEvent(seq %d) accepted", b.name, b.ev.Seq)
			}
		}
		// None of them left anything.
		events := read(t, s, func(tx domain.ReadTx) ([]domain.ChatEvent, error) { return tx.ChatEvents("chat_1", 0, 0) })
		equal(t, "events after refused appends", seqsOf(events, eventSeq), seqRange(1, 12))
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.AppendChatEvent(message("chat_1", 13, c.Visitor, "")) })
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(started(newChat("chat_new", "site_1", "v", "a", 1)))
		})
	})
}

// testMessageKeys: a message with an idempotency key is found by its chat,
// sender and key, in the writing transaction and after; the same sender may
// not use a key twice in a chat; other senders and chats may.
func testMessageKeys(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	c := newChat("chat_1", "site_1", "vis_1", "agt_1", 10)
	d := newChat("chat_2", "site_1", "vis_2", "agt_1", 11)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, ch := range []*domain.Chat{c, d} {
			if err := tx.PutChat(ch); err != nil {
				return err
			}
			if err := tx.AppendChatEvent(started(ch)); err != nil {
				return err
			}
		}
		if err := tx.AppendChatEvent(message("chat_1", 2, c.Visitor, "k1")); err != nil {
			return err
		}
		seq, found, err := tx.MessageSeqByKey("chat_1", "vis_1", "k1")
		if err != nil || !found || seq != 2 {
			t.Errorf("MessageSeqByKey in the writing transaction: %d, %v, %v", seq, found, err)
		}
		if err := tx.AppendChatEvent(message("chat_1", 3, c.Agent, "k1")); err != nil {
			return fmt.Errorf("another sender's same key: %w", err)
		}
		if err := tx.AppendChatEvent(message("chat_2", 2, d.Visitor, "k1")); err != nil {
			return fmt.Errorf("the same key in another chat: %w", err)
		}
		return tx.AppendChatEvent(message("chat_1", 4, c.Visitor, ""))
	})
	err := s.Update(bg, func(tx domain.WriteTx) error { return tx.AppendChatEvent(message("chat_1", 5, c.Visitor, "k1")) })
	if err == nil {
		t.Error("a sender's key used twice in a chat was accepted")
	}
	mustView(t, s, func(tx domain.ReadTx) error {
		for _, tc := range []struct {
			chat, sender, key string
			seq               uint32
			found             bool
		}{
			{"chat_1", "vis_1", "k1", 2, true},
			{"chat_1", "agt_1", "k1", 3, true},
			{"chat_2", "vis_2", "k1", 2, true},
			{"chat_2", "vis_1", "k1", 0, false},
			{"chat_1", "vis_1", "k2", 0, false},
			{"chat_1", "vis_1", "", 0, false},
		} {
			seq, found, err := tx.MessageSeqByKey(tc.chat, tc.sender, tc.key)
			if err != nil || found != tc.found || seq != tc.seq {
				t.Errorf("MessageSeqByKey(%s, %s, %q) = %d, %v, %v; want %d, %v", tc.chat, tc.sender, tc.key, seq, found, err, tc.seq, tc.found)
			}
		}
		return nil
	})
	// The index outlives the chat's end: a retry after it is still found.
	ended := *c
	ended.State, ended.EndTime = domain.ChatStateEnded, at(50)
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutChat(&ended) })
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		seq, found, err := tx.MessageSeqByKey("chat_1", "vis_1", "k1")
		if err != nil || !found || seq != 2 {
			t.Errorf("MessageSeqByKey after the chat ended: %d, %v, %v", seq, found, err)
		}
		return nil
	})
}

// testNotesAndWhispers: notes and whispers have their own sequences, read
// back in Seq order; only the next Seq is accepted.
func testNotesAndWhispers(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	a := agentP("agt_1")
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for seq := uint32(1); seq <= 3; seq++ {
			if err := tx.AppendChatNote(domain.ChatNote{ChatID: "chat_1", Seq: seq, Time: at(int(seq)), Author: a, Text: "n"}); err != nil {
				return err
			}
			if err := tx.AppendWhisper(domain.Whisper{ChatID: "chat_1", Seq: seq, Time: at(int(seq)), FromID: "agt_2", Text: "w"}); err != nil {
				return err
			}
		}
		return tx.AppendChatNote(domain.ChatNote{ChatID: "chat_10", Seq: 1, Time: at(1), Author: a, Text: "other"})
	})
	for _, seq := range []uint32{0, 3, 5} {
		if err := s.Update(bg, func(tx domain.WriteTx) error {
			return tx.AppendChatNote(domain.ChatNote{ChatID: "chat_1", Seq: seq, Time: at(9), Author: a, Text: "bad"})
		}); err == nil {
			t.Errorf("AppendChatNote with seq %d after 3 accepted", seq)
		}
		if err := s.Update(bg, func(tx domain.WriteTx) error {
			return tx.AppendWhisper(domain.Whisper{ChatID: "chat_1", Seq: seq, Time: at(9), FromID: "agt_2", Text: "bad"})
		}); err == nil {
			t.Errorf("AppendWhisper with seq %d after 3 accepted", seq)
		}
	}
	mustView(t, s, func(tx domain.ReadTx) error {
		notes, err := tx.ChatNotes("chat_1")
		if err != nil {
			return err
		}
		equal(t, "ChatNotes", seqsOf(notes, func(n domain.ChatNote) uint32 { return n.Seq }), seqRange(1, 3))
		whispers, err := tx.ChatWhispers("chat_1")
		if err != nil {
			return err
		}
		equal(t, "ChatWhispers", seqsOf(whispers, func(w domain.Whisper) uint32 { return w.Seq }), seqRange(1, 3))
		return nil
	})
}

// testActiveChats: ActiveChatIDs follows each chat's state.
func testActiveChats(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	chats := []*domain.Chat{
		newChat("chat_1", "site_1", "v1", "a", 1),
		newChat("chat_2", "site_1", "v2", "a", 2),
		newChat("chat_3", "site_2", "v3", "a", 3),
	}
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, c := range chats {
			if err := tx.PutChat(c); err != nil {
				return err
			}
		}
		return nil
	})
	active := func() []string {
		return sorted(read(t, s, func(tx domain.ReadTx) ([]string, error) { return tx.ActiveChatIDs() }))
	}
	equal(t, "ActiveChatIDs", active(), []string{"chat_1", "chat_2", "chat_3"})
	chats[1].State, chats[1].EndTime = domain.ChatStateEnded, at(9)
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutChat(chats[1]) })
	equal(t, "ActiveChatIDs after one ended", active(), []string{"chat_1", "chat_3"})
}

// testSiteChats: a site's chats newest first (by CreateTime, then ID, as
// ChatPosition orders them), paged by position.
func testSiteChats(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		// Created in an order unlike both id and time order; two at one instant.
		for _, c := range []*domain.Chat{
			newChat("chat_b", "site_1", "v", "a", 5),
			newChat("chat_a", "site_1", "v", "a", 9),
			newChat("chat_d", "site_1", "v", "a", 1),
			newChat("chat_c", "site_1", "v", "a", 5),
			newChat("chat_x", "site_10", "v", "a", 7),
		} {
			if err := tx.PutChat(c); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(after domain.ChatPosition, limit int) []string {
		ps := read(t, s, func(tx domain.ReadTx) ([]domain.ChatPosition, error) { return tx.SiteChats("site_1", after, limit) })
		return ids(ps, func(p domain.ChatPosition) string { return p.ID })
	}
	newestFirst := list(domain.ChatPosition{}, 10)
	if len(newestFirst) != 4 || newestFirst[0] != "chat_a" || newestFirst[3] != "chat_d" {
		t.Fatalf("SiteChats = %v, want chat_a, then chat_b and chat_c (same time), then chat_d", newestFirst)
	}
	// Paging from each position gives the rest of the same list.
	ps := read(t, s, func(tx domain.ReadTx) ([]domain.ChatPosition, error) {
		return tx.SiteChats("site_1", domain.ChatPosition{}, 10)
	})
	for i, p := range ps {
		if p.CreateTime.IsZero() {
			t.Errorf("position %d has no CreateTime", i)
		}
		equal(t, fmt.Sprintf("SiteChats after %s", p.ID), list(p, 10), append([]string{}, newestFirst[i+1:]...))
	}
	equal(t, "SiteChats with limit 2", list(domain.ChatPosition{}, 2), newestFirst[:2])
}

// testPendingInvitations: PendingInvitations follows each invitation's
// state.
func testPendingInvitations(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for i, st := range []domain.InvitationState{domain.InvitationPending, domain.InvitationPending, domain.InvitationDeclined} {
			if err := tx.PutInvitation(newInvitation(fmt.Sprintf("inv_%d", i), "site_1", fmt.Sprintf("v%d", i), st)); err != nil {
				return err
			}
		}
		return nil
	})
	pending := func() []string {
		invs := read(t, s, func(tx domain.ReadTx) ([]*domain.Invitation, error) { return tx.PendingInvitations() })
		return sorted(ids(invs, func(i *domain.Invitation) string { return i.ID }))
	}
	equal(t, "PendingInvitations", pending(), []string{"inv_0", "inv_1"})
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		return tx.PutInvitation(newInvitation("inv_0", "site_1", "v0", domain.InvitationExpired))
	})
	equal(t, "PendingInvitations after one expired", pending(), []string{"inv_1"})
}

// testQueue: the open-requests index kept by PutChatRequest, and what is
// read from it: OpenChatRequests in FIFO order, QueuedChatRequests,
// AlertCounts and QueuePosition.
func testQueue(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	reqs := map[string]*domain.ChatRequest{
		// Enqueued at 5, 3, 3 (id breaks the tie), 9 on site_1; one on site_2.
		"req_b": newRequest("req_b", "site_1", "v1", 5),
		"req_d": newRequest("req_d", "site_1", "v2", 3),
		"req_c": newRequest("req_c", "site_1", "v3", 3),
		"req_a": newRequest("req_a", "site_1", "v4", 9),
		"req_e": newRequest("req_e", "site_2", "v5", 4),
		// site_10 shares a prefix with site_1: its requests are not site_1's.
		"req_f": newRequest("req_f", "site_10", "v6", 1),
	}
	put := func(rs ...*domain.ChatRequest) {
		t.Helper()
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			for _, r := range rs {
				if err := tx.PutChatRequest(r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	put(reqs["req_b"], reqs["req_d"], reqs["req_c"], reqs["req_a"], reqs["req_e"], reqs["req_f"])
	reqID := func(r *domain.ChatRequest) string { return r.ID }
	openIDs := func(site string) []string {
		return ids(read(t, s, func(tx domain.ReadTx) ([]*domain.ChatRequest, error) { return tx.OpenChatRequests(site) }), reqID)
	}
	queuedIDs := func(site string) []string {
		return ids(read(t, s, func(tx domain.ReadTx) ([]*domain.ChatRequest, error) { return tx.QueuedChatRequests(site) }), reqID)
	}
	position := func(id string) int {
		return read(t, s, func(tx domain.ReadTx) (int, error) {
			r, err := tx.ChatRequest(id)
			if err != nil {
				return 0, err
			}
			return tx.QueuePosition(r)
		})
	}
	counts := func() map[string]int {
		return read(t, s, func(tx domain.ReadTx) (map[string]int, error) {
			return tx.AlertCounts([]string{"agt_1", "agt_2", "agt_3"})
		})
	}
	equal(t, "OpenChatRequests", openIDs("site_1"), []string{"req_c", "req_d", "req_b", "req_a"})
	equal(t, "OpenChatRequests of every site", openIDs(""), []string{"req_f", "req_c", "req_d", "req_e", "req_b", "req_a"})
	equal(t, "QueuedChatRequests", queuedIDs("site_1"), []string{"req_c", "req_d", "req_b", "req_a"})
	for id, want := range map[string]int{"req_c": 1, "req_d": 2, "req_b": 3, "req_a": 4, "req_e": 1, "req_f": 1} {
		equal(t, "QueuePosition of "+id, position(id), want)
	}
	equal(t, "AlertCounts with no alerts", counts(), map[string]int{})

	// Alerts: req_d and req_e alert agt_1, req_a agt_2.
	put(alerting(reqs["req_d"], "agt_1", 40), alerting(reqs["req_e"], "agt_1", 40), alerting(reqs["req_a"], "agt_2", 40))
	equal(t, "OpenChatRequests with alerts", openIDs("site_1"), []string{"req_c", "req_d", "req_b", "req_a"})
	equal(t, "QueuedChatRequests with alerts", queuedIDs("site_1"), []string{"req_c", "req_b"})
	equal(t, "AlertCounts", counts(), map[string]int{"agt_1": 2, "agt_2": 1})
	equal(t, "QueuePosition of an alerting request", position("req_a"), 4)

	// The alert passes from agt_1 to agt_2; req_c is accepted, req_e abandoned.
	accepted := *reqs["req_c"]
	accepted.State, accepted.ChatID, accepted.CloseTime = domain.RequestAccepted, "chat_1", at(50)
	abandoned := *alerting(reqs["req_e"], "agt_1", 40)
	abandoned.State, abandoned.CloseTime = domain.RequestAbandoned, at(50)
	put(alerting(reqs["req_d"], "agt_2", 60), &accepted, &abandoned)
	equal(t, "OpenChatRequests after accept", openIDs("site_1"), []string{"req_d", "req_b", "req_a"})
	equal(t, "OpenChatRequests of site_2 after abandon", openIDs("site_2"), []string{})
	equal(t, "AlertCounts after the changes", counts(), map[string]int{"agt_2": 2})
	equal(t, "QueuePosition of a closed request", position("req_c"), 0)
	equal(t, "QueuePosition after the head was accepted", position("req_d"), 1)

	// A request enqueued again later goes to the back.
	requeued := *alerting(reqs["req_d"], "agt_2", 60)
	requeued.State, requeued.AlertedAgentID, requeued.AlertDeadline, requeued.EnqueueTime = domain.RequestQueued, "", time.Time{}, at(99)
	put(&requeued)
	equal(t, "OpenChatRequests after re-enqueue", openIDs("site_1"), []string{"req_b", "req_a", "req_d"})
	equal(t, "AlertCounts after re-enqueue", counts(), map[string]int{"agt_2": 1})
}

// testRoutingDecisions: a site's decisions newest first, the latest 1000
// kept.
func testRoutingDecisions(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	const n = 1005
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for i := 1; i <= n; i++ {
			for _, site := range []string{"site_1", "site_10"} {
				d := &domain.RoutingDecision{ChatRequestID: fmt.Sprintf("req_%d", i), SiteID: site, Time: at(i), AgentID: "agt_1", Reason: "r"}
				if err := tx.AppendRoutingDecision(d); err != nil {
					return err
				}
			}
		}
		return nil
	})
	got := read(t, s, func(tx domain.ReadTx) ([]*domain.RoutingDecision, error) { return tx.RoutingDecisions("site_1", 3) })
	equal(t, "RoutingDecisions(limit 3)", ids(got, func(d *domain.RoutingDecision) string { return d.ChatRequestID }),
		[]string{fmt.Sprint("req_", n), fmt.Sprint("req_", n-1), fmt.Sprint("req_", n-2)})
	all := read(t, s, func(tx domain.ReadTx) ([]*domain.RoutingDecision, error) { return tx.RoutingDecisions("site_1", 5000) })
	if len(all) != 1000 || all[999].ChatRequestID != fmt.Sprint("req_", n-999) {
		t.Errorf("RoutingDecisions kept %d, the oldest %v; want the latest 1000", len(all), all[len(all)-1])
	}
	for _, d := range all {
		if d.SiteID != "site_1" {
			t.Fatalf("RoutingDecisions of site_1 returned one of %s", d.SiteID)
		}
	}
}

// testCannedReplies: a site's replies, each deletable; other sites' stay.
func testCannedReplies(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, c := range []*domain.CannedReply{
			{ID: "c1", SiteID: "site_1", Shortcut: "a", Text: "A"},
			{ID: "c2", SiteID: "site_1", Shortcut: "b", Text: "B"},
			{ID: "c1", SiteID: "site_10", Shortcut: "a", Text: "other site"},
		} {
			if err := tx.PutCannedReply(c); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.DeleteCannedReply("site_1", "c1") })
	mustView(t, s, func(tx domain.ReadTx) error {
		list, err := tx.CannedReplies("site_1")
		if err != nil {
			return err
		}
		equal(t, "CannedReplies after a delete", sorted(ids(list, func(c *domain.CannedReply) string { return c.ID })), []string{"c2"})
		_, err = tx.CannedReply("site_1", "c1")
		wantCode(t, "deleted reply", err, domain.CodeNotFound)
		other, err := tx.CannedReply("site_10", "c1")
		if err != nil || other.Text != "other site" {
			t.Errorf("another site's reply with the same id: %v, %v", other, err)
		}
		return nil
	})
}

// testOfflineMessages: newest first per site (by CreateTime, ties in id
// order), in id
// order per visitor; a changed message moves nowhere.
func testOfflineMessages(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, m := range []*domain.OfflineMessage{
			newOffline("off_b", "site_1", "v1", 5),
			newOffline("off_a", "site_1", "v2", 9),
			newOffline("off_d", "site_1", "v1", 5),
			newOffline("off_c", "site_1", "v1", 1),
			newOffline("off_e", "site_10", "v1", 7),
		} {
			if err := tx.PutOfflineMessage(m); err != nil {
				return err
			}
		}
		return nil
	})
	handled := newOffline("off_b", "site_1", "v1", 5)
	handled.State, handled.HandledBy, handled.HandledTime = domain.OfflineMessageHandled, "agt_1", at(60)
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutOfflineMessage(handled) })
	offID := func(m *domain.OfflineMessage) string { return m.ID }
	site := read(t, s, func(tx domain.ReadTx) ([]*domain.OfflineMessage, error) { return tx.SiteOfflineMessages("site_1") })
	equal(t, "SiteOfflineMessages", ids(site, offID), []string{"off_a", "off_b", "off_d", "off_c"})
	equal(t, "handled message as listed", site[1], handled)
	visitor := read(t, s, func(tx domain.ReadTx) ([]*domain.OfflineMessage, error) { return tx.VisitorOfflineMessages("v1") })
	equal(t, "VisitorOfflineMessages", ids(visitor, offID), []string{"off_b", "off_c", "off_d", "off_e"})
}

// testCredentials: API keys in hash order, an agent's sessions, deletes.
func testCredentials(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	var keys []*domain.APIKey
	for i := range 5 {
		keys = append(keys, &domain.APIKey{ID: fmt.Sprint("key_", i), Name: "k", CreateTime: at(i), Hash: hashOf(fmt.Sprint("key ", i))})
	}
	sessions := []*domain.AgentSession{
		{ID: "s1", AgentID: "agt_1", CreateTime: at(1), ExpireTime: at(2), Hash: hashOf("s1")}, // expired: still listed
		{ID: "s2", AgentID: "agt_1", CreateTime: at(3), ExpireTime: at(9000), Hash: hashOf("s2")},
		{ID: "s3", AgentID: "agt_2", CreateTime: at(3), ExpireTime: at(9000), Hash: hashOf("s3")},
	}
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, k := range keys {
			if err := tx.PutAPIKey(k); err != nil {
				return err
			}
		}
		for _, ses := range sessions {
			if err := tx.PutAgentSession(ses); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.DeleteAPIKey(keys[2].Hash); err != nil {
			return err
		}
		return tx.DeleteAgentSession(sessions[1].Hash)
	})
	mustView(t, s, func(tx domain.ReadTx) error {
		list, err := tx.APIKeys()
		if err != nil {
			return err
		}
		var hashes []string
		for _, k := range list {
			hashes = append(hashes, string(k.Hash))
		}
		var want []string
		for i, k := range keys {
			if i != 2 {
				want = append(want, string(k.Hash))
			}
		}
		equal(t, "APIKeys in hash order", hashes, sorted(want))
		ses, err := tx.AgentSessions("agt_1")
		if err != nil {
			return err
		}
		equal(t, "AgentSessions after a delete", ids(ses, func(s *domain.AgentSession) string { return s.ID }), []string{"s1"})
		_, err = tx.AgentSessionByHash(sessions[1].Hash)
		wantCode(t, "deleted session", err, domain.CodeNotFound)
		return nil
	})
}

// testRatings: counters per UTC day, summed over [from's day, to's day],
// per site, per agent, and per agent on a site.
func testRatings(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 30, 0, 0, time.UTC) }
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, r := range []struct {
			site, agent string
			t           time.Time
			score       uint32
		}{
			{"site_1", "agt_1", day(1, 23), 5},
			{"site_1", "agt_1", day(2, 0), 4},
			{"site_1", "agt_2", day(2, 12), 4},
			{"site_2", "agt_1", day(2, 13), 1},
			{"site_1", "agt_1", day(4, 1), 3},
		} {
			if err := tx.CountRating(r.site, r.agent, r.t, r.score); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(bg, func(tx domain.WriteTx) error { return tx.CountRating("site_1", "agt_1", day(2, 0), 6) }); err == nil {
		t.Error("CountRating with score 6 accepted")
	}
	for _, tc := range []struct {
		site, agent string
		from, to    time.Time
		want        domain.RatingCounts
	}{
		{"site_1", "", day(1, 0), day(4, 0), domain.RatingCounts{0, 0, 1, 2, 1}},
		{"site_1", "", day(2, 23), day(3, 0), domain.RatingCounts{0, 0, 0, 2, 0}},
		{"", "agt_1", day(1, 0), day(4, 0), domain.RatingCounts{1, 0, 1, 1, 1}},
		{"site_1", "agt_1", day(1, 0), day(2, 0), domain.RatingCounts{0, 0, 0, 1, 1}},
		{"site_2", "", day(5, 0), day(9, 0), domain.RatingCounts{}},
	} {
		got := read(t, s, func(tx domain.ReadTx) (domain.RatingCounts, error) {
			return tx.RatingCounts(tc.site, tc.agent, tc.from, tc.to)
		})
		equal(t, fmt.Sprintf("RatingCounts(%q, %q, %s, %s)", tc.site, tc.agent, tc.from, tc.to), got, tc.want)
	}
}

// testFunnel: counters per UTC hour, summed by slot over the hours
// beginning in [from, to).
func testFunnel(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	hour := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.UTC) }
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, a := range []struct {
			t     time.Time
			slots []int
		}{
			{hour(9, 59), []int{0}},
			{hour(10, 0), []int{0, 2}},
			{hour(10, 30), []int{2}},
			{hour(11, 59), []int{5}},
			{hour(12, 0), []int{0}},
		} {
			if err := tx.AddFunnel("site_1", a.t, a.slots); err != nil {
				return err
			}
		}
		return tx.AddFunnel("site_10", hour(10, 0), []int{0, 1})
	})
	get := func(from, to time.Time) domain.FunnelCounters {
		return read(t, s, func(tx domain.ReadTx) (domain.FunnelCounters, error) { return tx.FunnelCounters("site_1", from, to) })
	}
	sum := func(c domain.FunnelCounters, n int) []uint64 {
		out := make([]uint64, n)
		for i := range min(n, len(c)) {
			out[i] = c[i]
		}
		for i := n; i < len(c); i++ {
			if c[i] != 0 {
				t.Errorf("funnel slot %d counts %d, want 0", i, c[i])
			}
		}
		return out
	}
	equal(t, "FunnelCounters of 10:00-12:00", sum(get(hour(10, 0), hour(12, 0)), 6), []uint64{1, 0, 2, 0, 0, 1})
	equal(t, "FunnelCounters of 9:00-13:00", sum(get(hour(9, 0), hour(13, 0)), 6), []uint64{3, 0, 2, 0, 0, 1})
	equal(t, "FunnelCounters of 13:00-14:00", sum(get(hour(13, 0), hour(14, 0)), 6), []uint64{0, 0, 0, 0, 0, 0})
}

// testVisitors: every visitor, in id order, in pages after an id.
func testVisitors(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	var want []string
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, i := range []int{3, 1, 4, 0, 2} {
			if err := tx.PutVisitor(newVisitor(fmt.Sprint("vis_", i), "site_1")); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range 5 {
		want = append(want, fmt.Sprint("vis_", i))
	}
	list := func(after string, limit int) []string {
		vs := read(t, s, func(tx domain.ReadTx) ([]*domain.Visitor, error) { return tx.Visitors(after, limit) })
		return ids(vs, func(v *domain.Visitor) string { return v.ID })
	}
	equal(t, "Visitors(all)", list("", 0), want)
	equal(t, "Visitors(all, -1)", list("", -1), want)
	equal(t, "Visitors(first 2)", list("", 2), want[:2])
	equal(t, "Visitors(after vis_1, 2)", list("vis_1", 2), want[2:4])
	equal(t, "Visitors(after vis_15)", list("vis_15", 0), want[2:])
	equal(t, "Visitors(after the last)", list("vis_4", 0), []string{})
}

// testIDOrder: sites, agents and webhooks are listed in id order, whatever
// order they were written in.
func testIDOrder(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	order := []string{"x_3", "x_1", "x_20", "x_2", "x_10"}
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, id := range order {
			if err := tx.PutSite(newSite(id)); err != nil {
				return err
			}
			if err := tx.PutAgent(newAgent(id)); err != nil {
				return err
			}
			if err := tx.PutWebhook(&domain.Webhook{ID: id, URL: "https://hooks.example/" + id, CreateTime: at(1)}); err != nil {
				return err
			}
		}
		return nil
	})
	want := sorted(order)
	mustView(t, s, func(tx domain.ReadTx) error {
		sites, err := tx.Sites()
		if err != nil {
			return err
		}
		equal(t, "Sites", ids(sites, func(s *domain.Site) string { return s.ID }), want)
		agents, err := tx.Agents()
		if err != nil {
			return err
		}
		equal(t, "Agents", ids(agents, func(a *domain.Agent) string { return a.ID }), want)
		whs, err := tx.Webhooks()
		if err != nil {
			return err
		}
		equal(t, "Webhooks", ids(whs, func(w *domain.Webhook) string { return w.ID }), want)
		return nil
	})
}
