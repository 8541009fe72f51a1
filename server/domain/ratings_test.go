package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// ratedEngine has a site "shop" served by agent-a, and a chat between
// agent-a and a visitor, active.
func ratedEngine(t *testing.T) (e *engine, vid string, chat *domain.Chat) {
	t.Helper()
	e = newEngine(t)
	e.site(t, "shop", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	vid = e.visitor(t, "shop")
	e.page(t, vid, home)
	chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
	if err != nil {
		t.Fatal(err)
	}
	e.send(t, chat.ID, vid, "Hello")
	return e, vid, chat
}

func (e *engine) summary(t *testing.T, siteID, agentID string, from, to time.Time) domain.RatingSummary {
	t.Helper()
	s, err := e.svc.GetRatingSummary(ctx(t), siteID, agentID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRateChat(t *testing.T) {
	t.Run("Rules", func(t *testing.T) {
		e, vid, chat := ratedEngine(t)
		// Not before the visitor left or the chat ended.
		_, err := e.svc.RateChat(ctx(t), chat.ID, vid, 5, "")
		wantCode(t, err, domain.CodeFailedPrecondition)
		// Bad input names the field.
		_, err = e.svc.RateChat(ctx(t), "", "", 0, strings.Repeat("x", 1001))
		if got := strings.Join(violationFields(t, err), ","); got != "chat_id,comment,score,visitor_id" {
			t.Fatalf("violations = %s", got)
		}
		_, err = e.svc.RateChat(ctx(t), chat.ID, vid, 6, "")
		if got := strings.Join(violationFields(t, err), ","); got != "score" {
			t.Fatalf("violations = %s", got)
		}
		// Only the chat's visitor.
		_, err = e.svc.RateChat(ctx(t), chat.ID, "agent-a", 5, "")
		wantCode(t, err, domain.CodePermissionDenied)
		_, err = e.svc.RateChat(ctx(t), "chat_none", vid, 5, "")
		wantCode(t, err, domain.CodeNotFound)

		// Once the visitor left (the agent has not), they may rate.
		e.leave(t, chat.ID, vid)
		e.clock.Advance(time.Minute)
		got, err := e.svc.RateChat(ctx(t), chat.ID, vid, 4, "  Quick and kind.  ")
		if err != nil {
			t.Fatal(err)
		}
		want := domain.Rating{Score: 4, Comment: "Quick and kind.", Time: t0.Add(time.Minute)}
		if got.Rating == nil || got.Rating.Score != want.Score || got.Rating.Comment != want.Comment || !got.Rating.Time.Equal(want.Time) {
			t.Fatalf("rating = %+v, want %+v", got.Rating, want)
		}
		// A retry returns the same; a different rating is refused.
		e.clock.Advance(time.Minute)
		again, err := e.svc.RateChat(ctx(t), chat.ID, vid, 4, "Quick and kind.")
		if err != nil || !again.Rating.Time.Equal(want.Time) {
			t.Fatalf("retry: %v, %+v", err, again)
		}
		_, err = e.svc.RateChat(ctx(t), chat.ID, vid, 1, "")
		wantCode(t, err, domain.CodeFailedPrecondition)
		if s := e.summary(t, "shop", "", time.Time{}, time.Time{}); s.Count != 1 {
			t.Fatalf("a retry counted again: %+v", s)
		}

		// The rating is on the chat, not an event: the chat's events end
		// with ChatEnded when the agent leaves.
		e.leave(t, chat.ID, "agent-a")
		c, err := e.svc.GetChat(ctx(t), chat.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State != domain.ChatStateEnded || c.Rating == nil || c.Rating.Score != 4 {
			t.Fatalf("chat = %+v", c)
		}
		events, _, err := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if last := events[len(events)-1]; last.Ended == nil || last.Seq != c.LastSeq {
			t.Fatalf("last event = %+v, want ChatEnded at %d", last, c.LastSeq)
		}
		text, _, err := e.svc.Transcript(ctx(t), chat.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(text, "\nRating: 4/5, given 2026-11-24T09:01:00Z\nComment: Quick and kind.\n") {
			t.Fatalf("transcript ends:\n%s", text[max(0, len(text)-200):])
		}
	})

	t.Run("AfterTheChatEnded", func(t *testing.T) {
		e, vid, chat := ratedEngine(t)
		e.leave(t, chat.ID, "agent-a")
		_, err := e.svc.RateChat(ctx(t), chat.ID, vid, 5, "")
		wantCode(t, err, domain.CodeFailedPrecondition) // the visitor is still in it
		e.leave(t, chat.ID, vid)
		if _, err := e.svc.RateChat(ctx(t), chat.ID, vid, 5, ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRatingSummary(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withInvite())
	e.site(t, "other", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop", "other")
	e.agent(t, "agent-b", "Bo", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	e.setStatus(t, "agent-b", domain.StatusAvailable)
	rate := func(site, agent string, score uint32) string {
		t.Helper()
		vid := e.visitor(t, site)
		p, _ := e.page(t, vid, home)
		defer p.stop()
		chat, err := e.svc.StartChat(ctx(t), agent, vid)
		if err != nil {
			t.Fatal(err)
		}
		e.leave(t, chat.ID, vid)
		if _, err := e.svc.RateChat(ctx(t), chat.ID, vid, score, "c"); err != nil {
			t.Fatal(err)
		}
		return vid
	}
	day0 := t0
	rate("shop", "agent-a", 5)
	rate("shop", "agent-b", 3)
	rate("other", "agent-a", 4)
	e.clock.Advance(24 * time.Hour)
	day1 := e.clock.Now()
	erased := rate("shop", "agent-a", 1)

	for _, c := range []struct {
		name         string
		site, agent  string
		from, to     time.Time
		count        uint32
		avg          float64
		distribution domain.RatingCounts
	}{
		{"site", "shop", "", time.Time{}, time.Time{}, 3, 3, domain.RatingCounts{1, 0, 1, 0, 1}},
		{"site, first day", "shop", "", day0, day0, 2, 4, domain.RatingCounts{0, 0, 1, 0, 1}},
		{"site, second day", "shop", "", day1, day1, 1, 1, domain.RatingCounts{1, 0, 0, 0, 0}},
		{"agent, every site", "", "agent-a", time.Time{}, time.Time{}, 3, 10.0 / 3, domain.RatingCounts{1, 0, 0, 1, 1}},
		{"agent on a site", "shop", "agent-a", time.Time{}, time.Time{}, 2, 3, domain.RatingCounts{1, 0, 0, 0, 1}},
		{"agent, first day", "", "agent-a", day0, day0.Add(time.Hour), 2, 4.5, domain.RatingCounts{0, 0, 0, 1, 1}},
		{"other agent", "", "agent-b", time.Time{}, time.Time{}, 1, 3, domain.RatingCounts{0, 0, 1, 0, 0}},
		{"no ratings", "other", "agent-b", time.Time{}, time.Time{}, 0, 0, domain.RatingCounts{}},
	} {
		s := e.summary(t, c.site, c.agent, c.from, c.to)
		if s.Count != c.count || s.Average != c.avg || s.Counts != c.distribution {
			t.Errorf("%s: %+v, want count %d, average %v, %v", c.name, s, c.count, c.avg, c.distribution)
		}
	}

	// Erasing a rated chat's visitor leaves the counters: they are
	// statistics, without personal data.
	e.clock.Advance(grace + time.Second) // the visitor has left the site
	e.settle(t)
	if err := e.svc.EraseVisitor(ctx(t), erased); err != nil {
		t.Fatal(err)
	}
	if s := e.summary(t, "shop", "", time.Time{}, time.Time{}); s.Count != 3 {
		t.Fatalf("after erasure: %+v, want the 3 ratings still counted", s)
	}

	_, err := e.svc.GetRatingSummary(ctx(t), "", "", time.Time{}, time.Time{})
	if got := strings.Join(violationFields(t, err), ","); got != "site_id" {
		t.Fatalf("violations = %s", got)
	}
	_, err = e.svc.GetRatingSummary(ctx(t), "shop", "", day1, day0)
	if got := strings.Join(violationFields(t, err), ","); got != "start_time" {
		t.Fatalf("violations = %s", got)
	}
	_, err = e.svc.GetRatingSummary(ctx(t), "nowhere", "", time.Time{}, time.Time{})
	wantCode(t, err, domain.CodeNotFound)

	// The counters survive a restart (they are in the store).
	e.restart(t)
	if s := e.summary(t, "", "agent-a", time.Time{}, time.Time{}); s.Count != 3 {
		t.Fatalf("after a restart: %+v", s)
	}
}
