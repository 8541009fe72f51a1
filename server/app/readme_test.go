package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
)

// TestREADMEWalkthrough runs the README's command-line walkthrough, as
// written, against a fresh demo server, so the README cannot drift from
// what the server does.
func TestREADMEWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the README walkthrough needs curl")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- walkthrough:start -->\\s*```bash\n(.*?)```\\s*<!-- walkthrough:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no walkthrough block")
	}

	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(t.TempDir(), "demo.db")})
	base := "http://" + a.Addr().String()
	if err := app.SeedDemo(context.Background(), a.Service, base); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", string(m[1]))
	cmd.Env = append(os.Environ(), "API="+base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"status":"AGENT_STATUS_AVAILABLE"`,
		`"url":"https://shop.example/pricing"`,      // the agent saw the visitor's page
		`"text":"Hi! Can I help you with pricing?"`, // the agent's message …
		`"result":{"chatEvent"`,                     // … reached the widget's stream
		`"reason":"CHAT_END_REASON_BOTH_LEFT"`,      // the transcript ends with both leaving
		`agent \"agent_demo\" may not act as`,       // PERMISSION_DENIED for the impostor
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %s\n%s", want, out)
		}
	}
	// The retry with the same idempotency key returned the same message.
	var sends []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, `{"event":`) {
			sends = append(sends, regexp.MustCompile(`"seq":\d+`).FindString(line))
		}
	}
	if got := strings.Join(sends, " "); got != `"seq":2 "seq":3 "seq":3` {
		t.Errorf("SendMessage answers = %s, want seq 2, 3 and the retry's 3 again", got)
	}
}

// runApp starts a server on a loopback port with cfg and stops it when the
// test ends.
func runApp(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	a, err := app.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return a
}
