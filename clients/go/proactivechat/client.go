package proactivechat

import (
	"context"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/grpc"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// Client calls the server over the Connect protocol (net/http), sending
// its credential as "Authorization: Bearer <token>" on every call.
type Client struct {
	Admin   proactivechatv1connect.AdminServiceClient
	Agent   proactivechatv1connect.AgentServiceClient
	Chat    proactivechatv1connect.ChatServiceClient
	Visitor proactivechatv1connect.VisitorServiceClient
}

// Option configures DialConnect or DialGRPC; options that concern only the
// other transport are ignored.
type Option func(*options)

type options struct {
	httpClient     connect.HTTPClient
	connectOptions []connect.ClientOption
	dialOptions    []grpc.DialOption
	insecure       bool
}

// WithHTTPClient makes DialConnect send its requests with hc. The default
// speaks HTTP/2 without TLS (prior knowledge) to http:// URLs, so that
// bidirectional streams work, and HTTP/1.1 or HTTP/2 to https:// URLs.
func WithHTTPClient(hc connect.HTTPClient) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithConnectOptions adds options to DialConnect's generated clients,
// e.g. connect.WithGRPC() to speak the gRPC protocol through net/http.
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(o *options) { o.connectOptions = append(o.connectOptions, opts...) }
}

// WithDialOptions adds options to DialGRPC's grpc.NewClient, e.g.
// transport credentials with a custom TLS configuration.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithInsecure lets DialGRPC connect without TLS to a target that is not
// on loopback (it always does so to loopback targets), sending the
// credential in the clear.
func WithInsecure() Option {
	return func(o *options) { o.insecure = true }
}

func collect(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// DialConnect returns a client of the server at baseURL (e.g.
// "https://chat.example.com") that authenticates with token: an admin API
// key ("pca_…"), an agent session or a visitor token. It opens no
// connection until the first call.
func DialConnect(baseURL, token string, opts ...Option) *Client {
	o := collect(opts)
	baseURL = strings.TrimRight(baseURL, "/")
	hc := o.httpClient
	if hc == nil {
		hc = defaultHTTPClient(baseURL)
	}
	copts := append([]connect.ClientOption{connect.WithInterceptors(bearer(token))}, o.connectOptions...)
	return &Client{
		Admin:   proactivechatv1connect.NewAdminServiceClient(hc, baseURL, copts...),
		Agent:   proactivechatv1connect.NewAgentServiceClient(hc, baseURL, copts...),
		Chat:    proactivechatv1connect.NewChatServiceClient(hc, baseURL, copts...),
		Visitor: proactivechatv1connect.NewVisitorServiceClient(hc, baseURL, copts...),
	}
}

// defaultHTTPClient speaks h2c to plain http:// servers (bidirectional
// streams need HTTP/2) and negotiates the protocol over TLS otherwise.
func defaultHTTPClient(baseURL string) *http.Client {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = d.Clone()
	}
	if strings.HasPrefix(strings.ToLower(baseURL), "http://") {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: tr}
}

// bearer is an interceptor that sets the Authorization header of every
// call, unary and streaming.
func bearer(token string) connect.Interceptor {
	return &bearerInterceptor{value: "Bearer " + token}
}

type bearerInterceptor struct{ value string }

func (b *bearerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Header().Get("Authorization") == "" {
			req.Header().Set("Authorization", b.value)
		}
		return next(ctx, req)
	}
}

func (b *bearerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if conn.RequestHeader().Get("Authorization") == "" {
			conn.RequestHeader().Set("Authorization", b.value)
		}
		return conn
	}
}

func (b *bearerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// watchConnect opens WatchEvents over Connect.
func (c *Client) watchConnect(ctx context.Context, req *pb.WatchEventsRequest) (eventStream, error) {
	s, err := c.Admin.WatchEvents(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return connectStream{s}, nil
}

type connectStream struct {
	s *connect.ServerStreamForClient[pb.WatchEventsResponse]
}

func (c connectStream) recv() (*pb.WatchEventsResponse, error) {
	if c.s.Receive() {
		return c.s.Msg(), nil
	}
	if err := c.s.Err(); err != nil {
		return nil, err
	}
	return nil, ErrStreamEnded
}

func (c connectStream) close() { c.s.Close() }
