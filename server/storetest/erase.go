package storetest

import (
	"fmt"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// testEventLog: AppendEvent assigns dense positions and ids in order; Events
// reads them in position order after a position; DeleteEventsBefore trims
// the head and never makes a position be assigned again.
func testEventLog(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	if got := read(t, s, func(tx domain.ReadTx) (uint64, error) { return tx.LastEventPosition(), nil }); got != 0 {
		t.Fatalf("LastEventPosition of an empty log = %d", got)
	}
	var appended []*domain.Event
	for batch := range 3 {
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			appended = appended[:batch*4] // fn may run more than once
			for i := range 4 {
				ev := newEvent(domain.EventVisitorPageViewed, "site_1", "vis_1", batch*4+i)
				if err := tx.AppendEvent(ev); err != nil {
					return err
				}
				appended = append(appended, ev)
			}
			if got := tx.LastEventPosition(); got != appended[len(appended)-1].Position {
				t.Errorf("LastEventPosition in the writing transaction = %d, want %d", got, appended[len(appended)-1].Position)
			}
			return nil
		})
	}
	for i, ev := range appended {
		if ev.Position != uint64(i+1) || ev.ID != domain.EventID(ev.Position) {
			t.Fatalf("event %d got position %d, id %q; want %d, %q", i, ev.Position, ev.ID, i+1, domain.EventID(uint64(i+1)))
		}
	}
	positions := func(after uint64, limit int) []uint64 {
		evs := read(t, s, func(tx domain.ReadTx) ([]*domain.Event, error) { return tx.Events(after, limit) })
		out := []uint64{}
		for _, ev := range evs {
			out = append(out, ev.Position)
		}
		return out
	}
	span := func(from, to uint64) []uint64 {
		out := []uint64{}
		for p := from; p <= to; p++ {
			out = append(out, p)
		}
		return out
	}
	equal(t, "Events(0, all)", positions(0, 0), span(1, 12))
	equal(t, "Events(3, 4)", positions(3, 4), span(4, 7))
	equal(t, "Events(12, 4)", positions(12, 4), span(13, 12))
	equal(t, "Events(max, 4)", positions(^uint64(0), 4), span(13, 12))
	equal(t, "stored event", read(t, s, func(tx domain.ReadTx) ([]*domain.Event, error) { return tx.Events(4, 1) })[0], appended[4])

	// Events at(0) to at(11): those before at(5) go, five at most, and the
	// log stays a contiguous tail.
	n := 0
	mustUpdate(t, s, func(tx domain.WriteTx) (err error) { n, err = tx.DeleteEventsBefore(at(5), 3); return err })
	equal(t, "DeleteEventsBefore with limit 3", n, 3)
	mustUpdate(t, s, func(tx domain.WriteTx) (err error) { n, err = tx.DeleteEventsBefore(at(5), 0); return err })
	equal(t, "DeleteEventsBefore the rest", n, 2)
	equal(t, "Events after trimming", positions(0, 0), span(6, 12))
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for range 12 {
			if _, err := tx.DeleteEventsBefore(at(1000), 0); err != nil {
				return err
			}
		}
		return nil
	})
	equal(t, "LastEventPosition of an emptied log", read(t, s, func(tx domain.ReadTx) (uint64, error) { return tx.LastEventPosition(), nil }), uint64(12))
	ev := newEvent(domain.EventAgentStatusChanged, "site_1", "", 50)
	ev.AgentID, ev.Status = "agt_1", domain.StatusAway
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.AppendEvent(ev) })
	equal(t, "position after the log was emptied", ev.Position, uint64(13))

	t.Run("FailedUpdateAssignsNone", func(t *testing.T) {
		err := s.Update(bg, func(tx domain.WriteTx) error {
			if err := tx.AppendEvent(newEvent(domain.EventVisitorArrived, "site_1", "vis_1", 60)); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("Update: %v", err)
		}
		ev := newEvent(domain.EventVisitorArrived, "site_1", "vis_1", 61)
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.AppendEvent(ev) })
		equal(t, "position after a failed Update", ev.Position, uint64(14))
	})

	t.Run("UnknownType", func(t *testing.T) {
		if err := s.Update(bg, func(tx domain.WriteTx) error {
			return tx.AppendEvent(&domain.Event{Type: "no.such", Time: at(1)})
		}); err == nil {
			t.Error("AppendEvent of an unknown type accepted")
		}
	})
}

