package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
)

// This file is the one place where calls are authorized, for every
// protocol: Connect, gRPC and gRPC-Web reach the handlers directly, and REST
// through the gateway, which forwards the Authorization header.
//
// Each procedure has a rule naming who may call it. A call without
// credentials where they are needed is Unauthenticated; a call by a
// principal the rule does not allow is PermissionDenied. Rules check who the
// caller is and which visitor, agent, site or chat the request names; the
// domain then checks the rest (an agent serves the visitor's site, a sender
// is a participant of the chat).
//
// Who may do what:
//   - AdminService: admin API keys. Agents may also read the sites they
//     serve (GetSite, ListSites, ListOnlineVisitors, ListQueue,
//     ListRoutingDecisions, ListCannedReplies, GetFunnel) and themselves
//     (GetAgent, GetRatingSummary of their own chats): the console shows them.
//   - VisitorService: StartVisitorSession is open (it is how a visitor gets
//     a token; the site's allowed origins guard it); the rest only with the
//     token of the visitor the request names.
//   - AgentService: SignIn is open; the rest only with a session of the
//     agent the request names, but ListLiveChats: admins and the
//     supervisors of the site (Agent.CanSuperviseSite); and the offline
//     messages (ListOfflineMessages, MarkOfflineMessageHandled): admins
//     and the agents serving or supervising the message's site.
//   - ChatService: sending, typing and leaving only as oneself (sender_id or
//     participant_id is the caller); rating (RateChat) only as the chat's
//     visitor; reading a chat (GetChat,
//     ListChatEvents, GetChatTranscript, WatchChat) for its participants,
//     agents serving or supervising its site, and admins; listing chats
//     (ListChats) for admins (every site) and agents (the sites they serve
//     or supervise), not visitors. Whisper only as oneself (supervisor_id),
//     a supervisor of the chat's site; ListWhispers for the chat's agent,
//     the supervisors of its site and admins, never its visitor.
//   - Supervisors (Agent.supervised_site_ids) also read the sites they
//     supervise as if they served them (siteReader, WatchPresence).
//   - Transferring a chat and adding internal notes only as oneself
//     (from_agent_id or author_id is the calling agent); reading notes
//     (ListNotes, WatchNotes) for agents who may read the chat and admins,
//     never for visitors.
//
// A stream a rule allows may still be refused with ResourceExhausted: each
// credential may hold only so many streams of each kind at once (the rules
// marked capped; the numbers are domain.StreamCap's).

// rule decides whether p may make a call with request msg.
type rule struct {
	// open calls need no credentials; any sent are ignored.
	open bool
	// allow returns nil, or why p may not make the call.
	allow func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error
	// stream, for a long-lived stream, is the kind its credential may hold
	// only so many of at once (domain.StreamCap).
	stream domain.StreamKind
}

// capped marks the streams of r as of kind, capped per credential.
func capped(kind domain.StreamKind, r rule) rule {
	r.stream = kind
	return r
}

var openRule = rule{open: true}

// as returns a rule letting the given kinds of principal make the call.
func as(kinds ...domain.PrincipalKind) rule {
	return rule{allow: func(_ context.Context, _ *domain.Service, p domain.Principal, _ any) error {
		return needKind(p, kinds...)
	}}
}

func needKind(p domain.Principal, kinds ...domain.PrincipalKind) error {
	for _, k := range kinds {
		if p.Kind == k {
			return nil
		}
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = credentialName(k)
	}
	return domain.Errorf(domain.CodePermissionDenied, "this call needs %s, not %s", strings.Join(names, " or "), credentialName(p.Kind))
}

func credentialName(k domain.PrincipalKind) string {
	switch k {
	case domain.AdminPrincipal:
		return "an admin API key"
	case domain.AgentPrincipal:
		return "an agent session"
	case domain.VisitorPrincipal:
		return "a visitor token"
	}
	return "no credentials"
}

// self lets a principal of kind act as the one named by the request field.
// Admins are not allowed: a visitor's or an agent's actions are its own.
func self(kind domain.PrincipalKind, field string, id func(any) string) rule {
	return rule{allow: func(_ context.Context, _ *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, kind); err != nil {
			return err
		}
		return sameID(p, field, id(msg))
	}}
}

