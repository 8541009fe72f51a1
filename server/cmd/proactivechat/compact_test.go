package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

func size(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// TestCompactShrinksTheFileAfterDeletions deletes most chats of a database,
// which leaves its file as large as before, and compacts it into a smaller
// file holding the same records.
func TestCompactShrinksTheFileAfterDeletions(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	s, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 200 {
		id := fmt.Sprintf("chat_%03d", i)
		seedChat(t, s, id, 40)
		ids = append(ids, id)
	}
	kept, keptEvents := seedChat(t, s, "chat_kept", 5)
	err = s.Update(context.Background(), func(tx domain.WriteTx) error {
		for _, id := range ids {
			if err := tx.DeleteChat(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, db)

	var out bytes.Buffer
	c := &Compact{DBPath: db, Out: filepath.Join(dir, "compacted.db"), LockTimeout: lockTimeout}
	if err := c.Run(context.Background(), &out); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if !strings.Contains(out.String(), "compacted "+db) || !strings.Contains(out.String(), "restore -from") {
		t.Errorf("compact printed %q", out.String())
	}
	wantOnly(t, dir, "compacted.db", "proactivechat.db")
	if !bytes.Equal(readFile(t, db), before) {
		t.Error("compacting changed the database")
	}
	if got, was := size(t, c.Out), size(t, db); got >= was/2 {
		t.Errorf("compacted file is %d bytes, the database %d: want well under half", got, was)
	}
	wantChat(t, c.Out, kept, keptEvents)

	// Swapped in with restore, the server opens it.
	if err := (&Restore{DBPath: db, From: c.Out, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
	wantChat(t, db, kept, keptEvents)
}

func TestCompactRefusesWhileTheDatabaseIsInUse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	seedDB(t, db, "chat_live")
	s, err := bolt.Open(db) // as a running server holds it
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = (&Compact{DBPath: db, Out: filepath.Join(dir, "compacted.db"), LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("compact while the database is open: %v, want an \"in use\" error", err)
	}
	wantOnly(t, dir, "proactivechat.db")
}

func TestCompactRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	chat, events := seedDB(t, db, "chat_live")
	for name, c := range map[string]*Compact{
		"OutIsTheDatabase": {DBPath: db, Out: db},
		"MissingDatabase":  {DBPath: filepath.Join(dir, "missing.db"), Out: filepath.Join(dir, "out.db")},
		"NotADatabase":     {DBPath: filepath.Join(dir, "text.db"), Out: filepath.Join(dir, "out.db")},
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "text.db"), []byte("not a database\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.LockTimeout = lockTimeout
			if err := c.Run(context.Background(), io.Discard); err == nil {
				t.Fatal("compact succeeded")
			} else {
				t.Logf("refused: %v", err)
			}
			wantOnly(t, dir, "proactivechat.db", "text.db")
		})
	}
	wantChat(t, db, chat, events)
}