// testWebhooks: endpoints, their deliveries newest first, and
// DeleteWebhook taking the deliveries along.
func testWebhooks(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, id := range []string{"wh_1", "wh_10"} {
			if err := tx.PutWebhook(&domain.Webhook{ID: id, URL: "https://hooks.example/" + id, Enabled: true, CreateTime: at(1)}); err != nil {
				return err
			}
			for i := 1; i <= 5; i++ {
				if err := tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: id, EventID: fmt.Sprint("ev_", i),
					EventPosition: uint64(i), Time: at(i), Attempt: 1, StatusCode: 200, Success: true}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	got := read(t, s, func(tx domain.ReadTx) ([]*domain.WebhookDelivery, error) { return tx.WebhookDeliveries("wh_1", 3) })
	equal(t, "WebhookDeliveries newest first", ids(got, func(d *domain.WebhookDelivery) string { return d.EventID }), []string{"ev_5", "ev_4", "ev_3"})
	for _, d := range got {
		if d.WebhookID != "wh_1" {
			t.Errorf("delivery of %s listed for wh_1", d.WebhookID)
		}
	}
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.DeleteWebhook("wh_1") })
	mustView(t, s, func(tx domain.ReadTx) error {
		_, err := tx.Webhook("wh_1")
		wantCode(t, "deleted webhook", err, domain.CodeNotFound)
		ds, err := tx.WebhookDeliveries("wh_1", 10)
		if err != nil || len(ds) != 0 {
			t.Errorf("deliveries of a deleted webhook: %v, %v", ds, err)
		}
		ds, err = tx.WebhookDeliveries("wh_10", 10)
		if err != nil || len(ds) != 5 {
			t.Errorf("deliveries of another webhook after a delete: %d, %v", len(ds), err)
		}
		whs, err := tx.Webhooks()
		equal(t, "Webhooks after a delete", ids(whs, func(w *domain.Webhook) string { return w.ID }), []string{"wh_10"})
		return err
	})
}

// visitorWorld is everything the store can hold about one visitor, and the
// log positions of the events naming them.
type visitorWorld struct {
	visitor, site, agent string
	chat, request, inv   string
	offline              string
	token                []byte
	positions            []uint64
}

