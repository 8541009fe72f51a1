package bolt

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

var chatT0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// putSiteChats stores chats of sites "shop" and "shop2" (a site whose id
// extends the other's), each started at chatT0 plus its minutes.
func putSiteChats(t *testing.T, s *Store, chats map[string]siteChat) {
	t.Helper()
	err := s.Update(context.Background(), func(tx domain.WriteTx) error {
		for id, c := range chats {
			err := tx.PutChat(&domain.Chat{ID: id, SiteID: c.site, State: domain.ChatStateActive,
				CreateTime: chatT0.Add(time.Duration(c.minutes) * time.Minute),
				Visitor:    domain.Participant{Role: domain.RoleVisitor, ID: "v_" + id}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func siteChatIDs(t *testing.T, s *Store, site string, after domain.ChatPosition, limit int) []string {
	t.Helper()
	var ids []string
	err := s.View(context.Background(), func(tx domain.ReadTx) error {
		ps, err := tx.SiteChats(site, after, limit)
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

type siteChat = struct {
	site    string
	minutes int
}

func TestSiteChats(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putSiteChats(t, s, map[string]siteChat{
		"a": {"shop", 1}, "b": {"shop", 3}, "c2": {"shop", 2}, "c1": {"shop", 2}, "x": {"shop2", 5},
	})
	// Writing a chat again (a message, its end) adds no second entry.
	putSiteChats(t, s, map[string]siteChat{"b": {"shop", 3}})

	t.Run("NewestFirst", func(t *testing.T) {
		if got, want := siteChatIDs(t, s, "shop", domain.ChatPosition{}, 10), []string{"b", "c1", "c2", "a"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got, want := siteChatIDs(t, s, "shop2", domain.ChatPosition{}, 10), []string{"x"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("AfterAndLimit", func(t *testing.T) {
		after := domain.ChatPosition{CreateTime: chatT0.Add(2 * time.Minute), ID: "c1"}
		if got, want := siteChatIDs(t, s, "shop", after, 10), []string{"c2", "a"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if got, want := siteChatIDs(t, s, "shop", after, 1), []string{"c2"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		// A time alone starts at the chats of that time.
		if got, want := siteChatIDs(t, s, "shop", domain.ChatPosition{CreateTime: chatT0.Add(2 * time.Minute)}, 10), []string{"c1", "c2", "a"}; !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("Positions", func(t *testing.T) {
		err := s.View(context.Background(), func(tx domain.ReadTx) error {
			ps, err := tx.SiteChats("shop", domain.ChatPosition{}, 1)
			if err != nil {
				return err
			}
			if want := (domain.ChatPosition{CreateTime: chatT0.Add(3 * time.Minute), ID: "b"}); len(ps) != 1 || !ps[0].CreateTime.Equal(want.CreateTime) || ps[0].ID != want.ID {
				t.Fatalf("got %v, want %v", ps, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestSiteChatsNoOrphans deletes chats both ways (DeleteChat, as retention
// does, and EraseVisitor) and finds exactly one index entry per chat left.
func TestSiteChatsNoOrphans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(context.Background(), func(tx domain.WriteTx) error {
		for i, v := range []string{"ann", "bob", "cat"} {
			if err := putVisitorRecords(tx, v, i); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), func(tx domain.WriteTx) error {
		if err := tx.DeleteChat("bob:chat1"); err != nil {
			return err
		}
		return tx.EraseVisitor("ann")
	}); err != nil {
		t.Fatal(err)
	}
	d := dump(t, s)
	var chats, indexed []string
	for id := range d[string(chatsBucket)] {
		chats = append(chats, id)
	}
	prefix := sitePrefix("shop")
	for k := range d[string(siteChatsBucket)] {
		p, ok := parseSiteChatKey(prefix, []byte(k))
		if !ok {
			t.Fatalf("index key %q is not of site shop", k)
		}
		indexed = append(indexed, p.ID)
	}
	slices.Sort(chats)
	slices.Sort(indexed)
	if want := []string{"bob:chat2", "cat:chat1", "cat:chat2"}; !slices.Equal(chats, want) || !slices.Equal(indexed, want) {
		t.Fatalf("chats %v, index %v; want both %v", chats, indexed, want)
	}
}

// TestSiteChatsBackfill opens a file written before the site chats index
// existed and finds the index built.
func TestSiteChatsBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	putSiteChats(t, s, map[string]siteChat{"a": {"shop", 1}, "b": {"shop", 3}, "x": {"shop2", 5}})
	want := dump(t, s)[string(siteChatsBucket)]
	if len(want) != 3 {
		t.Fatalf("index has %d entries, want 3", len(want))
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(siteChatsBucket) }); err != nil {
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
	if got := dump(t, s)[string(siteChatsBucket)]; !reflect.DeepEqual(got, want) {
		t.Errorf("backfilled index = %q, want %q", got, want)
	}
	if got := siteChatIDs(t, s, "shop", domain.ChatPosition{}, 10); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("after the backfill shop lists %v", got)
	}
}
