package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/domain"
)

// Every protocol's test client sends the bearer token a call's context
// carries (withToken). The clients most tests use (newGRPCClient,
// newConnectClient, newRESTClient) wrap the raw ones in signedClient, which
// picks the token of whoever a request acts as: the admin key for
// AdminService, the visitor's token for a visitor's calls, a session of the
// agent for an agent's. Tests of authorization itself use the raw clients
// with explicit tokens.

type tokenKey struct{}

// withToken makes calls under ctx send "Authorization: Bearer <token>".
func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

func tokenFrom(ctx context.Context) string {
	tok, _ := ctx.Value(tokenKey{}).(string)
	return tok
}

// grpcTokenOptions make grpc-go calls send the context's token.
func grpcTokenOptions() []grpc.DialOption {
	outgoing := func(ctx context.Context) context.Context {
		if tok := tokenFrom(ctx); tok != "" {
			return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
		return ctx
	}
	return []grpc.DialOption{
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(outgoing(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(outgoing(ctx), desc, cc, method, opts...)
		}),
	}
}

// connectTokenInterceptor makes connect-go calls send the context's token.
type connectTokenInterceptor struct{}

func (connectTokenInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if tok := tokenFrom(ctx); tok != "" {
			req.Header().Set("Authorization", "Bearer "+tok)
		}
		return next(ctx, req)
	}
}

func (connectTokenInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if tok := tokenFrom(ctx); tok != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+tok)
		}
		return conn
	}
}