// putVisitorWorld stores a visitor with a chat (events, a note, a whisper, a
// keyed message, a rating), the request it answered, an open request, an
// invitation, a routing decision, an offline message, a token and log
// events.
func putVisitorWorld(tx domain.WriteTx, v, site string) (*visitorWorld, error) {
	w := &visitorWorld{visitor: v, site: site, agent: "agt_1", chat: "chat_" + v, request: "req_" + v, inv: "inv_" + v,
		offline: "off_" + v, token: hashOf("token " + v)}
	c := newChat(w.chat, site, v, w.agent, 10)
	c.ChatRequestID = w.request
	req := newRequest(w.request, site, v, 8)
	req.State, req.ChatID, req.CloseTime = domain.RequestAccepted, w.chat, at(10)
	open := alerting(newRequest(w.request+"_open", site, v, 20), w.agent, 40)
	logEvent := func(ev *domain.Event) error {
		if err := tx.AppendEvent(ev); err != nil {
			return err
		}
		w.positions = append(w.positions, ev.Position)
		return nil
	}
	queued := newEvent(domain.EventRequestQueued, site, v, 8)
	queued.RequestID, queued.FormValues = w.request, req.FormValues
	chatStarted := newEvent(domain.EventChatStarted, site, v, 10)
	chatStarted.ChatID, chatStarted.Seq = w.chat, 1
	msg := newEvent(domain.EventChatMessage, site, v, 11)
	msg.ChatID, msg.Seq, msg.Text, msg.Participant = w.chat, 2, "my address is …", c.Visitor
	steps := []func() error{
		func() error { return tx.PutVisitor(newVisitor(v, site)) },
		func() error { return tx.PutVisitorToken(w.token, v) },
		func() error { return logEvent(newEvent(domain.EventVisitorArrived, site, v, 5)) },
		func() error { return tx.PutInvitation(newInvitation(w.inv, site, v, domain.InvitationPending)) },
		func() error { return logEvent(queued) },
		func() error { return tx.PutChatRequest(req) },
		func() error {
			return tx.AppendRoutingDecision(&domain.RoutingDecision{ChatRequestID: w.request, SiteID: site, Time: at(9), AgentID: w.agent, Reason: "r"})
		},
		func() error { return tx.PutChatRequest(open) },
		func() error {
			return tx.AppendRoutingDecision(&domain.RoutingDecision{ChatRequestID: open.ID, SiteID: site, Time: at(21), AgentID: w.agent, Reason: "r"})
		},
		func() error { return tx.PutChat(c) },
		func() error { return logEvent(chatStarted) },
		func() error {
			ev := started(c)
			ev.LogPosition = chatStarted.Position
			return tx.AppendChatEvent(ev)
		},
		func() error { return logEvent(msg) },
		func() error {
			ev := message(w.chat, 2, c.Visitor, "key")
			ev.LogPosition = msg.Position
			return tx.AppendChatEvent(ev)
		},
		func() error {
			return tx.AppendChatNote(domain.ChatNote{ChatID: w.chat, Seq: 1, Time: at(12), Author: c.Agent, Text: "note"})
		},
		func() error {
			return tx.AppendWhisper(domain.Whisper{ChatID: w.chat, Seq: 1, Time: at(12), FromID: "sup", Text: "w"})
		},
		func() error { return tx.PutOfflineMessage(newOffline(w.offline, site, v, 13)) },
		func() error {
			// The rating's comment is the visitor's words about the chat:
			// it goes with the chat.
			rated := newEvent(domain.EventChatRated, site, v, 14)
			rated.ChatID, rated.AgentID, rated.Score, rated.Text = w.chat, w.agent, 2, "slow answers"
			return logEvent(rated)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// gone fails t unless nothing of w is left but what keep says.
func (w *visitorWorld) gone(t *testing.T, tx domain.ReadTx, visitorKept bool) {
	t.Helper()
	nf := func(what string, err error) {
		t.Helper()
		wantCode(t, what+" of "+w.visitor, err, domain.CodeNotFound)
	}
	_, err := tx.Chat(w.chat)
	nf("Chat", err)
	_, err = tx.ChatRequest(w.request)
	nf("ChatRequest answered by the chat", err)
	events, err := tx.ChatEvents(w.chat, 0, 0)
	if err != nil || len(events) != 0 {
		t.Errorf("ChatEvents of a deleted chat: %d, %v", len(events), err)
	}
	notes, err := tx.ChatNotes(w.chat)
	if err != nil || len(notes) != 0 {
		t.Errorf("ChatNotes of a deleted chat: %d, %v", len(notes), err)
	}
	whispers, err := tx.ChatWhispers(w.chat)
	if err != nil || len(whispers) != 0 {
		t.Errorf("ChatWhispers of a deleted chat: %d, %v", len(whispers), err)
	}
	if _, found, err := tx.MessageSeqByKey(w.chat, w.visitor, "key"); err != nil || found {
		t.Errorf("MessageSeqByKey of a deleted chat: %v, %v", found, err)
	}
	ids, err := tx.ActiveChatIDs()
	for _, id := range ids {
		if id == w.chat {
			t.Errorf("ActiveChatIDs lists deleted chat %s", id)
		}
	}
	if err != nil {
		t.Error(err)
	}
	ps, err := tx.SiteChats(w.site, domain.ChatPosition{}, 100)
	for _, p := range ps {
		if p.ID == w.chat {
			t.Errorf("SiteChats lists deleted chat %s", p.ID)
		}
	}
	if err != nil {
		t.Error(err)
	}
	ds, err := tx.RoutingDecisions(w.site, 1000)
	for _, d := range ds {
		if d.ChatRequestID == w.request || (!visitorKept && d.ChatRequestID == w.request+"_open") {
			t.Errorf("RoutingDecisions lists one about deleted request %s", d.ChatRequestID)
		}
	}
	if err != nil {
		t.Error(err)
	}
	if visitorKept {
		return
	}
	_, err = tx.Visitor(w.visitor)
	nf("Visitor", err)
	_, err = tx.VisitorByTokenHash(w.token)
	nf("VisitorByTokenHash", err)
	_, err = tx.Invitation(w.inv)
	nf("Invitation", err)
	_, err = tx.ChatRequest(w.request + "_open")
	nf("open ChatRequest", err)
	_, err = tx.OfflineMessage(w.offline)
	nf("OfflineMessage", err)
	chats, invs, reqs, err := tx.VisitorRecords(w.visitor)
	if err != nil || len(chats)+len(invs)+len(reqs) != 0 {
		t.Errorf("VisitorRecords after EraseVisitor: %v %v %v, %v", chats, invs, reqs, err)
	}
	offs, err := tx.VisitorOfflineMessages(w.visitor)
	if err != nil || len(offs) != 0 {
		t.Errorf("VisitorOfflineMessages after EraseVisitor: %d, %v", len(offs), err)
	}
	offs, err = tx.SiteOfflineMessages(w.site)
	for _, o := range offs {
		if o.ID == w.offline {
			t.Errorf("SiteOfflineMessages lists erased %s", o.ID)
		}
	}
	if err != nil {
		t.Error(err)
	}
	invitations, err := tx.PendingInvitations()
	for _, i := range invitations {
		if i.ID == w.inv {
			t.Errorf("PendingInvitations lists erased %s", i.ID)
		}
	}
	if err != nil {
		t.Error(err)
	}
	open, err := tx.OpenChatRequests("")
	for _, r := range open {
		if r.VisitorID == w.visitor {
			t.Errorf("OpenChatRequests lists erased %s", r.ID)
		}
	}
	if err != nil {
		t.Error(err)
	}
	evs, err := tx.Events(0, 0)
	for _, ev := range evs {
		if ev.VisitorID == w.visitor {
			t.Errorf("the log keeps event %d (%s) naming erased %s", ev.Position, ev.Type, w.visitor)
		}
	}
	if err != nil {
		t.Error(err)
	}
}

// intact fails t unless w is all there.
func (w *visitorWorld) intact(t *testing.T, tx domain.ReadTx) {
	t.Helper()
	chats, invs, reqs, err := tx.VisitorRecords(w.visitor)
	equal(t, "VisitorRecords of "+w.visitor, []any{chats, invs, sorted(reqs), err},
		[]any{[]string{w.chat}, []string{w.inv}, sorted([]string{w.request, w.request + "_open"}), nil})
	for _, get := range []func() error{
		func() error { _, err := tx.Visitor(w.visitor); return err },
		func() error { _, err := tx.VisitorByTokenHash(w.token); return err },
		func() error { _, err := tx.Chat(w.chat); return err },
		func() error { _, err := tx.ChatRequest(w.request); return err },
		func() error { _, err := tx.OfflineMessage(w.offline); return err },
	} {
		if err := get(); err != nil {
			t.Errorf("record of %s that should be left: %v", w.visitor, err)
		}
	}
	if n, err := tx.ChatEvents(w.chat, 0, 0); err != nil || len(n) != 2 {
		t.Errorf("ChatEvents of %s: %d, %v", w.chat, len(n), err)
	}
	evs, err := tx.Events(0, 0)
	if err != nil {
		t.Error(err)
	}
	have := map[uint64]bool{}
	for _, ev := range evs {
		have[ev.Position] = true
	}
	for _, p := range w.positions {
		if !have[p] {
			t.Errorf("log event %d of %s is gone", p, w.visitor)
		}
	}
}

// testEraseVisitor: EraseVisitor deletes everything listed in its
// contract, and nothing of another visitor of the same site.
func testEraseVisitor(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	var one, two *visitorWorld
	mustUpdate(t, s, func(tx domain.WriteTx) (err error) {
		if one, err = putVisitorWorld(tx, "vis_1", "site_1"); err != nil {
			return err
		}
		two, err = putVisitorWorld(tx, "vis_10", "site_1")
		return err
	})
	last := read(t, s, func(tx domain.ReadTx) (uint64, error) { return tx.LastEventPosition(), nil })
	counts := read(t, s, func(tx domain.ReadTx) (map[string]int, error) { return tx.AlertCounts([]string{"agt_1"}) })
	equal(t, "AlertCounts before", counts, map[string]int{"agt_1": 2})
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_1") })
	mustView(t, s, func(tx domain.ReadTx) error {
		one.gone(t, tx, false)
		two.intact(t, tx)
		equal(t, "LastEventPosition after EraseVisitor", tx.LastEventPosition(), last)
		counts, err := tx.AlertCounts([]string{"agt_1"})
		equal(t, "AlertCounts after EraseVisitor", counts, map[string]int{"agt_1": 1})
		return err
	})
	// Erasing again, or a visitor never seen, does nothing.
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.EraseVisitor("vis_1"); err != nil {
			return err
		}
		return tx.EraseVisitor("nobody")
	})
	mustView(t, s, func(tx domain.ReadTx) error { two.intact(t, tx); return nil })
}

// testDeleteChat: DeleteChat deletes the chat with its events, notes,
// whispers, keys and log events, and the request it answered with the
// routing decisions about it; the visitor and their other records stay.
func testDeleteChat(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	var one, two *visitorWorld
	mustUpdate(t, s, func(tx domain.WriteTx) (err error) {
		if one, err = putVisitorWorld(tx, "vis_1", "site_1"); err != nil {
			return err
		}
		two, err = putVisitorWorld(tx, "vis_10", "site_1")
		return err
	})
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.DeleteChat(one.chat) })
	mustView(t, s, func(tx domain.ReadTx) error {
		one.gone(t, tx, true)
		two.intact(t, tx)
		for _, get := range []func() error{
			func() error { _, err := tx.Visitor(one.visitor); return err },
			func() error { _, err := tx.VisitorByTokenHash(one.token); return err },
			func() error { _, err := tx.Invitation(one.inv); return err },
			func() error { _, err := tx.ChatRequest(one.request + "_open"); return err },
			func() error { _, err := tx.OfflineMessage(one.offline); return err },
		} {
			if err := get(); err != nil {
				t.Errorf("DeleteChat took a record that is not the chat's: %v", err)
			}
		}
		chats, invs, reqs, err := tx.VisitorRecords(one.visitor)
		equal(t, "VisitorRecords after DeleteChat", []any{sorted(chats), sorted(invs), sorted(reqs), err},
			[]any{[]string{}, []string{one.inv}, []string{one.request + "_open"}, nil})
		evs, err := tx.Events(0, 0)
		for _, ev := range evs {
			if ev.ChatID == one.chat || ev.RequestID == one.request {
				t.Errorf("the log keeps event %d (%s) of the deleted chat", ev.Position, ev.Type)
			}
		}
		return err
	})
	// Deleting a chat that is not there does nothing.
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.DeleteChat(one.chat) })
	mustView(t, s, func(tx domain.ReadTx) error { two.intact(t, tx); return nil })
}
