package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// lockTimeout keeps the tests that find a file in use short.
const lockTimeout = 100 * time.Millisecond

// seedChat stores a chat with messages in the store at path and returns it
// with its events.
func seedChat(t *testing.T, s *bolt.Store, id string, messages int) (*domain.Chat, []domain.ChatEvent) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	chat := &domain.Chat{
		ID:               id,
		SiteID:           "site_1",
		Visitor:          domain.Participant{Role: domain.RoleVisitor, ID: "visitor_" + id, DisplayName: "Visitor"},
		Agent:            domain.Participant{Role: domain.RoleAgent, ID: "agent_1", DisplayName: "Ann"},
		State:            domain.ChatStateActive,
		CreateTime:       now,
		LastActivityTime: now,
	}
	events := []domain.ChatEvent{{ChatID: id, Seq: 1, Time: now, Started: &domain.ChatStarted{Visitor: chat.Visitor, Agent: chat.Agent}}}
	for i := range messages {
		sender := chat.Agent
		if i%2 == 1 {
			sender = chat.Visitor
		}
		events = append(events, domain.ChatEvent{ChatID: id, Seq: uint32(i + 2), Time: now,
			Message: &domain.ChatMessage{Sender: sender, Text: fmt.Sprintf("message %d of %s", i, id), IdempotencyKey: fmt.Sprintf("k%d", i)}})
	}
	chat.LastSeq = uint32(len(events))
	err := s.Update(context.Background(), func(tx domain.WriteTx) error {
		if err := tx.PutChat(chat); err != nil {
			return err
		}
		for _, ev := range events {
			if err := tx.AppendChatEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed chat %s: %v", id, err)
	}
	return chat, events
}

// seedDB creates a closed database at path holding one chat.
func seedDB(t *testing.T, path, chatID string) (*domain.Chat, []domain.ChatEvent) {
	t.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	chat, events := seedChat(t, s, chatID, 5)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return chat, events
}

// wantChat opens the database at path and checks that it holds chat and
// exactly its events.
func wantChat(t *testing.T, path string, chat *domain.Chat, events []domain.ChatEvent) {
	t.Helper()
	s, err := bolt.Open(path, bolt.WithLockTimeout(lockTimeout))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer s.Close()
	var gotChat *domain.Chat
	var gotEvents []domain.ChatEvent
	err = s.View(context.Background(), func(tx domain.ReadTx) error {
		var err error
		if gotChat, err = tx.Chat(chat.ID); err != nil {
			return err
		}
		gotEvents, err = tx.ChatEvents(chat.ID, 0, 1000)
		return err
	})
	if err != nil {
		t.Fatalf("read chat %s from %s: %v", chat.ID, path, err)
	}
	if gotChat.LastSeq != chat.LastSeq || gotChat.State != chat.State || gotChat.Agent != chat.Agent || gotChat.Visitor != chat.Visitor {
		t.Errorf("chat %s in %s is %+v, want %+v", chat.ID, path, gotChat, chat)
	}
	if !reflect.DeepEqual(gotEvents, events) {
		t.Errorf("events of chat %s in %s:\n got %+v\nwant %+v", chat.ID, path, gotEvents, events)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantOnly checks that dir holds exactly the named files: no temporary
// file was left behind.
func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestBackupThenRestoreIntoAFreshPath(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "proactivechat.db")
	chat, events := seedDB(t, db, "chat_1")

	var out bytes.Buffer
	b := &Backup{DBPath: db, Out: filepath.Join(dir, "backups", "backup.db"), LockTimeout: lockTimeout}
	if err := b.Run(context.Background(), &out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(out.String(), "backed up") {
		t.Errorf("backup printed %q", out.String())
	}
	wantOnly(t, filepath.Join(dir, "backups"), "backup.db")
	// The source is still there and still usable.
	wantChat(t, db, chat, events)

	restored := filepath.Join(dir, "fresh", "restored.db")
	out.Reset()
	r := &Restore{DBPath: restored, From: b.Out, LockTimeout: lockTimeout}
	if err := r.Run(context.Background(), &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), "restored "+restored) || strings.Contains(out.String(), BeforeRestoreSuffix) {
		t.Errorf("restore printed %q", out.String())
	}
	wantOnly(t, filepath.Join(dir, "fresh"), "restored.db")
	wantChat(t, restored, chat, events)
}

func TestRestoreOverADatabaseKeepsThePreviousOne(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	chat, events := seedDB(t, backup, "chat_new")
	db := filepath.Join(dir, "proactivechat.db")
	oldChat, oldEvents := seedDB(t, db, "chat_old")
	old := readFile(t, db)

	var out bytes.Buffer
	if err := (&Restore{DBPath: db, From: backup, LockTimeout: lockTimeout}).Run(context.Background(), &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), db+BeforeRestoreSuffix) {
		t.Errorf("restore printed %q, want it to name %s", out.String(), db+BeforeRestoreSuffix)
	}
	wantOnly(t, dir, "backup.db", "proactivechat.db", "proactivechat.db"+BeforeRestoreSuffix)
	if !bytes.Equal(readFile(t, db+BeforeRestoreSuffix), old) {
		t.Errorf("%s is not the database that was replaced", db+BeforeRestoreSuffix)
	}
	wantChat(t, db, chat, events)
	wantChat(t, db+BeforeRestoreSuffix, oldChat, oldEvents)

	// A second restore replaces the kept copy with the database it replaces.
	if err := (&Restore{DBPath: db, From: db + BeforeRestoreSuffix, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	wantChat(t, db, oldChat, oldEvents)
	wantChat(t, db+BeforeRestoreSuffix, chat, events)
}

func TestRestoreRefusesACorruptBackup(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	seedDB(t, good, "chat_backup")
	goodBytes := readFile(t, good)

	// A bbolt file that is not a Proactive Chat database.
	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := bbolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fdb.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	fdb.Close()

	flipped := bytes.Clone(goodBytes)
	for i := 2 * os.Getpagesize(); i < len(flipped); i += 7 {
		flipped[i] ^= 0xff
	}
	corrupt := map[string][]byte{
		"empty":           {},
		"text":            []byte("this is not a database\n"),
		"garbage":         bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64<<10),
		"truncated":       goodBytes[:len(goodBytes)/2],
		"only meta pages": goodBytes[:2*os.Getpagesize()],
		"flipped pages":   flipped,
		"foreign":         readFile(t, foreign),
		// bbolt follows page numbers into memory without checking them
		// first, and a read past its mapping is a fault no recover catches.
		"page out of range": bucketRootOutOfRange(t, goodBytes, "message_keys"),
	}
	for name, content := range corrupt {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "proactivechat.db")
			chat, events := seedDB(t, db, "chat_live")
			before := readFile(t, db)
			from := filepath.Join(t.TempDir(), "backup.db")
			if err := os.WriteFile(from, content, 0o600); err != nil {
				t.Fatal(err)
			}

			err := (&Restore{DBPath: db, From: from, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
			if err == nil {
				t.Fatal("restore of a corrupt backup succeeded")
			}
			t.Logf("refused: %v", err)
			if !bytes.Equal(readFile(t, db), before) {
				t.Error("the database changed")
			}
			if !bytes.Equal(readFile(t, from), content) {
				t.Error("the backup changed")
			}
			wantOnly(t, dir, "proactivechat.db")
			wantChat(t, db, chat, events)
		})
	}
}

func TestRestoreRefusesWhileTheDatabaseIsInUse(t *testing.T) {
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	seedDB(t, backup, "chat_backup")
	db := filepath.Join(dir, "proactivechat.db")
	chat, events := seedDB(t, db, "chat_live")

	// A running server holds the file, as this store does.
	s, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	before := readFile(t, db)
	err = (&Restore{DBPath: db, From: backup, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore while the database is open: %v, want an \"in use\" error", err)
	}
	if !bytes.Equal(readFile(t, db), before) {
		t.Error("the database changed")
	}
	wantOnly(t, dir, "backup.db", "proactivechat.db")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantChat(t, db, chat, events)
}

func TestOfflineBackupRefusesWhileTheDatabaseIsInUse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	seedDB(t, db, "chat_live")
	s, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = (&Backup{DBPath: db, Out: filepath.Join(dir, "backup.db"), LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-server") {
		t.Fatalf("offline backup of a database in use: %v, want an error pointing to -server", err)
	}
	wantOnly(t, dir, "proactivechat.db")
}

func TestBackupOfAMissingDatabaseCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	err := (&Backup{DBPath: filepath.Join(dir, "missing.db"), Out: filepath.Join(dir, "backup.db")}).Run(context.Background(), io.Discard)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("backup of a missing database: %v, want ErrNotExist", err)
	}
	err = (&Restore{DBPath: filepath.Join(dir, "db"), From: filepath.Join(dir, "missing.db")}).Run(context.Background(), io.Discard)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("restore of a missing backup: %v, want ErrNotExist", err)
	}
	wantOnly(t, dir)
}