func sameID(p domain.Principal, field, id string) error {
	if id == "" {
		return invalidField(field, "is required")
	}
	if id != p.ID {
		return domain.Errorf(domain.CodePermissionDenied, "%s %q may not act as %q", p.Kind, p.ID, id)
	}
	return nil
}

// participant lets a visitor or an agent act as itself in a chat.
func participant(field string, id func(any) string) rule {
	return rule{allow: func(_ context.Context, _ *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.VisitorPrincipal, domain.AgentPrincipal); err != nil {
			return err
		}
		return sameID(p, field, id(msg))
	}}
}

// siteReader lets admins and the agents serving the site read it.
func siteReader(id func(any) string) rule {
	return rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
			return err
		}
		if p.Kind == domain.AgentPrincipal && id(msg) == "" {
			return invalidField("site_id", "is required")
		}
		return svc.CanReadSite(ctx, p, id(msg))
	}}
}

// chatReader lets admins, the participants and the agents serving the
// chat's site read it.
func chatReader(id func(any) string) rule {
	return rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal, domain.VisitorPrincipal); err != nil {
			return err
		}
		return svc.CanReadChat(ctx, p, id(msg))
	}}
}

// siteSupervisor lets admins and the supervisors of the site make the call.
func siteSupervisor(id func(any) string) rule {
	return rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
			return err
		}
		if id(msg) == "" {
			return invalidField("site_id", "is required")
		}
		return svc.CanSuperviseSite(ctx, p, id(msg))
	}}
}

// whisperReader lets admins, the chat's agent and the supervisors of its
// site read its whispers. Visitors never may.
func whisperReader(id func(any) string) rule {
	return rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
			return err
		}
		return svc.CanReadWhispers(ctx, p, id(msg))
	}}
}

// chatLister lets admins list every chat and agents those of the sites
// they serve: an agent naming a site must serve it (the domain keeps an
// agent naming no site to its own sites). Visitors may not list chats.
var chatLister = rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
	if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
		return err
	}
	if id := siteID(msg); p.Kind == domain.AgentPrincipal && id != "" {
		return svc.CanReadSite(ctx, p, id)
	}
	return nil
}}

// noteReader lets admins and the agents who may read the chat read its
// internal notes. Visitors never may, not even of their own chats.
var noteReader = rule{allow: func(ctx context.Context, svc *domain.Service, p domain.Principal, msg any) error {
	if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
		return err
	}
	return svc.CanReadChat(ctx, p, chatID(msg))
}}

// Request fields the rules look at.
func visitorID(m any) string { return m.(interface{ GetVisitorId() string }).GetVisitorId() }
func agentID(m any) string   { return m.(interface{ GetAgentId() string }).GetAgentId() }
func siteID(m any) string    { return m.(interface{ GetSiteId() string }).GetSiteId() }
func chatID(m any) string    { return m.(interface{ GetChatId() string }).GetChatId() }
func senderID(m any) string  { return m.(interface{ GetSenderId() string }).GetSenderId() }
func participantID(m any) string {
	return m.(interface{ GetParticipantId() string }).GetParticipantId()
}
func supervisorID(m any) string {
	return m.(interface{ GetSupervisorId() string }).GetSupervisorId()
}
func joinerID(m any) string    { return m.(*pb.ConverseRequest).GetJoin().GetParticipantId() }
func fromAgentID(m any) string { return m.(*pb.TransferChatRequest).GetFromAgentId() }
func authorID(m any) string    { return m.(*pb.AddNoteRequest).GetAuthorId() }

