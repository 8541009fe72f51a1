package domain_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// collectSeqs reads chat events from s until it has seen seq last, and
// fails on any gap or duplicate.
func collectSeqs(t *testing.T, s *stream[domain.ChatUpdate], after, last uint32) {
	t.Helper()
	want := after + 1
	for want <= last {
		u := s.next(t, func(u domain.ChatUpdate) bool { return u.Event != nil })
		if u.Event.Seq != want {
			t.Fatalf("got seq %d, want %d (gap or duplicate)", u.Event.Seq, want)
		}
		want++
	}
}

func TestWatchChatResumesWithoutGapOrDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
	}{
		{"FastSubscriber", 0},
		// A buffer of 1 cuts the subscriber off over and over: it must
		// recover every time from the store.
		{"SlowSubscriberCutOff", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.buffer)
			site, agent := e.siteWithAgent(t, 3)
			chat, v := e.chatting(t, site, agent)
			for i := range 20 {
				e.svc.SendMessage(ctx(t), chat.ID, v.ID, fmt.Sprint("before ", i), "")
			}
			// Writers keep going while the stream switches from backlog to live.
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range 50 {
						if _, err := e.svc.SendMessage(context.Background(), chat.ID, agent.ID, fmt.Sprint(w, "-", i), ""); err != nil {
							t.Error(err)
						}
					}
				})
			}
			s := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
				return e.svc.WatchChat(c, chat.ID, 5, send)
			})
			wg.Wait()
			collectSeqs(t, s, 5, 1+20+200)
		})
	}
}

func TestWatchChatEndsAfterEnded(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, v := e.chatting(t, site, agent)
	s := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return e.svc.WatchChat(c, chat.ID, 0, send)
	})
	e.svc.LeaveChat(ctx(t), chat.ID, v.ID)
	e.svc.LeaveChat(ctx(t), chat.ID, agent.ID)
	collectSeqs(t, s, 0, 4)
	if err := <-s.done; err != nil {
		t.Fatalf("stream ended with %v, want a clean end after ChatEnded", err)
	}
	s.done <- nil
	t.Run("ErrAfterSeqBeyondEnd", func(t *testing.T) {
		err := e.svc.WatchChat(ctx(t), chat.ID, 5, func(domain.ChatUpdate) error { return nil })
		wantCode(t, err, domain.CodeInvalid)
	})
	t.Run("ErrUnknownChat", func(t *testing.T) {
		err := e.svc.WatchChat(ctx(t), "chat_nope", 0, func(domain.ChatUpdate) error { return nil })
		wantCode(t, err, domain.CodeNotFound)
	})
}

func TestWatchVisitor(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)
	s := e.visit(t, v.ID, "https://shop.example/")

	chat, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	state := s.next(t, func(u domain.VisitorUpdate) bool { return u.State != nil })
	if state.State.Engagement != domain.EngagementChatting || state.State.Chat.ID != chat.ID {
		t.Fatalf("state after StartChat = %+v", state.State)
	}
	started := s.next(t, func(u domain.VisitorUpdate) bool { return u.Event != nil })
	if started.Event.Started == nil || started.Event.Started.Agent.DisplayName != "Dana" {
		t.Fatalf("first chat event = %+v", started.Event)
	}
	e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "Hello! Can I help?", "")
	msg := s.next(t, func(u domain.VisitorUpdate) bool { return u.Event != nil })
	if msg.Event.Seq != 2 || msg.Event.Message.Text != "Hello! Can I help?" {
		t.Fatalf("message = %+v", msg.Event)
	}
	e.svc.SetTyping(ctx(t), chat.ID, agent.ID, true)
	if ty := s.next(t, func(u domain.VisitorUpdate) bool { return u.Typing != nil }); !ty.Typing.Typing || ty.Typing.Participant.ID != agent.ID {
		t.Fatalf("typing = %+v", ty.Typing)
	}

	t.Run("ResumeAfterDrop", func(t *testing.T) {
		s.stop()
		e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "missed 1", "")
		e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "missed 2", "")
		resumed := startStream(t, func(c context.Context, send func(domain.VisitorUpdate) error) error {
			return e.svc.WatchVisitor(c, domain.VisitorWatch{VisitorID: v.ID, ResumeChatID: chat.ID, ResumeAfterSeq: 2}, send)
		})
		if st := resumed.next(t, func(domain.VisitorUpdate) bool { return true }); st.State == nil {
			t.Fatalf("first update on resume = %+v, want the state", st)
		}
		for _, want := range []string{"missed 1", "missed 2"} {
			u := resumed.next(t, func(u domain.VisitorUpdate) bool { return u.Event != nil })
			if u.Event.Message == nil || u.Event.Message.Text != want {
				t.Fatalf("resumed event = %+v, want %q", u.Event, want)
			}
		}
		e.svc.SendMessage(ctx(t), chat.ID, agent.ID, "live", "")
		if u := resumed.next(t, func(u domain.VisitorUpdate) bool { return u.Event != nil }); u.Event.Seq != 5 {
			t.Fatalf("live event seq = %d, want 5", u.Event.Seq)
		}
	})
	t.Run("ErrResumeBeyondEnd", func(t *testing.T) {
		err := e.svc.WatchVisitor(ctx(t), domain.VisitorWatch{VisitorID: v.ID, ResumeChatID: chat.ID, ResumeAfterSeq: 99}, func(domain.VisitorUpdate) error { return nil })
		wantCode(t, err, domain.CodeInvalid)
	})
	t.Run("ErrUnknownVisitor", func(t *testing.T) {
		err := e.svc.WatchVisitor(ctx(t), domain.VisitorWatch{VisitorID: "visitor_nope"}, func(domain.VisitorUpdate) error { return nil })
		wantCode(t, err, domain.CodeNotFound)
	})
}

