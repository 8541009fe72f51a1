package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestRefusePrivate: without AllowPrivate the dialer refuses internal
// addresses, whatever the URL named; a receiver on loopback is not reached.
func TestRefusePrivate(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "10.0.0.1:443", "172.16.5.4:443", "192.168.0.1:80",
		"169.254.169.254:80", "[fe80::1]:443", "100.64.0.1:443", "0.0.0.0:80", "[::]:80", "224.0.0.1:80", "[fd00::1]:443"} {
		if err := refusePrivate("tcp", addr, nil); !errors.Is(err, errPrivate) {
			t.Errorf("refusePrivate(%s) = %v", addr, err)
		}
	}
	for _, addr := range []string{"93.184.216.34:443", "[2606:2800:220:1:248:1893:25c8:1946]:443", "8.8.8.8:80"} {
		if err := refusePrivate("tcp", addr, nil); err != nil {
			t.Errorf("refusePrivate(%s) = %v", addr, err)
		}
	}

	hits := 0
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer recv.Close()
	e := New(Config{Timeout: time.Second})
	wh := &domain.Webhook{ID: "wh_x", URL: strings.Replace(recv.URL, "127.0.0.1", "localhost", 1), Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	d, _ := e.attempt(context.Background(), wh, message{id: "evt_1", body: []byte(`{}`)}, 1)
	if d.Success || !strings.Contains(d.Error, "refused") || hits != 0 {
		t.Errorf("delivery to %s: %+v (%d hits)", wh.URL, d, hits)
	}
	if _, failed := e.Counts(); failed != 1 {
		t.Errorf("%d failures counted, want 1", failed)
	}
}

// TestNoRedirects: a 3xx is a failed attempt; the Location is not followed.
func TestNoRedirects(t *testing.T) {
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer target.Close()
	recv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer recv.Close()
	e := New(Config{AllowPrivate: true, Timeout: time.Second})
	d, _ := e.attempt(context.Background(), &domain.Webhook{ID: "wh_x", URL: recv.URL, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, message{id: "evt_1", body: []byte(`{}`)}, 1)
	if d.Success || d.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Errorf("redirect: %+v, followed %v", d, followed)
	}
}

// TestResponseBodyLimit: at most 4 KiB of the answer is kept.
func TestResponseBodyLimit(t *testing.T) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1<<20)))
	}))
	defer recv.Close()
	e := New(Config{AllowPrivate: true, Timeout: time.Second})
	d, _ := e.attempt(context.Background(), &domain.Webhook{ID: "wh_x", URL: recv.URL, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, message{id: "evt_1", body: []byte(`{}`)}, 1)
	if !d.Success || len(d.ResponseBody) != maxResponseBody {
		t.Errorf("delivery kept %d bytes of the answer, success %v", len(d.ResponseBody), d.Success)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"nope", 0},
		{"120", 2 * time.Minute},
		{"86400", maxDelay},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// TestSign: one signature per secret, each verified by the library.
func TestSign(t *testing.T) {
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	now := time.Now()
	sig, err := Sign(secrets, "evt_0000000000000001", now, []byte(`{"type":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("%d signatures in %q", n, sig)
	}
	h := http.Header{}
	h.Set("webhook-id", "evt_0000000000000001")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for _, s := range secrets {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify([]byte(`{"type":"x"}`), h); err != nil {
			t.Errorf("verify with %s: %v", s, err)
		}
	}
}
