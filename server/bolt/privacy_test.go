package bolt

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// putVisitorRecords stores a visitor with a token, two chats with events
// (each message with an idempotency key and in the event log), a page view
// and a form in the event log, a pending and a declined
// invitation, an open and an accepted chat request with form values, and
// routing decisions about both requests. Every record's id starts with
// the visitor's id and ":".
func putVisitorRecords(tx domain.WriteTx, v string, n int) error {
	at := time.Date(2026, 1, 1, 0, 0, n, 0, time.UTC)
	if err := tx.PutVisitor(&domain.Visitor{ID: v, SiteID: "shop", CreateTime: at}); err != nil {
		return err
	}
	if err := tx.PutVisitorToken([]byte(v+":tok\x00\x01"), v); err != nil {
		return err
	}
	visitor := domain.Participant{Role: domain.RoleVisitor, ID: v}
	agent := domain.Participant{Role: domain.RoleAgent, ID: "agent"}
	for _, c := range []string{v + ":chat1", v + ":chat2"} {
		if err := tx.PutChat(&domain.Chat{ID: c, SiteID: "shop", Visitor: visitor, Agent: agent, State: domain.ChatStateEnded, LastSeq: 2}); err != nil {
			return err
		}
		if err := tx.AppendChatEvent(domain.ChatEvent{ChatID: c, Seq: 1, Time: at, Started: &domain.ChatStarted{Visitor: visitor, Agent: agent}}); err != nil {
			return err
		}
		// The message is in the log too, as the domain records it.
		logged := &domain.Event{Type: domain.EventChatMessage, Time: at, SiteID: "shop", VisitorID: v, ChatID: c, Seq: 2, Participant: visitor, Text: "hello"}
		if err := tx.AppendEvent(logged); err != nil {
			return err
		}
		if err := tx.AppendChatEvent(domain.ChatEvent{ChatID: c, Seq: 2, Time: at, LogPosition: logged.Position, Message: &domain.ChatMessage{Sender: visitor, Text: "hello", IdempotencyKey: "k1"}}); err != nil {
			return err
		}
	}
	// A page they viewed and their form, in the log.
	logged := []*domain.Event{
		{Type: domain.EventVisitorPageViewed, Time: at, SiteID: "shop", VisitorID: v, URL: "https://shop.example/" + v},
		{Type: domain.EventFormSubmitted, Time: at, SiteID: "shop", VisitorID: v, RequestID: v + ":req2", FormValues: map[string]string{"email": v + ":mail"}},
	}
	for _, ev := range logged {
		if err := tx.AppendEvent(ev); err != nil {
			return err
		}
	}
	for i, state := range []domain.InvitationState{domain.InvitationPending, domain.InvitationDeclined} {
		id := v + ":inv" + string(rune('1'+i))
		if err := tx.PutInvitation(&domain.Invitation{ID: id, SiteID: "shop", VisitorID: v, State: state}); err != nil {
			return err
		}
	}
	for i, state := range []domain.ChatRequestState{domain.RequestQueued, domain.RequestAccepted} {
		id := v + ":req" + string(rune('1'+i))
		r := &domain.ChatRequest{ID: id, SiteID: "shop", VisitorID: v, State: state, EnqueueTime: at,
			FormValues: map[string]string{"email": v + ":mail"}}
		if err := tx.PutChatRequest(r); err != nil {
			return err
		}
		if err := tx.AppendRoutingDecision(&domain.RoutingDecision{ChatRequestID: id, SiteID: "shop", Time: at, AgentID: "agent", Reason: "test"}); err != nil {
			return err
		}
	}
	return nil
}

// dump copies every key and value of every bucket.
func dump(t *testing.T, s *Store) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			m := map[string]string{}
			if err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			}); err != nil {
				return err
			}
			out[string(name)] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mentions reports whether a key or value is about visitor v: it is v's
// id, starts with it as a composite key, holds one of v's record ids, or
// holds v's id as a protobuf string field.
func mentions(v, k, val string) bool {
	for _, s := range []string{k, val} {
		if s == v || bytes.HasPrefix([]byte(s), []byte(v+"\x00")) || bytes.Contains([]byte(s), []byte(v+":")) ||
			bytes.Contains([]byte(s), append([]byte{byte(len(v))}, v...)) {
			return true
		}
	}
	return false
}

