package app_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestCORS checks the widget can call the API from the sites that list its
// origin, and from no other.
func TestCORS(t *testing.T) {
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "c.db")})
	ctx := context.Background()
	site, err := a.Service.CreateSite(ctx, domain.SiteSpec{Name: "Shop", AllowedOrigins: []string{"https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.Addr().String()
	preflightOf := func(t *testing.T, url, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,connect-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := func(origin string) *http.Response {
		t.Helper()
		return preflightOf(t, base+"/proactivechat.v1.VisitorService/StartVisitorSession", origin)
	}
	t.Run("AllowedOrigin", func(t *testing.T) {
		resp := preflight("https://shop.example")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Connect-Protocol-Version") {
			t.Fatalf("preflight = %d %v", resp.StatusCode, resp.Header)
		}
		req, _ := http.NewRequest(http.MethodPost, base+"/proactivechat.v1.VisitorService/StartVisitorSession",
			strings.NewReader(`{"siteId":"`+site.ID+`"}`))
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
			!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
			t.Fatalf("call = %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("ErrSessionFromOtherOrigin", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/proactivechat.v1.VisitorService/StartVisitorSession",
			strings.NewReader(`{"siteId":"`+site.ID+`"}`))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("session from an unlisted origin: %d, want 403 (permission denied)", resp.StatusCode)
		}
		// The widget reads the refusal (and stops) rather than a CORS failure it would retry.
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://evil.example" {
			t.Fatalf("the refusal is not readable by the page: Access-Control-Allow-Origin %q", got)
		}
		if got := preflight("https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "https://evil.example" {
			t.Fatalf("StartVisitorSession's preflight from an unlisted origin: Access-Control-Allow-Origin %q", got)
		}
	})
	t.Run("ErrSessionFromOtherOriginOverREST", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/sites/"+site.ID+"/sessions", strings.NewReader(`{}`))
		req.Header.Set("Origin", "https://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("REST session from an unlisted origin: %d, want 403", resp.StatusCode)
		}
		req, _ = http.NewRequest(http.MethodPost, base+"/v1/sites/"+site.ID+"/sessions", strings.NewReader(`{}`))
		req.Header.Set("Origin", "https://shop.example")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("REST session from a listed origin: %d", resp.StatusCode)
		}
	})
	t.Run("SameOrigin", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/proactivechat.v1.VisitorService/StartVisitorSession",
			strings.NewReader(`{"siteId":"`+site.ID+`"}`))
		req.Header.Set("Origin", base) // the server's own pages, e.g. the demo
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("session from the server's own origin: %d", resp.StatusCode)
		}
	})
	t.Run("OtherOrigin", func(t *testing.T) {
		for _, proc := range []string{"WatchVisitor", "ReportPageView", "RespondToInvitation"} {
			url := base + "/proactivechat.v1.VisitorService/" + proc
			if got := preflightOf(t, url, "https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Fatalf("%s: an unlisted origin was allowed: %q", proc, got)
			}
		}
		url := base + "/proactivechat.v1.ChatService/SendMessage"
		if got := preflightOf(t, url, "https://evil.example").Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("SendMessage: an unlisted origin was allowed: %q", got)
		}
	})
	t.Run("ListedLater", func(t *testing.T) {
		_, err := a.Service.UpdateSite(ctx, &domain.Site{ID: site.ID, AllowedOrigins: []string{"https://shop.example", "https://www.shop.example"}}, []string{"allowed_origins"})
		if err != nil {
			t.Fatal(err)
		}
		if got := preflight("https://www.shop.example").Header.Get("Access-Control-Allow-Origin"); got != "https://www.shop.example" {
			t.Fatalf("a newly listed origin was refused: %q", got)
		}
	})
}
