package app_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http/httpguts"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// The limits the edge enforces (server/app/edge.go), as clients see them.
const (
	maxRequestBytes = 1 << 20
	// edgeTimeout is the body and stream-message timeout of the servers
	// that test them: short, so that a test waits little for the cut, and
	// long enough that the calls the tests make in one go never meet it.
	edgeTimeout = 500 * time.Millisecond
)

// startEdgeServer starts a server like startServer's with the edge's
// timeouts set by cfg.
func startEdgeServer(t testing.TB, cfg app.Config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Addr = "127.0.0.1:0"
	cfg.DBPath = filepath.Join(t.TempDir(), "edge.db")
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Clock = fakeclock.New(t0)
	a, err := app.Open(cfg)
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if err := a.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	a.Start()
	s := &testServer{App: a, addr: a.Addr().String(), url: "http://" + a.Addr().String(), logs: logs}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s
}

// envelope frames payload as one message of the gRPC, gRPC-Web and
// Connect streaming protocols.
func envelope(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// grpcStatus reads res to its end and returns its grpc-status (from the
// trailers, or the headers of a trailers-only answer).
func grpcStatus(t *testing.T, res *http.Response) string {
	t.Helper()
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if s := res.Trailer.Get("Grpc-Status"); s != "" {
		return s
	}
	return res.Header.Get("Grpc-Status")
}

// metricValue is the value of one sample of the server's /metrics.
func metricValue(t *testing.T, s *testServer, sample string) float64 {
	t.Helper()
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", sample)
	return 0
}

// wantMetricsCounted checks that family has counted something for each
// protocol.
func wantMetricsCounted(t *testing.T, s *testServer, family string, protocols ...string) {
	t.Helper()
	for _, p := range protocols {
		if v := metricValue(t, s, fmt.Sprintf("%s{protocol=%q}", family, p)); v < 1 {
			t.Errorf("%s{protocol=%q} = %v, want at least 1", family, p, v)
		}
	}
}

// hideLength hides a reader's length from net/http, so that the body goes
// chunked (HTTP/1.1) or without content-length (HTTP/2).
type hideLength struct{ io.Reader }

// TestOversizedRequests: a body or message over the 1 MiB limit is refused
// as the client's mistake on every path and protocol: HTTP 413 on REST,
// /admin/* and Connect's unary protocol, INVALID_ARGUMENT in every RPC
// protocol, never RESOURCE_EXHAUSTED (HTTP 429, "retry later"), which is
// what Connect and gRPC's own checks answered. Each is counted.
func TestOversizedRequests(t *testing.T) {
	srv := startEdgeServer(t, app.Config{})
	ctx := testContext(t)
	big := strings.Repeat("a", maxRequestBytes+1)
	jsonBody := `{"siteId":"` + big + `"}`

	post := func(t *testing.T, path, contentType string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+path, body)
		req.Header.Set("Content-Type", contentType)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res, data
	}
	t.Run("REST", func(t *testing.T) {
		for name, body := range map[string]func() io.Reader{
			"ContentLength": func() io.Reader { return strings.NewReader(jsonBody) },
			"Chunked":       func() io.Reader { return hideLength{strings.NewReader(jsonBody)} },
		} {
			res, data := post(t, "/v1/sites/x/sessions", "application/json", body())
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: got %s %.200s, want 413", name, res.Status, data)
				continue
			}
			wantCode(t, restError(res.StatusCode, data), connect.CodeInvalidArgument)
		}
	})
	t.Run("ConnectHTTP", func(t *testing.T) {
		res, data := post(t, "/proactivechat.v1.VisitorService/StartVisitorSession", "application/json", hideLength{strings.NewReader(jsonBody)})
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(data), `"code":"invalid_argument"`) {
			t.Errorf("got %s %.200s, want 413 with code invalid_argument", res.Status, data)
		}
	})
	t.Run("Admin", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/admin/backup", strings.NewReader(big))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("GET /admin/backup with a %d-byte body: %s, want 413", len(big), res.Status)
		}
	})
	clients := map[string]api{
		"gRPC":         rawGRPCClient(t, srv),
		"ConnectProto": newConnectClient(t, srv),
		"ConnectJSON":  newConnectClient(t, srv, connect.WithProtoJSON()),
		"ConnectGzip":  newConnectClient(t, srv, connect.WithSendGzip()), // decompresses to over the limit
		"gRPCWeb":      newConnectClient(t, srv, connect.WithGRPCWeb()),
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			_, err := c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: big})
			wantCode(t, err, connect.CodeInvalidArgument)
			if conv, ok := c.(converser); ok {
				// A client stream's message, under way.
				s, err := conv.Converse(withToken(ctx, adminKey(t, srv.App)))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				s.Send(&pb.ConverseRequest{CommandId: big, Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: "chat_x"}}})
				_, err = s.Recv()
				wantCode(t, err, connect.CodeInvalidArgument)
			}
		})
	}
	wantMetricsCounted(t, srv, "proactivechat_oversized_requests_total", "http", "rest", "connect", "grpc", "grpc_web")
}

