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

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

var registrations = []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	pb.RegisterAdminServiceHandler,
	pb.RegisterVisitorServiceHandler,
	pb.RegisterAgentServiceHandler,
	pb.RegisterChatServiceHandler,
}

// New returns the REST handler for every service, calling them over conn.
// Unknown JSON fields are rejected rather than silently ignored, so a typo in
// a request body is an error and not a lost setting.
func New(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	mux := runtime.NewServeMux(
		// Origin goes through as it is, so that the handlers check a
		// browser page's origin over REST as over Connect.
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, "Origin") {
				return "origin", true
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
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
	return mux, nil
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
