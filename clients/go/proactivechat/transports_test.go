package proactivechat_test

import (
	"context"
	"iter"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// api is what the tests call, over either of the package's clients: one
// behaviour, tested once per transport.
type api interface {
	CreateSite(context.Context, *pb.CreateSiteRequest) (*pb.Site, error)
	ListSites(context.Context) ([]*pb.Site, error)
	CreateAgent(context.Context, string) (*pb.Agent, error)
	CreateAgentSession(context.Context, string) (string, error)
	SetAgentStatus(context.Context, string, pb.AgentStatus) error
	StartVisitorSession(context.Context, string) error
	ListEvents(context.Context, uint64) (*pb.ListEventsResponse, error)
	Events(context.Context, uint64, ...proactivechat.WatchOption) iter.Seq2[*pb.Event, error]
	// closeIdle closes the client's idle connections, as a client does
	// when its server goes away, so a graceful shutdown need not wait.
	closeIdle()
}

type transport struct {
	name string
	dial func(t *testing.T, s *server, token string) api
}

var transports = []transport{
	{"Connect", func(t *testing.T, s *server, token string) api {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		t.Cleanup(tr.CloseIdleConnections)
		return connectAPI{proactivechat.DialConnect(s.url, token, proactivechat.WithHTTPClient(&http.Client{Transport: tr})), tr}
	}},
	{"gRPC", func(t *testing.T, s *server, token string) api {
		c, err := proactivechat.DialGRPC(s.addr, token, proactivechat.WithDialOptions(
			// Reconnect at once after the server restarts, and let calls
			// made meanwhile wait for it rather than fail.
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond}}),
			grpc.WithDefaultCallOptions(grpc.WaitForReady(true)),
		))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return grpcAPI{c}
	}},
}

func forEachTransport(t *testing.T, f func(t *testing.T, tr transport)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr) })
	}
}

type connectAPI struct {
	*proactivechat.Client
	tr *http.Transport
}

func (c connectAPI) closeIdle() { c.tr.CloseIdleConnections() }

func (c grpcAPI) closeIdle() {} // grpc-go closes a connection its server ends

func (c connectAPI) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.Site, error) {
	res, err := c.Admin.CreateSite(ctx, connect.NewRequest(r))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSite(), nil
}

func (c connectAPI) ListSites(ctx context.Context) ([]*pb.Site, error) {
	res, err := c.Admin.ListSites(ctx, connect.NewRequest(&pb.ListSitesRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetSites(), nil
}

func (c connectAPI) CreateAgent(ctx context.Context, name string) (*pb.Agent, error) {
	res, err := c.Admin.CreateAgent(ctx, connect.NewRequest(&pb.CreateAgentRequest{DisplayName: name}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetAgent(), nil
}

func (c connectAPI) CreateAgentSession(ctx context.Context, agentID string) (string, error) {
	res, err := c.Admin.CreateAgentSession(ctx, connect.NewRequest(&pb.CreateAgentSessionRequest{AgentId: agentID}))
	if err != nil {
		return "", err
	}
	return res.Msg.GetToken(), nil
}

func (c connectAPI) SetAgentStatus(ctx context.Context, agentID string, st pb.AgentStatus) error {
	_, err := c.Agent.SetAgentStatus(ctx, connect.NewRequest(&pb.SetAgentStatusRequest{AgentId: agentID, Status: st}))
	return err
}

func (c connectAPI) StartVisitorSession(ctx context.Context, siteID string) error {
	_, err := c.Visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: siteID}))
	return err
}

func (c connectAPI) ListEvents(ctx context.Context, after uint64) (*pb.ListEventsResponse, error) {
	res, err := c.Admin.ListEvents(ctx, connect.NewRequest(&pb.ListEventsRequest{After: after, PageSize: 1000}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

type grpcAPI struct{ *proactivechat.GRPCClient }

func (c grpcAPI) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.Site, error) {
	res, err := c.Admin.CreateSite(ctx, r)
	return res.GetSite(), err
}

func (c grpcAPI) ListSites(ctx context.Context) ([]*pb.Site, error) {
	res, err := c.Admin.ListSites(ctx, &pb.ListSitesRequest{})
	return res.GetSites(), err
}

func (c grpcAPI) CreateAgent(ctx context.Context, name string) (*pb.Agent, error) {
	res, err := c.Admin.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: name})
	return res.GetAgent(), err
}

func (c grpcAPI) CreateAgentSession(ctx context.Context, agentID string) (string, error) {
	res, err := c.Admin.CreateAgentSession(ctx, &pb.CreateAgentSessionRequest{AgentId: agentID})
	return res.GetToken(), err
}

func (c grpcAPI) SetAgentStatus(ctx context.Context, agentID string, st pb.AgentStatus) error {
	_, err := c.Agent.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: agentID, Status: st})
	return err
}

func (c grpcAPI) StartVisitorSession(ctx context.Context, siteID string) error {
	_, err := c.Visitor.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: siteID})
	return err
}

func (c grpcAPI) ListEvents(ctx context.Context, after uint64) (*pb.ListEventsResponse, error) {
	return c.Admin.ListEvents(ctx, &pb.ListEventsRequest{After: after, PageSize: 1000})
}
