package app_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// api is the Proactive Chat API as a test sees it, whatever the protocol.
// Every error it returns is a *connect.Error (or io.EOF at the clean end of
// a stream), so one assertion on connect.CodeOf works for all protocols.
type api interface {
	CreateSite(context.Context, *pb.CreateSiteRequest) (*pb.CreateSiteResponse, error)
	GetSite(context.Context, *pb.GetSiteRequest) (*pb.GetSiteResponse, error)
	ListSites(context.Context, *pb.ListSitesRequest) (*pb.ListSitesResponse, error)
	UpdateSite(context.Context, *pb.UpdateSiteRequest) (*pb.UpdateSiteResponse, error)
	CreateAgent(context.Context, *pb.CreateAgentRequest) (*pb.CreateAgentResponse, error)
	GetAgent(context.Context, *pb.GetAgentRequest) (*pb.GetAgentResponse, error)
	ListAgents(context.Context, *pb.ListAgentsRequest) (*pb.ListAgentsResponse, error)
	UpdateAgent(context.Context, *pb.UpdateAgentRequest) (*pb.UpdateAgentResponse, error)
	ListOnlineVisitors(context.Context, *pb.ListOnlineVisitorsRequest) (*pb.ListOnlineVisitorsResponse, error)
	ListQueue(context.Context, *pb.ListQueueRequest) (*pb.ListQueueResponse, error)
	ListRoutingDecisions(context.Context, *pb.ListRoutingDecisionsRequest) (*pb.ListRoutingDecisionsResponse, error)
	ExportVisitor(context.Context, *pb.ExportVisitorRequest) (*pb.ExportVisitorResponse, error)
	EraseVisitor(context.Context, *pb.EraseVisitorRequest) (*pb.EraseVisitorResponse, error)
	CreateApiKey(context.Context, *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error)
	ListApiKeys(context.Context, *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error)
	RevokeApiKey(context.Context, *pb.RevokeApiKeyRequest) (*pb.RevokeApiKeyResponse, error)
	SetAgentPassword(context.Context, *pb.SetAgentPasswordRequest) (*pb.SetAgentPasswordResponse, error)
	CreateAgentSession(context.Context, *pb.CreateAgentSessionRequest) (*pb.CreateAgentSessionResponse, error)
	RevokeAgentSessions(context.Context, *pb.RevokeAgentSessionsRequest) (*pb.RevokeAgentSessionsResponse, error)
	GetSiteIdentitySecret(context.Context, *pb.GetSiteIdentitySecretRequest) (*pb.GetSiteIdentitySecretResponse, error)
	RotateSiteIdentitySecret(context.Context, *pb.RotateSiteIdentitySecretRequest) (*pb.RotateSiteIdentitySecretResponse, error)
	GetRatingSummary(context.Context, *pb.GetRatingSummaryRequest) (*pb.GetRatingSummaryResponse, error)
	GetFunnel(context.Context, *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error)
	PreviewTriggerRule(context.Context, *pb.PreviewTriggerRuleRequest) (*pb.PreviewTriggerRuleResponse, error)
	GetTriggerRuleReport(context.Context, *pb.GetTriggerRuleReportRequest) (*pb.GetTriggerRuleReportResponse, error)
	ListEvents(context.Context, *pb.ListEventsRequest) (*pb.ListEventsResponse, error)
	WatchEvents(context.Context, *pb.WatchEventsRequest) (stream[pb.WatchEventsResponse], error)
	webhookAPI

	StartVisitorSession(context.Context, *pb.StartVisitorSessionRequest) (*pb.StartVisitorSessionResponse, error)
	ReportPageView(context.Context, *pb.ReportPageViewRequest) (*pb.ReportPageViewResponse, error)
	WatchVisitor(context.Context, *pb.WatchVisitorRequest) (stream[pb.WatchVisitorResponse], error)
	RespondToInvitation(context.Context, *pb.RespondToInvitationRequest) (*pb.RespondToInvitationResponse, error)
	SubmitForm(context.Context, *pb.SubmitFormRequest) (*pb.SubmitFormResponse, error)
	LeaveQueue(context.Context, *pb.LeaveQueueRequest) (*pb.LeaveQueueResponse, error)
	IdentifyVisitor(context.Context, *pb.IdentifyVisitorRequest) (*pb.IdentifyVisitorResponse, error)
	RequestChat(context.Context, *pb.RequestChatRequest) (*pb.RequestChatResponse, error)
	LeaveMessage(context.Context, *pb.LeaveMessageRequest) (*pb.LeaveMessageResponse, error)
	ReportActivity(context.Context, *pb.ReportActivityRequest) (*pb.ReportActivityResponse, error)
	UpdateVisitorAttributes(context.Context, *pb.UpdateVisitorAttributesRequest) (*pb.UpdateVisitorAttributesResponse, error)

	SignIn(context.Context, *pb.SignInRequest) (*pb.SignInResponse, error)
	SignOut(context.Context, *pb.SignOutRequest) (*pb.SignOutResponse, error)
	SetAgentStatus(context.Context, *pb.SetAgentStatusRequest) (*pb.SetAgentStatusResponse, error)
	WatchPresence(context.Context, *pb.WatchPresenceRequest) (stream[pb.WatchPresenceResponse], error)
	StartChat(context.Context, *pb.StartChatRequest) (*pb.StartChatResponse, error)
	WatchAgent(context.Context, *pb.WatchAgentRequest) (stream[pb.WatchAgentResponse], error)
	AcceptChatRequest(context.Context, *pb.AcceptChatRequestRequest) (*pb.AcceptChatRequestResponse, error)
	DeclineChatRequest(context.Context, *pb.DeclineChatRequestRequest) (*pb.DeclineChatRequestResponse, error)
	InviteVisitor(context.Context, *pb.InviteVisitorRequest) (*pb.InviteVisitorResponse, error)
	ListOfflineMessages(context.Context, *pb.ListOfflineMessagesRequest) (*pb.ListOfflineMessagesResponse, error)
	MarkOfflineMessageHandled(context.Context, *pb.MarkOfflineMessageHandledRequest) (*pb.MarkOfflineMessageHandledResponse, error)

	SendMessage(context.Context, *pb.SendMessageRequest) (*pb.SendMessageResponse, error)
	SetTyping(context.Context, *pb.SetTypingRequest) (*pb.SetTypingResponse, error)
	LeaveChat(context.Context, *pb.LeaveChatRequest) (*pb.LeaveChatResponse, error)
	GetChat(context.Context, *pb.GetChatRequest) (*pb.GetChatResponse, error)
	ListChatEvents(context.Context, *pb.ListChatEventsRequest) (*pb.ListChatEventsResponse, error)
	ListChats(context.Context, *pb.ListChatsRequest) (*pb.ListChatsResponse, error)
	GetChatTranscript(context.Context, *pb.GetChatTranscriptRequest) (*pb.GetChatTranscriptResponse, error)
	WatchChat(context.Context, *pb.WatchChatRequest) (stream[pb.WatchChatResponse], error)

	ListLiveChats(context.Context, *pb.ListLiveChatsRequest) (*pb.ListLiveChatsResponse, error)
	Whisper(context.Context, *pb.WhisperRequest) (*pb.WhisperResponse, error)
	ListWhispers(context.Context, *pb.ListWhispersRequest) (*pb.ListWhispersResponse, error)
	RateChat(context.Context, *pb.RateChatRequest) (*pb.RateChatResponse, error)
	TransferChat(context.Context, *pb.TransferChatRequest) (*pb.TransferChatResponse, error)
	AddNote(context.Context, *pb.AddNoteRequest) (*pb.AddNoteResponse, error)
	ListNotes(context.Context, *pb.ListNotesRequest) (*pb.ListNotesResponse, error)
	WatchNotes(context.Context, *pb.WatchNotesRequest) (stream[pb.WatchNotesResponse], error)
	ListColleagues(context.Context, *pb.ListColleaguesRequest) (*pb.ListColleaguesResponse, error)
	CreateCannedReply(context.Context, *pb.CreateCannedReplyRequest) (*pb.CreateCannedReplyResponse, error)
	UpdateCannedReply(context.Context, *pb.UpdateCannedReplyRequest) (*pb.UpdateCannedReplyResponse, error)
	DeleteCannedReply(context.Context, *pb.DeleteCannedReplyRequest) (*pb.DeleteCannedReplyResponse, error)
	ListCannedReplies(context.Context, *pb.ListCannedRepliesRequest) (*pb.ListCannedRepliesResponse, error)
}

