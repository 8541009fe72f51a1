package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// The principals of the authorization matrix, in its column order.
const (
	nobody       = iota // no credentials
	forged              // a token the server never issued
	visitor             // the visitor the requests name
	otherVisitor        // another visitor of the same site
	siteAgent           // an agent of the site, in the visitor's chat
	otherAgent          // an agent of another site
	admin               // an admin API key
	supervisor          // an agent supervising the site (serving another), not in the chat
	principals
)

var principalNames = [principals]string{"Nobody", "ForgedToken", "Visitor", "OtherVisitor", "AgentOfSite", "AgentOfOtherSite", "Admin", "SupervisorOfSite"}

// Expected outcomes: allowed (the call reaches the service, whatever it
// then answers), Unauthenticated, PermissionDenied.
const (
	Y = "allowed"
	U = "unauthenticated"
	D = "permission_denied"
)

// authzWorld is what the matrix's requests name.
type authzWorld struct {
	siteA, siteB   string
	visitor, other string // visitors of site A
	agentA, agentB string // agentA serves site A and chats with visitor
	supervisor     string // supervises site A, serves site B
	spareAgent     string // the target of credential changes
	chat           string
	offlineMessage string // one the visitor left on site A
	spareKey       string // an API key to revoke
	tokens         [principals]string
	agentAPassword string
}

// call is one RPC made with the request the matrix gives it; it returns the
// error of the call (of its first message, for streams).
type authzCase struct {
	rpc    string // Service.Method
	expect [principals]string
	call   func(ctx context.Context, c api, w *authzWorld) error
}

func firstMessage[T any](s stream[T], err error) error {
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Recv()
	return err
}

// row spells an expectation for the principals after nobody and forged,
// who are refused everywhere but on the open calls. A supervisor of the
// site is an agent of another site, but where supervised says otherwise.
func row(visitor, otherVisitor, siteAgent, otherAgent, admin string) [principals]string {
	return [principals]string{U, U, visitor, otherVisitor, siteAgent, otherAgent, admin, otherAgent}
}

// supervised sets what the site's supervisor gets in r.
func supervised(r [principals]string, want string) [principals]string {
	r[supervisor] = want
	return r
}

var open = [principals]string{Y, Y, Y, Y, Y, Y, Y, Y}

