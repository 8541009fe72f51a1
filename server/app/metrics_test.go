package app_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestMetrics checks /metrics speaks the Prometheus text format and that
// its figures follow what happens.
func TestMetrics(t *testing.T) {
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "m.db")})
	ctx := context.Background()
	site, err := a.Service.CreateSite(ctx, domain.SiteSpec{ID: "site_m", Name: "M"})
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + a.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("content type %q", ct)
		}
		return string(body)
	}
	value := func(body, series string) string {
		t.Helper()
		m := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + " (\\S+)$").FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no series %s in\n%s", series, body)
		}
		return m[1]
	}
	before := scrape()
	for _, family := range []string{"proactivechat_visitors_online", "proactivechat_queue_depth", "proactivechat_streams_open",
		"proactivechat_alerts_total", "proactivechat_chats_active", "proactivechat_chats_ended_total",
		"proactivechat_message_latency_seconds", "proactivechat_bolt_commit_seconds", "proactivechat_bolt_batch_size", "proactivechat_agents",
		"proactivechat_mass_disconnects_total", "proactivechat_streams_refused_total"} {
		if !strings.Contains(before, "# TYPE "+family+" ") {
			t.Errorf("family %s missing", family)
		}
	}
	if got := value(before, `proactivechat_queue_depth{site="site_m"}`); got != "0" {
		t.Fatalf("queue depth = %s", got)
	}
	if got := value(before, "proactivechat_mass_disconnects_total"); got != "0" {
		t.Fatalf("mass disconnects = %s", got)
	}
	if got := value(before, `proactivechat_streams_refused_total{kind="presence"}`); got != "0" {
		t.Fatalf("presence streams refused = %s", got)
	}
	session := domain.Principal{Kind: domain.AgentPrincipal, ID: "agent_m", SessionID: "session_m"}
	for range domain.StreamCapOf(domain.StreamWatchPresence).PerAgentSession {
		release, err := a.Service.OpenStream(session, domain.StreamWatchPresence)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	if _, err := a.Service.OpenStream(session, domain.StreamWatchPresence); domain.ErrorCode(err) != domain.CodeResourceExhausted {
		t.Fatalf("stream past the cap: %v", err)
	}
	if got := value(scrape(), `proactivechat_streams_refused_total{kind="presence"}`); got != "1" {
		t.Fatalf("presence streams refused = %s, want 1", got)
	}
	commits := value(before, "proactivechat_bolt_commit_seconds_count")
	if _, err := a.Service.CreateAgent(ctx, domain.AgentSpec{DisplayName: "A", SiteIDs: []string{site.ID}}); err != nil {
		t.Fatal(err)
	}
	after := scrape()
	if value(after, "proactivechat_bolt_commit_seconds_count") == commits {
		t.Fatal("a write did not show in the commit histogram")
	}
	if got := value(after, `proactivechat_agents{status="offline"}`); got != "1" {
		t.Fatalf("offline agents = %s", got)
	}
}