// rules has one entry per procedure; authorize refuses any procedure
// missing from it, and a test checks that none is.
var rules = map[string]rule{
	proactivechatv1connect.AdminServiceCreateSiteProcedure:           as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceGetSiteProcedure:              siteReader(siteID),
	proactivechatv1connect.AdminServiceListSitesProcedure:            as(domain.AdminPrincipal, domain.AgentPrincipal),
	proactivechatv1connect.AdminServiceUpdateSiteProcedure:           as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceCreateAgentProcedure:          as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceGetAgentProcedure:             adminOrSelf(agentID),
	proactivechatv1connect.AdminServiceListAgentsProcedure:           as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceUpdateAgentProcedure:          as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceListOnlineVisitorsProcedure:   siteReader(siteID),
	proactivechatv1connect.AdminServiceListQueueProcedure:            siteReader(siteID),
	proactivechatv1connect.AdminServiceListRoutingDecisionsProcedure: siteReader(siteID),
	proactivechatv1connect.AdminServiceExportVisitorProcedure:        as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceEraseVisitorProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceCreateApiKeyProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceListApiKeysProcedure:          as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceRevokeApiKeyProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceSetAgentPasswordProcedure:     as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceCreateAgentSessionProcedure:   as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceRevokeAgentSessionsProcedure:  as(domain.AdminPrincipal),
	// Only admins see a site's identity secret: an agent who had it could
	// pass for any of the site's users.
	proactivechatv1connect.AdminServiceGetSiteIdentitySecretProcedure:    as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceRotateSiteIdentitySecretProcedure: as(domain.AdminPrincipal),
	// Agents read their own ratings (agent_id is the caller), admins any.
	proactivechatv1connect.AdminServiceGetRatingSummaryProcedure: adminOrSelf(agentID),
	proactivechatv1connect.AdminServiceListEventsProcedure:       as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceWatchEventsProcedure:      capped(domain.StreamWatchEvents, as(domain.AdminPrincipal)),
	// Admins manage canned replies; the agents of a site read them.
	proactivechatv1connect.AdminServiceCreateCannedReplyProcedure: as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceUpdateCannedReplyProcedure: as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceDeleteCannedReplyProcedure: as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceListCannedRepliesProcedure: siteReader(siteID),
	// The funnel is counts without personal data: whoever reads the site.
	proactivechatv1connect.AdminServiceGetFunnelProcedure: siteReader(siteID),
	// A rule's preview lists the visitors online with what they did:
	// whoever may see the site's visitors live. Its report is counts.
	proactivechatv1connect.AdminServicePreviewTriggerRuleProcedure:   siteSupervisor(siteID),
	proactivechatv1connect.AdminServiceGetTriggerRuleReportProcedure: siteReader(siteID),
	// Webhooks: admin keys only (an endpoint receives every event).
	proactivechatv1connect.AdminServiceCreateWebhookProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceGetWebhookProcedure:            as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceListWebhooksProcedure:          as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceUpdateWebhookProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceDeleteWebhookProcedure:         as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceRotateWebhookSecretProcedure:   as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceListWebhookDeliveriesProcedure: as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServiceRedeliverWebhookEventProcedure: as(domain.AdminPrincipal),
	proactivechatv1connect.AdminServicePingWebhookProcedure:           as(domain.AdminPrincipal),

	proactivechatv1connect.VisitorServiceStartVisitorSessionProcedure: openRule,
	proactivechatv1connect.VisitorServiceReportPageViewProcedure:      self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceWatchVisitorProcedure:        self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceRespondToInvitationProcedure: self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceSubmitFormProcedure:          self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceLeaveQueueProcedure:          self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceIdentifyVisitorProcedure:     self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceRequestChatProcedure:         self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceLeaveMessageProcedure:        self(domain.VisitorPrincipal, "visitor_id", visitorID),
	// What the widget reports for the trigger rules: the visitor itself.
	proactivechatv1connect.VisitorServiceReportActivityProcedure:          self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.VisitorServiceUpdateVisitorAttributesProcedure: self(domain.VisitorPrincipal, "visitor_id", visitorID),

	proactivechatv1connect.AgentServiceSignInProcedure:             openRule,
	proactivechatv1connect.AgentServiceSignOutProcedure:            as(domain.AgentPrincipal),
	proactivechatv1connect.AgentServiceSetAgentStatusProcedure:     self(domain.AgentPrincipal, "agent_id", agentID),
	proactivechatv1connect.AgentServiceWatchPresenceProcedure:      capped(domain.StreamWatchPresence, self(domain.AgentPrincipal, "agent_id", agentID)),
	proactivechatv1connect.AgentServiceStartChatProcedure:          self(domain.AgentPrincipal, "agent_id", agentID),
	proactivechatv1connect.AgentServiceWatchAgentProcedure:         capped(domain.StreamWatchAgent, self(domain.AgentPrincipal, "agent_id", agentID)),
	proactivechatv1connect.AgentServiceAcceptChatRequestProcedure:  self(domain.AgentPrincipal, "agent_id", agentID),
	proactivechatv1connect.AgentServiceDeclineChatRequestProcedure: self(domain.AgentPrincipal, "agent_id", agentID),
	proactivechatv1connect.AgentServiceInviteVisitorProcedure:      self(domain.AgentPrincipal, "agent_id", agentID),
	proactivechatv1connect.AgentServiceListLiveChatsProcedure:      siteSupervisor(siteID),
	proactivechatv1connect.AgentServiceListColleaguesProcedure:     self(domain.AgentPrincipal, "agent_id", agentID),
	// The messages visitors left: admins and the agents serving or
	// supervising the site (CanReadSite)
	// (for MarkOfflineMessageHandled the domain checks the message's site).
	proactivechatv1connect.AgentServiceListOfflineMessagesProcedure:       siteReader(siteID),
	proactivechatv1connect.AgentServiceMarkOfflineMessageHandledProcedure: as(domain.AdminPrincipal, domain.AgentPrincipal),

	proactivechatv1connect.ChatServiceSendMessageProcedure:       participant("sender_id", senderID),
	proactivechatv1connect.ChatServiceSetTypingProcedure:         participant("sender_id", senderID),
	proactivechatv1connect.ChatServiceLeaveChatProcedure:         participant("participant_id", participantID),
	proactivechatv1connect.ChatServiceListChatsProcedure:         chatLister,
	proactivechatv1connect.ChatServiceGetChatTranscriptProcedure: chatReader(chatID),
	proactivechatv1connect.ChatServiceGetChatProcedure:           chatReader(chatID),
	proactivechatv1connect.ChatServiceListChatEventsProcedure:    chatReader(chatID),
	proactivechatv1connect.ChatServiceWatchChatProcedure:         capped(domain.StreamWatchChat, chatReader(chatID)),
	proactivechatv1connect.ChatServiceConverseProcedure:          capped(domain.StreamConverse, participant("join.participant_id", joinerID)),
	// The domain checks that the supervisor supervises the chat's site.
	proactivechatv1connect.ChatServiceWhisperProcedure:      self(domain.AgentPrincipal, "supervisor_id", supervisorID),
	proactivechatv1connect.ChatServiceListWhispersProcedure: whisperReader(chatID),
	// The chat's visitor only; the domain checks they are.
	proactivechatv1connect.ChatServiceRateChatProcedure:     self(domain.VisitorPrincipal, "visitor_id", visitorID),
	proactivechatv1connect.ChatServiceTransferChatProcedure: self(domain.AgentPrincipal, "from_agent_id", fromAgentID),
	proactivechatv1connect.ChatServiceAddNoteProcedure:      self(domain.AgentPrincipal, "author_id", authorID),
	proactivechatv1connect.ChatServiceListNotesProcedure:    noteReader,
	proactivechatv1connect.ChatServiceWatchNotesProcedure:   capped(domain.StreamWatchChat, noteReader),
}