// runApp serves the real server on a loopback port, on the database at
// path, until the test ends.
func runApp(t *testing.T, path string) *app.App {
	t.Helper()
	a, err := app.Open(app.Config{Addr: "127.0.0.1:0", DBPath: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		a.Shutdown(context.Background())
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

func TestHotBackupFromARunningServer(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	a := runApp(t, db)
	if a.InitialAPIKey == "" {
		t.Fatal("a new database got no initial API key")
	}
	chat, events := seedChat(t, a.Store, "chat_1", 50)
	url := "http://" + a.Addr().String()
	out := filepath.Join(dir, "backup.db")

	// Only an admin API key gets the database: nothing is written
	// without one, or with an agent's session.
	agent, err := a.Service.CreateAgent(context.Background(), domain.AgentSpec{DisplayName: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	_, session, err := a.Service.CreateAgentSession(context.Background(), agent.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key, want string }{
		{"no key", "", "401 Unauthorized"},
		{"unknown key", "pca_not-a-key", "401 Unauthorized"},
		{"agent session", session, "403 Forbidden"},
	} {
		err := (&Backup{Server: url, APIKey: tc.key, Out: out, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hot backup with %s: %v, want %s", tc.name, err, tc.want)
		}
		wantOnly(t, dir, "proactivechat.db")
	}

	// Writes go on during the backup: it is one consistent snapshot.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				seedChat(t, a.Store, fmt.Sprintf("chat_w%d_%d", w, i), 3)
			}
		})
	}
	var buf bytes.Buffer
	b := &Backup{Server: url + "/", APIKey: a.InitialAPIKey, Out: out, LockTimeout: lockTimeout}
	err = b.Run(context.Background(), &buf)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("hot backup: %v", err)
	}
	t.Log(strings.TrimSpace(buf.String()))

	restored := filepath.Join(dir, "restored", "proactivechat.db")
	if err := (&Restore{DBPath: restored, From: b.Out, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	wantChat(t, restored, chat, events)
}

func TestHotBackupKeyFromTheEnvironment(t *testing.T) {
	t.Setenv("PROACTIVECHAT_API_KEY", "pca_from_env")
	b := &Backup{}
	if err := b.ParseFlags([]string{"-server", "http://127.0.0.1:8080", "-out", "b.db"}); err != nil {
		t.Fatal(err)
	}
	if b.APIKey != "pca_from_env" {
		t.Errorf("APIKey = %q, want the one in PROACTIVECHAT_API_KEY", b.APIKey)
	}
	if err := b.ParseFlags([]string{"-server", "http://127.0.0.1:8080", "-out", "b.db", "-api-key", "pca_flag"}); err != nil {
		t.Fatal(err)
	}
	if b.APIKey != "pca_flag" {
		t.Errorf("APIKey = %q, want -api-key's", b.APIKey)
	}
}

func TestHotBackupRefusesABadResponse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "proactivechat.db")
	seedDB(t, db, "chat_1")
	good := readFile(t, db)
	out := filepath.Join(dir, "backup.db")
	previous := []byte("the previous backup")
	if err := os.WriteFile(out, previous, 0o600); err != nil {
		t.Fatal(err)
	}

	for name, h := range map[string]http.HandlerFunc{
		"not found": http.NotFound,
		"not a database": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("hello"))
		},
		"cut short": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(good[:len(good)/2])
			panic(http.ErrAbortHandler)
		},
		"ended early": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(good[:len(good)/2])
		},
		"wrong content type": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write(good)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			err := (&Backup{Server: srv.URL, Out: out, LockTimeout: lockTimeout}).Run(context.Background(), io.Discard)
			if err == nil {
				t.Fatal("backup succeeded")
			}
			t.Logf("refused: %v", err)
			if !bytes.Equal(readFile(t, out), previous) {
				t.Error("the previous backup changed")
			}
			wantOnly(t, dir, "backup.db", "proactivechat.db")
		})
	}
}