// stream is the client side of a server stream.
type stream[T any] interface {
	// Recv returns the next message, io.EOF when the server ended the
	// stream cleanly, or a *connect.Error.
	Recv() (*T, error)
	// Close cancels the call; the server sees the client go away.
	Close()
}

// converser is implemented by the protocols that carry bidirectional streams.
type converser interface {
	Converse(context.Context) (conversation, error)
}

// conversation is the client side of ChatService.Converse.
type conversation interface {
	Send(*pb.ConverseRequest) error
	Recv() (*pb.ConverseResponse, error)
	CloseSend() error
	Close()
}

// protocol names one way of calling the server and builds a client for it.
type protocol struct {
	name      string
	newClient func(t *testing.T, s *testServer) api
}

var protocols = []protocol{
	{"gRPC", newGRPCClient},
	{"ConnectProto", func(t *testing.T, s *testServer) api { return newConnectClient(t, s) }},
	{"ConnectJSON", func(t *testing.T, s *testServer) api { return newConnectClient(t, s, connect.WithProtoJSON()) }},
	{"REST", newRESTClient},
	// The server also speaks gRPC-Web (for browsers); connect-go's client
	// can too.
	{"gRPCWeb", func(t *testing.T, s *testServer) api { return newConnectClient(t, s, connect.WithGRPCWeb()) }},
}

// forEachProtocol runs f as one subtest per protocol.
func forEachProtocol(t *testing.T, f func(t *testing.T, p protocol)) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) { f(t, p) })
	}
}

// --- gRPC (grpc-go) ---

// grpcClient calls the server with grpc-go stubs over a plaintext HTTP/2
// connection.
type grpcClient struct {
	conn    *grpc.ClientConn
	admin   pb.AdminServiceClient
	visitor pb.VisitorServiceClient
	agent   pb.AgentServiceClient
	chat    pb.ChatServiceClient
}

func dialGRPC(t *testing.T, s *testServer) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if s.tls != nil {
		creds = credentials.NewTLS(s.tls.Clone())
	}
	conn, err := grpc.NewClient("passthrough:///"+s.addr, append(grpcTokenOptions(), grpc.WithTransportCredentials(creds))...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// newGRPCClient returns a gRPC client that signs each call as whoever it
// acts as; rawGRPCClient one that sends the token of the call's context.
func newGRPCClient(t *testing.T, s *testServer) api { return signed(t, s.App, rawGRPCClient(t, s)) }

func rawGRPCClient(t *testing.T, s *testServer) api {
	conn := dialGRPC(t, s)
	return &grpcClient{
		conn:    conn,
		admin:   pb.NewAdminServiceClient(conn),
		visitor: pb.NewVisitorServiceClient(conn),
		agent:   pb.NewAgentServiceClient(conn),
		chat:    pb.NewChatServiceClient(conn),
	}
}

// grpcUnary calls a grpc-go stub and converts its error.
func grpcUnary[Req, Res any](ctx context.Context, call func(context.Context, *Req, ...grpc.CallOption) (*Res, error), req *Req) (*Res, error) {
	res, err := call(ctx, req)
	return res, fromGRPCError(err)
}

// fromGRPCError turns a gRPC status into the *connect.Error all clients
// return, keeping its code, message and details.
func fromGRPCError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return connect.NewError(connect.CodeUnknown, err)
	}
	return statusToConnect(st)
}

func statusToConnect(st *status.Status) *connect.Error {
	cerr := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Proto().GetDetails() {
		if detail, err := connect.NewErrorDetail(d); err == nil {
			cerr.AddDetail(detail)
		}
	}
	return cerr
}

// grpcStream adapts a grpc-go server stream.
type grpcStream[T any] struct {
	s      interface{ Recv() (*T, error) }
	cancel context.CancelFunc
}

func (s *grpcStream[T]) Recv() (*T, error) {
	m, err := s.s.Recv()
	return m, fromGRPCError(err)
}

func (s *grpcStream[T]) Close() { s.cancel() }

