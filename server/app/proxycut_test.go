package app_test

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/proactivechat/proactivechat/server/app"
)

// TestNode_AnAnswerCutOffFromTheLeader: when the leader's connection
// breaks while a follower is passing an answer on, the client gets a
// whole answer all the same. A unary answer (any protocol) cut in the middle is
// UNAVAILABLE (503), which clients retry: the follower reads it whole
// before answering, where it used to pass on the leader's 200 and then
// abort, which an HTTP/2 client reads as RST_STREAM INTERNAL_ERROR and
// does not retry. A framed answer whose end (gRPC-Web's trailers frame,
// Connect's end-stream message) had come is passed on as it is, where the
// follower used to append an UNAVAILABLE ending after the end, which
// clients reject as a corrupt response.
func TestNode_AnAnswerCutOffFromTheLeader(t *testing.T) {
	envelope := func(flags byte, payload string) string {
		return string([]byte{flags, 0, 0, 0, byte(len(payload))}) + payload
	}
	for _, tc := range []struct {
		name, method, path, contentType string
		length                          string // the leader's Content-Length, if any
		sent                            string // what the leader sends before its connection breaks
		wantStatus                      int
		wantBody                        string // for a 200: the body, whole
	}{
		{name: "ConnectUnaryMidBody", method: "POST", path: "/proactivechat.v1.VisitorService/ReportPageView",
			contentType: "application/proto", sent: "\x0a\x05abc", wantStatus: 503},
		{name: "ConnectJSONUnaryMidBody", method: "POST", path: "/proactivechat.v1.VisitorService/ReportPageView",
			contentType: "application/json", sent: `{"visitor":{"id":`, wantStatus: 503},
		{name: "GRPCUnaryMidMessage", method: "POST", path: "/proactivechat.v1.VisitorService/ReportPageView",
			contentType: "application/grpc", sent: "\x00\x00\x00\x00\x20\x0a\x05abc", wantStatus: 503},
		{name: "GRPCWebUnaryMidMessage", method: "POST", path: "/proactivechat.v1.VisitorService/ReportPageView",
			contentType: "application/grpc-web+proto", sent: "\x00\x00\x00\x00\x20\x0a\x05abc", wantStatus: 503},
		{name: "RESTUnaryMidBody", method: "GET", path: "/v1/sites",
			contentType: "application/json", length: "100", sent: `{"sites":[{"id":"site_1"},`, wantStatus: 503},
		{name: "GRPCWebAfterItsTrailers", method: "POST", path: "/proactivechat.v1.ChatService/Converse", // proxied: the server streams are relayed
			contentType: "application/grpc-web+proto", sent: envelope(0, "abc") + envelope(0x80, "grpc-status: 0\r\n"),
			wantStatus: 200, wantBody: envelope(0, "abc") + envelope(0x80, "grpc-status: 0\r\n")},
		{name: "ConnectStreamAfterItsEnd", method: "POST", path: "/proactivechat.v1.ChatService/Converse",
			contentType: "application/connect+proto", sent: envelope(0, "abc") + envelope(2, "{}"),
			wantStatus: 200, wantBody: envelope(0, "abc") + envelope(2, "{}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := make(chan struct{})
			leader := startPlainLeader(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if tc.length != "" {
					w.Header().Set("Content-Length", tc.length)
				}
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, tc.sent)
				w.(http.Flusher).Flush()
				close(sent)
				<-r.Context().Done() // until the connection breaks
			})
			link := newCutter(t, strings.TrimPrefix(leader.URL, "http://"))
			node := openLoneNode(t, app.Config{}, app.ClusterConfig{})
			node.SetLeader("n2", link.addr())

			type answer struct {
				status int
				body   string
				err    error
			}
			answered := make(chan answer, 1)
			whole := make(chan struct{})
			var wholeOnce sync.Once
			go func() {
				defer wholeOnce.Do(func() { close(whole) }) // whatever the answer
				req, _ := http.NewRequestWithContext(testContext(t), tc.method, "http://"+node.Addr().String()+tc.path, strings.NewReader("\x00\x00\x00\x00\x00"))
				req.Header.Set("Content-Type", tc.contentType)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					answered <- answer{err: err}
					return
				}
				defer res.Body.Close()
				var b []byte
				if res.StatusCode == http.StatusOK && tc.wantBody != "" {
					// A stream passes on what came: the link breaks once
					// the client has it all.
					b = make([]byte, len(tc.wantBody))
					_, err = io.ReadFull(res.Body, b)
					wholeOnce.Do(func() { close(whole) })
				}
				rest, err2 := io.ReadAll(res.Body)
				answered <- answer{status: res.StatusCode, body: string(append(b, rest...)), err: cmp.Or(err, err2)}
			}()
			<-sent
			if tc.wantBody != "" {
				<-whole
			} else {
				// A unary answer is held back: the link breaks once the
				// leader's bytes went through it.
				link.waitSeen(t, tc.sent)
			}
			link.cut()
			a := <-answered
			if a.err != nil {
				t.Fatalf("the client's answer broke: %v (status %d, %q)", a.err, a.status, a.body)
			}
			if a.status != tc.wantStatus {
				t.Fatalf("status %d (%q), want %d", a.status, a.body, tc.wantStatus)
			}
			if tc.wantStatus == 200 && a.body != tc.wantBody {
				t.Errorf("body %q, want %q", a.body, tc.wantBody)
			}
		})
	}
}

// TestRESTAnswersSayTheirLength: the REST API's answers that are not
// streams carry a Content-Length, also past the HTTP/2 server's buffer,
// which sets it on small answers only: a follower reads such an answer
// whole before passing it on (TestNode_AnAnswerCutOffFromTheLeader).
func TestRESTAnswersSayTheirLength(t *testing.T) {
	srv, _ := newServer(t)
	c := newRESTClient(t, srv)
	ctx := testContext(t)
	for i := range 40 {
		createSite(t, ctx, c, fmt.Sprintf("A shop with a long name to make the list long, number %d", i), nil)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", srv.url+"/v1/sites", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+keyringOf(t, srv.App).admin)
	// Over HTTP/2, as a follower asks.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	res, err := (&http.Client{Transport: &http.Transport{Protocols: &protocols}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/sites: %d %v", res.StatusCode, err)
	}
	if len(body) <= 4<<10 {
		t.Fatalf("the answer is %d bytes: too small to tell", len(body))
	}
	if res.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for an answer of %d bytes", res.ContentLength, len(body))
	}
}
