package app_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestOnePortBothProtocols: the plain port tells HTTP/2 with prior
// knowledge (gRPC) from HTTP/1.1 by the first bytes, and serves both; an
// HTTP/1 request shorter than the HTTP/2 preface, or one that starts like
// it, is served too, not held until a timeout.
func TestOnePortBothProtocols(t *testing.T) {
	srv, _ := newServer(t)
	ctx := testContext(t)

	// gRPC: HTTP/2 with prior knowledge.
	g := newGRPCClient(t, srv)
	site := createSite(t, ctx, g, "Shop", enabledWithoutInvite())
	if _, err := g.GetSite(ctx, &pb.GetSiteRequest{SiteId: site.GetId()}); err != nil {
		t.Fatal(err)
	}

	// HTTP/1.1 through net/http's client.
	resp, err := http.Get(srv.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 1 || !strings.Contains(string(body), "Proactive Chat server") {
		t.Fatalf("GET / over HTTP/1: %s %q", resp.Proto, body)
	}

	raw := func(req string) string {
		t.Helper()
		c, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second)) // well under the server's 10 s to read a request
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("%q: no answer: %v", req, err)
		}
		return line
	}
	// 18 bytes, fewer than the 24 of the preface.
	if got := raw("GET / HTTP/1.0\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.0 200") {
		t.Errorf("short HTTP/1.0 request: %q", got)
	}
	// Starts like the preface, then is not.
	if got := raw("PRI / HTTP/1.1\r\nHost: x\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 4") {
		t.Errorf("HTTP/1.1 request starting with PRI: %q, want a 4xx", got)
	}
}