// grpcServerStream opens a server stream with a context Close cancels.
func grpcServerStream[Req, Res any](ctx context.Context, open func(context.Context, *Req, ...grpc.CallOption) (grpc.ServerStreamingClient[Res], error), req *Req) (stream[Res], error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := open(ctx, req)
	if err != nil {
		cancel()
		return nil, fromGRPCError(err)
	}
	return &grpcStream[Res]{s: s, cancel: cancel}, nil
}

func (c *grpcClient) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.CreateSiteResponse, error) {
	return grpcUnary(ctx, c.admin.CreateSite, r)
}

func (c *grpcClient) GetSite(ctx context.Context, r *pb.GetSiteRequest) (*pb.GetSiteResponse, error) {
	return grpcUnary(ctx, c.admin.GetSite, r)
}

func (c *grpcClient) ListSites(ctx context.Context, r *pb.ListSitesRequest) (*pb.ListSitesResponse, error) {
	return grpcUnary(ctx, c.admin.ListSites, r)
}

func (c *grpcClient) UpdateSite(ctx context.Context, r *pb.UpdateSiteRequest) (*pb.UpdateSiteResponse, error) {
	return grpcUnary(ctx, c.admin.UpdateSite, r)
}

func (c *grpcClient) CreateAgent(ctx context.Context, r *pb.CreateAgentRequest) (*pb.CreateAgentResponse, error) {
	return grpcUnary(ctx, c.admin.CreateAgent, r)
}

func (c *grpcClient) GetAgent(ctx context.Context, r *pb.GetAgentRequest) (*pb.GetAgentResponse, error) {
	return grpcUnary(ctx, c.admin.GetAgent, r)
}

func (c *grpcClient) ListAgents(ctx context.Context, r *pb.ListAgentsRequest) (*pb.ListAgentsResponse, error) {
	return grpcUnary(ctx, c.admin.ListAgents, r)
}

func (c *grpcClient) UpdateAgent(ctx context.Context, r *pb.UpdateAgentRequest) (*pb.UpdateAgentResponse, error) {
	return grpcUnary(ctx, c.admin.UpdateAgent, r)
}

func (c *grpcClient) ListOnlineVisitors(ctx context.Context, r *pb.ListOnlineVisitorsRequest) (*pb.ListOnlineVisitorsResponse, error) {
	return grpcUnary(ctx, c.admin.ListOnlineVisitors, r)
}

func (c *grpcClient) StartVisitorSession(ctx context.Context, r *pb.StartVisitorSessionRequest) (*pb.StartVisitorSessionResponse, error) {
	return grpcUnary(ctx, c.visitor.StartVisitorSession, r)
}

func (c *grpcClient) ReportPageView(ctx context.Context, r *pb.ReportPageViewRequest) (*pb.ReportPageViewResponse, error) {
	return grpcUnary(ctx, c.visitor.ReportPageView, r)
}

func (c *grpcClient) WatchVisitor(ctx context.Context, r *pb.WatchVisitorRequest) (stream[pb.WatchVisitorResponse], error) {
	return grpcServerStream(ctx, c.visitor.WatchVisitor, r)
}

func (c *grpcClient) SetAgentStatus(ctx context.Context, r *pb.SetAgentStatusRequest) (*pb.SetAgentStatusResponse, error) {
	return grpcUnary(ctx, c.agent.SetAgentStatus, r)
}

func (c *grpcClient) WatchPresence(ctx context.Context, r *pb.WatchPresenceRequest) (stream[pb.WatchPresenceResponse], error) {
	return grpcServerStream(ctx, c.agent.WatchPresence, r)
}

func (c *grpcClient) StartChat(ctx context.Context, r *pb.StartChatRequest) (*pb.StartChatResponse, error) {
	return grpcUnary(ctx, c.agent.StartChat, r)
}

func (c *grpcClient) SendMessage(ctx context.Context, r *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	return grpcUnary(ctx, c.chat.SendMessage, r)
}

func (c *grpcClient) SetTyping(ctx context.Context, r *pb.SetTypingRequest) (*pb.SetTypingResponse, error) {
	return grpcUnary(ctx, c.chat.SetTyping, r)
}

func (c *grpcClient) LeaveChat(ctx context.Context, r *pb.LeaveChatRequest) (*pb.LeaveChatResponse, error) {
	return grpcUnary(ctx, c.chat.LeaveChat, r)
}

func (c *grpcClient) GetChat(ctx context.Context, r *pb.GetChatRequest) (*pb.GetChatResponse, error) {
	return grpcUnary(ctx, c.chat.GetChat, r)
}

func (c *grpcClient) ListChatEvents(ctx context.Context, r *pb.ListChatEventsRequest) (*pb.ListChatEventsResponse, error) {
	return grpcUnary(ctx, c.chat.ListChatEvents, r)
}

func (c *grpcClient) ListChats(ctx context.Context, r *pb.ListChatsRequest) (*pb.ListChatsResponse, error) {
	return grpcUnary(ctx, c.chat.ListChats, r)
}

func (c *grpcClient) GetChatTranscript(ctx context.Context, r *pb.GetChatTranscriptRequest) (*pb.GetChatTranscriptResponse, error) {
	return grpcUnary(ctx, c.chat.GetChatTranscript, r)
}

func (c *grpcClient) WatchChat(ctx context.Context, r *pb.WatchChatRequest) (stream[pb.WatchChatResponse], error) {
	return grpcServerStream(ctx, c.chat.WatchChat, r)
}

func (c *grpcClient) TransferChat(ctx context.Context, r *pb.TransferChatRequest) (*pb.TransferChatResponse, error) {
	return grpcUnary(ctx, c.chat.TransferChat, r)
}

func (c *grpcClient) AddNote(ctx context.Context, r *pb.AddNoteRequest) (*pb.AddNoteResponse, error) {
	return grpcUnary(ctx, c.chat.AddNote, r)
}

func (c *grpcClient) ListNotes(ctx context.Context, r *pb.ListNotesRequest) (*pb.ListNotesResponse, error) {
	return grpcUnary(ctx, c.chat.ListNotes, r)
}

func (c *grpcClient) CreateCannedReply(ctx context.Context, r *pb.CreateCannedReplyRequest) (*pb.CreateCannedReplyResponse, error) {
	return grpcUnary(ctx, c.admin.CreateCannedReply, r)
}