func TestShutdownEndsStreams(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, _ := e.chatting(t, site, agent)
	s := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return e.svc.WatchChat(c, chat.ID, 0, send)
	})
	collectSeqs(t, s, 0, 1)
	e.svc.Close()
	err := <-s.done
	s.done <- nil
	wantCode(t, err, domain.CodeUnavailable)
}

func TestKeepAlive(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	chat, _ := e.chatting(t, site, agent)
	s := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return e.svc.WatchChat(c, chat.ID, 0, send)
	})
	collectSeqs(t, s, 0, 1) // the stream is up, and so is its keep-alive timer
	v := e.newVisitor(t, site.ID)
	vs := e.visit(t, v.ID, "https://shop.example/")
	e.clock.Advance(keepAlive)
	if u := s.next(t, func(u domain.ChatUpdate) bool { return !u.KeepAlive.IsZero() }); !u.KeepAlive.Equal(t0.Add(keepAlive)) {
		t.Fatalf("chat keep-alive at %v", u.KeepAlive)
	}
	vs.next(t, func(u domain.VisitorUpdate) bool { return !u.KeepAlive.IsZero() })
}

// TestVisitorKeepAlivesSpreadOut: widget streams opened together do not
// send their keep-alives together: each one's first comes somewhere in the
// second half of the interval, then one every interval.
func TestVisitorKeepAlivesSpreadOut(t *testing.T) {
	e := newEnv(t, 0)
	site, _ := e.siteWithAgent(t, 3)
	const n = 20
	var streams []*stream[domain.VisitorUpdate]
	for range n {
		v := e.newVisitor(t, site.ID)
		streams = append(streams, e.visit(t, v.ID, "https://shop.example/"))
	}
	opened := e.clock.Now()
	isKeepAlive := func(u domain.VisitorUpdate) bool { return !u.KeepAlive.IsZero() }
	e.clock.Advance(keepAlive)
	firsts := map[time.Time]bool{}
	for i, s := range streams {
		// The fake clock stamps each keep-alive with its timer's due time.
		at := s.next(t, isKeepAlive).KeepAlive
		if since := at.Sub(opened); since <= keepAlive/2 || since > keepAlive {
			t.Fatalf("stream %d: first keep-alive after %v, want in (%v, %v]", i, since, keepAlive/2, keepAlive)
		}
		firsts[at] = true
		e.clock.Advance(keepAlive)
		if next := s.next(t, isKeepAlive).KeepAlive; next.Sub(at) != keepAlive {
			t.Fatalf("stream %d: keep-alives at %v then %v, want %v apart", i, at, next, keepAlive)
		}
	}
	if len(firsts) < 2 {
		t.Errorf("all %d first keep-alives came at the same time %v", n, firsts)
	}
}
