package app_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// smallDisk mounts a tmpfs of size bytes for the test and returns its
// directory. It needs root (CI runs as root) and skips the test without it.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount a tmpfs at %s: %v", dir, err)
	}
	// Registered before the server's cleanup, so it runs after the server
	// has closed the file.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes a file at path until the file system has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestStorageFull: when the disk fills up, writes fail with UNAVAILABLE
// "storage full" on every protocol (not INTERNAL), reads go on, health and
// /metrics say so and the log says it once; once space is freed, writes
// resume by themselves, and every message acknowledged is there exactly
// once, also after a restart.
func TestStorageFull(t *testing.T) {
	dir := smallDisk(t, "2m")
	dbPath := filepath.Join(dir, "proactivechat.db")
	clock := fakeclock.New(t0)
	srv := startServer(t, dbPath, clock)
	c := newGRPCClient(t, srv)
	ctx := testContext(t)
	health := healthpb.NewHealthClient(dialGRPC(t, srv))
	checkHealth := func(t *testing.T, service string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		res, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("health Check(%q): %v", service, err)
		}
		if res.GetStatus() != want {
			t.Fatalf("health Check(%q) = %v, want %v", service, res.GetStatus(), want)
		}
	}

	w := newWorld(t, ctx, c, enabledWithoutInvite())
	chat := w.startChat(t, ctx, c)
	// Messages big enough that a few fill a page, so the disk runs out
	// within a few dozen of them.
	text := func(key string) string { return key + " " + strings.Repeat("x", 2000) }
	var acked []string // idempotency keys of the messages acknowledged, in order
	sendKey := func(c api, key string) error {
		res, err := c.SendMessage(ctx, &pb.SendMessageRequest{
			ChatId: chat.GetId(), SenderId: w.agent.GetId(), Text: text(key), IdempotencyKey: key,
		})
		if err == nil {
			if got := res.GetEvent().GetMessage().GetIdempotencyKey(); got != key {
				t.Fatalf("SendMessage %s returned the message of key %q", key, got)
			}
			acked = append(acked, key)
		}
		return err
	}
	for i := range 10 {
		if err := sendKey(c, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatalf("SendMessage before the disk is full: %v", err)
		}
	}
	checkHealth(t, "proactivechat.v1.VisitorService", healthpb.HealthCheckResponse_SERVING)

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	var failedKey string
	var failed error
	for i := 0; i < 500 && failed == nil; i++ {
		failedKey = fmt.Sprintf("during-%d", i)
		failed = sendKey(c, failedKey)
	}
	if failed == nil {
		t.Fatal("500 messages were stored on a full disk")
	}
	t.Logf("%s failed, after %d messages acknowledged: %v", failedKey, len(acked), failed)

	t.Run("ErrStorageFull", func(t *testing.T) {
		wantCode(t, failed, connect.CodeUnavailable)
		if msg := errorMessage(failed); !strings.HasPrefix(msg, "storage full") {
			t.Fatalf("error message %q, want one starting with \"storage full\"", msg)
		}
		// Every protocol says the same to a retry of the message. (Another
		// write might fit in pages the file already has.)
		forEachProtocol(t, func(t *testing.T, p protocol) {
			pc := p.newClient(t, srv)
			err := sendKey(pc, failedKey)
			wantCode(t, err, connect.CodeUnavailable)
			if msg := errorMessage(err); !strings.HasPrefix(msg, "storage full") {
				t.Fatalf("error message %q, want one starting with \"storage full\"", msg)
			}
		})
	})

	t.Run("ReadsGoOn", func(t *testing.T) {
		got := must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})).GetChat()
		if want := uint32(1 + len(acked)); got.GetLastSeq() != want {
			t.Fatalf("GetChat: last_seq %d, want %d", got.GetLastSeq(), want)
		}
		checkMessages(t, transcript(t, ctx, c, chat.GetId(), 0), chat.GetId(), acked)
	})

	t.Run("HealthAndMetrics", func(t *testing.T) {
		for _, service := range []string{"proactivechat.v1.VisitorService", "proactivechat.v1.ChatService"} {
			checkHealth(t, service, healthpb.HealthCheckResponse_NOT_SERVING)
		}
		checkHealth(t, "", healthpb.HealthCheckResponse_SERVING) // the process is fine: no restarts
		if got := metricValue(t, srv, "proactivechat_storage_full"); got != 1 {
			t.Errorf("proactivechat_storage_full = %v while the disk is full, want 1", got)
		}
		if got := metricValue(t, srv, `proactivechat_store_write_failures_total{reason="storage_full"}`); got == 0 {
			t.Errorf("no write failures counted for a full disk")
		}
		if got := metricValue(t, srv, `proactivechat_store_write_failures_total{reason="other"}`); got != 0 {
			t.Errorf("%v write failures counted for other reasons, want 0", got)
		}
	})

	t.Run("LoggedOnce", func(t *testing.T) {
		logs := srv.logs.String()
		if n := strings.Count(logs, "storage full:"); n != 1 {
			t.Errorf("the log says \"storage full:\" %d times after several failed writes, want once:\n%s", n, logs)
		}
		if strings.Contains(logs, "internal error") {
			t.Errorf("a full disk was logged as an internal error:\n%s", logs)
		}
	})

	// An operator's first reflex, a restart, changes nothing: the server
	// starts on the full disk and serves what it has.
	if err := srv.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	srv = startServer(t, dbPath, clock)
	c = newGRPCClient(t, srv)
	health = healthpb.NewHealthClient(dialGRPC(t, srv))
	t.Run("RestartWhileFull", func(t *testing.T) {
		checkMessages(t, transcript(t, ctx, c, chat.GetId(), 0), chat.GetId(), acked)
		// The restarted store does not know the disk is full until a
		// write fails; a message may still fit in pages the file has free.
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			err = sendKey(c, failedKey)
			if err == nil {
				failedKey = fmt.Sprintf("restarted-%d", i)
			}
		}
		wantCode(t, err, connect.CodeUnavailable)
		checkHealth(t, "proactivechat.v1.VisitorService", healthpb.HealthCheckResponse_NOT_SERVING)
	})

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}

	t.Run("WritesResume", func(t *testing.T) {
		// The client's retry of the refused message is stored, once.
		if err := sendKey(c, failedKey); err != nil {
			t.Fatalf("retry of %s once space is freed: %v", failedKey, err)
		}
		for i := range 5 {
			if err := sendKey(c, fmt.Sprintf("after-%d", i)); err != nil {
				t.Fatalf("SendMessage once space is freed: %v", err)
			}
		}
		checkHealth(t, "proactivechat.v1.VisitorService", healthpb.HealthCheckResponse_SERVING)
		if got := metricValue(t, srv, "proactivechat_storage_full"); got != 0 {
			t.Errorf("proactivechat_storage_full = %v once space is freed, want 0", got)
		}
		if logs := srv.logs.String(); !strings.Contains(logs, "storage has room again") {
			t.Errorf("the log does not say writes resumed:\n%s", logs)
		}
		checkMessages(t, transcript(t, ctx, c, chat.GetId(), 0), chat.GetId(), acked)
	})

	t.Run("AfterRestart", func(t *testing.T) {
		if err := srv.shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		srv2 := startServer(t, dbPath, clock)
		c2 := newGRPCClient(t, srv2)
		checkMessages(t, transcript(t, ctx, c2, chat.GetId(), 0), chat.GetId(), acked)
	})
}

// checkMessages checks that a chat's transcript is the start event and
// then the messages of keys, each once, in that order, with contiguous
// sequence numbers.
func checkMessages(t *testing.T, events []*pb.ChatEvent, chatID string, keys []string) {
	t.Helper()
	checkContiguous(t, events, chatID, 1)
	if len(events) != 1+len(keys) {
		t.Fatalf("transcript has %d events, want the start and %d messages: %s", len(events), len(keys), describe(events))
	}
	for i, key := range keys {
		if got := events[1+i].GetMessage().GetIdempotencyKey(); got != key {
			t.Fatalf("event %d is the message of key %q, want %q", 2+i, got, key)
		}
	}
}