func TestSubcommandFlags(t *testing.T) {
	for _, tc := range []struct {
		tool    tool
		args    []string
		wantErr string
	}{
		{&Backup{}, []string{"-out", "b.db"}, ""},
		{&Backup{}, []string{"-out", "b.db", "-server", "http://127.0.0.1:8080"}, ""},
		{&Backup{}, []string{"-db", "a.db"}, "-out is required"},
		{&Backup{}, []string{"-out", "b.db", "-db", "a.db", "-server", "http://x"}, "not both"},
		{&Backup{}, []string{"-out", "b.db", "extra"}, "unexpected arguments"},
		{&Restore{}, []string{"-from", "b.db", "-db", "a.db"}, ""},
		{&Restore{}, []string{"-db", "a.db"}, "-from is required"},
		{&Compact{}, []string{"-db", "a.db", "-out", "c.db"}, ""},
		{&Compact{}, []string{"-db", "a.db"}, "-out is required"},
		{&Compact{}, []string{"-out", "c.db", "extra"}, "unexpected arguments"},
	} {
		err := tc.tool.ParseFlags(tc.args)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%T.ParseFlags(%q) = %v, want %q", tc.tool, tc.args, err, tc.wantErr)
		}
	}
}

func TestClusterFlags(t *testing.T) {
	var m Main
	if err := m.ParseFlags([]string{"-node", "n1", "-nats-listen", "127.0.0.1:6222", "-nats-routes", "127.0.0.1:6223, 127.0.0.1:6224"}); err != nil {
		t.Fatal(err)
	}
	if m.Cluster.Node != "n1" || m.Cluster.NATSListen != "127.0.0.1:6222" || !slices.Equal(m.Cluster.NATSRoutes, []string{"127.0.0.1:6223", "127.0.0.1:6224"}) ||
		m.Cluster.LeaderTimeout != app.DefaultLeaderTimeout {
		t.Errorf("parsed %+v", m.Cluster)
	}
	m = Main{}
	if err := m.ParseFlags([]string{"-node", "n1", "-leader-timeout", "5s"}); err != nil || m.Cluster.LeaderTimeout != 5*time.Second {
		t.Errorf("-leader-timeout 5s: %v, %v", err, m.Cluster.LeaderTimeout)
	}
	m = Main{}
	if err := m.ParseFlags([]string{"-node", "n1"}); err != nil || m.Cluster.ReadsOnLeader {
		t.Errorf("a node serves reads from its file by default: %v, %+v", err, m.Cluster)
	}
	m = Main{}
	if err := m.ParseFlags([]string{"-node", "n1", "-reads-on-leader"}); err != nil || !m.Cluster.ReadsOnLeader {
		t.Errorf("-reads-on-leader: %v, %+v", err, m.Cluster)
	}
	m = Main{}
	if err := m.ParseFlags(nil); err != nil || m.Cluster.Node != "" {
		t.Errorf("no cluster flags: %v, %+v; want a single node", err, m.Cluster)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-nats-routes", "127.0.0.1:6223"}, "need -node"},
		{[]string{"-reads-on-leader"}, "-reads-on-leader needs -node"},
		{[]string{"-node", "n 1"}, `-node "n 1"`},
		{[]string{"-node", "n1", "-nats-routes", "127.0.0.1:6223"}, "-nats-routes needs -nats-listen"},
		{[]string{"-node", "n1", "-nats-url", "nats://x:4222", "-nats-listen", "127.0.0.1:6222"}, "-nats-url uses an existing NATS"},
		{[]string{"-node", "n1", "-nats-listen", "6222"}, `"6222": want HOST:PORT`},
		{[]string{"-node", "n1", "-leader-timeout", "100ms"}, `-leader-timeout "100ms"`},
		{[]string{"-node", "n1", "-leader-timeout", "soon"}, `-leader-timeout "soon"`},
	} {
		m := Main{}
		if err := m.ParseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseFlags(%q) = %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestClusterTLSFlags: a cluster node serves TLS with -tls-cert and
// -tls-key, as a single node does, and -tls-ca (or PROACTIVECHAT_TLS_CA)
// names the CA file it trusts to verify the leader's certificate: a file
// that is missing or holds no PEM certificate is refused at startup,
// naming the flag and the file.
func TestClusterTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := writeCAFile(t, dir)
	var m Main
	if err := m.ParseFlags([]string{"-node", "n1", "-tls-cert", "node.pem", "-tls-key", "node-key.pem", "-tls-ca", ca}); err != nil {
		t.Fatalf("-tls-cert on a cluster node: %v", err)
	}
	if m.TLSCert != "node.pem" || m.TLSKey != "node-key.pem" || m.Cluster.TLSCAFile != ca {
		t.Errorf("parsed TLS %q %q, CA %q", m.TLSCert, m.TLSKey, m.Cluster.TLSCAFile)
	}
	t.Setenv("PROACTIVECHAT_TLS_CA", ca)
	m = Main{}
	if err := m.ParseFlags([]string{"-node", "n1"}); err != nil || m.Cluster.TLSCAFile != ca {
		t.Errorf("PROACTIVECHAT_TLS_CA: %v, CA %q", err, m.Cluster.TLSCAFile)
	}
	t.Setenv("PROACTIVECHAT_TLS_CA", "")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-node", "n1", "-tls-ca", missing}, fmt.Sprintf("-tls-ca %q: open", missing)},
		{[]string{"-node", "n1", "-tls-ca", notPEM}, fmt.Sprintf("-tls-ca %q: no PEM certificate", notPEM)},
		{[]string{"-tls-ca", ca}, "-tls-ca need -node"},
		{[]string{"-node", "n1", "-tls-cert", "node.pem"}, "-tls-cert and -tls-key go together"},
	} {
		m := Main{}
		if err := m.ParseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseFlags(%q) = %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

// writeCAFile writes a self-signed CA certificate in dir, as PEM.
func writeCAFile(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// bucketRootOutOfRange returns db with the root page of the top-level bucket
// name pointing far past the end of the file. A bucket's header (its root
// page number, then its sequence) follows its name in the root leaf page;
// the name's place in the file is where bbolt's memory map shows it.
func bucketRootOutOfRange(t *testing.T, db []byte, name string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "find.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	at := -1
	if err := bdb.View(func(tx *bbolt.Tx) error {
		c := tx.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil && string(k) == name {
				at = int(uintptr(unsafe.Pointer(unsafe.SliceData(k))) - bdb.Info().Data)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if at < 0 || at+len(name)+8 > len(db) || string(db[at:at+len(name)]) != name {
		t.Fatalf("bucket %q not found in the file", name)
	}
	out := bytes.Clone(db)
	binary.LittleEndian.PutUint64(out[at+len(name):], 1<<20)
	return out
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	seedDB(t, good, "chat_check")
	stdout, stderr, code := runCLI(t, "check", "-db", good)
	if code != 0 || !strings.Contains(stdout, "is a valid Proactive Chat database") {
		t.Fatalf("check of a good database: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, bucketRootOutOfRange(t, readFile(t, good), "message_keys"), 0o600); err != nil {
		t.Fatal(err)
	}
	// In its own process the check may crash on such a file; checkDB,
	// which runs it as a child, turns that into an answer.
	if err := checkDB(bad, lockTimeout); err == nil || !strings.Contains(err.Error(), "crashed") {
		t.Fatalf("checkDB of a page out of range: %v, want a crash reported", err)
	}
	if err := checkDB(good, lockTimeout); err != nil {
		t.Fatalf("checkDB of a good database: %v", err)
	}
}