// adminOrSelf lets admins, and the agent the request names, make the call.
func adminOrSelf(id func(any) string) rule {
	return rule{allow: func(_ context.Context, _ *domain.Service, p domain.Principal, msg any) error {
		if err := needKind(p, domain.AdminPrincipal, domain.AgentPrincipal); err != nil {
			return err
		}
		if p.Kind == domain.AdminPrincipal {
			return nil
		}
		return sameID(p, "agent_id", id(msg))
	}}
}

// Procedures lists every procedure of the services Mount serves, from
// their descriptors.
func Procedures() []string {
	var out []string
	for _, f := range []protoreflect.FileDescriptor{
		pb.File_proactivechat_v1_admin_service_proto, pb.File_proactivechat_v1_visitor_service_proto,
		pb.File_proactivechat_v1_agent_service_proto, pb.File_proactivechat_v1_chat_service_proto,
	} {
		for i := range f.Services().Len() {
			svc := f.Services().Get(i)
			for j := range svc.Methods().Len() {
				out = append(out, fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name()))
			}
		}
	}
	return out
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p domain.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns who makes the call (Anonymous for open calls).
func principalFrom(ctx context.Context) domain.Principal {
	p, _ := ctx.Value(principalKey{}).(domain.Principal)
	return p
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, "" when there is none.
func bearerToken(h http.Header) (string, error) {
	v := h.Get("Authorization")
	if v == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", domain.Errorf(domain.CodeUnauthenticated, "the Authorization header must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(token), nil
}

// authorizer is the interceptor enforcing rules.
type authorizer struct {
	svc *domain.Service
	log *slog.Logger
}

// NewAuthorizer returns the interceptor that authenticates every call and
// enforces who may make it. Install it before any other interceptor.
func NewAuthorizer(svc *domain.Service, log *slog.Logger) connect.Interceptor {
	return &authorizer{svc: svc, log: log}
}

func (a *authorizer) ruleFor(procedure string) (rule, error) {
	r, ok := rules[procedure]
	if !ok {
		// A procedure added without a rule is nobody's.
		return rule{}, domain.Errorf(domain.CodePermissionDenied, "%s has no access rule", procedure)
	}
	return r, nil
}

func (a *authorizer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		r, err := a.ruleFor(req.Spec().Procedure)
		if err != nil {
			return nil, toConnectError(ctx, a.log, err)
		}
		if r.open {
			return next(ctx, req)
		}
		token, err := bearerToken(req.Header())
		if err != nil {
			return nil, toConnectError(ctx, a.log, err)
		}
		p, err := a.svc.Authenticate(ctx, token)
		if err != nil {
			return nil, toConnectError(ctx, a.log, err)
		}
		if err := r.allow(ctx, a.svc, p, req.Any()); err != nil {
			return nil, toConnectError(ctx, a.log, err)
		}
		return next(withPrincipal(ctx, p), req)
	}
}