// authzCases is every RPC; the order matters only at the end, where calls
// change what later ones need (leaving the chat, signing out).
var authzCases = []authzCase{
	{"AdminService.CreateSite", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "New"})
		return err
	}},
	{"AdminService.GetSite", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetSite(ctx, &pb.GetSiteRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.ListSites", row(D, D, Y, Y, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListSites(ctx, &pb.ListSitesRequest{})
		return err
	}},
	{"AdminService.UpdateSite", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.UpdateSite(ctx, &pb.UpdateSiteRequest{Site: &pb.Site{Id: w.siteA, Name: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
		return err
	}},
	{"AdminService.CreateAgent", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "New", SiteIds: []string{w.siteA}})
		return err
	}},
	{"AdminService.GetAgent", row(D, D, Y, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: w.agentA})
		return err
	}},
	{"AdminService.ListAgents", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListAgents(ctx, &pb.ListAgentsRequest{})
		return err
	}},
	{"AdminService.UpdateAgent", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.UpdateAgent(ctx, &pb.UpdateAgentRequest{Agent: &pb.Agent{Id: w.agentA, DisplayName: "Dana"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		return err
	}},
	{"AdminService.ListOnlineVisitors", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListOnlineVisitors(ctx, &pb.ListOnlineVisitorsRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.ListQueue", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListQueue(ctx, &pb.ListQueueRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.ListRoutingDecisions", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListRoutingDecisions(ctx, &pb.ListRoutingDecisionsRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.GetFunnel", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetFunnel(ctx, &pb.GetFunnelRequest{SiteId: w.siteA})
		return err
	}},
	// The log is about every site: admins only.
	// Webhooks receive every event: admins only.
	{"AdminService.CreateWebhook", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateWebhook(ctx, &pb.CreateWebhookRequest{Url: "https://hooks.invalid/in", Disabled: true})
		return err
	}},
	{"AdminService.GetWebhook", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetWebhook(ctx, &pb.GetWebhookRequest{WebhookId: "wh_missing"})
		return err
	}},
	{"AdminService.ListWebhooks", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListWebhooks(ctx, &pb.ListWebhooksRequest{})
		return err
	}},
	{"AdminService.UpdateWebhook", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.UpdateWebhook(ctx, &pb.UpdateWebhookRequest{Webhook: &pb.Webhook{Id: "wh_missing"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enabled"}}})
		return err
	}},
	{"AdminService.DeleteWebhook", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.DeleteWebhook(ctx, &pb.DeleteWebhookRequest{WebhookId: "wh_missing"})
		return err
	}},
	{"AdminService.RotateWebhookSecret", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RotateWebhookSecret(ctx, &pb.RotateWebhookSecretRequest{WebhookId: "wh_missing"})
		return err
	}},
	{"AdminService.ListWebhookDeliveries", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListWebhookDeliveries(ctx, &pb.ListWebhookDeliveriesRequest{WebhookId: "wh_missing"})
		return err
	}},
	{"AdminService.RedeliverWebhookEvent", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RedeliverWebhookEvent(ctx, &pb.RedeliverWebhookEventRequest{WebhookId: "wh_missing", EventId: "evt_0000000000000001"})
		return err
	}},
	{"AdminService.PingWebhook", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.PingWebhook(ctx, &pb.PingWebhookRequest{WebhookId: "wh_missing"})
		return err
	}},
	{"AdminService.ListEvents", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListEvents(ctx, &pb.ListEventsRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.WatchEvents", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchEvents(ctx, &pb.WatchEventsRequest{SiteId: w.siteA}))
	}},
	{"AdminService.ExportVisitor", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ExportVisitor(ctx, &pb.ExportVisitorRequest{VisitorId: w.visitor})
		return err
	}},
	{"AdminService.EraseVisitor", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		// Refused for being online (FailedPrecondition) once allowed.
		_, err := c.EraseVisitor(ctx, &pb.EraseVisitorRequest{VisitorId: w.visitor})
		return err
	}},
	{"AdminService.CreateApiKey", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "CRM"})
		return err
	}},
	{"AdminService.ListApiKeys", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListApiKeys(ctx, &pb.ListApiKeysRequest{})
		return err
	}},
	{"AdminService.RevokeApiKey", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: w.spareKey})
		return err
	}},
	{"AdminService.SetAgentPassword", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: w.spareAgent, Password: "a new password"})
		return err
	}},
	{"AdminService.CreateAgentSession", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateAgentSession(ctx, &pb.CreateAgentSessionRequest{AgentId: w.spareAgent})
		return err
	}},
	{"AdminService.RevokeAgentSessions", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RevokeAgentSessions(ctx, &pb.RevokeAgentSessionsRequest{AgentId: w.spareAgent})
		return err
	}},
	// An agent of the site is refused too: with the secret it could pass
	// for any of the site's users.
	{"AdminService.RotateSiteIdentitySecret", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RotateSiteIdentitySecret(ctx, &pb.RotateSiteIdentitySecretRequest{SiteId: w.siteA})
		return err
	}},
	{"AdminService.GetSiteIdentitySecret", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetSiteIdentitySecret(ctx, &pb.GetSiteIdentitySecretRequest{SiteId: w.siteA})
		return err
	}},

	{"AdminService.CreateCannedReply", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.CreateCannedReply(ctx, &pb.CreateCannedReplyRequest{CannedReply: &pb.CannedReply{SiteId: w.siteA, Shortcut: "/hi", Title: "Hi", Text: "Hi {visitor.name}"}})
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			return nil // a principal before made it: allowed
		}
		return err
	}},
	{"AdminService.UpdateCannedReply", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		// NotFound once allowed.
		_, err := c.UpdateCannedReply(ctx, &pb.UpdateCannedReplyRequest{CannedReply: &pb.CannedReply{Id: "canned_none", SiteId: w.siteA, Shortcut: "/hi", Title: "Hi", Text: "Hi"}})
		return err
	}},
	{"AdminService.DeleteCannedReply", row(D, D, D, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.DeleteCannedReply(ctx, &pb.DeleteCannedReplyRequest{SiteId: w.siteA, CannedReplyId: "canned_none"})
		return err
	}},
	{"AdminService.ListCannedReplies", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListCannedReplies(ctx, &pb.ListCannedRepliesRequest{SiteId: w.siteA})
		return err
	}},

	{"VisitorService.StartVisitorSession", open, func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: w.siteA})
		return err
	}},
	{"VisitorService.ReportPageView", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: w.visitor, Url: "https://shop.example/a"})
		return err
	}},
	{"VisitorService.ReportActivity", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ReportActivity(ctx, &pb.ReportActivityRequest{VisitorId: w.visitor, PageUrl: "https://shop.example/a",
			Activity: &pb.VisitorActivity{ScrollPercent: 10}})
		return err
	}},
	{"VisitorService.UpdateVisitorAttributes", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.UpdateVisitorAttributes(ctx, &pb.UpdateVisitorAttributesRequest{VisitorId: w.visitor, Set: map[string]string{"plan": "pro"}})
		return err
	}},
	// The preview shows what visitors online do: as ListLiveChats, admins
	// and supervisors; the report is counts, as GetFunnel.
	{"AdminService.PreviewTriggerRule", supervised(row(D, D, D, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.PreviewTriggerRule(ctx, &pb.PreviewTriggerRuleRequest{SiteId: w.siteA, Rule: &pb.TriggerRule{
			Name: "Preview", Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE}})
		return err
	}},
	{"AdminService.GetTriggerRuleReport", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetTriggerRuleReport(ctx, &pb.GetTriggerRuleReportRequest{SiteId: w.siteA})
		return err
	}},
	{"VisitorService.WatchVisitor", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchVisitor(ctx, &pb.WatchVisitorRequest{VisitorId: w.visitor}))
	}},
	{"VisitorService.RespondToInvitation", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RespondToInvitation(ctx, &pb.RespondToInvitationRequest{VisitorId: w.visitor, InvitationId: "invitation_none", Accept: true})
		return err
	}},
	{"VisitorService.SubmitForm", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SubmitForm(ctx, &pb.SubmitFormRequest{VisitorId: w.visitor, Values: map[string]string{"name": "Ann"}})
		return err
	}},
	{"VisitorService.LeaveQueue", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.LeaveQueue(ctx, &pb.LeaveQueueRequest{VisitorId: w.visitor})
		return err
	}},
	{"VisitorService.RequestChat", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RequestChat(ctx, &pb.RequestChatRequest{VisitorId: w.visitor})
		return err
	}},
	{"ChatService.RateChat", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.RateChat(ctx, &pb.RateChatRequest{ChatId: w.chat, VisitorId: w.visitor, Score: 5})
		return err
	}},
	{"AdminService.GetRatingSummary", row(D, D, Y, D, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetRatingSummary(ctx, &pb.GetRatingSummaryRequest{AgentId: w.agentA})
		return err
	}},
	{"VisitorService.IdentifyVisitor", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.IdentifyVisitor(ctx, &pb.IdentifyVisitorRequest{VisitorId: w.visitor, Identity: &pb.VisitorIdentity{Name: "Jane"}})
		return err
	}},
	{"VisitorService.LeaveMessage", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.LeaveMessage(ctx, &pb.LeaveMessageRequest{VisitorId: w.visitor, Name: "Ann", Email: "ann@example.com", Text: "Hi", RequestId: "authz-row"})
		return err
	}},

	{"AgentService.SignIn", open, func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SignIn(ctx, &pb.SignInRequest{AgentId: w.agentA, Password: w.agentAPassword})
		return err
	}},
	{"AgentService.ListOfflineMessages", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListOfflineMessages(ctx, &pb.ListOfflineMessagesRequest{SiteId: w.siteA})
		return err
	}},
	{"AgentService.MarkOfflineMessageHandled", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.MarkOfflineMessageHandled(ctx, &pb.MarkOfflineMessageHandledRequest{OfflineMessageId: w.offlineMessage})
		return err
	}},
	{"AgentService.SetAgentStatus", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SetAgentStatus(ctx, &pb.SetAgentStatusRequest{AgentId: w.agentA, Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE})
		return err
	}},
	{"AgentService.WatchPresence", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchPresence(ctx, &pb.WatchPresenceRequest{AgentId: w.agentA}))
	}},
	{"AgentService.WatchAgent", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: w.agentA}))
	}},
	{"AgentService.StartChat", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		// Refused for the visitor being in a chat already, once allowed.
		_, err := c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.agentA, VisitorId: w.visitor})
		return err
	}},
	{"AgentService.ListColleagues", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListColleagues(ctx, &pb.ListColleaguesRequest{AgentId: w.agentA, SiteId: w.siteA})
		return err
	}},
	{"AgentService.AcceptChatRequest", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{AgentId: w.agentA, ChatRequestId: "request_none"})
		return err
	}},
	{"AgentService.DeclineChatRequest", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.DeclineChatRequest(ctx, &pb.DeclineChatRequestRequest{AgentId: w.agentA, ChatRequestId: "request_none"})
		return err
	}},
	{"AgentService.InviteVisitor", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		// Refused (the site is without invite... or the visitor is busy)
		// once allowed; what matters is who gets that far.
		_, err := c.InviteVisitor(ctx, &pb.InviteVisitorRequest{AgentId: w.agentA, VisitorId: w.visitor})
		return err
	}},

	{"ChatService.SendMessage", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: w.chat, SenderId: w.visitor, Text: "hi"})
		return err
	}},
	{"ChatService.SendMessage as the agent", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: w.chat, SenderId: w.agentA, Text: "hello"})
		return err
	}},
	{"ChatService.SetTyping", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SetTyping(ctx, &pb.SetTypingRequest{ChatId: w.chat, SenderId: w.visitor, Typing: true})
		return err
	}},
	{"ChatService.GetChat", supervised(row(Y, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetChat(ctx, &pb.GetChatRequest{ChatId: w.chat})
		return err
	}},
	{"ChatService.ListChatEvents", supervised(row(Y, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListChatEvents(ctx, &pb.ListChatEventsRequest{ChatId: w.chat})
		return err
	}},
	{"ChatService.GetChatTranscript", supervised(row(Y, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: w.chat})
		return err
	}},
	// Visitors list nothing; an agent lists the sites it serves, and
	// without a site its own sites' chats.
	{"ChatService.ListChats", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListChats(ctx, &pb.ListChatsRequest{SiteId: w.siteA})
		return err
	}},
	{"ChatService.ListChats of one's own sites", row(D, D, Y, Y, Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListChats(ctx, &pb.ListChatsRequest{})
		return err
	}},
	{"ChatService.WatchChat", supervised(row(Y, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchChat(ctx, &pb.WatchChatRequest{ChatId: w.chat}))
	}},
	{"ChatService.Converse", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		conv, err := c.(converser).Converse(ctx)
		if err != nil {
			return err
		}
		defer conv.Close()
		if err := conv.Send(&pb.ConverseRequest{CommandId: "j", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: w.chat, ParticipantId: w.visitor}}}); err != nil && !isEOF(err) {
			return err
		}
		_, err = conv.Recv()
		return err
	}},
	{"AgentService.ListLiveChats", supervised(row(D, D, D, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListLiveChats(ctx, &pb.ListLiveChatsRequest{SiteId: w.siteA})
		return err
	}},
	// Only the supervisor, as itself.
	{"ChatService.Whisper", supervised(row(D, D, D, D, D), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.Whisper(ctx, &pb.WhisperRequest{ChatId: w.chat, SupervisorId: w.supervisor, Text: "ask about the plan"})
		return err
	}},
	// Never the visitor.
	{"ChatService.ListWhispers", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListWhispers(ctx, &pb.ListWhispersRequest{ChatId: w.chat})
		return err
	}},
	// Notes are the agents' own: no visitor writes or reads them, not even
	// of the visitor's own chat.
	{"ChatService.AddNote", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.AddNote(ctx, &pb.AddNoteRequest{ChatId: w.chat, AuthorId: w.agentA, Text: "VIP"})
		return err
	}},
	{"ChatService.ListNotes", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.ListNotes(ctx, &pb.ListNotesRequest{ChatId: w.chat})
		return err
	}},
	{"ChatService.WatchNotes", supervised(row(D, D, Y, D, Y), Y), func(ctx context.Context, c api, w *authzWorld) error {
		return firstMessage(c.WatchNotes(ctx, &pb.WatchNotesRequest{ChatId: w.chat}))
	}},
	// Only the chat's agent hands it over. Refused (the target is the
	// caller itself) once allowed, so the chat stays as it is.
	{"ChatService.TransferChat", row(D, D, Y, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.TransferChat(ctx, &pb.TransferChatRequest{ChatId: w.chat, FromAgentId: w.agentA, ToAgentId: w.agentA})
		return err
	}},
	{"ChatService.LeaveChat", row(Y, D, D, D, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.LeaveChat(ctx, &pb.LeaveChatRequest{ChatId: w.chat, ParticipantId: w.visitor})
		return err
	}},
	// Last: it ends the agents' sessions.
	{"AgentService.SignOut", row(D, D, Y, Y, D), func(ctx context.Context, c api, w *authzWorld) error {
		_, err := c.SignOut(ctx, &pb.SignOutRequest{})
		return err
	}},
}

