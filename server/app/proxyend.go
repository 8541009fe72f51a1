package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/proactivechat/proactivechat/gen/proactivechat/v1" // the API's descriptors, for unaryProcedures
)

// leaderGoneMessage is what a client is told when the leader's end of a
// response it was receiving through a follower broke.
const leaderGoneMessage = "the connection to the cluster's leader ended; reconnect and resume from your last sequence number"

// endUnavailable wraps the body of a response a follower forwards from the
// leader so that, if the leader's connection breaks while the body is
// being copied (the leader died, or another node leads now), the client's
// stream ends as it would on one node that shuts down: with UNAVAILABLE in
// its own protocol, which clients retry and resume from their last
// sequence number. Without it the proxy aborts the response, which an
// HTTP/2 client reads as RST_STREAM INTERNAL_ERROR: gRPC clients saw
// INTERNAL, which they do not retry.
//
// The ending is added only between two messages, which is where a stream
// breaks when its connection dies between events; a body cut in the middle
// of a message, or one whose framing is not known here (unary bodies,
// gRPC-Web in base64 text), is aborted as before.
func endUnavailable(res *http.Response) {
	kind := framingOf(res.Header.Get("Content-Type"))
	if kind == framingNone || res.Body == nil {
		return
	}
	res.Body = &unavailableEnding{ReadCloser: res.Body, res: res, kind: kind}
}

type framing int

const (
	framingNone framing = iota
	framingGRPC
	framingGRPCWeb
	framingConnect
	framingLines // the REST gateway's streams: a JSON object per line
)

// framingOf tells a response's framing from its content type.
func framingOf(contentType string) framing {
	ct, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	ct = strings.TrimSpace(ct)
	switch {
	case ct == "application/grpc-web-text" || strings.HasPrefix(ct, "application/grpc-web-text+"):
		return framingNone
	case ct == "application/grpc-web" || strings.HasPrefix(ct, "application/grpc-web+"):
		return framingGRPCWeb
	case ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"):
		return framingGRPC
	case strings.HasPrefix(ct, "application/connect+"):
		return framingConnect
	case ct == "application/json":
		return framingLines
	}
	return framingNone
}

// unavailableEnding tracks the message boundaries of the body it reads and
// turns a broken read at a boundary into the protocol's UNAVAILABLE ending.
type unavailableEnding struct {
	io.ReadCloser
	res  *http.Response
	kind framing
	// For the enveloped protocols (a flags byte, a 4-byte length, the
	// message): head holds the envelope's first bytes read so far, left
	// the message bytes still to come.
	head     []byte
	left     uint32
	lines    int  // lines of the REST gateway's stream ended so far
	midLine  bool // the last byte read did not end a line
	ending   *bytes.Reader
	finished bool
	// over: the last whole message read was the protocol's end of the
	// response (gRPC-Web's trailers frame, Connect's end-stream message).
	over bool
}

func (u *unavailableEnding) Read(p []byte) (int, error) {
	if u.ending != nil {
		n, err := u.ending.Read(p)
		if err == io.EOF {
			u.ending = nil
			u.finished = true
		}
		return n, err
	}
	if u.finished {
		return 0, io.EOF
	}
	n, err := u.ReadCloser.Read(p)
	u.track(p[:n])
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	if !u.atBoundary() {
		return n, err
	}
	if u.over {
		// The response is whole: the connection broke after its end and
		// before the leader's end of stream. Adding an ending would put
		// bytes after the end, which clients reject.
		u.finished = true
		return n, io.EOF
	}
	switch u.kind {
	case framingGRPC:
		if u.res.Trailer == nil {
			u.res.Trailer = http.Header{}
		}
		u.res.Trailer.Set("Grpc-Status", "14")
		u.res.Trailer.Set("Grpc-Message", grpcMessage(leaderGoneMessage))
		u.finished = true
	case framingGRPCWeb:
		u.ending = bytes.NewReader(envelope(0x80, []byte("grpc-status:14\r\ngrpc-message:"+grpcMessage(leaderGoneMessage)+"\r\n")))
	case framingConnect:
		u.ending = bytes.NewReader(envelope(0x02, []byte(`{"error":{"code":"unavailable","message":"`+leaderGoneMessage+`"}}`)))
	case framingLines:
		u.ending = bytes.NewReader([]byte(`{"error":{"code":14,"message":"` + leaderGoneMessage + `","details":[]}}` + "\n"))
	}
	if n > 0 {
		return n, nil
	}
	return u.Read(p)
}

// track follows the framing over b, the next bytes of the body.
func (u *unavailableEnding) track(b []byte) {
	if u.kind == framingLines {
		if len(b) > 0 {
			u.lines += bytes.Count(b, []byte{'\n'})
			u.midLine = b[len(b)-1] != '\n'
		}
		return
	}
	for len(b) > 0 {
		if u.left > 0 {
			k := min(uint32(len(b)), u.left)
			u.left -= k
			b = b[k:]
			continue
		}
		k := min(5-len(u.head), len(b))
		u.head = append(u.head, b[:k]...)
		b = b[k:]
		if len(u.head) == 5 {
			u.left = binary.BigEndian.Uint32(u.head[1:])
			u.over = u.kind == framingGRPCWeb && u.head[0]&0x80 != 0 ||
				u.kind == framingConnect && u.head[0]&0x02 != 0
			u.head = u.head[:0]
		}
	}
}