func TestVisitorRecordsAndErase(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// "ann2" shares a prefix with "ann", so its index entries sort next to hers.
	visitors := []string{"ann", "ann2", "bob"}
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		for i, v := range visitors {
			if err := putVisitorRecords(tx, v, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	records := func(v string) [3][]string {
		var got [3][]string
		err := s.View(ctx, func(tx domain.ReadTx) error {
			var err error
			got[0], got[1], got[2], err = tx.VisitorRecords(v)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, v := range visitors {
		want := [3][]string{{v + ":chat1", v + ":chat2"}, {v + ":inv1", v + ":inv2"}, {v + ":req1", v + ":req2"}}
		if got := records(v); !reflect.DeepEqual(got, want) {
			t.Errorf("VisitorRecords(%q) = %q, want %q", v, got, want)
		}
	}
	if got := records("nobody"); !reflect.DeepEqual(got, [3][]string{}) {
		t.Errorf("VisitorRecords(nobody) = %q, want none", got)
	}
	// Putting a record again does not list it twice.
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		return tx.PutInvitation(&domain.Invitation{ID: "bob:inv1", SiteID: "shop", VisitorID: "bob", State: domain.InvitationExpired})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := records("bob")[1]; !reflect.DeepEqual(got, []string{"bob:inv1", "bob:inv2"}) {
		t.Errorf("bob's invitations after a re-put = %q", got)
	}

	before := dump(t, s)
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("ann") }); err != nil {
		t.Fatal(err)
	}
	after := dump(t, s)
	for bucket, kvs := range before {
		if bucket == string(routingCountsBucket) {
			continue
		}
		for k, v := range kvs {
			got, kept := after[bucket][k]
			switch {
			case mentions("ann", k, v) && kept:
				t.Errorf("%s still holds %q = %q after erasing ann", bucket, k, got)
			case !mentions("ann", k, v) && (!kept || got != v):
				t.Errorf("%s %q = %q changed to %q (kept %v) by erasing ann", bucket, k, v, got, kept)
			}
		}
		for k := range after[bucket] {
			if _, ok := kvs[k]; !ok {
				t.Errorf("%s gained %q by erasing ann", bucket, k)
			}
		}
	}
	if n := len(after[string(routingDecisionsBucket)]); n != 4 {
		t.Errorf("%d routing decisions left, want bob's and ann2's 4", n)
	}
	err = s.View(ctx, func(tx domain.ReadTx) error {
		if n, err := tx.(*readTx).routingCount("shop"); err != nil || n != 4 {
			t.Errorf("routing count = %d, %v; want 4", n, err)
		}
		if _, err := tx.Visitor("ann"); domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("Visitor(ann) after erasing: %v, want not found", err)
		}
		if _, err := tx.VisitorByTokenHash([]byte("ann:tok\x00\x01")); domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("ann's token after erasing: %v, want not found", err)
		}
		open, err := tx.OpenChatRequests("shop")
		if err != nil || len(open) != 2 {
			t.Errorf("OpenChatRequests = %d requests, %v; want ann2's and bob's", len(open), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := records("ann"); !reflect.DeepEqual(got, [3][]string{}) {
		t.Errorf("VisitorRecords(ann) after erasing = %q, want none", got)
	}
	// Erasing again, or a visitor never stored, changes nothing.
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("ann") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("nobody") }); err != nil {
		t.Fatal(err)
	}
	if again := dump(t, s); !reflect.DeepEqual(again, after) {
		t.Error("erasing ann again, or nobody, changed the store")
	}
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("a\x00b") }); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("EraseVisitor with a NUL: %v, want invalid", err)
	}
}

// TestVisitorRecordsBackfill opens a file written before the index existed
// and finds the index built.
func TestVisitorRecordsBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx domain.WriteTx) error { return putVisitorRecords(tx, "ann", 0) }); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s)[string(visitorRecordsBucket)]
	if len(want) != 9 {
		t.Fatalf("index has %d entries, want 9 (a token, 2 chats, 2 invitations, 2 requests, 2 log events)", len(want))
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(visitorRecordsBucket) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dump(t, s)[string(visitorRecordsBucket)]; !reflect.DeepEqual(got, want) {
		t.Errorf("backfilled index = %q, want %q", got, want)
	}
}
