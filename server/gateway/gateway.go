// Package gateway serves the REST API: grpc-gateway translating HTTP/JSON to
// gRPC calls on a client connection to our own RPC server. It adds no
// business logic; server streams become newline-delimited JSON, one
// {"result": …} object per message.
package gateway

import (
	"context"
	"fmt"
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
	return mux, nil
}