// endless is an endless body of 'a's, allocating nothing.
type endless struct{ n *int64 }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	*e.n += int64(len(p))
	return len(p), nil
}

// TestOversizedBodyIsNotReadWhole: the server stops reading a body at the
// limit, so memory stays bounded by it whatever the client sends. (The
// REST gateway read a body whole before any check: one 256 MiB POST took
// the process to 1.5 GiB.) The client and server share this process, so
// its allocations bound the server's.
func TestOversizedBodyIsNotReadWhole(t *testing.T) {
	srv := startEdgeServer(t, app.Config{})
	ctx := testContext(t)
	const sent = 64 << 20
	var n int64
	body := io.MultiReader(strings.NewReader(`{"visitorId":"`), io.LimitReader(endless{&n}, sent))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/v1/sites/x/sessions", body)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := (&http.Client{Transport: tr}).Do(req)
	runtime.ReadMemStats(&after)
	if err == nil {
		// The answer may come before the client stops sending, or the
		// connection may close under it; either way the server stopped.
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("got %s, want 413", res.Status)
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("a %d MiB body (%d MiB of it sent) allocated %d MiB, want at most 16", sent>>20, n>>20, alloc>>20)
	}
}

// TestSlowRequestsAreCut: a body that does not arrive within the body
// timeout of its headers, on HTTP/1.1 or HTTP/2 and on every kind of path,
// is answered (408, or DEADLINE_EXCEEDED in the RPC protocols) and its
// handler let go; a client stream's message that does not, once begun, and
// a first message that does not come at all, end the stream the same way.
// Each is counted. Before, a client trickling a byte every few seconds kept
// its handler, memory and file for as long as it liked.
func TestSlowRequestsAreCut(t *testing.T) {
	srv := startEdgeServer(t, app.Config{BodyTimeout: edgeTimeout, StreamMessageTimeout: edgeTimeout})

	// The bound each case waits for the cut: far above the timeout, far
	// below "as long as the client likes".
	const bound = 5 * time.Second
	t.Run("HTTP1", func(t *testing.T) {
		for _, tc := range []struct{ name, head, want string }{
			{"REST", "POST /v1/sites/x/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", `"code":4`},
			{"Connect", "POST /proactivechat.v1.VisitorService/StartVisitorSession HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", `"code":"deadline_exceeded"`},
			{"Admin", "GET /admin/backup HTTP/1.1\r\nHost: x\r\n", "did not arrive"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, err := net.Dial("tcp", srv.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(bound))
				// 100 bytes announced, 1 sent.
				fmt.Fprintf(c, "%sContent-Length: 100\r\n\r\n{", tc.head)
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("no answer within %v: %v", bound, err)
				}
				data, _ := io.ReadAll(res.Body)
				if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(data), tc.want) {
					t.Errorf("got %s %s, want 408 and %s", res.Status, data, tc.want)
				}
				// And the connection is closed.
				if n, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("after the answer: read %d, %v; want the connection closed", n, err)
				}
			})
		}
	})

	h2 := h2cClient(t)
	// call starts a call on HTTP/2 whose body is first, and then nothing
	// more until the test ends.
	call := func(t *testing.T, srv *testServer, path, contentType, token string, first []byte) *http.Response {
		t.Helper()
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go pw.Write(first)
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		t.Cleanup(cancel)
		// The transport stops reading the answer only once the body ends.
		context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+path, pr)
		req.Header.Set("Content-Type", contentType)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := h2.Do(req)
		if err != nil {
			t.Fatalf("no answer within %v: %v", bound, err)
		}
		return res
	}
	t.Run("HTTP2", func(t *testing.T) {
		t.Run("gRPC", func(t *testing.T) {
			res := call(t, srv, "/proactivechat.v1.VisitorService/StartVisitorSession", "application/grpc", "", []byte{0, 0, 0})
			if got := grpcStatus(t, res); got != "4" {
				t.Errorf("grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
			}
		})
		t.Run("Connect", func(t *testing.T) {
			res := call(t, srv, "/proactivechat.v1.VisitorService/StartVisitorSession", "application/json", "", []byte("{"))
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(data), `"code":"deadline_exceeded"`) {
				t.Errorf("got %s %s, want 408 with code deadline_exceeded", res.Status, data)
			}
		})
		t.Run("REST", func(t *testing.T) {
			res := call(t, srv, "/v1/sites/x/sessions", "application/json", "", []byte("{"))
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestTimeout {
				t.Errorf("got %s %s, want 408", res.Status, data)
			}
		})
	})

	t.Run("TLS", func(t *testing.T) {
		// HTTP/2 over TLS is net/http's own HTTP/2 server, not x/net's.
		dir := t.TempDir()
		certFile, keyFile, pool := selfSigned(t, dir)
		a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "tls.db"), TLSCertFile: certFile, TLSKeyFile: keyFile, BodyTimeout: edgeTimeout})
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		pr, pw := io.Pipe()
		defer pw.Close()
		go pw.Write([]byte("{"))
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+a.Addr().String()+"/proactivechat.v1.VisitorService/StartVisitorSession", pr)
		req.Header.Set("Content-Type", "application/json")
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatalf("no answer within %v: %v", bound, err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != http.StatusRequestTimeout {
			t.Errorf("got %s %s %s, want 408 over HTTP/2", res.Proto, res.Status, data)
		}
	})

	t.Run("Converse", func(t *testing.T) {
		// Its own server, whose unary calls (to set up a chat) have the
		// default body timeout.
		srv := startEdgeServer(t, app.Config{StreamMessageTimeout: edgeTimeout})
		ctx := testContext(t)
		c := newGRPCClient(t, srv)
		w := newWorld(t, ctx, c, enabledWithoutInvite())
		chat := w.startChat(t, ctx, c)
		keys := keyringOf(t, srv.App)
		keys.mu.Lock()
		visitorToken := keys.tokens[w.visitor.GetId()]
		keys.mu.Unlock()
		join, _ := proto.Marshal(&pb.ConverseRequest{CommandId: "j", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: chat.GetId(), ParticipantId: w.visitor.GetId()}}})

		t.Run("FirstMessageNeverComes", func(t *testing.T) {
			res := call(t, srv, proactivechatv1connect.ChatServiceConverseProcedure, "application/grpc", visitorToken, nil)
			if got := grpcStatus(t, res); got != "4" {
				t.Errorf("grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
			}
		})
		t.Run("MessageStartedNotFinished", func(t *testing.T) {
			// The join, whole, then 2 bytes of a 10-byte message.
			first := append(envelope(0, join), envelope(0, make([]byte, 10))[:7]...)
			res := call(t, srv, proactivechatv1connect.ChatServiceConverseProcedure, "application/grpc", visitorToken, first)
			// The join was answered: the stream was served, and then cut.
			var prefix [5]byte
			if _, err := io.ReadFull(res.Body, prefix[:]); err != nil {
				t.Fatalf("no answer to the join: %v", err)
			}
			if got := grpcStatus(t, res); got != "4" {
				t.Errorf("grpc-status %q, want 4 (DEADLINE_EXCEEDED)", got)
			}
		})
		wantMetricsCounted(t, srv, "proactivechat_slow_requests_total", "grpc")
	})
	wantMetricsCounted(t, srv, "proactivechat_slow_requests_total", "http", "rest", "connect", "grpc")
}

