package app

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/proactivechat/proactivechat/server/gateway"
)

// Limits of what a client may send. Without them one anonymous 256 MiB POST
// took the process to 1.5 GiB (handlers read bodies whole before any check),
// and bodies trickled a byte at a time held handlers, memory and files for
// as long as the client liked.
const (
	// maxRequestBytes bounds one request message on every protocol, and
	// the whole body of every request but a client stream's (REST JSON,
	// /admin/*, …). Our largest requests, a site's settings or a form, are
	// a few KiB; a chat message's text is at most 4 KiB.
	maxRequestBytes = 1 << 20
	// envelopePrefix is the header of each message in the gRPC, gRPC-Web
	// and Connect streaming protocols: a flags byte and a big-endian
	// uint32 length. Their unary bodies may be this much over
	// maxRequestBytes.
	envelopePrefix = 5
	// defaultBodyTimeout bounds the time to receive a request's body, from
	// the moment its headers have arrived, for every request but a client
	// stream. It matches the 10 s allowed for the headers: a client that
	// cannot send a few KiB in that time is gone or hostile, and each one
	// waited for holds a handler and a file. A full 1 MiB body needs
	// ~100 KiB/s.
	defaultBodyTimeout = 10 * time.Second
	// defaultStreamMessageTimeout bounds, on a client stream
	// (ChatService.Converse), the time to receive a message once its first
	// byte has arrived, and to receive the first message (the join) once
	// the stream has started. Between messages a stream may stay quiet as
	// long as its chat does; HTTP/2 pings find peers that vanished.
	defaultStreamMessageTimeout = 10 * time.Second
)

// aLongTimeAgo is a read deadline that has passed: setting it interrupts
// a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// protocol is how a request is spoken, for errors and metrics.
type protocol uint8

const (
	protoHTTP protocol = iota // the rest: /admin/backup, /metrics, static files
	protoREST
	protoConnect
	protoGRPC
	protoGRPCWeb
	numProtocols
)

var protocolNames = [numProtocols]string{"http", "rest", "connect", "grpc", "grpc_web"}

// edge checks every request before a handler reads it: its body must fit
// maxRequestBytes and arrive within the body timeout, a client stream's
// messages each within the message timeout, and a Connect GET's message
// must decode. A request that fails is answered here, with the status the
// protocol gives a client's mistake, and counted.
type edge struct {
	rest           *gateway.Handler
	errs           *connect.ErrorWriter
	procedures     map[string]bool // RPC paths, "/pkg.Service/Method": true for client streams
	bodyTimeout    time.Duration
	messageTimeout time.Duration

	tooLarge [numProtocols]atomic.Uint64
	tooSlow  [numProtocols]atomic.Uint64
}

func newEdge(rest *gateway.Handler, bodyTimeout, messageTimeout time.Duration) *edge {
	if bodyTimeout <= 0 {
		bodyTimeout = defaultBodyTimeout
	}
	if messageTimeout <= 0 {
		messageTimeout = defaultStreamMessageTimeout
	}
	return &edge{
		rest:           rest,
		errs:           connect.NewErrorWriter(),
		procedures:     rpcProcedures(),
		bodyTimeout:    bodyTimeout,
		messageTimeout: messageTimeout,
	}
}

// rpcProcedures maps the path of every method of every service linked into
// the binary (ours, health, reflection) to whether its client streams.
func rpcProcedures() map[string]bool {
	procs := map[string]bool{}
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				procs["/"+string(s.FullName())+"/"+string(m.Name())] = m.IsStreamingClient()
			}
		}
		return true
	})
	// grpcreflect serves the v1alpha reflection service (older tools'
	// only one) without registering its descriptor: a bidi stream, which
	// read whole would never start.
	procs["/"+grpcreflect.ReflectV1AlphaServiceName+"/ServerReflectionInfo"] = true
	return procs
}

// wrap checks each request before next serves it.
func (e *edge) wrap(next http.Handler) http.Handler {
	// The work is in admit, so that this frame stays small: it sits under
	// every stream's handler for as long as the stream is open.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream, ok := e.admit(w, r)
		if ok {
			next.ServeHTTP(w, r)
		}
		if stream != nil {
			stream.stop()
		}
	})
}

// classify tells how r is spoken, and whether its body is a stream of
// messages (a client stream, bounded per message) or a whole to read first.
func (e *edge) classify(r *http.Request) (p protocol, clientStream bool) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		return protoREST, false
	}
	clientStream, ok := e.procedures[r.URL.Path]
	if !ok {
		return protoHTTP, false
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case hasPrefixFold(ct, "application/grpc-web"):
		return protoGRPCWeb, clientStream
	case hasPrefixFold(ct, "application/grpc"):
		return protoGRPC, clientStream
	}
	return protoConnect, clientStream
}

