package bolt

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestDeleteChat deletes one chat of a visitor with two: its events, the
// request it answered and the routing decision about that request go, with
// their index entries; the visitor and everything else stay.
func TestDeleteChat(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		for i, v := range []string{"ann", "bob"} {
			if err := putVisitorRecords(tx, v, i); err != nil {
				return err
			}
		}
		// ann's first chat answered her accepted request.
		c, err := tx.Chat("ann:chat1")
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
		r.ChatID = "ann:chat1"
		return tx.PutChatRequest(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.DeleteChat("ann:chat1") }); err != nil {
		t.Fatal(err)
	}
	after := dump(t, s)
	// What is about the chat or its request names one of them: as a key,
	// a key's part, or a field.
	about := func(k, v string) bool {
		return strings.Contains(k, "ann:chat1") || strings.Contains(k, "ann:req2") ||
			strings.Contains(v, "ann:chat1") || strings.Contains(v, "ann:req2")
	}
	// An index entry of a log event is about the chat when its event is.
	events := before[string(eventsBucket)]
	aboutEntry := about
	about = func(k, v string) bool {
		prefix := "ann\x00" + string(rune(recordEvent)) + "\x00"
		if pos, ok := strings.CutPrefix(k, prefix); ok {
			return aboutEntry(pos, events[pos])
		}
		return aboutEntry(k, v)
	}
	for bucket, kvs := range before {
		if bucket == string(routingCountsBucket) {
			continue
		}
		for k, v := range kvs {
			got, kept := after[bucket][k]
			switch {
			case about(k, v) && kept:
				t.Errorf("%s still holds %q = %q after deleting the chat", bucket, k, got)
			case !about(k, v) && (!kept || got != v):
				t.Errorf("%s %q = %q changed to %q (kept %v) by deleting the chat", bucket, k, v, got, kept)
			}
		}
		for k := range after[bucket] {
			if _, ok := kvs[k]; !ok {
				t.Errorf("%s gained %q by deleting the chat", bucket, k)
			}
		}
	}
	err = s.View(ctx, func(tx domain.ReadTx) error {
		chats, _, requests, err := tx.VisitorRecords("ann")
		if err != nil {
			return err
		}
		if len(chats) != 1 || chats[0] != "ann:chat2" || len(requests) != 1 || requests[0] != "ann:req1" {
			t.Errorf("ann's records: chats %q, requests %q; want ann:chat2 and ann:req1", chats, requests)
		}
		if n, err := tx.(*readTx).routingCount("shop"); err != nil || n != 3 {
			t.Errorf("routing count = %d, %v; want 3", n, err)
		}
		if seq, found, err := tx.MessageSeqByKey("ann:chat1", "ann", "k1"); found || err != nil {
			t.Errorf("the deleted chat's idempotency key still finds seq %d (%v)", seq, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Again, or a chat never stored: nothing changes.
	for _, id := range []string{"ann:chat1", "nochat"} {
		if err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.DeleteChat(id) }); err != nil {
			t.Fatal(err)
		}
	}
	if again := dump(t, s); !reflect.DeepEqual(again, after) {
		t.Error("deleting the chat again changed the store")
	}
}

// TestVisitorsPages walks every visitor a page at a time.
func TestVisitorsPages(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ids := []string{"a", "a2", "b", "c", "d"}
	err = s.Update(ctx, func(tx domain.WriteTx) error {
		for _, id := range ids {
			if err := tx.PutVisitor(&domain.Visitor{ID: id, SiteID: "shop"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		var page []*domain.Visitor
		if err := s.View(ctx, func(tx domain.ReadTx) error {
			page, err = tx.Visitors(after, 2)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, v := range page {
			got = append(got, v.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("visitors page by page = %q, want %q", got, ids)
	}
	// An id between two starts after it; no limit lists the rest.
	if err := s.View(ctx, func(tx domain.ReadTx) error {
		page, err := tx.Visitors("a3", 0)
		if err != nil || len(page) != 3 || page[0].ID != "b" {
			t.Errorf("Visitors(a3, 0) = %d visitors, %v; want b, c, d", len(page), err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