func (c *grpcClient) UpdateCannedReply(ctx context.Context, r *pb.UpdateCannedReplyRequest) (*pb.UpdateCannedReplyResponse, error) {
	return grpcUnary(ctx, c.admin.UpdateCannedReply, r)
}

func (c *grpcClient) DeleteCannedReply(ctx context.Context, r *pb.DeleteCannedReplyRequest) (*pb.DeleteCannedReplyResponse, error) {
	return grpcUnary(ctx, c.admin.DeleteCannedReply, r)
}

func (c *grpcClient) ListCannedReplies(ctx context.Context, r *pb.ListCannedRepliesRequest) (*pb.ListCannedRepliesResponse, error) {
	return grpcUnary(ctx, c.admin.ListCannedReplies, r)
}

func (c *grpcClient) WatchNotes(ctx context.Context, r *pb.WatchNotesRequest) (stream[pb.WatchNotesResponse], error) {
	return grpcServerStream(ctx, c.chat.WatchNotes, r)
}

func (c *grpcClient) ListColleagues(ctx context.Context, r *pb.ListColleaguesRequest) (*pb.ListColleaguesResponse, error) {
	return grpcUnary(ctx, c.agent.ListColleagues, r)
}

func (c *grpcClient) ListQueue(ctx context.Context, r *pb.ListQueueRequest) (*pb.ListQueueResponse, error) {
	return grpcUnary(ctx, c.admin.ListQueue, r)
}

func (c *grpcClient) ListEvents(ctx context.Context, r *pb.ListEventsRequest) (*pb.ListEventsResponse, error) {
	return grpcUnary(ctx, c.admin.ListEvents, r)
}

func (c *grpcClient) WatchEvents(ctx context.Context, r *pb.WatchEventsRequest) (stream[pb.WatchEventsResponse], error) {
	return grpcServerStream(ctx, c.admin.WatchEvents, r)
}

func (c *grpcClient) ListRoutingDecisions(ctx context.Context, r *pb.ListRoutingDecisionsRequest) (*pb.ListRoutingDecisionsResponse, error) {
	return grpcUnary(ctx, c.admin.ListRoutingDecisions, r)
}

func (c *grpcClient) RespondToInvitation(ctx context.Context, r *pb.RespondToInvitationRequest) (*pb.RespondToInvitationResponse, error) {
	return grpcUnary(ctx, c.visitor.RespondToInvitation, r)
}

func (c *grpcClient) SubmitForm(ctx context.Context, r *pb.SubmitFormRequest) (*pb.SubmitFormResponse, error) {
	return grpcUnary(ctx, c.visitor.SubmitForm, r)
}

func (c *grpcClient) LeaveQueue(ctx context.Context, r *pb.LeaveQueueRequest) (*pb.LeaveQueueResponse, error) {
	return grpcUnary(ctx, c.visitor.LeaveQueue, r)
}

func (c *grpcClient) WatchAgent(ctx context.Context, r *pb.WatchAgentRequest) (stream[pb.WatchAgentResponse], error) {
	return grpcServerStream(ctx, c.agent.WatchAgent, r)
}

func (c *grpcClient) AcceptChatRequest(ctx context.Context, r *pb.AcceptChatRequestRequest) (*pb.AcceptChatRequestResponse, error) {
	return grpcUnary(ctx, c.agent.AcceptChatRequest, r)
}

func (c *grpcClient) DeclineChatRequest(ctx context.Context, r *pb.DeclineChatRequestRequest) (*pb.DeclineChatRequestResponse, error) {
	return grpcUnary(ctx, c.agent.DeclineChatRequest, r)
}

func (c *grpcClient) InviteVisitor(ctx context.Context, r *pb.InviteVisitorRequest) (*pb.InviteVisitorResponse, error) {
	return grpcUnary(ctx, c.agent.InviteVisitor, r)
}

func (c *grpcClient) Converse(ctx context.Context) (conversation, error) {
	ctx, cancel := context.WithCancel(ctx)
	s, err := c.chat.Converse(ctx)
	if err != nil {
		cancel()
		return nil, fromGRPCError(err)
	}
	return &grpcConversation{s: s, cancel: cancel}, nil
}

type grpcConversation struct {
	s      grpc.BidiStreamingClient[pb.ConverseRequest, pb.ConverseResponse]
	cancel context.CancelFunc
}

func (c *grpcConversation) Send(r *pb.ConverseRequest) error { return fromGRPCError(c.s.Send(r)) }

func (c *grpcConversation) Recv() (*pb.ConverseResponse, error) {
	m, err := c.s.Recv()
	return m, fromGRPCError(err)
}

func (c *grpcConversation) CloseSend() error { return fromGRPCError(c.s.CloseSend()) }
func (c *grpcConversation) Close()           { c.cancel() }

// --- Connect (connect-go) ---

// connectClient calls the server with connect-go clients speaking the
// Connect protocol over HTTP/2 without TLS.
type connectClient struct {
	admin   proactivechatv1connect.AdminServiceClient
	visitor proactivechatv1connect.VisitorServiceClient
	agent   proactivechatv1connect.AgentServiceClient
	chat    proactivechatv1connect.ChatServiceClient
}

// h2cClient is an http.Client that speaks only HTTP/2 over cleartext TCP.
// Its connections are closed when the test ends, before the server shuts
// down: Go's HTTP/2 client keeps a connection whose streams were cancelled
// busy for a while, and the server would wait a second for it to go.
func h2cClient(t testing.TB) *http.Client { return http2Client(t, nil) }

// http2Client is h2cClient, or with tlsConfig an http.Client that speaks
// only HTTP/2 over TLS.
func http2Client(t testing.TB, tlsConfig *tls.Config) *http.Client {
	var protocols http.Protocols
	if tlsConfig != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var dialer net.Dialer
	tr := &http.Transport{
		Protocols:       &protocols,
		TLSClientConfig: tlsConfig,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
			return conn, err
		},
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return &http.Client{Transport: tr}
}

// newConnectClient returns a Connect client that signs each call as whoever
// it acts as; rawConnectClient one that sends the token of the call's context.
func newConnectClient(t *testing.T, s *testServer, opts ...connect.ClientOption) api {
	return signed(t, s.App, rawConnectClient(t, s, opts...))
}