// enveloped reports whether r's body is a sequence of enveloped messages.
func enveloped(p protocol, r *http.Request) bool {
	return p == protoGRPC || p == protoGRPCWeb ||
		p == protoConnect && hasPrefixFold(r.Header.Get("Content-Type"), "application/connect+")
}

// hasPrefixFold is strings.HasPrefix ignoring case, as media types are
// compared (and as Connect compares them).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// admit checks r and answers it if it fails, reporting whether next is to
// serve it. A unary call's (or a server stream's) body is read here, whole,
// and handed on from memory; a client stream's is wrapped, and returned to
// be stopped once served.
func (e *edge) admit(w http.ResponseWriter, r *http.Request) (*streamBody, bool) {
	p, clientStream := e.classify(r)
	if p >= protoConnect && r.Method == http.MethodGet {
		if err := e.checkConnectGet(p, r.URL.Query()); err != nil {
			e.refuse(w, r, p, err)
			return nil, false
		}
	}
	if clientStream {
		s := e.newStreamBody(w, r, p)
		r.Body = s
		return s, true
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	limit := int64(maxRequestBytes)
	if enveloped(p, r) {
		limit += envelopePrefix
	}
	if r.ContentLength > limit {
		// Refused before reading a byte; net/http closes an HTTP/1
		// connection with that much left unread.
		e.refuse(w, r, p, e.errTooLarge(p, fmt.Sprintf("the request body (%d bytes)", r.ContentLength)))
		return nil, false
	}
	body, err := e.readBody(w, r, p, limit)
	if err == nil && enveloped(p, r) {
		err = e.checkEnvelopes(p, r, body)
	}
	if err != nil {
		e.refuse(w, r, p, err)
		return nil, false
	}
	r.Body = &bufBody{b: body}
	r.ContentLength = int64(len(body))
	return nil, true
}

// edgeError is a request refused at the edge.
type edgeError struct {
	code       connect.Code
	httpStatus int // on REST, plain HTTP and Connect's unary protocol
	msg        string
}

func (e *edgeError) Error() string { return e.msg }

func (e *edge) errTooLarge(p protocol, what string) *edgeError {
	e.tooLarge[p].Add(1)
	// A size is not a quota: INVALID_ARGUMENT, not RESOURCE_EXHAUSTED,
	// whose 429 tells clients to retry what can never succeed.
	return &edgeError{connect.CodeInvalidArgument, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("%s is over the limit of %d bytes", what, maxRequestBytes)}
}

func (e *edge) errTooSlow(p protocol, what string, d time.Duration) *edgeError {
	e.tooSlow[p].Add(1)
	return &edgeError{connect.CodeDeadlineExceeded, http.StatusRequestTimeout,
		fmt.Sprintf("%s did not arrive within %v", what, d)}
}

func errInvalid(format string, args ...any) *edgeError {
	return &edgeError{connect.CodeInvalidArgument, http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// refuse answers r with err as its protocol writes errors. Connect's
// unary protocol gets err's HTTP status (413, 408) rather than the one
// Connect derives from the code (400, 504): clients read the code from the
// body either way, and a timeout at the edge is no server error.
func (e *edge) refuse(w http.ResponseWriter, r *http.Request, p protocol, err *edgeError) {
	switch p {
	case protoREST:
		e.rest.Error(w, r, err.httpStatus, status.Error(codes.Code(err.code), err.msg))
	case protoHTTP:
		http.Error(w, err.msg, err.httpStatus)
	default:
		e.errs.Write(statusOverride{w, err.httpStatus}, r, connect.NewError(err.code, errors.New(err.msg)))
	}
}

// statusOverride writes status instead of any status but 200 (which the
// gRPC and streaming protocols must answer errors with).
type statusOverride struct {
	http.ResponseWriter
	status int
}

func (w statusOverride) WriteHeader(code int) {
	if code != http.StatusOK {
		code = w.status
	}
	w.ResponseWriter.WriteHeader(code)
}

// readBody reads r's body whole, at most limit bytes of it, within the body
// timeout.
func (e *edge) readBody(w http.ResponseWriter, r *http.Request, p protocol, limit int64) ([]byte, *edgeError) {
	// The deadline is set only if it passes: setting one on every request
	// would cost HTTP/2 a round trip to the connection's goroutine, twice.
	rc := http.NewResponseController(w)
	var mu sync.Mutex
	reading, cut := true, false
	t := time.AfterFunc(e.bodyTimeout, func() {
		mu.Lock()
		defer mu.Unlock()
		if reading {
			cut = true
			rc.SetReadDeadline(aLongTimeAgo)
		}
	})
	body, err := readAtMost(r.Body, r.ContentLength, limit)
	mu.Lock()
	reading = false
	mu.Unlock()
	t.Stop()
	if cut {
		if err == nil {
			// It all arrived as the deadline passed: take it, and let
			// the connection read again.
			rc.SetReadDeadline(time.Time{})
		} else {
			return nil, e.errTooSlow(p, "the request body", e.bodyTimeout)
		}
	}
	switch {
	case errors.Is(err, errOverLimit):
		return nil, e.errTooLarge(p, "the request body")
	case err != nil:
		return nil, errInvalid("read the request body: %v", err)
	}
	return body, nil
}

var errOverLimit = errors.New("over the limit")

// readAtMost reads r to its end, unless that is more than limit bytes.
// Memory grows with what has arrived, not with what Content-Length (size,
// -1 if unknown) announces, so a slow client claiming a large body holds
// only what it sent.
func readAtMost(r io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 {
		n = min(size, 16<<10) + 1 // +1 to see the end without growing
	}
	b := make([]byte, 0, n)
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(2*int64(cap(b)), limit+1))
			copy(nb, b)
			b = nb
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if int64(len(b)) > limit {
			return nil, errOverLimit
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// bufBody is a body read already; it lets go of its bytes once read, as a
// server stream keeps its request for as long as it is open.
type bufBody struct{ b []byte }

func (b *bufBody) Read(p []byte) (int, error) {
	if len(b.b) == 0 {
		b.b = nil
		return 0, io.EOF
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	return n, nil
}

func (b *bufBody) Close() error {
	b.b = nil
	return nil
}

// checkEnvelopes checks that an enveloped unary body is whole messages,
// each within the limit and compressed only if the call says how. Connect
// would call a cut message or an unannounced compression an internal
// error; they are the client's.
func (e *edge) checkEnvelopes(p protocol, r *http.Request, b []byte) *edgeError {
	encoding := r.Header.Get("Grpc-Encoding")
	if p == protoConnect {
		encoding = r.Header.Get("Connect-Content-Encoding")
	}
	compressed := encoding != "" && encoding != "identity"
	for len(b) > 0 {
		if len(b) < envelopePrefix {
			return errInvalid("the request body ends inside a message's %d-byte prefix", envelopePrefix)
		}
		size := int64(binary.BigEndian.Uint32(b[1:envelopePrefix]))
		if size > maxRequestBytes {
			return e.errTooLarge(p, fmt.Sprintf("a message (%d bytes)", size))
		}
		if b[0]&^1 != 0 {
			// Only the compression bit may be set on a request's message;
			// the others (end of stream, trailers) are the server's.
			return errInvalid("a message has flags %#x: only 0x01 (compressed) is allowed in a request", b[0])
		}
		if b[0]&1 != 0 && !compressed {
			return errInvalid("a message is flagged compressed, but the call names no compression")
		}
		if int64(len(b)-envelopePrefix) < size {
			return errInvalid("the request body ends inside a message (%d of its %d bytes)", len(b)-envelopePrefix, size)
		}
		b = b[envelopePrefix+size:]
	}
	return nil
}

// checkConnectGet checks a Connect GET's message as Connect would read it:
// Connect reports base64 it cannot decode as an UNKNOWN error (HTTP 500),
// and a message over the limit as RESOURCE_EXHAUSTED (429).
func (e *edge) checkConnectGet(p protocol, q url.Values) *edgeError {
	msg := q.Get("message")
	size := len(msg)
	if q.Get("base64") == "1" {
		enc := base64.URLEncoding // padded, or no padding needed
		if len(msg)%4 != 0 {
			enc = base64.RawURLEncoding
		}
		n, err := enc.Decode(make([]byte, enc.DecodedLen(len(msg))), []byte(msg))
		if err != nil {
			return errInvalid("the message parameter is not URL-safe base64: %v", err)
		}
		size = n
	}
	if size > maxRequestBytes {
		return e.errTooLarge(p, fmt.Sprintf("a message (%d bytes)", size))
	}
	return nil
}

// streamBody is a client stream's body: it passes the messages through as
// they come, refusing one whose prefix announces more than maxRequestBytes
// and cutting the stream if a message, once begun, is not all there within
// the message timeout (the first message counts from the stream's start).
type streamBody struct {
	body    io.ReadCloser
	e       *edge
	p       protocol
	rc      *http.ResponseController
	timeout time.Duration
	timer   *time.Timer

	// The reading goroutine's own.
	prefix    [envelopePrefix]byte
	prefixOut int   // bytes of prefix handed on; envelopePrefix when none is pending
	remaining int64 // bytes of the current message still to hand on
	err       error

	mu       sync.Mutex
	waiting  bool      // a message is due by deadline
	deadline time.Time // when the timer may cut the stream
	cut      bool
	stopped  bool
}

func (e *edge) newStreamBody(w http.ResponseWriter, r *http.Request, p protocol) *streamBody {
	s := &streamBody{
		body: r.Body, e: e, p: p, rc: http.NewResponseController(w), timeout: e.messageTimeout,
		prefixOut: envelopePrefix,
		waiting:   true, deadline: time.Now().Add(e.messageTimeout),
	}
	s.timer = time.AfterFunc(e.messageTimeout, s.expire)
	return s
}

// expire cuts the stream if a message is still due: the body's reads fail
// from now on. A timer that fires late, after the message it was set for,
// finds a later deadline or none.
func (s *streamBody) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting && !s.stopped && !time.Now().Before(s.deadline) {
		s.cut = true
		s.rc.SetReadDeadline(aLongTimeAgo)
	}
}

// begin starts the clock of a message whose first byte has arrived (the
// first message's runs from the start already).
func (s *streamBody) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.waiting {
		s.waiting = true
		s.deadline = time.Now().Add(s.timeout)
		s.timer.Reset(s.timeout)
	}
}

// end stops the clock: the message is all there.
func (s *streamBody) end() {
	s.mu.Lock()
	s.waiting = false
	s.mu.Unlock()
	s.timer.Stop()
}

// stop is called once the handler has returned: the timer must not touch
// its response any more.
func (s *streamBody) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.timer.Stop()
}

func (s *streamBody) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.prefixOut == envelopePrefix && s.remaining == 0 {
		// Between messages: wait for the next, for as long as it takes.
		if _, err := io.ReadFull(s.body, s.prefix[:1]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF // the client's end of the stream
			}
			return 0, s.fail(err)
		}
		s.begin()
		if _, err := io.ReadFull(s.body, s.prefix[1:]); err != nil {
			return 0, s.fail(err)
		}
		size := int64(binary.BigEndian.Uint32(s.prefix[1:]))
		if size > maxRequestBytes {
			e := s.e.errTooLarge(s.p, fmt.Sprintf("a message (%d bytes)", size))
			s.err = connect.NewError(e.code, e)
			return 0, s.err
		}
		s.prefixOut, s.remaining = 0, size
	}
	if s.prefixOut < envelopePrefix {
		n := copy(p, s.prefix[s.prefixOut:])
		s.prefixOut += n
		if s.prefixOut == envelopePrefix && s.remaining == 0 {
			s.end()
		}
		return n, nil
	}
	if int64(len(p)) > s.remaining {
		p = p[:s.remaining]
	}
	n, err := s.body.Read(p)
	s.remaining -= int64(n)
	if s.remaining == 0 {
		s.end()
		return n, nil // io.EOF, if it came, again on the next Read
	}
	if err != nil {
		return n, s.fail(err)
	}
	return n, nil
}