// TestClientMistakesAre4xx: malformed requests are the client's mistake,
// answered with a 4xx (and, in the gRPC protocols, never INTERNAL or
// UNKNOWN), on every protocol. Each case answered 500 or INTERNAL before.
func TestClientMistakesAre4xx(t *testing.T) {
	srv := startEdgeServer(t, app.Config{})
	for _, tc := range edgeCases {
		t.Run(tc.name, func(t *testing.T) {
			checkClientMistake(t, srv, http.DefaultClient, tc.method, tc.target, tc.contentType, tc.body)
		})
	}
}

type edgeCase struct {
	name, method, target, contentType string
	body                              []byte
}

var edgeCases = []edgeCase{
	{"REST/InvalidUTF8InPath", "GET", "/v1/chats/abc%FF", "", nil},
	{"REST/InvalidUTF8InQuery", "GET", "/v1/visitors/visitor_x/events?pageUrl=%FF", "", nil},
	{"REST/InvalidUTF8InPathWithBody", "POST", "/v1/chats/abc%C3%28/messages", "application/json", []byte(`{"text":"hi"}`)},
	{"Connect/GETBadBase64", "GET", "/proactivechat.v1.ChatService/GetChat?connect=v1&encoding=proto&base64=1&message=!!!!", "", nil},
	{"gRPCWeb/MessageCut", "POST", "/proactivechat.v1.ChatService/GetChat", "application/grpc-web+proto", envelope(0, []byte("0123456789"))[:9]},
	{"gRPCWeb/PrefixCut", "POST", "/proactivechat.v1.ChatService/GetChat", "application/grpc-web+proto", []byte{0, 0, 0}},
	{"gRPCWeb/CompressedWithoutEncoding", "POST", "/proactivechat.v1.ChatService/GetChat", "application/grpc-web+proto", envelope(1, []byte("ab"))},
	{"gRPCWeb/MediaTypeInCapitals", "POST", "/proactivechat.v1.ChatService/GetChat", "Application/GRPC-Web", []byte{0}},
	{"ConnectStream/MessageCut", "POST", "/proactivechat.v1.ChatService/WatchChat", "application/connect+proto", envelope(0, []byte("0123456789"))[:9]},
}