func rawConnectClient(t *testing.T, s *testServer, opts ...connect.ClientOption) api {
	opts = append(opts, connect.WithInterceptors(connectTokenInterceptor{}))
	hc := http2Client(t, s.tls.Clone())
	return &connectClient{
		admin:   proactivechatv1connect.NewAdminServiceClient(hc, s.url, opts...),
		visitor: proactivechatv1connect.NewVisitorServiceClient(hc, s.url, opts...),
		agent:   proactivechatv1connect.NewAgentServiceClient(hc, s.url, opts...),
		chat:    proactivechatv1connect.NewChatServiceClient(hc, s.url, opts...),
	}
}

// connectUnary calls a connect-go client method with a bare message.
func connectUnary[Req, Res any](ctx context.Context, call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req) (*Res, error) {
	res, err := call(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, asConnectError(err)
	}
	return res.Msg, nil
}

// asConnectError makes sure err is a *connect.Error.
func asConnectError(err error) error {
	var cerr *connect.Error
	if err == nil || errors.Is(err, io.EOF) || errors.As(err, &cerr) {
		return err
	}
	return connect.NewError(connect.CodeOf(err), err)
}

// connectStream adapts a connect-go server stream. connect-go waits for
// the response headers when it opens a server stream, and the server sends
// them with the first message; the stream is opened in the background (as
// grpc-go does) so that a stream with nothing to say yet can be opened
// before the test makes something happen.
type connectStream[T any] struct {
	cancel context.CancelFunc
	ready  chan struct{}
	s      *connect.ServerStreamForClient[T]
	err    error
	once   sync.Once
}

func (s *connectStream[T]) Recv() (*T, error) {
	<-s.ready
	if s.err != nil {
		return nil, s.err
	}
	if s.s.Receive() {
		return s.s.Msg(), nil
	}
	if err := s.s.Err(); err != nil {
		return nil, asConnectError(err)
	}
	return nil, io.EOF
}

func (s *connectStream[T]) Close() {
	s.once.Do(func() {
		s.cancel()
		go func() {
			<-s.ready
			if s.s != nil {
				s.s.Close()
			}
		}()
	})
}

func connectServerStream[Req, Res any](ctx context.Context, open func(context.Context, *connect.Request[Req]) (*connect.ServerStreamForClient[Res], error), req *Req) (stream[Res], error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &connectStream[Res]{cancel: cancel, ready: make(chan struct{})}
	go func() {
		defer close(s.ready)
		s.s, s.err = open(ctx, connect.NewRequest(req))
		s.err = asConnectError(s.err)
	}()
	return s, nil
}

func (c *connectClient) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.CreateSiteResponse, error) {
	return connectUnary(ctx, c.admin.CreateSite, r)
}

func (c *connectClient) GetSite(ctx context.Context, r *pb.GetSiteRequest) (*pb.GetSiteResponse, error) {
	return connectUnary(ctx, c.admin.GetSite, r)
}

func (c *connectClient) ListSites(ctx context.Context, r *pb.ListSitesRequest) (*pb.ListSitesResponse, error) {
	return connectUnary(ctx, c.admin.ListSites, r)
}

func (c *connectClient) UpdateSite(ctx context.Context, r *pb.UpdateSiteRequest) (*pb.UpdateSiteResponse, error) {
	return connectUnary(ctx, c.admin.UpdateSite, r)
}

func (c *connectClient) CreateAgent(ctx context.Context, r *pb.CreateAgentRequest) (*pb.CreateAgentResponse, error) {
	return connectUnary(ctx, c.admin.CreateAgent, r)
}

func (c *connectClient) GetAgent(ctx context.Context, r *pb.GetAgentRequest) (*pb.GetAgentResponse, error) {
	return connectUnary(ctx, c.admin.GetAgent, r)
}

func (c *connectClient) ListAgents(ctx context.Context, r *pb.ListAgentsRequest) (*pb.ListAgentsResponse, error) {
	return connectUnary(ctx, c.admin.ListAgents, r)
}

func (c *connectClient) UpdateAgent(ctx context.Context, r *pb.UpdateAgentRequest) (*pb.UpdateAgentResponse, error) {
	return connectUnary(ctx, c.admin.UpdateAgent, r)
}

func (c *connectClient) ListOnlineVisitors(ctx context.Context, r *pb.ListOnlineVisitorsRequest) (*pb.ListOnlineVisitorsResponse, error) {
	return connectUnary(ctx, c.admin.ListOnlineVisitors, r)
}

func (c *connectClient) StartVisitorSession(ctx context.Context, r *pb.StartVisitorSessionRequest) (*pb.StartVisitorSessionResponse, error) {
	return connectUnary(ctx, c.visitor.StartVisitorSession, r)
}

func (c *connectClient) ReportPageView(ctx context.Context, r *pb.ReportPageViewRequest) (*pb.ReportPageViewResponse, error) {
	return connectUnary(ctx, c.visitor.ReportPageView, r)
}

func (c *connectClient) WatchVisitor(ctx context.Context, r *pb.WatchVisitorRequest) (stream[pb.WatchVisitorResponse], error) {
	return connectServerStream(ctx, c.visitor.WatchVisitor, r)
}

func (c *connectClient) SetAgentStatus(ctx context.Context, r *pb.SetAgentStatusRequest) (*pb.SetAgentStatusResponse, error) {
	return connectUnary(ctx, c.agent.SetAgentStatus, r)
}

func (c *connectClient) WatchPresence(ctx context.Context, r *pb.WatchPresenceRequest) (stream[pb.WatchPresenceResponse], error) {
	return connectServerStream(ctx, c.agent.WatchPresence, r)
}

func (c *connectClient) StartChat(ctx context.Context, r *pb.StartChatRequest) (*pb.StartChatResponse, error) {
	return connectUnary(ctx, c.agent.StartChat, r)
}

func (c *connectClient) SendMessage(ctx context.Context, r *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	return connectUnary(ctx, c.chat.SendMessage, r)
}

func (c *connectClient) SetTyping(ctx context.Context, r *pb.SetTypingRequest) (*pb.SetTypingResponse, error) {
	return connectUnary(ctx, c.chat.SetTyping, r)
}

func (c *connectClient) LeaveChat(ctx context.Context, r *pb.LeaveChatRequest) (*pb.LeaveChatResponse, error) {
	return connectUnary(ctx, c.chat.LeaveChat, r)
}

