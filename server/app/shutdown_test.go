package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestShutdownUnderLoad: a shutdown while messages pour in finishes the
// writes in flight. Every message acknowledged before, during or after it
// is in the database afterwards, with the text it was sent with; no
// acknowledgement is given for a message that was not stored.
func TestShutdownUnderLoad(t *testing.T) {
	srv, _ := newServer(t)
	c := newConnectClient(t, srv)
	ctx := testContext(t)
	w := newWorld(t, ctx, c, enabledWithoutInvite())
	chat := w.startChat(t, ctx, c)

	const senders = 16
	type ack struct {
		seq  uint32
		text string
	}
	var (
		mu     sync.Mutex
		acks   []ack
		enough = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for i := range senders {
		sender := w.agent.GetId()
		if i%2 == 1 {
			sender = w.visitor.GetId()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				text := fmt.Sprintf("sender %d message %d", i, n)
				res, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chat.GetId(), SenderId: sender, Text: text, IdempotencyKey: text})
				if err != nil {
					return // the server went away: this one was not acknowledged
				}
				mu.Lock()
				acks = append(acks, ack{res.GetEvent().GetSeq(), text})
				if len(acks) >= 200 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	<-enough
	if err := srv.shutdown(); err != nil {
		t.Fatalf("shutdown under load: %v", err)
	}
	wg.Wait()

	store, err := bolt.Open(srv.Store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := map[uint32]string{}
	err = store.View(context.Background(), func(tx domain.ReadTx) error {
		events, err := tx.ChatEvents(chat.GetId(), 0, 1<<20)
		for _, ev := range events {
			if ev.Message != nil {
				stored[ev.Seq] = ev.Message.Text
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		if stored[a.seq] != a.text {
			t.Fatalf("acknowledged seq %d %q, stored %q", a.seq, a.text, stored[a.seq])
		}
	}
	t.Logf("%d messages acknowledged, %d stored", len(acks), len(stored))
}
