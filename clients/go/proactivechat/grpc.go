package proactivechat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// GRPCClient calls the server with grpc-go, sending its credential as
// per-RPC credentials ("authorization: Bearer <token>") on every call.
// Close it when done.
type GRPCClient struct {
	Conn    *grpc.ClientConn
	Admin   pb.AdminServiceClient
	Agent   pb.AgentServiceClient
	Chat    pb.ChatServiceClient
	Visitor pb.VisitorServiceClient
}

// DialGRPC returns a grpc-go client of the server at target (host:port)
// that authenticates with token. It uses TLS with the system's roots,
// except to loopback targets ("localhost", 127.0.0.0/8, ::1) or with
// WithInsecure; WithDialOptions may set other transport credentials. Like
// grpc.NewClient it connects on the first call.
func DialGRPC(target, token string, opts ...Option) (*GRPCClient, error) {
	o := collect(opts)
	plain := o.insecure || isLoopback(target)
	var tc credentials.TransportCredentials
	if plain {
		tc = insecure.NewCredentials()
	} else {
		tc = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	dopts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(tc),
		grpc.WithPerRPCCredentials(bearerCreds{value: "Bearer " + token, secure: !plain}),
	}, o.dialOptions...)
	conn, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return &GRPCClient{
		Conn:    conn,
		Admin:   pb.NewAdminServiceClient(conn),
		Agent:   pb.NewAgentServiceClient(conn),
		Chat:    pb.NewChatServiceClient(conn),
		Visitor: pb.NewVisitorServiceClient(conn),
	}, nil
}

// Close closes the client's connection.
func (c *GRPCClient) Close() error { return c.Conn.Close() }

// isLoopback reports whether target's host is on loopback. It does not
// resolve names other than "localhost".
func isLoopback(target string) bool {
	target = strings.TrimPrefix(target, "dns:///")
	target = strings.TrimPrefix(target, "passthrough:///")
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = strings.Trim(target, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearerCreds are per-RPC credentials carrying a bearer token.
type bearerCreds struct {
	value  string
	secure bool
}

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": b.value}, nil
}

func (b bearerCreds) RequireTransportSecurity() bool { return b.secure }

// watchGRPC opens WatchEvents with grpc-go.
func (c *GRPCClient) watchGRPC(ctx context.Context, req *pb.WatchEventsRequest) (eventStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := c.Admin.WatchEvents(ctx, req)
	if err != nil {
		cancel()
		return nil, err
	}
	return grpcStream{s: s, cancel: cancel}, nil
}

type grpcStream struct {
	s      grpc.ServerStreamingClient[pb.WatchEventsResponse]
	cancel context.CancelFunc
}

func (g grpcStream) recv() (*pb.WatchEventsResponse, error) {
	m, err := g.s.Recv()
	if errors.Is(err, io.EOF) {
		return nil, ErrStreamEnded
	}
	return m, err
}

func (g grpcStream) close() { g.cancel() }