// checkClientMistake sends one request and fails the test on a 5xx, or an
// INTERNAL or UNKNOWN gRPC status. 501 (a compression or method Connect
// does not implement) and 505 (a protocol that needs HTTP/2 over HTTP/1.1)
// are the protocols' own answers to what the server does not do.
func checkClientMistake(t *testing.T, srv *testServer, hc *http.Client, method, target, contentType string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.url+target, bytes.NewReader(body))
	if err != nil {
		t.Skip("not a request:", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	st := res.Trailer.Get("Grpc-Status")
	if st == "" {
		st = res.Header.Get("Grpc-Status")
	}
	switch {
	case res.StatusCode >= 500 && res.StatusCode != http.StatusNotImplemented && res.StatusCode != http.StatusHTTPVersionNotSupported:
		t.Errorf("%s %s (%s, %q): %s %.300s", method, target, contentType, body, res.Status, data)
	case st == "2" || st == "13":
		t.Errorf("%s %s (%s, %q): grpc-status %s %q", method, target, contentType, body, st, res.Header.Get("Grpc-Message")+res.Trailer.Get("Grpc-Message"))
	}
}

// FuzzHTTPEdge sends whatever request the fuzzer makes up, HTTP/1.1, to a
// real server: none may be answered as a server error.
func FuzzHTTPEdge(f *testing.F) {
	for _, tc := range edgeCases {
		f.Add(tc.method, tc.target, tc.contentType, tc.body)
	}
	f.Add("POST", "/v1/sites/x/sessions", "application/json", []byte(`{"siteId":"\udcff"}`))
	f.Add("POST", "/proactivechat.v1.VisitorService/StartVisitorSession", "application/proto", []byte{0xff, 0xff})
	f.Add("POST", "/proactivechat.v1.ChatService/Converse", "application/grpc-web+proto", envelope(0, []byte{10, 0}))
	f.Add("GET", "/proactivechat.v1.ChatService/GetChat?connect=v1&encoding=json&message=%7B%7D", "", []byte(nil))
	f.Add("GET", "/admin/backup", "", []byte("x"))
	srv := startEdgeServer(f, app.Config{})
	tr := &http.Transport{}
	f.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte) {
		if !strings.HasPrefix(target, "/") || !httpguts.ValidHeaderFieldValue(contentType) {
			t.Skip("net/http's client would not send it")
		}
		checkClientMistake(t, srv, hc, method, target, contentType, body)
	})
}

// TestReflectionV1AlphaStreams: the v1alpha reflection service, the only
// one older tools know, is a client stream to the edge too, though its
// descriptor is not registered: read whole, its body would never end and
// the call never start. (Raw gRPC: importing grpc-go's v1alpha client
// would register the descriptor in this test binary.)
func TestReflectionV1AlphaStreams(t *testing.T) {
	srv := startEdgeServer(t, app.Config{})
	ctx := testContext(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	// ServerReflectionRequest{list_services: "*"}, and the stream stays open.
	go pw.Write(envelope(0, []byte{0x3a, 0x01, '*'}))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", pr)
	req.Header.Set("Content-Type", "application/grpc")
	res, err := h2cClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var prefix [5]byte
	if _, err := io.ReadFull(res.Body, prefix[:]); err != nil {
		t.Fatalf("no answer while the stream is open: %v (grpc-status %q %q)", err, res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message"))
	}
	if size := binary.BigEndian.Uint32(prefix[1:]); size == 0 {
		t.Errorf("an empty answer to list_services")
	}
}
