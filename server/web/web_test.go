package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/proactivechat/proactivechat/server/web"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWidget(t *testing.T) {
	mux := http.NewServeMux()
	web.Mount(mux)

	res := get(t, mux, "/widget.js")
	if res.StatusCode != 200 {
		t.Fatalf("GET /widget.js: %s", res.Status)
	}
	if got := res.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
	js := body(t, res)
	if !strings.HasPrefix(js, "(function(){") {
		t.Errorf("widget.js does not start as an IIFE: %.40q", js)
	}

	// Compressed for browsers that take gzip, the same script.
	res = get(t, mux, "/widget.js", "Accept-Encoding", "gzip, deflate, br")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, []byte(js)) {
		t.Error("gzip body differs from the plain one")
	}

	// Revalidation: the ETag answers 304.
	etag := get(t, mux, "/widget.js").Header.Get("ETag")
	if res := get(t, mux, "/widget.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s", res.Status)
	}
}

func TestDemo(t *testing.T) {
	mux := http.NewServeMux()
	web.Mount(mux)
	for path, site := range map[string]string{
		"/demo/":                    `data-site="site_demo"`,
		"/demo/pricing.html":        `data-site="site_demo"`,
		"/demo/contact.html":        `data-site="site_demo"`,
		"/demo/invite/":             `data-site="site_demo_invite"`,
		"/demo/invite/pricing.html": `data-site="site_demo_invite"`,
		"/demo/invite/contact.html": `data-site="site_demo_invite"`,
	} {
		res := get(t, mux, path)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %s", path, res.Status)
			continue
		}
		if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, got)
		}
		html := body(t, res)
		// One script tag installs the widget.
		if n := strings.Count(html, "<script"); n != 1 || !strings.Contains(html, `<script src="/widget.js" `+site+` async></script>`) {
			t.Errorf("GET %s: want one widget tag with %s", path, site)
		}
	}
	if res := get(t, mux, "/demo/shop.css"); res.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("shop.css: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	if res := get(t, mux, "/demo/invite"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/demo/invite/" {
		t.Errorf("GET /demo/invite: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if res := get(t, mux, "/demo/nope.html"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /demo/nope.html: %s", res.Status)
	}
}

// The console build in the binary, when there is one yet.
func TestAgentEmbedded(t *testing.T) {
	mux := http.NewServeMux()
	web.Mount(mux)
	res := get(t, mux, "/agent/")
	if res.StatusCode == http.StatusNotFound {
		t.Skip("the agent console is not built into server/web/dist/agent yet")
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /agent/: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
	index := body(t, res)
	deep := get(t, mux, "/agent/chats/chat_123")
	if deep.StatusCode != 200 || body(t, deep) != index {
		t.Errorf("GET /agent/chats/chat_123: %s, not the app's index.html", deep.Status)
	}
}

func TestAgentSPA(t *testing.T) {
	dist := fstest.MapFS{
		"widget/widget.js":           {Data: []byte("(function(){})();")},
		"agent/index.html":           {Data: []byte("<!doctype html><title>Console</title>")},
		"agent/assets/console-1.js":  {Data: []byte("console.log(1)")},
		"agent/assets/console-1.css": {Data: []byte("body{}")},
		"agent/favicon.svg":          {Data: []byte("<svg/>")},
	}
	mux := http.NewServeMux()
	web.MountFS(mux, dist, fstest.MapFS{})

	for _, c := range []struct {
		path, status, ctype, body, cache string
	}{
		{"/agent/", "200 OK", "text/html; charset=utf-8", "<!doctype html><title>Console</title>", "no-cache"},
		{"/agent/index.html", "200 OK", "text/html; charset=utf-8", "<!doctype html><title>Console</title>", "no-cache"},
		// Routes of the app: its index.html.
		{"/agent/chats", "200 OK", "text/html; charset=utf-8", "<!doctype html><title>Console</title>", "no-cache"},
		{"/agent/chats/chat_1/transcript", "200 OK", "text/html; charset=utf-8", "<!doctype html><title>Console</title>", "no-cache"},
		{"/agent/assets/console-1.js", "200 OK", "text/javascript; charset=utf-8", "console.log(1)", "public, max-age=31536000, immutable"},
		{"/agent/assets/console-1.css", "200 OK", "text/css; charset=utf-8", "body{}", "public, max-age=31536000, immutable"},
		{"/agent/favicon.svg", "200 OK", "image/svg+xml", "<svg/>", "no-cache"},
		// A missing script is not answered with HTML.
		{"/agent/assets/console-0.js", "404 Not Found", "text/plain; charset=utf-8", "", ""},
	} {
		res := get(t, mux, c.path)
		got := body(t, res)
		if res.Status != c.status || res.Header.Get("Content-Type") != c.ctype || (c.body != "" && got != c.body) || res.Header.Get("Cache-Control") != c.cache {
			t.Errorf("GET %s: %s %q %q %q; want %s %q %q %q", c.path, res.Status, res.Header.Get("Content-Type"), got, res.Header.Get("Cache-Control"), c.status, c.ctype, c.body, c.cache)
		}
	}

	// Not built yet: a clear 404, not a crash.
	mux = http.NewServeMux()
	web.MountFS(mux, fstest.MapFS{}, fstest.MapFS{})
	for _, p := range []string{"/agent/", "/widget.js"} {
		if res := get(t, mux, p); res.StatusCode != http.StatusNotFound || !strings.Contains(body(t, res), "not built") {
			t.Errorf("GET %s without a build: %s", p, res.Status)
		}
	}
}
