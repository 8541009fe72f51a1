package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestRelayDeliversToEveryWatcher checks the relay floor does the work it
// stands for: each SendMessage reaches every stream watching its chat, and
// only those.
func TestRelayDeliversToEveryWatcher(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: echoMux(), Protocols: &protocols}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	watch := func(chatID string) pb.ChatService_WatchChatClient {
		t.Helper()
		conn, err := dial(ln.Addr().String(), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		s, err := pb.NewChatServiceClient(conn).WatchChat(ctx, &pb.WatchChatRequest{ChatId: chatID})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := s.Recv(); err != nil || m.GetKeepAlive() == nil {
			t.Fatalf("first message %v, %v: want the keep-alive that says the watch is registered", m, err)
		}
		return s
	}
	visitor, agent, other := watch("c1"), watch("c1"), watch("c2")

	conn, err := dial(ln.Addr().String(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewChatServiceClient(conn)
	for _, text := range []string{"one", "two"} {
		resp, err := client.SendMessage(ctx, &pb.SendMessageRequest{ChatId: "c1", SenderId: "v1", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetEvent().GetMessage().GetText(); got != text {
			t.Fatalf("ack carries %q, want %q", got, text)
		}
		for name, s := range map[string]pb.ChatService_WatchChatClient{"visitor": visitor, "agent": agent} {
			m, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if ev := m.GetChatEvent(); ev.GetChatId() != "c1" || ev.GetMessage().GetText() != text || ev.GetMessage().GetSender().GetId() != "v1" {
				t.Errorf("%s's stream got %v, want message %q of v1 in c1", name, m, text)
			}
		}
	}
	if _, err := client.SendMessage(ctx, &pb.SendMessageRequest{ChatId: "c2", SenderId: "v2", Text: "three"}); err != nil {
		t.Fatal(err)
	}
	// c2's watcher gets c2's message and nothing of c1's.
	if m, err := other.Recv(); err != nil || m.GetChatEvent().GetMessage().GetText() != "three" {
		t.Errorf("c2's stream got %v, %v; want only c2's message", m, err)
	}
}