func (c *connectClient) GetChat(ctx context.Context, r *pb.GetChatRequest) (*pb.GetChatResponse, error) {
	return connectUnary(ctx, c.chat.GetChat, r)
}

func (c *connectClient) ListChatEvents(ctx context.Context, r *pb.ListChatEventsRequest) (*pb.ListChatEventsResponse, error) {
	return connectUnary(ctx, c.chat.ListChatEvents, r)
}

func (c *connectClient) ListChats(ctx context.Context, r *pb.ListChatsRequest) (*pb.ListChatsResponse, error) {
	return connectUnary(ctx, c.chat.ListChats, r)
}

func (c *connectClient) GetChatTranscript(ctx context.Context, r *pb.GetChatTranscriptRequest) (*pb.GetChatTranscriptResponse, error) {
	return connectUnary(ctx, c.chat.GetChatTranscript, r)
}

func (c *connectClient) WatchChat(ctx context.Context, r *pb.WatchChatRequest) (stream[pb.WatchChatResponse], error) {
	return connectServerStream(ctx, c.chat.WatchChat, r)
}

func (c *connectClient) TransferChat(ctx context.Context, r *pb.TransferChatRequest) (*pb.TransferChatResponse, error) {
	return connectUnary(ctx, c.chat.TransferChat, r)
}

func (c *connectClient) AddNote(ctx context.Context, r *pb.AddNoteRequest) (*pb.AddNoteResponse, error) {
	return connectUnary(ctx, c.chat.AddNote, r)
}

func (c *connectClient) ListNotes(ctx context.Context, r *pb.ListNotesRequest) (*pb.ListNotesResponse, error) {
	return connectUnary(ctx, c.chat.ListNotes, r)
}

func (c *connectClient) CreateCannedReply(ctx context.Context, r *pb.CreateCannedReplyRequest) (*pb.CreateCannedReplyResponse, error) {
	return connectUnary(ctx, c.admin.CreateCannedReply, r)
}

func (c *connectClient) UpdateCannedReply(ctx context.Context, r *pb.UpdateCannedReplyRequest) (*pb.UpdateCannedReplyResponse, error) {
	return connectUnary(ctx, c.admin.UpdateCannedReply, r)
}

func (c *connectClient) DeleteCannedReply(ctx context.Context, r *pb.DeleteCannedReplyRequest) (*pb.DeleteCannedReplyResponse, error) {
	return connectUnary(ctx, c.admin.DeleteCannedReply, r)
}

func (c *connectClient) ListCannedReplies(ctx context.Context, r *pb.ListCannedRepliesRequest) (*pb.ListCannedRepliesResponse, error) {
	return connectUnary(ctx, c.admin.ListCannedReplies, r)
}

func (c *connectClient) WatchNotes(ctx context.Context, r *pb.WatchNotesRequest) (stream[pb.WatchNotesResponse], error) {
	return connectServerStream(ctx, c.chat.WatchNotes, r)
}

func (c *connectClient) ListColleagues(ctx context.Context, r *pb.ListColleaguesRequest) (*pb.ListColleaguesResponse, error) {
	return connectUnary(ctx, c.agent.ListColleagues, r)
}

func (c *connectClient) ListQueue(ctx context.Context, r *pb.ListQueueRequest) (*pb.ListQueueResponse, error) {
	return connectUnary(ctx, c.admin.ListQueue, r)
}

func (c *connectClient) ListEvents(ctx context.Context, r *pb.ListEventsRequest) (*pb.ListEventsResponse, error) {
	return connectUnary(ctx, c.admin.ListEvents, r)
}

func (c *connectClient) WatchEvents(ctx context.Context, r *pb.WatchEventsRequest) (stream[pb.WatchEventsResponse], error) {
	return connectServerStream(ctx, c.admin.WatchEvents, r)
}

func (c *connectClient) ListRoutingDecisions(ctx context.Context, r *pb.ListRoutingDecisionsRequest) (*pb.ListRoutingDecisionsResponse, error) {
	return connectUnary(ctx, c.admin.ListRoutingDecisions, r)
}

func (c *connectClient) RespondToInvitation(ctx context.Context, r *pb.RespondToInvitationRequest) (*pb.RespondToInvitationResponse, error) {
	return connectUnary(ctx, c.visitor.RespondToInvitation, r)
}

func (c *connectClient) SubmitForm(ctx context.Context, r *pb.SubmitFormRequest) (*pb.SubmitFormResponse, error) {
	return connectUnary(ctx, c.visitor.SubmitForm, r)
}

func (c *connectClient) LeaveQueue(ctx context.Context, r *pb.LeaveQueueRequest) (*pb.LeaveQueueResponse, error) {
	return connectUnary(ctx, c.visitor.LeaveQueue, r)
}

func (c *connectClient) WatchAgent(ctx context.Context, r *pb.WatchAgentRequest) (stream[pb.WatchAgentResponse], error) {
	return connectServerStream(ctx, c.agent.WatchAgent, r)
}

func (c *connectClient) AcceptChatRequest(ctx context.Context, r *pb.AcceptChatRequestRequest) (*pb.AcceptChatRequestResponse, error) {
	return connectUnary(ctx, c.agent.AcceptChatRequest, r)
}

func (c *connectClient) DeclineChatRequest(ctx context.Context, r *pb.DeclineChatRequestRequest) (*pb.DeclineChatRequestResponse, error) {
	return connectUnary(ctx, c.agent.DeclineChatRequest, r)
}

func (c *connectClient) InviteVisitor(ctx context.Context, r *pb.InviteVisitorRequest) (*pb.InviteVisitorResponse, error) {
	return connectUnary(ctx, c.agent.InviteVisitor, r)
}

func (c *connectClient) Converse(ctx context.Context) (conversation, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &connectConversation{s: c.chat.Converse(ctx), cancel: cancel}, nil
}

type connectConversation struct {
	s      *connect.BidiStreamForClient[pb.ConverseRequest, pb.ConverseResponse]
	cancel context.CancelFunc
}

func (c *connectConversation) Send(r *pb.ConverseRequest) error { return asConnectError(c.s.Send(r)) }

func (c *connectConversation) Recv() (*pb.ConverseResponse, error) {
	m, err := c.s.Receive()
	return m, asConnectError(err)
}

func (c *connectConversation) CloseSend() error { return asConnectError(c.s.CloseRequest()) }

