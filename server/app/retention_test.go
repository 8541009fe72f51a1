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
