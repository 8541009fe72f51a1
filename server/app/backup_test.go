package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// TestHotBackup takes a backup from a running server and reads it back.
func TestHotBackup(t *testing.T) {
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "live.db")})
	if _, err := a.Service.CreateSite(context.Background(), domain.SiteSpec{ID: "site_b", Name: "Backed up"}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + a.Addr().String() + "/admin/backup"

	get := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	t.Run("ErrNoKey", func(t *testing.T) {
		resp := get("")
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("backup without a key answered %d, want 401", resp.StatusCode)
		}
	})
	t.Run("ErrNotAdmin", func(t *testing.T) {
		visitor := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(signed(t, a, rawConnectClient(t, &testServer{App: a, url: "http://" + a.Addr().String()})).
			StartVisitorSession(context.Background(), &pb.StartVisitorSessionRequest{SiteId: "site_b"}))
		resp := get(visitor.GetToken())
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("backup with a visitor's token answered %d, want 403", resp.StatusCode)
		}
	})
	t.Run("OK", func(t *testing.T) {
		resp := get(a.InitialAPIKey)
		var err error
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("backup answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		path := filepath.Join(t.TempDir(), "copy.db")
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		copy, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer copy.Close()
		err = copy.View(context.Background(), func(tx domain.ReadTx) error {
			site, err := tx.Site("site_b")
			if err == nil && site.Name != "Backed up" {
				t.Errorf("site in the backup = %+v", site)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrBrowser", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Authorization", "Bearer "+a.InitialAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a browser got the backup: %d", resp.StatusCode)
		}
	})
}