// atBoundary: the bytes read so far end a whole message. A line-framed
// body counts only once a line ended: a unary JSON answer has none.
func (u *unavailableEnding) atBoundary() bool {
	if u.kind == framingLines {
		return u.lines > 0 && !u.midLine
	}
	return u.left == 0 && len(u.head) == 0
}

// envelope frames payload as the enveloped protocols do.
func envelope(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// grpcMessage percent-encodes a grpc-message value.
func grpcMessage(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%20", " ")
}

// maxWholeResponse bounds the answer a follower reads whole from the
// leader before it answers its client (readWhole); a bigger one is passed
// on as it comes.
const maxWholeResponse = 1 << 20

// readWhole reads a unary answer of the leader (that of an RPC that is
// not a server stream, in any protocol, or a REST answer with a length:
// the gateway gives one to every answer that is not a stream) whole
// before the client gets its first byte, so that if the leader's
// connection breaks in the middle, the client still gets a whole answer:
// UNAVAILABLE (the error returned, which the proxy's ErrorHandler
// answers with 503), which clients retry. Passed on as it came, the
// client had its headers (200) already, and the proxy could only abort
// the response: an HTTP/2 client reads RST_STREAM INTERNAL_ERROR, which
// it does not retry. (A small gRPC answer is cut in the middle when the
// HTTP/2 connection's flow-control window, shared by thousands of
// streams, let only part of it through.) Streams are left to
// endUnavailable.
func readWhole(res *http.Response) error {
	if res.Body == nil || res.Body == http.NoBody || res.Request.Method == http.MethodHead {
		return nil
	}
	path := res.Request.URL.Path
	rpc := strings.HasPrefix(path, "/proactivechat.v1.")
	switch {
	case rpc && !unaryProcedures[path]:
		return nil
	case !rpc && res.ContentLength < 0, res.ContentLength > maxWholeResponse:
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxWholeResponse+1))
	if err != nil {
		res.Body.Close()
		return err
	}
	if len(body) > maxWholeResponse {
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), res.Body), res.Body}
		return nil
	}
	res.Body.Close() // a gRPC answer's trailers are in res.Trailer now
	res.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// unaryProcedures are the procedures (Connect, gRPC and gRPC-Web paths)
// of the API's RPCs that are not server streams.
var unaryProcedures = func() map[string]bool {
	m := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("proactivechat.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			svc := f.Services().Get(i)
			for j := range svc.Methods().Len() {
				if md := svc.Methods().Get(j); !md.IsStreamingServer() && !md.IsStreamingClient() {
					m["/"+string(svc.FullName())+"/"+string(md.Name())] = true
				}
			}
		}
		return true
	})
	return m
}()

// inboundBodyKey carries the client's request body to the response of the
// request forwarded with it.
type inboundBodyKey struct{}

// closeRequestWithResponse makes closing the leader's response close the
// client's request body too. A bidirectional stream that the leader ends
// while the client's side is still open (Converse refusing its first
// message) otherwise hung: the proxy hands the request body on behind a
// Close that does nothing, and closing the leader's response waits for
// the copy of that body to the leader, which waits for the client's next
// message. Once the response is over, nothing more of the request is
// wanted.
func closeRequestWithResponse(res *http.Response) {
	in, ok := res.Request.Context().Value(inboundBodyKey{}).(io.ReadCloser)
	if !ok || res.Body == nil {
		return
	}
	res.Body = &closesRequest{ReadCloser: res.Body, in: in}
}

type closesRequest struct {
	io.ReadCloser
	in io.Closer
}

func (c *closesRequest) Close() error {
	c.in.Close()
	return c.ReadCloser.Close()
}

// closeInboundWithOutbound: when the transport gives up on a request
// whose body is still being sent (the leader's connection died under a
// Converse), the client's body is closed too. The transport ends the
// leader's response only once its copy of the request body returns, and
// the proxy hands that body on behind a Close that does nothing, so the
// copy waited for the client's next message: a quiet Converse through a
// follower whose leader died hung instead of ending UNAVAILABLE. Only for
// HTTP/2 clients, whose body's Close does not wait to read the rest (an
// HTTP/1 body's drains it), and the only ones with bidirectional streams.
func closeInboundWithOutbound(pr *httputil.ProxyRequest) {
	in, ok := pr.In.Context().Value(inboundBodyKey{}).(io.ReadCloser)
	if !ok || pr.Out.Body == nil || pr.In.ProtoMajor != 2 {
		return
	}
	pr.Out.Body = &closesRequest{ReadCloser: pr.Out.Body, in: in}
}