// TestAuthorizationMatrix makes every RPC as every kind of principal over
// every protocol, and checks that Unauthenticated and PermissionDenied come
// exactly where they belong and nowhere else.
func TestAuthorizationMatrix(t *testing.T) {
	t.Run("EveryRPCIsInTheMatrix", func(t *testing.T) {
		var covered []string
		for _, tc := range authzCases {
			service, method, _ := strings.Cut(strings.Fields(tc.rpc)[0], ".")
			covered = append(covered, "/proactivechat.v1."+service+"/"+method)
		}
		for _, p := range rpc.Procedures() {
			if !slices.Contains(covered, p) {
				t.Errorf("%s is not in the authorization matrix", p)
			}
		}
	})
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		c := p.newClient(t, srv)
		w := authzSetup(t, ctx, c)
		raw := rawClientFor(t, p, srv)
		for _, tc := range authzCases {
			if _, bidi := raw.(converser); tc.rpc == "ChatService.Converse" && !bidi {
				continue // REST has no bidirectional streams
			}
			for who := range principals {
				err := tc.call(withToken(ctx, w.tokens[who]), raw, w)
				got := Y
				switch connect.CodeOf(err) {
				case connect.CodeUnauthenticated:
					got = U
				case connect.CodePermissionDenied:
					got = D
				}
				if err == nil {
					got = Y
				}
				if got != tc.expect[who] {
					t.Errorf("%s as %s: %s (%v), want %s", tc.rpc, principalNames[who], got, err, tc.expect[who])
				}
			}
		}
	})
}