func (a *authorizer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler authenticates a stream when it opens and authorizes
// its first request message when it arrives. Until the stream ends it
// follows its principal's rights: it ends with Unauthenticated when its
// credential is revoked or expires, and, when the principal's rights change
// (an agent's sites), checks the first message again by the same rule and
// ends with PermissionDenied if it is no longer allowed, sending nothing
// more in between.
func (a *authorizer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		r, err := a.ruleFor(conn.Spec().Procedure)
		if err != nil {
			return toConnectError(ctx, a.log, err)
		}
		if r.open {
			return next(ctx, conn)
		}
		token, err := bearerToken(conn.RequestHeader())
		if err != nil {
			return toConnectError(ctx, a.log, err)
		}
		grant, err := a.svc.AuthenticateStream(ctx, token)
		if err != nil {
			return toConnectError(ctx, a.log, err)
		}
		defer grant.Release()
		p := grant.Principal
		bound := withPrincipal(grant.Context(), p)
		// A capped stream counts from when its first message is allowed
		// until the handler returns: a stream the rule refuses is never
		// counted, and is told PermissionDenied, not ResourceExhausted.
		var closeStream func()
		defer func() {
			if closeStream != nil {
				closeStream()
			}
		}()
		err = next(bound, &authorizedConn{StreamingHandlerConn: conn, ctx: bound, log: a.log, grant: grant,
			check: func(msg any) func() error {
				// msg is kept for the stream's life: the handlers only
				// read their request messages.
				return func() error { return r.allow(bound, a.svc, p, msg) }
			},
			count: func() error {
				if r.stream == 0 {
					return nil
				}
				var err error
				closeStream, err = a.svc.OpenStream(p, r.stream)
				return err
			}})
		// A stream cut because its credential or its rights went says so,
		// rather than looking cancelled.
		if cause := context.Cause(bound); ctx.Err() == nil && bound.Err() != nil && !errors.Is(cause, context.Canceled) {
			return toConnectError(ctx, a.log, cause)
		}
		return err
	}
}

// authorizedConn checks the first request message of a stream: it names
// who the stream is for (later ones of Converse do not). It sends only
// while the grant allows.
type authorizedConn struct {
	connect.StreamingHandlerConn
	ctx   context.Context
	log   *slog.Logger
	grant *domain.StreamGrant
	check func(msg any) func() error
	// count takes the stream's place under its credential's cap, once its
	// first message is allowed.
	count   func() error
	checked bool
}

func (c *authorizedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	if c.checked {
		return nil
	}
	c.checked = true
	if err := c.grant.Authorize(c.check(msg)); err != nil {
		return toConnectError(c.ctx, c.log, err)
	}
	return toConnectError(c.ctx, c.log, c.count())
}

func (c *authorizedConn) Send(msg any) error {
	if err := c.grant.Allowed(); err != nil {
		return toConnectError(c.ctx, c.log, err)
	}
	return c.StreamingHandlerConn.Send(msg)
}
