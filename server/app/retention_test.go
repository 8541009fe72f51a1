package app_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// TestRetentionMetrics: what the retention sweeps delete shows in /metrics.
func TestRetentionMetrics(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "r.db"), Clock: clock,
		Retention: &domain.Retention{Visitors: 2 * time.Hour}})
	ctx := context.Background()
	if _, err := a.Service.CreateSite(ctx, domain.SiteSpec{ID: "site_r", Name: "R"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, _, err := a.Service.StartVisitorSession(ctx, "site_r", ""); err != nil {
			t.Fatal(err)
		}
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + a.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	for _, want := range []string{`proactivechat_retention_deleted_total{kind="visitor"} 0`, `proactivechat_retention_deleted_total{kind="chat"} 0`} {
		if body := scrape(); !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	clock.Advance(2*time.Hour + 10*time.Minute) // the periodic sweep runs
	if body := scrape(); !strings.Contains(body, `proactivechat_retention_deleted_total{kind="visitor"} 3`) {
		t.Errorf("after the sweep /metrics says\n%s\nwant 3 visitors deleted", body)
	}
}

// TestRetentionSettingsOverREST: a site's retention periods are set and
// read over REST, and a bad one is refused naming its field.
func TestRetentionSettingsOverREST(t *testing.T) {
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "r.db")})
	if _, err := a.Service.CreateSite(context.Background(), domain.SiteSpec{ID: "site_r", Name: "R"}); err != nil {
		t.Fatal(err)
	}
	patch := func(body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPatch, "http://"+a.Addr().String()+"/v1/sites/site_r", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+a.InitialAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := patch(`{"retention": {"visitorSeconds": 60}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "retention.visitor_seconds") {
		t.Errorf("a retention of a minute: HTTP %d %s, want 400 naming retention.visitor_seconds", code, body)
	}
	code, body = patch(`{"retention": {"chatSeconds": 7776000}}`)
	if code != http.StatusOK || !strings.Contains(body, `"chatSeconds":7776000`) || !strings.Contains(body, `"visitorSeconds":0`) {
		t.Errorf("90 days of chats: HTTP %d %s", code, body)
	}
	site, err := a.Service.GetSite(context.Background(), "site_r")
	if err != nil || site.Retention != (domain.RetentionSettings{ChatSeconds: 7776000}) {
		t.Errorf("stored retention %+v, %v", site.Retention, err)
	}
}