// rawClientFor returns a client of protocol p that sends the token of its
// context, and no other.
func rawClientFor(t *testing.T, p protocol, srv *testServer) api {
	switch p.name {
	case "gRPC":
		return rawGRPCClient(t, srv)
	case "REST":
		return rawRESTClient(t, srv)
	case "ConnectJSON":
		return rawConnectClient(t, srv, connect.WithProtoJSON())
	case "gRPCWeb":
		return rawConnectClient(t, srv, connect.WithGRPCWeb())
	default:
		return rawConnectClient(t, srv)
	}
}

func authzSetup(t *testing.T, ctx context.Context, c api) *authzWorld {
	t.Helper()
	w := &authzWorld{agentAPassword: "correct horse battery"}
	w.siteA = createSite(t, ctx, c, "Shop A", &pb.ProactiveChatSettings{Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 3600}).GetId()
	w.siteB = createSite(t, ctx, c, "Shop B", nil).GetId()
	w.agentA = createAvailableAgent(t, ctx, c, "Ana", w.siteA).GetId()
	w.agentB = createAvailableAgent(t, ctx, c, "Ben", w.siteB).GetId()
	w.spareAgent = createAvailableAgent(t, ctx, c, "Spare", w.siteA).GetId()
	w.supervisor = createAvailableAgent(t, ctx, c, "Sam", w.siteB).GetId()
	must[*pb.UpdateAgentResponse](t, "UpdateAgent")(c.UpdateAgent(ctx, &pb.UpdateAgentRequest{
		Agent:      &pb.Agent{Id: w.supervisor, SupervisedSiteIds: []string{w.siteA}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"supervised_site_ids"}},
	}))
	must[*pb.SetAgentPasswordResponse](t, "SetAgentPassword")(c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: w.agentA, Password: w.agentAPassword}))
	// Setting the password ended the agent's session: sign in with it.
	must[*pb.SignInResponse](t, "SignIn")(c.SignIn(ctx, &pb.SignInRequest{AgentId: w.agentA, Password: w.agentAPassword}))
	w.spareKey = must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "spare"})).GetApiKey().GetId()

	sign := c.(interface{ signer() *signedClient }).signer()
	v, vs := visitorOnline(t, ctx, c, w.siteA, "https://shop.example/")
	t.Cleanup(vs.Close)
	o, otherStream := visitorOnline(t, ctx, c, w.siteA, "https://shop.example/other")
	t.Cleanup(otherStream.Close)
	w.visitor, w.other = v.GetId(), o.GetId()
	w.chat = must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.agentA, VisitorId: w.visitor})).GetChat().GetId()
	w.offlineMessage = must[*pb.LeaveMessageResponse](t, "LeaveMessage")(c.LeaveMessage(ctx, &pb.LeaveMessageRequest{VisitorId: w.visitor,
		Name: "Ann", Email: "ann@example.com", Text: "Call me back", RequestId: "authz"})).GetMessage().GetId()

	w.tokens[nobody] = ""
	w.tokens[forged] = "pcs_" + strings.Repeat("A", 43)
	w.tokens[visitor] = tokenFrom(sign.as(ctx, w.visitor))
	w.tokens[otherVisitor] = tokenFrom(sign.as(ctx, w.other))
	w.tokens[siteAgent] = tokenFrom(sign.as(ctx, w.agentA))
	w.tokens[otherAgent] = tokenFrom(sign.as(ctx, w.agentB))
	w.tokens[admin] = sign.keys.admin
	w.tokens[supervisor] = tokenFrom(sign.as(ctx, w.supervisor))
	for who, tok := range w.tokens {
		if tok == "" && who != nobody {
			t.Fatalf("no token for %s", principalNames[who])
		}
	}
	return w
}