func (c *connectConversation) Close() {
	c.cancel()
	c.s.CloseResponse()
}

func (c *grpcClient) ExportVisitor(ctx context.Context, r *pb.ExportVisitorRequest) (*pb.ExportVisitorResponse, error) {
	return grpcUnary(ctx, c.admin.ExportVisitor, r)
}

func (c *grpcClient) EraseVisitor(ctx context.Context, r *pb.EraseVisitorRequest) (*pb.EraseVisitorResponse, error) {
	return grpcUnary(ctx, c.admin.EraseVisitor, r)
}

func (c *grpcClient) CreateApiKey(ctx context.Context, r *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error) {
	return grpcUnary(ctx, c.admin.CreateApiKey, r)
}

func (c *grpcClient) ListApiKeys(ctx context.Context, r *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error) {
	return grpcUnary(ctx, c.admin.ListApiKeys, r)
}

func (c *grpcClient) RevokeApiKey(ctx context.Context, r *pb.RevokeApiKeyRequest) (*pb.RevokeApiKeyResponse, error) {
	return grpcUnary(ctx, c.admin.RevokeApiKey, r)
}

func (c *grpcClient) SetAgentPassword(ctx context.Context, r *pb.SetAgentPasswordRequest) (*pb.SetAgentPasswordResponse, error) {
	return grpcUnary(ctx, c.admin.SetAgentPassword, r)
}

func (c *grpcClient) CreateAgentSession(ctx context.Context, r *pb.CreateAgentSessionRequest) (*pb.CreateAgentSessionResponse, error) {
	return grpcUnary(ctx, c.admin.CreateAgentSession, r)
}

func (c *grpcClient) RevokeAgentSessions(ctx context.Context, r *pb.RevokeAgentSessionsRequest) (*pb.RevokeAgentSessionsResponse, error) {
	return grpcUnary(ctx, c.admin.RevokeAgentSessions, r)
}

func (c *grpcClient) SignIn(ctx context.Context, r *pb.SignInRequest) (*pb.SignInResponse, error) {
	return grpcUnary(ctx, c.agent.SignIn, r)
}

func (c *grpcClient) SignOut(ctx context.Context, r *pb.SignOutRequest) (*pb.SignOutResponse, error) {
	return grpcUnary(ctx, c.agent.SignOut, r)
}

func (c *connectClient) ExportVisitor(ctx context.Context, r *pb.ExportVisitorRequest) (*pb.ExportVisitorResponse, error) {
	return connectUnary(ctx, c.admin.ExportVisitor, r)
}

func (c *connectClient) EraseVisitor(ctx context.Context, r *pb.EraseVisitorRequest) (*pb.EraseVisitorResponse, error) {
	return connectUnary(ctx, c.admin.EraseVisitor, r)
}

func (c *connectClient) CreateApiKey(ctx context.Context, r *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error) {
	return connectUnary(ctx, c.admin.CreateApiKey, r)
}

func (c *connectClient) ListApiKeys(ctx context.Context, r *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error) {
	return connectUnary(ctx, c.admin.ListApiKeys, r)
}

func (c *connectClient) RevokeApiKey(ctx context.Context, r *pb.RevokeApiKeyRequest) (*pb.RevokeApiKeyResponse, error) {
	return connectUnary(ctx, c.admin.RevokeApiKey, r)
}

func (c *connectClient) SetAgentPassword(ctx context.Context, r *pb.SetAgentPasswordRequest) (*pb.SetAgentPasswordResponse, error) {
	return connectUnary(ctx, c.admin.SetAgentPassword, r)
}

func (c *connectClient) CreateAgentSession(ctx context.Context, r *pb.CreateAgentSessionRequest) (*pb.CreateAgentSessionResponse, error) {
	return connectUnary(ctx, c.admin.CreateAgentSession, r)
}

func (c *connectClient) RevokeAgentSessions(ctx context.Context, r *pb.RevokeAgentSessionsRequest) (*pb.RevokeAgentSessionsResponse, error) {
	return connectUnary(ctx, c.admin.RevokeAgentSessions, r)
}

func (c *connectClient) SignIn(ctx context.Context, r *pb.SignInRequest) (*pb.SignInResponse, error) {
	return connectUnary(ctx, c.agent.SignIn, r)
}

func (c *connectClient) SignOut(ctx context.Context, r *pb.SignOutRequest) (*pb.SignOutResponse, error) {
	return connectUnary(ctx, c.agent.SignOut, r)
}

func (c *grpcClient) IdentifyVisitor(ctx context.Context, r *pb.IdentifyVisitorRequest) (*pb.IdentifyVisitorResponse, error) {
	return grpcUnary(ctx, c.visitor.IdentifyVisitor, r)
}

func (c *grpcClient) GetSiteIdentitySecret(ctx context.Context, r *pb.GetSiteIdentitySecretRequest) (*pb.GetSiteIdentitySecretResponse, error) {
	return grpcUnary(ctx, c.admin.GetSiteIdentitySecret, r)
}

func (c *grpcClient) RotateSiteIdentitySecret(ctx context.Context, r *pb.RotateSiteIdentitySecretRequest) (*pb.RotateSiteIdentitySecretResponse, error) {
	return grpcUnary(ctx, c.admin.RotateSiteIdentitySecret, r)
}

func (c *connectClient) IdentifyVisitor(ctx context.Context, r *pb.IdentifyVisitorRequest) (*pb.IdentifyVisitorResponse, error) {
	return connectUnary(ctx, c.visitor.IdentifyVisitor, r)
}

func (c *connectClient) GetSiteIdentitySecret(ctx context.Context, r *pb.GetSiteIdentitySecretRequest) (*pb.GetSiteIdentitySecretResponse, error) {
	return connectUnary(ctx, c.admin.GetSiteIdentitySecret, r)
}

func (c *connectClient) RotateSiteIdentitySecret(ctx context.Context, r *pb.RotateSiteIdentitySecretRequest) (*pb.RotateSiteIdentitySecretResponse, error) {
	return connectUnary(ctx, c.admin.RotateSiteIdentitySecret, r)
}

func (c *grpcClient) ListLiveChats(ctx context.Context, r *pb.ListLiveChatsRequest) (*pb.ListLiveChatsResponse, error) {
	return grpcUnary(ctx, c.agent.ListLiveChats, r)
}