func (connectTokenInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// keyring holds the credentials of one database's principals: its admin
// key, visitors' tokens (recorded as their sessions start) and agents'
// sessions (made with the admin key when first needed). Servers restarted
// on the same file share it.
type keyring struct {
	mu     sync.Mutex
	admin  string
	tokens map[string]string // visitor or agent id → token
}

var (
	keyringsMu sync.Mutex
	keyrings   = map[string]*keyring{}
)

// keyringOf returns the keyring of s's database, taking its admin key
// from the first start.
func keyringOf(t *testing.T, s *app.App) *keyring {
	t.Helper()
	keyringsMu.Lock()
	defer keyringsMu.Unlock()
	k := keyrings[s.Store.Path()]
	if k == nil {
		k = &keyring{tokens: map[string]string{}}
		keyrings[s.Store.Path()] = k
	}
	if s.InitialAPIKey != "" {
		k.admin = s.InitialAPIKey
	}
	if k.admin == "" {
		t.Fatalf("no admin key known for %s", s.Store.Path())
	}
	return k
}

// adminKey returns the admin API key of s's database.
func adminKey(t *testing.T, s *app.App) string { return keyringOf(t, s).admin }

func (k *keyring) set(id, token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tokens[id] = token
}

// signedClient calls raw with the credentials of whoever each request acts
// as.
type signedClient struct {
	raw  api
	keys *keyring
}

func signed(t *testing.T, s *app.App, raw api) api {
	c := &signedClient{raw: raw, keys: keyringOf(t, s)}
	if _, ok := raw.(converser); ok {
		return &signedConverser{c}
	}
	return c
}

func (c *signedClient) asAdmin(ctx context.Context) context.Context {
	return withToken(ctx, c.keys.admin)
}

// as returns ctx carrying the token of the visitor or agent id. An agent
// without a session gets one from CreateAgentSession.
func (c *signedClient) as(ctx context.Context, id string) context.Context {
	if id == "" && tokenFrom(ctx) != "" {
		return ctx // the caller chose
	}
	c.keys.mu.Lock()
	tok, ok := c.keys.tokens[id]
	c.keys.mu.Unlock()
	if ok || id == "" || strings.HasPrefix(id, "visitor_") {
		return withToken(ctx, tok)
	}
	// As long as sessions may last: tests move their clocks by days.
	res, err := c.raw.CreateAgentSession(c.asAdmin(ctx), &pb.CreateAgentSessionRequest{AgentId: id, Ttl: durationpb.New(domain.MaxAgentSessionTTL)})
	if err != nil {
		// The call goes on without a token and fails with the reason.
		return ctx
	}
	c.keys.set(id, res.GetToken())
	return withToken(ctx, res.GetToken())
}

// asChatReader acts as an admin, who may read any chat.
func (c *signedClient) asChatReader(ctx context.Context) context.Context { return c.asAdmin(ctx) }

func (c *signedClient) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.CreateSiteResponse, error) {
	return c.raw.CreateSite(c.asAdmin(ctx), r)
}
func (c *signedClient) GetSite(ctx context.Context, r *pb.GetSiteRequest) (*pb.GetSiteResponse, error) {
	return c.raw.GetSite(c.asAdmin(ctx), r)
}
func (c *signedClient) ListSites(ctx context.Context, r *pb.ListSitesRequest) (*pb.ListSitesResponse, error) {
	return c.raw.ListSites(c.asAdmin(ctx), r)
}
func (c *signedClient) UpdateSite(ctx context.Context, r *pb.UpdateSiteRequest) (*pb.UpdateSiteResponse, error) {
	return c.raw.UpdateSite(c.asAdmin(ctx), r)
}
func (c *signedClient) CreateAgent(ctx context.Context, r *pb.CreateAgentRequest) (*pb.CreateAgentResponse, error) {
	return c.raw.CreateAgent(c.asAdmin(ctx), r)
}
func (c *signedClient) GetAgent(ctx context.Context, r *pb.GetAgentRequest) (*pb.GetAgentResponse, error) {
	return c.raw.GetAgent(c.asAdmin(ctx), r)
}
func (c *signedClient) ListAgents(ctx context.Context, r *pb.ListAgentsRequest) (*pb.ListAgentsResponse, error) {
	return c.raw.ListAgents(c.asAdmin(ctx), r)
}
func (c *signedClient) UpdateAgent(ctx context.Context, r *pb.UpdateAgentRequest) (*pb.UpdateAgentResponse, error) {
	return c.raw.UpdateAgent(c.asAdmin(ctx), r)
}
func (c *signedClient) ListOnlineVisitors(ctx context.Context, r *pb.ListOnlineVisitorsRequest) (*pb.ListOnlineVisitorsResponse, error) {
	return c.raw.ListOnlineVisitors(c.asAdmin(ctx), r)
}
func (c *signedClient) ListQueue(ctx context.Context, r *pb.ListQueueRequest) (*pb.ListQueueResponse, error) {
	return c.raw.ListQueue(c.asAdmin(ctx), r)
}
func (c *signedClient) ListEvents(ctx context.Context, r *pb.ListEventsRequest) (*pb.ListEventsResponse, error) {
	return c.raw.ListEvents(c.asAdmin(ctx), r)
}
func (c *signedClient) WatchEvents(ctx context.Context, r *pb.WatchEventsRequest) (stream[pb.WatchEventsResponse], error) {
	return c.raw.WatchEvents(c.asAdmin(ctx), r)
}
func (c *signedClient) ListRoutingDecisions(ctx context.Context, r *pb.ListRoutingDecisionsRequest) (*pb.ListRoutingDecisionsResponse, error) {
	return c.raw.ListRoutingDecisions(c.asAdmin(ctx), r)
}
func (c *signedClient) ExportVisitor(ctx context.Context, r *pb.ExportVisitorRequest) (*pb.ExportVisitorResponse, error) {
	return c.raw.ExportVisitor(c.asAdmin(ctx), r)
}
func (c *signedClient) EraseVisitor(ctx context.Context, r *pb.EraseVisitorRequest) (*pb.EraseVisitorResponse, error) {
	return c.raw.EraseVisitor(c.asAdmin(ctx), r)
}
func (c *signedClient) CreateApiKey(ctx context.Context, r *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error) {
	return c.raw.CreateApiKey(c.asAdmin(ctx), r)
}
func (c *signedClient) ListApiKeys(ctx context.Context, r *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error) {
	return c.raw.ListApiKeys(c.asAdmin(ctx), r)
}
func (c *signedClient) RevokeApiKey(ctx context.Context, r *pb.RevokeApiKeyRequest) (*pb.RevokeApiKeyResponse, error) {
	return c.raw.RevokeApiKey(c.asAdmin(ctx), r)
}
func (c *signedClient) SetAgentPassword(ctx context.Context, r *pb.SetAgentPasswordRequest) (*pb.SetAgentPasswordResponse, error) {
	return c.raw.SetAgentPassword(c.asAdmin(ctx), r)
}
func (c *signedClient) CreateAgentSession(ctx context.Context, r *pb.CreateAgentSessionRequest) (*pb.CreateAgentSessionResponse, error) {
	return c.raw.CreateAgentSession(c.asAdmin(ctx), r)
}
func (c *signedClient) RevokeAgentSessions(ctx context.Context, r *pb.RevokeAgentSessionsRequest) (*pb.RevokeAgentSessionsResponse, error) {
	return c.raw.RevokeAgentSessions(c.asAdmin(ctx), r)
}