// fail turns a read error inside a message into the client's mistake it
// is: too slow, or a message cut short.
func (s *streamBody) fail(err error) error {
	s.mu.Lock()
	cut := s.cut
	s.mu.Unlock()
	switch {
	case cut:
		e := s.e.errTooSlow(s.p, "a message of the stream", s.timeout)
		s.err = connect.NewError(e.code, e)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		s.err = connect.NewError(connect.CodeInvalidArgument, errors.New("the request stream ends inside a message"))
	default:
		s.err = err
	}
	return s.err
}

func (s *streamBody) Close() error { return s.body.Close() }

// gunzip is the gzip decompressor of the RPC handlers: Connect's own
// reports a message that decompresses to more than maxRequestBytes as
// RESOURCE_EXHAUSTED, HTTP 429, asking clients to retry what can never
// succeed. This one stops at maxRequestBytes with INVALID_ARGUMENT.
type gunzip struct {
	z gzip.Reader
	n int64 // bytes decompressed since Reset
}

func newGunzip() connect.Decompressor { return &gunzip{} }

func newGzip() connect.Compressor { return gzip.NewWriter(io.Discard) }

func (g *gunzip) Reset(r io.Reader) error {
	g.n = 0
	return g.z.Reset(r)
}

func (g *gunzip) Close() error { return g.z.Close() }

func (g *gunzip) Read(p []byte) (int, error) {
	if g.n >= maxRequestBytes {
		var one [1]byte
		if n, err := g.z.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("the message decompresses to more than the limit of %d bytes", maxRequestBytes))
	}
	if int64(len(p)) > maxRequestBytes-g.n {
		p = p[:maxRequestBytes-g.n]
	}
	n, err := g.z.Read(p)
	g.n += int64(n)
	return n, err
}
