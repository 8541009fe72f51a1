// Package gateway serves the REST API: grpc-gateway translating HTTP/JSON to
// gRPC calls on a client connection to our own RPC server. It adds no
// business logic; server streams become newline-delimited JSON, one
// {"result": …} object per message.
package gateway

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

var registrations = []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	pb.RegisterAdminServiceHandler,
	pb.RegisterVisitorServiceHandler,
	pb.RegisterAgentServiceHandler,
	pb.RegisterChatServiceHandler,
}

// Handler serves the REST API.
type Handler struct {
	mux *runtime.ServeMux
}

// New returns the REST handler for every service, calling them over conn.
// Unknown JSON fields are rejected rather than silently ignored, so a typo in
// a request body is an error and not a lost setting.
func New(ctx context.Context, conn *grpc.ClientConn) (*Handler, error) {
	mux := runtime.NewServeMux(
		// Origin goes through as it is, so that the handlers check a
		// browser page's origin over REST as over Connect.
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, "Origin") {
				return "origin", true
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
		// Every answer that is not a stream says its length: a follower
		// reads such an answer whole before passing it on, so that a
		// leader's connection breaking in the middle is a clean 503 for
		// the client (app.readWhole), whatever the answer's size.
		runtime.WithWriteContentLength(),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}),
	)
	for _, register := range registrations {
		if err := register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("register REST handlers: %w", err)
		}
	}
	chats := pb.NewChatServiceClient(conn)
	if err := mux.HandlePath(http.MethodGet, transcriptPath, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveTranscript(mux, chats, w, r, params["chat_id"])
	}); err != nil {
		return nil, fmt.Errorf("register REST handlers: %w", err)
	}
	return &Handler{mux: mux}, nil
}

// ServeHTTP refuses a path or query that is not UTF-8 once unescaped
// (/v1/chats/abc%FF): the gateway would copy it into a proto string field,
// which the gRPC client then fails to marshal, and that failure is an
// INTERNAL error, HTTP 500, for what is the client's mistake.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !utf8.ValidString(r.URL.Path) || !validQuery(r) {
		h.Error(w, r, http.StatusBadRequest, status.Error(codes.InvalidArgument, "the URL's path and query must be UTF-8 once unescaped"))
		return
	}
	h.mux.ServeHTTP(w, r)
}

func validQuery(r *http.Request) bool {
	if utf8.ValidString(r.URL.RawQuery) && !strings.Contains(r.URL.RawQuery, "%") {
		return true // nothing escaped: the common case, without parsing
	}
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// Error writes err as the gateway writes every error (a google.rpc.Status
// in JSON) with the given HTTP status, for answers made before the request
// reaches it: 413 for a body over the limit, 408 for one too slow.
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, httpStatus int, err error) {
	_, out := runtime.MarshalerForRequest(h.mux, r)
	runtime.HTTPError(r.Context(), h.mux, out, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// transcriptPath downloads a chat's transcript as a text file.
const transcriptPath = "/v1/chats/{chat_id}/transcript"

// serveTranscript answers GET transcriptPath with GetChatTranscript's text
// as a text/plain attachment, rather than the JSON of its response, so that
// it downloads as a file. Errors are JSON, as every REST error.
func serveTranscript(mux *runtime.ServeMux, chats pb.ChatServiceClient, w http.ResponseWriter, r *http.Request, chatID string) {
	_, out := runtime.MarshalerForRequest(mux, r)
	ctx, err := runtime.AnnotateContext(r.Context(), mux, r, pb.ChatService_GetChatTranscript_FullMethodName,
		runtime.WithHTTPPathPattern(transcriptPath))
	if err != nil {
		runtime.HTTPError(ctx, mux, out, w, r, err)
		return
	}
	res, err := chats.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: chatID})
	if err != nil {
		runtime.HTTPError(ctx, mux, out, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": res.GetFileName()}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = io.WriteString(w, res.GetText())
}