// StartVisitorSession records the visitor's token for its later calls.
func (c *signedClient) StartVisitorSession(ctx context.Context, r *pb.StartVisitorSessionRequest) (*pb.StartVisitorSessionResponse, error) {
	res, err := c.raw.StartVisitorSession(ctx, r)
	if err == nil {
		c.keys.set(res.GetVisitor().GetId(), res.GetToken())
	}
	return res, err
}
func (c *signedClient) ReportPageView(ctx context.Context, r *pb.ReportPageViewRequest) (*pb.ReportPageViewResponse, error) {
	return c.raw.ReportPageView(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) WatchVisitor(ctx context.Context, r *pb.WatchVisitorRequest) (stream[pb.WatchVisitorResponse], error) {
	return c.raw.WatchVisitor(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) RespondToInvitation(ctx context.Context, r *pb.RespondToInvitationRequest) (*pb.RespondToInvitationResponse, error) {
	return c.raw.RespondToInvitation(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) SubmitForm(ctx context.Context, r *pb.SubmitFormRequest) (*pb.SubmitFormResponse, error) {
	return c.raw.SubmitForm(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) LeaveQueue(ctx context.Context, r *pb.LeaveQueueRequest) (*pb.LeaveQueueResponse, error) {
	return c.raw.LeaveQueue(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) IdentifyVisitor(ctx context.Context, r *pb.IdentifyVisitorRequest) (*pb.IdentifyVisitorResponse, error) {
	return c.raw.IdentifyVisitor(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) GetSiteIdentitySecret(ctx context.Context, r *pb.GetSiteIdentitySecretRequest) (*pb.GetSiteIdentitySecretResponse, error) {
	return c.raw.GetSiteIdentitySecret(c.asAdmin(ctx), r)
}
func (c *signedClient) RotateSiteIdentitySecret(ctx context.Context, r *pb.RotateSiteIdentitySecretRequest) (*pb.RotateSiteIdentitySecretResponse, error) {
	return c.raw.RotateSiteIdentitySecret(c.asAdmin(ctx), r)
}

// SignIn records the agent's session for its later calls.
func (c *signedClient) SignIn(ctx context.Context, r *pb.SignInRequest) (*pb.SignInResponse, error) {
	res, err := c.raw.SignIn(ctx, r)
	if err == nil {
		c.keys.set(res.GetAgent().GetId(), res.GetToken())
	}
	return res, err
}
func (c *signedClient) SignOut(ctx context.Context, r *pb.SignOutRequest) (*pb.SignOutResponse, error) {
	return c.raw.SignOut(ctx, r) // whose session: the caller's ctx says
}
func (c *signedClient) SetAgentStatus(ctx context.Context, r *pb.SetAgentStatusRequest) (*pb.SetAgentStatusResponse, error) {
	return c.raw.SetAgentStatus(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) WatchPresence(ctx context.Context, r *pb.WatchPresenceRequest) (stream[pb.WatchPresenceResponse], error) {
	return c.raw.WatchPresence(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) StartChat(ctx context.Context, r *pb.StartChatRequest) (*pb.StartChatResponse, error) {
	return c.raw.StartChat(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) WatchAgent(ctx context.Context, r *pb.WatchAgentRequest) (stream[pb.WatchAgentResponse], error) {
	return c.raw.WatchAgent(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) AcceptChatRequest(ctx context.Context, r *pb.AcceptChatRequestRequest) (*pb.AcceptChatRequestResponse, error) {
	return c.raw.AcceptChatRequest(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) DeclineChatRequest(ctx context.Context, r *pb.DeclineChatRequestRequest) (*pb.DeclineChatRequestResponse, error) {
	return c.raw.DeclineChatRequest(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) InviteVisitor(ctx context.Context, r *pb.InviteVisitorRequest) (*pb.InviteVisitorResponse, error) {
	return c.raw.InviteVisitor(c.as(ctx, r.GetAgentId()), r)
}

func (c *signedClient) SendMessage(ctx context.Context, r *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	return c.raw.SendMessage(c.as(ctx, r.GetSenderId()), r)
}
func (c *signedClient) SetTyping(ctx context.Context, r *pb.SetTypingRequest) (*pb.SetTypingResponse, error) {
	return c.raw.SetTyping(c.as(ctx, r.GetSenderId()), r)
}
func (c *signedClient) LeaveChat(ctx context.Context, r *pb.LeaveChatRequest) (*pb.LeaveChatResponse, error) {
	return c.raw.LeaveChat(c.as(ctx, r.GetParticipantId()), r)
}
func (c *signedClient) GetChat(ctx context.Context, r *pb.GetChatRequest) (*pb.GetChatResponse, error) {
	return c.raw.GetChat(c.asChatReader(ctx), r)
}
func (c *signedClient) ListChatEvents(ctx context.Context, r *pb.ListChatEventsRequest) (*pb.ListChatEventsResponse, error) {
	return c.raw.ListChatEvents(c.asChatReader(ctx), r)
}
func (c *signedClient) ListChats(ctx context.Context, r *pb.ListChatsRequest) (*pb.ListChatsResponse, error) {
	return c.raw.ListChats(c.asChatReader(ctx), r)
}
func (c *signedClient) GetChatTranscript(ctx context.Context, r *pb.GetChatTranscriptRequest) (*pb.GetChatTranscriptResponse, error) {
	return c.raw.GetChatTranscript(c.asChatReader(ctx), r)
}
func (c *signedClient) WatchChat(ctx context.Context, r *pb.WatchChatRequest) (stream[pb.WatchChatResponse], error) {
	return c.raw.WatchChat(c.asChatReader(ctx), r)
}
func (c *signedClient) TransferChat(ctx context.Context, r *pb.TransferChatRequest) (*pb.TransferChatResponse, error) {
	return c.raw.TransferChat(c.as(ctx, r.GetFromAgentId()), r)
}
func (c *signedClient) AddNote(ctx context.Context, r *pb.AddNoteRequest) (*pb.AddNoteResponse, error) {
	return c.raw.AddNote(c.as(ctx, r.GetAuthorId()), r)
}
func (c *signedClient) CreateCannedReply(ctx context.Context, r *pb.CreateCannedReplyRequest) (*pb.CreateCannedReplyResponse, error) {
	return c.raw.CreateCannedReply(c.asAdmin(ctx), r)
}
func (c *signedClient) UpdateCannedReply(ctx context.Context, r *pb.UpdateCannedReplyRequest) (*pb.UpdateCannedReplyResponse, error) {
	return c.raw.UpdateCannedReply(c.asAdmin(ctx), r)
}
func (c *signedClient) DeleteCannedReply(ctx context.Context, r *pb.DeleteCannedReplyRequest) (*pb.DeleteCannedReplyResponse, error) {
	return c.raw.DeleteCannedReply(c.asAdmin(ctx), r)
}
func (c *signedClient) ListCannedReplies(ctx context.Context, r *pb.ListCannedRepliesRequest) (*pb.ListCannedRepliesResponse, error) {
	return c.raw.ListCannedReplies(c.asAdmin(ctx), r)
}
func (c *signedClient) ListColleagues(ctx context.Context, r *pb.ListColleaguesRequest) (*pb.ListColleaguesResponse, error) {
	return c.raw.ListColleagues(c.as(ctx, r.GetAgentId()), r)
}
func (c *signedClient) WatchNotes(ctx context.Context, r *pb.WatchNotesRequest) (stream[pb.WatchNotesResponse], error) {
	return c.raw.WatchNotes(c.asChatReader(ctx), r)
}
func (c *signedClient) ListNotes(ctx context.Context, r *pb.ListNotesRequest) (*pb.ListNotesResponse, error) {
	return c.raw.ListNotes(c.asChatReader(ctx), r)
}

// ListLiveChats, Whisper and ListWhispers go with the caller's token when
// the test chose one, else as an admin (ListLiveChats, ListWhispers) or
// as the supervisor the request names (Whisper).
func (c *signedClient) ListLiveChats(ctx context.Context, r *pb.ListLiveChatsRequest) (*pb.ListLiveChatsResponse, error) {
	if tokenFrom(ctx) == "" {
		ctx = c.asAdmin(ctx)
	}
	return c.raw.ListLiveChats(ctx, r)
}
func (c *signedClient) Whisper(ctx context.Context, r *pb.WhisperRequest) (*pb.WhisperResponse, error) {
	return c.raw.Whisper(c.as(ctx, r.GetSupervisorId()), r)
}
func (c *signedClient) ListWhispers(ctx context.Context, r *pb.ListWhispersRequest) (*pb.ListWhispersResponse, error) {
	if tokenFrom(ctx) == "" {
		ctx = c.asChatReader(ctx)
	}
	return c.raw.ListWhispers(ctx, r)
}

// signedConverser is a signedClient whose protocol carries Converse.
type signedConverser struct{ *signedClient }

// Converse opens the stream when the join is sent, with the token of the
// participant it names.
func (c *signedConverser) Converse(ctx context.Context) (conversation, error) {
	return &signedConversation{ctx: ctx, c: c}, nil
}

type signedConversation struct {
	ctx context.Context
	c   *signedConverser
	conversation
}

func (s *signedConversation) Send(r *pb.ConverseRequest) error {
	if s.conversation == nil {
		conv, err := s.c.raw.(converser).Converse(s.c.as(s.ctx, r.GetJoin().GetParticipantId()))
		if err != nil {
			return err
		}
		s.conversation = conv
	}
	return s.conversation.Send(r)
}

func (s *signedConversation) Recv() (*pb.ConverseResponse, error) {
	if s.conversation == nil {
		return nil, fmt.Errorf("Recv before the join was sent")
	}
	return s.conversation.Recv()
}

func (s *signedConversation) CloseSend() error {
	if s.conversation == nil {
		return nil
	}
	return s.conversation.CloseSend()
}

func (s *signedConversation) Close() {
	if s.conversation != nil {
		s.conversation.Close()
	}
}

func (c *signedClient) signer() *signedClient { return c }

func (c *signedClient) RequestChat(ctx context.Context, r *pb.RequestChatRequest) (*pb.RequestChatResponse, error) {
	return c.raw.RequestChat(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) RateChat(ctx context.Context, r *pb.RateChatRequest) (*pb.RateChatResponse, error) {
	return c.raw.RateChat(c.as(ctx, r.GetVisitorId()), r)
}
func (c *signedClient) GetRatingSummary(ctx context.Context, r *pb.GetRatingSummaryRequest) (*pb.GetRatingSummaryResponse, error) {
	return c.raw.GetRatingSummary(c.asAdmin(ctx), r)
}
func (c *signedClient) GetFunnel(ctx context.Context, r *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error) {
	return c.raw.GetFunnel(c.asAdmin(ctx), r)
}

func (c *signedClient) LeaveMessage(ctx context.Context, r *pb.LeaveMessageRequest) (*pb.LeaveMessageResponse, error) {
	return c.raw.LeaveMessage(c.as(ctx, r.GetVisitorId()), r)
}

// asChosenOrAdmin keeps a token the caller put in ctx, else signs as admin:
// the offline messages are read by admins and the agents of the site.
func (c *signedClient) asChosenOrAdmin(ctx context.Context) context.Context {
	if tokenFrom(ctx) != "" {
		return ctx
	}
	return c.asAdmin(ctx)
}

func (c *signedClient) ListOfflineMessages(ctx context.Context, r *pb.ListOfflineMessagesRequest) (*pb.ListOfflineMessagesResponse, error) {
	return c.raw.ListOfflineMessages(c.asChosenOrAdmin(ctx), r)
}

func (c *signedClient) MarkOfflineMessageHandled(ctx context.Context, r *pb.MarkOfflineMessageHandledRequest) (*pb.MarkOfflineMessageHandledResponse, error) {
	return c.raw.MarkOfflineMessageHandled(c.asChosenOrAdmin(ctx), r)
}

func (c *signedClient) PreviewTriggerRule(ctx context.Context, r *pb.PreviewTriggerRuleRequest) (*pb.PreviewTriggerRuleResponse, error) {
	return c.raw.PreviewTriggerRule(c.asChosenOrAdmin(ctx), r)
}

func (c *signedClient) GetTriggerRuleReport(ctx context.Context, r *pb.GetTriggerRuleReportRequest) (*pb.GetTriggerRuleReportResponse, error) {
	return c.raw.GetTriggerRuleReport(c.asChosenOrAdmin(ctx), r)
}

func (c *signedClient) ReportActivity(ctx context.Context, r *pb.ReportActivityRequest) (*pb.ReportActivityResponse, error) {
	return c.raw.ReportActivity(c.as(ctx, r.GetVisitorId()), r)
}

func (c *signedClient) UpdateVisitorAttributes(ctx context.Context, r *pb.UpdateVisitorAttributesRequest) (*pb.UpdateVisitorAttributesResponse, error) {
	return c.raw.UpdateVisitorAttributes(c.as(ctx, r.GetVisitorId()), r)
}
