package bolt

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

func logPositions(t *testing.T, s *Store) []uint64 {
	t.Helper()
	var out []uint64
	err := s.View(context.Background(), func(tx domain.ReadTx) error {
		evs, err := tx.Events(0, 0)
		for _, ev := range evs {
			out = append(out, ev.Position)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventLog(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var appended []*domain.Event
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		appended = nil
		for i := range 10 {
			ev := &domain.Event{Type: domain.EventVisitorPageViewed, Time: t0.Add(time.Duration(i) * time.Minute), SiteID: "shop", VisitorID: "ann", URL: "https://shop.example/"}
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
			appended = append(appended, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("PositionsAndIDs", func(t *testing.T) {
		for i, ev := range appended {
			if ev.Position != uint64(i+1) || ev.ID != domain.EventID(ev.Position) {
				t.Fatalf("event %d: position %d id %q", i, ev.Position, ev.ID)
			}
		}
		err := s.View(ctx, func(tx domain.ReadTx) error {
			page, err := tx.Events(3, 4)
			if err != nil {
				return err
			}
			if len(page) != 4 || page[0].Position != 4 || page[3].Position != 7 || !page[0].Time.Equal(t0.Add(3*time.Minute)) {
				t.Errorf("Events(3, 4) = %d events from %d", len(page), page[0].Position)
			}
			if rest, _ := tx.Events(^uint64(0), 0); len(rest) != 0 {
				t.Errorf("Events(max) = %d events, want none", len(rest))
			}
			if last := tx.LastEventPosition(); last != 10 {
				t.Errorf("LastEventPosition = %d, want 10", last)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("UnknownTypeRefused", func(t *testing.T) {
		err := s.Update(ctx, func(tx domain.WriteTx) error {
			return tx.AppendEvent(&domain.Event{Type: "visitor.danced"})
		})
		if err == nil {
			t.Fatal("an event of an unknown type was appended")
		}
	})

	t.Run("DeleteEventsBefore", func(t *testing.T) {
		var n int
		err := s.Update(ctx, func(tx domain.WriteTx) (err error) {
			n, err = tx.DeleteEventsBefore(t0.Add(5*time.Minute), 3)
			return err
		})
		if err != nil || n != 3 {
			t.Fatalf("deleted %d, %v; want 3 (the limit)", n, err)
		}
		err = s.Update(ctx, func(tx domain.WriteTx) (err error) {
			n, err = tx.DeleteEventsBefore(t0.Add(5*time.Minute), 100)
			return err
		})
		if err != nil || n != 2 {
			t.Fatalf("deleted %d, %v; want the 2 left before the cutoff", n, err)
		}
		if got, want := logPositions(t, s), []uint64{6, 7, 8, 9, 10}; !slices.Equal(got, want) {
			t.Fatalf("log = %v, want %v", got, want)
		}
		// The deleted events' index entries went with them, and a new
		// event takes the next position, not a freed one.
		err = s.Update(ctx, func(tx domain.WriteTx) error {
			return tx.AppendEvent(&domain.Event{Type: domain.EventAgentStatusChanged, Time: t0, AgentID: "a"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := logPositions(t, s); got[len(got)-1] != 11 {
			t.Fatalf("log = %v, want 11 last", got)
		}
		recs, err := func() (map[byte][][]byte, error) {
			var recs map[byte][][]byte
			err := s.View(ctx, func(tx domain.ReadTx) (err error) {
				recs, err = tx.(*readTx).visitorRecords("ann")
				return err
			})
			return recs, err
		}()
		if err != nil || len(recs[recordEvent]) != 5 {
			t.Fatalf("ann's indexed events = %d, %v; want 5", len(recs[recordEvent]), err)
		}
	})
}

// TestDeleteChatDeletesLogEvents checks that deleting a chat (retention)
// deletes the log's events about it (through the positions its chat events
// hold) and about its request (through the visitor's index), and keeps the
// visitor's others.
func TestDeleteChatDeletesLogEvents(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		if err := putVisitorRecords(tx, "ann", 0); err != nil {
			return err
		}
		// 1 page viewed, 2 form of req2, 3 message of chat1, 4 of chat2.
		c, err := tx.Chat("ann:chat2")
		if err != nil {
			return err
		}
		c.ChatRequestID = "ann:req2"
		if err := tx.PutChat(c); err != nil {
			return err
		}
		r, err := tx.ChatRequest("ann:req2")
		if err != nil {
			return err
		}
		r.ChatID = "ann:chat2"
		if err := tx.PutChatRequest(r); err != nil {
			return err
		}
		return tx.AppendEvent(&domain.Event{Type: domain.EventVisitorLeft, SiteID: "shop", VisitorID: "ann"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := logPositions(t, s), []uint64{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("log = %v, want %v", got, want)
	}
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.DeleteChat("ann:chat2") }); err != nil {
		t.Fatal(err)
	}
	if got, want := logPositions(t, s), []uint64{1, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("log after deleting chat2 = %v, want %v", got, want)
	}
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("ann") }); err != nil {
		t.Fatal(err)
	}
	if got := logPositions(t, s); len(got) != 0 {
		t.Fatalf("log after erasing ann = %v, want empty", got)
	}
}

// TestEventLogStoredForms: the log keeps a chat.message as a reference to
// the chat's own event, and events stored in full, as the log stored every
// event before, read back the same; retention deletes both.
func TestEventLogStoredForms(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ann := domain.Participant{Role: domain.RoleVisitor, ID: "ann", DisplayName: "Ann"}
	dana := domain.Participant{Role: domain.RoleAgent, ID: "dana", DisplayName: "Dana"}
	const text = "Do you ship to Norway?"
	var appended []*domain.Event
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		appended = nil
		add := func(ev *domain.Event) error {
			ev.SiteID, ev.VisitorID = "shop", "ann"
			ev.Time = t0.Add(time.Duration(len(appended)) * time.Minute)
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
			appended = append(appended, ev)
			return nil
		}
		if err := add(&domain.Event{Type: domain.EventVisitorPageViewed, URL: "https://shop.example/help"}); err != nil {
			return err
		}
		if err := tx.PutChat(&domain.Chat{ID: "chat1", SiteID: "shop", State: domain.ChatStateActive, CreateTime: t0, Visitor: ann, Agent: dana}); err != nil {
			return err
		}
		for seq, from := range []domain.Participant{ann, dana, ann} {
			ev := &domain.Event{Type: domain.EventChatMessage, ChatID: "chat1", Seq: uint32(seq + 1), Participant: from, Text: fmt.Sprint(text, " ", seq)}
			if err := add(ev); err != nil {
				return err
			}
			ce := domain.ChatEvent{ChatID: "chat1", Seq: ev.Seq, Time: ev.Time, LogPosition: ev.Position,
				Message: &domain.ChatMessage{Sender: from, Text: ev.Text, IdempotencyKey: fmt.Sprint("k", seq)}}
			if err := tx.AppendChatEvent(ce); err != nil {
				return err
			}
		}
		return add(&domain.Event{Type: domain.EventChatEnded, ChatID: "chat1", EndReason: domain.EndBothLeft})
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func() []*domain.Event {
		t.Helper()
		var evs []*domain.Event
		if err := s.View(ctx, func(tx domain.ReadTx) error {
			evs, err = tx.Events(0, 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	if got := read(); !reflect.DeepEqual(got, appended) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, appended)
	}
	// The message's text is stored once, in the chat's event.
	err = s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(eventsBucket).Get(positionKey(appended[1].Position))
		if v == nil || bytes.Contains(v, []byte(text)) || bytes.Contains(v, []byte("Ann")) {
			return fmt.Errorf("chat.message stored as %q, want neither text nor sender", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Events stored in full, as main wrote them before the stored form:
	// every other event, so the log holds both forms.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		for _, ev := range appended[1:] {
			if ev.Position%2 == 0 {
				continue
			}
			v, err := proto.Marshal(protoconv.EventToProto(ev))
			if err != nil {
				return err
			}
			if err := tx.Bucket(eventsBucket).Put(positionKey(ev.Position), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, appended) {
		t.Fatalf("read back with events stored in full\n%+v\nwant\n%+v", got, appended)
	}
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		_, err := tx.DeleteEventsBefore(appended[3].Time, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(); !reflect.DeepEqual(got, appended[3:]) {
		t.Fatalf("after retention\n%+v\nwant\n%+v", got, appended[3:])
	}
}

// TestStoredMessageEncoding: a chat.message's stored form, written field by
// field, decodes to the proto message it stands for.
func TestStoredMessageEncoding(t *testing.T) {
	for _, ev := range []*domain.Event{
		{Type: domain.EventChatMessage, Time: time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.UTC), SiteID: "shop", ChatID: "chat_1", Seq: 300, VisitorID: "v_1",
			Participant: domain.Participant{Role: domain.RoleVisitor, ID: "v_1", DisplayName: "Ann"}, Text: "Hello"},
		{Type: domain.EventChatMessage, Time: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), ChatID: "c", Seq: 1},
		{Type: domain.EventChatMessage, Time: time.Unix(1, 0)},
		{Type: domain.EventChatMessage},
	} {
		var got pb.Event
		if err := proto.Unmarshal(storedMessage(ev), &got); err != nil {
			t.Fatalf("%+v: %v", ev, err)
		}
		if want := storedEvent(ev); !proto.Equal(&got, want) {
			t.Errorf("%+v: decoded %v, want %v", ev, &got, want)
		}
	}
}