func (c *grpcClient) Whisper(ctx context.Context, r *pb.WhisperRequest) (*pb.WhisperResponse, error) {
	return grpcUnary(ctx, c.chat.Whisper, r)
}

func (c *grpcClient) ListWhispers(ctx context.Context, r *pb.ListWhispersRequest) (*pb.ListWhispersResponse, error) {
	return grpcUnary(ctx, c.chat.ListWhispers, r)
}

func (c *connectClient) ListLiveChats(ctx context.Context, r *pb.ListLiveChatsRequest) (*pb.ListLiveChatsResponse, error) {
	return connectUnary(ctx, c.agent.ListLiveChats, r)
}

func (c *connectClient) Whisper(ctx context.Context, r *pb.WhisperRequest) (*pb.WhisperResponse, error) {
	return connectUnary(ctx, c.chat.Whisper, r)
}

func (c *connectClient) ListWhispers(ctx context.Context, r *pb.ListWhispersRequest) (*pb.ListWhispersResponse, error) {
	return connectUnary(ctx, c.chat.ListWhispers, r)
}

func (c *grpcClient) RequestChat(ctx context.Context, r *pb.RequestChatRequest) (*pb.RequestChatResponse, error) {
	return grpcUnary(ctx, c.visitor.RequestChat, r)
}

func (c *grpcClient) RateChat(ctx context.Context, r *pb.RateChatRequest) (*pb.RateChatResponse, error) {
	return grpcUnary(ctx, c.chat.RateChat, r)
}

func (c *grpcClient) GetRatingSummary(ctx context.Context, r *pb.GetRatingSummaryRequest) (*pb.GetRatingSummaryResponse, error) {
	return grpcUnary(ctx, c.admin.GetRatingSummary, r)
}

func (c *connectClient) RequestChat(ctx context.Context, r *pb.RequestChatRequest) (*pb.RequestChatResponse, error) {
	return connectUnary(ctx, c.visitor.RequestChat, r)
}

func (c *connectClient) RateChat(ctx context.Context, r *pb.RateChatRequest) (*pb.RateChatResponse, error) {
	return connectUnary(ctx, c.chat.RateChat, r)
}

func (c *connectClient) GetRatingSummary(ctx context.Context, r *pb.GetRatingSummaryRequest) (*pb.GetRatingSummaryResponse, error) {
	return connectUnary(ctx, c.admin.GetRatingSummary, r)
}

func (c *grpcClient) GetFunnel(ctx context.Context, r *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error) {
	return grpcUnary(ctx, c.admin.GetFunnel, r)
}

func (c *connectClient) GetFunnel(ctx context.Context, r *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error) {
	return connectUnary(ctx, c.admin.GetFunnel, r)
}

func (c *grpcClient) LeaveMessage(ctx context.Context, r *pb.LeaveMessageRequest) (*pb.LeaveMessageResponse, error) {
	return grpcUnary(ctx, c.visitor.LeaveMessage, r)
}

func (c *grpcClient) ListOfflineMessages(ctx context.Context, r *pb.ListOfflineMessagesRequest) (*pb.ListOfflineMessagesResponse, error) {
	return grpcUnary(ctx, c.agent.ListOfflineMessages, r)
}

func (c *grpcClient) MarkOfflineMessageHandled(ctx context.Context, r *pb.MarkOfflineMessageHandledRequest) (*pb.MarkOfflineMessageHandledResponse, error) {
	return grpcUnary(ctx, c.agent.MarkOfflineMessageHandled, r)
}

func (c *connectClient) LeaveMessage(ctx context.Context, r *pb.LeaveMessageRequest) (*pb.LeaveMessageResponse, error) {
	return connectUnary(ctx, c.visitor.LeaveMessage, r)
}

func (c *connectClient) ListOfflineMessages(ctx context.Context, r *pb.ListOfflineMessagesRequest) (*pb.ListOfflineMessagesResponse, error) {
	return connectUnary(ctx, c.agent.ListOfflineMessages, r)
}

func (c *connectClient) MarkOfflineMessageHandled(ctx context.Context, r *pb.MarkOfflineMessageHandledRequest) (*pb.MarkOfflineMessageHandledResponse, error) {
	return connectUnary(ctx, c.agent.MarkOfflineMessageHandled, r)
}

func (c *grpcClient) PreviewTriggerRule(ctx context.Context, r *pb.PreviewTriggerRuleRequest) (*pb.PreviewTriggerRuleResponse, error) {
	return grpcUnary(ctx, c.admin.PreviewTriggerRule, r)
}

func (c *connectClient) PreviewTriggerRule(ctx context.Context, r *pb.PreviewTriggerRuleRequest) (*pb.PreviewTriggerRuleResponse, error) {
	return connectUnary(ctx, c.admin.PreviewTriggerRule, r)
}

func (c *grpcClient) GetTriggerRuleReport(ctx context.Context, r *pb.GetTriggerRuleReportRequest) (*pb.GetTriggerRuleReportResponse, error) {
	return grpcUnary(ctx, c.admin.GetTriggerRuleReport, r)
}

func (c *connectClient) GetTriggerRuleReport(ctx context.Context, r *pb.GetTriggerRuleReportRequest) (*pb.GetTriggerRuleReportResponse, error) {
	return connectUnary(ctx, c.admin.GetTriggerRuleReport, r)
}

func (c *grpcClient) ReportActivity(ctx context.Context, r *pb.ReportActivityRequest) (*pb.ReportActivityResponse, error) {
	return grpcUnary(ctx, c.visitor.ReportActivity, r)
}

func (c *connectClient) ReportActivity(ctx context.Context, r *pb.ReportActivityRequest) (*pb.ReportActivityResponse, error) {
	return connectUnary(ctx, c.visitor.ReportActivity, r)
}

func (c *grpcClient) UpdateVisitorAttributes(ctx context.Context, r *pb.UpdateVisitorAttributesRequest) (*pb.UpdateVisitorAttributesResponse, error) {
	return grpcUnary(ctx, c.visitor.UpdateVisitorAttributes, r)
}

func (c *connectClient) UpdateVisitorAttributes(ctx context.Context, r *pb.UpdateVisitorAttributesRequest) (*pb.UpdateVisitorAttributesResponse, error) {
	return connectUnary(ctx, c.visitor.UpdateVisitorAttributes, r)
}
