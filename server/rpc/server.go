package rpc

import (
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
)

// ServiceNames are the fully qualified names of the services Mount serves,
// for health checks and reflection.
var ServiceNames = []string{
	proactivechatv1connect.AdminServiceName,
	proactivechatv1connect.VisitorServiceName,
	proactivechatv1connect.AgentServiceName,
	proactivechatv1connect.ChatServiceName,
}

// Mount registers the four services on mux. Each handler speaks Connect,
// gRPC and gRPC-Web.
func Mount(mux *http.ServeMux, svc *domain.Service, log *slog.Logger, opts ...connect.HandlerOption) {
	f := newFanout()
	opts = append(opts[:len(opts):len(opts)], connect.WithCodec(fanoutCodec{f}))
	mux.Handle(proactivechatv1connect.NewAdminServiceHandler(&adminServer{svc: svc, log: log}, opts...))
	mux.Handle(proactivechatv1connect.NewVisitorServiceHandler(&visitorServer{svc: svc, log: log}, opts...))
	agentPath, agent := proactivechatv1connect.NewAgentServiceHandler(&agentServer{svc: svc, log: log, fanout: f}, opts...)
	mux.Handle(agentPath, agent)
	// A presence stream's messages wait a little to share writes.
	mux.Handle(proactivechatv1connect.AgentServiceWatchPresenceProcedure, BatchFlushes(agent, PresenceFlushDelay, domain.SystemClock{}))
	mux.Handle(proactivechatv1connect.NewChatServiceHandler(&chatServer{svc: svc, log: log}, opts...))
}
