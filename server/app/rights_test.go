package app_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// rightsWorld: Eve serves sites A and B; Dana serves A and chats there with
// a visitor; Eve chats with another visitor of A; a third browses B.
type rightsWorld struct {
	siteA, siteB         string
	dana, eve            string
	eveToken             string
	danaChat, eveChat    string
	onA, withEve, onB    string
	raw                  api // calls with the token the test chooses
	withEveStream, bView stream[pb.WatchVisitorResponse]
}

func newRightsWorld(t *testing.T, ctx context.Context, c api) *rightsWorld {
	t.Helper()
	w := &rightsWorld{}
	w.siteA = createSite(t, ctx, c, "Shop A", &pb.ProactiveChatSettings{Enabled: true, Mode: pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE, LaunchAfterSeconds: 3600}).GetId()
	w.siteB = createSite(t, ctx, c, "Shop B", nil).GetId()
	w.dana = createAvailableAgent(t, ctx, c, "Dana", w.siteA).GetId()
	w.eve = createAvailableAgent(t, ctx, c, "Eve", w.siteA, w.siteB).GetId()
	v, _ := visitorOnline(t, ctx, c, w.siteA, "https://shop-a.example/")
	w.onA = v.GetId()
	v, w.withEveStream = visitorOnline(t, ctx, c, w.siteA, "https://shop-a.example/help")
	w.withEve = v.GetId()
	v, w.bView = visitorOnline(t, ctx, c, w.siteB, "https://shop-b.example/")
	w.onB = v.GetId()
	w.danaChat = must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.dana, VisitorId: w.onA})).GetChat().GetId()
	w.eveChat = must[*pb.StartChatResponse](t, "StartChat")(c.StartChat(ctx, &pb.StartChatRequest{AgentId: w.eve, VisitorId: w.withEve})).GetChat().GetId()
	sign := c.(interface{ signer() *signedClient }).signer()
	w.raw = sign.raw
	w.eveToken = tokenFrom(sign.as(ctx, w.eve))
	return w
}

func (w *rightsWorld) setEveSites(t *testing.T, ctx context.Context, c api, siteIDs ...string) {
	t.Helper()
	must[*pb.UpdateAgentResponse](t, "UpdateAgent")(c.UpdateAgent(ctx, &pb.UpdateAgentRequest{
		Agent:      &pb.Agent{Id: w.eve, SiteIds: siteIDs},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"site_ids"}},
	}))
}

// recvEndSkipping reads s until it ends and returns how; it fails on a
// message that skip does not accept.
func recvEndSkipping[T any](t *testing.T, s stream[T], skip func(*T) bool) error {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			return err
		}
		if !isKeepAlive(m) && !skip(m) {
			t.Fatalf("got %v, want the end of the stream", m)
		}
	}
}

// TestOpenStreamsFollowAgentSites: an agent taken off a site by UpdateAgent
// keeps nothing of it on the streams it has open (hardening issue, point 5).
// Its WatchChat of a chat of that site ends with PermissionDenied, as GetChat
// is denied; WatchPresence and WatchAgent start again from a snapshot of its
// sites now; a chat it takes part in goes on, as GetChat still allows.
func TestOpenStreamsFollowAgentSites(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		c := p.newClient(t, srv)
		w := newRightsWorld(t, ctx, c)
		asEve := withToken(ctx, w.eveToken)

		colleagues := openChatStream(t, asEve, w.raw, w.danaChat, 0)
		recvUntil(t, colleagues, func(m *pb.WatchChatResponse) bool { return m.GetChatEvent().GetStarted() != nil })
		own := openChatStream(t, asEve, w.raw, w.eveChat, 0)
		recvUntil(t, own, func(m *pb.WatchChatResponse) bool { return m.GetChatEvent().GetStarted() != nil })
		presence, snap := openPresenceStream(t, asEve, w.raw, w.eve)
		if got := visitorIDs(snap.GetVisitors()); !slices.Contains(got, w.onA) || !slices.Contains(got, w.onB) {
			t.Fatalf("first presence snapshot %v, want the visitors of both sites", got)
		}
		console := must[stream[pb.WatchAgentResponse]](t, "WatchAgent")(w.raw.WatchAgent(asEve, &pb.WatchAgentRequest{AgentId: w.eve}))
		t.Cleanup(console.Close)
		recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil })

		w.setEveSites(t, ctx, c, w.siteB)
		must[*pb.SendMessageResponse](t, "SendMessage")(c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: w.danaChat, SenderId: w.onA, Text: "my order is secret-order-123"}))
		must[*pb.SendMessageResponse](t, "SendMessage")(c.SendMessage(ctx, &pb.SendMessageRequest{ChatId: w.eveChat, SenderId: w.withEve, Text: "still there?"}))

		t.Run("WatchChatOfTheSiteEnds", func(t *testing.T) {
			err := recvEndSkipping(t, colleagues, func(m *pb.WatchChatResponse) bool {
				return m.GetChatEvent().GetMessage() == nil // typing, say; never the message
			})
			wantCode(t, err, connect.CodePermissionDenied)
			_, err = w.raw.GetChat(asEve, &pb.GetChatRequest{ChatId: w.danaChat})
			wantCode(t, err, connect.CodePermissionDenied)
		})
		t.Run("OwnChatGoesOn", func(t *testing.T) {
			recvUntil(t, own, func(m *pb.WatchChatResponse) bool { return m.GetChatEvent().GetMessage().GetText() == "still there?" })
			must[*pb.GetChatResponse](t, "GetChat")(w.raw.GetChat(asEve, &pb.GetChatRequest{ChatId: w.eveChat}))
		})
		t.Run("WatchPresenceNarrows", func(t *testing.T) {
			m := recvNext(t, presence)
			got := visitorIDs(m.GetSnapshot().GetVisitors())
			if m.GetSnapshot() == nil || slices.Contains(got, w.onA) || slices.Contains(got, w.withEve) || !slices.Contains(got, w.onB) {
				t.Fatalf("after leaving site A got %v, want a snapshot of site B only", m)
			}
			// Site A's pages are not sent: site B's, viewed after, comes first.
			must[*pb.ReportPageViewResponse](t, "ReportPageView")(c.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: w.onA, Url: "https://shop-a.example/account/secret-order-123"}))
			must[*pb.ReportPageViewResponse](t, "ReportPageView")(c.ReportPageView(ctx, &pb.ReportPageViewRequest{VisitorId: w.onB, Url: "https://shop-b.example/next"}))
			m = recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool { return m.GetChanged() != nil })
			if id := m.GetChanged().GetVisitorId(); id != w.onB {
				t.Fatalf("got a change of %s (%s), want only site B's", id, m.GetChanged().GetCurrentPage().GetUrl())
			}
		})
		t.Run("WatchAgentSnapshotsAgain", func(t *testing.T) {
			m := recvUntil(t, console, func(m *pb.WatchAgentResponse) bool { return m.GetSnapshot() != nil })
			if got := m.GetSnapshot().GetAgent().GetSiteIds(); !slices.Equal(got, []string{w.siteB}) {
				t.Fatalf("console snapshot of sites %v, want [%s]", got, w.siteB)
			}
		})
	})
}

func visitorIDs(vs []*pb.VisitorPresence) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.GetVisitorId())
	}
	return out
}

// TestOpenStreamsEndWithTheirCredential: revoking an agent's sessions ends
// every stream opened with them, Converse included, and revoking an API key
// ends the streams opened with it, at once and with Unauthenticated.
func TestOpenStreamsEndWithTheirCredential(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		c := p.newClient(t, srv)
		w := newRightsWorld(t, ctx, c)
		asEve := withToken(ctx, w.eveToken)

		chat := openChatStream(t, asEve, w.raw, w.danaChat, 0)
		recvNext(t, chat)
		presence, _ := openPresenceStream(t, asEve, w.raw, w.eve)
		var conv conversation
		if cv, ok := w.raw.(converser); ok {
			conv = must[conversation](t, "Converse")(cv.Converse(asEve))
			t.Cleanup(conv.Close)
			if err := conv.Send(&pb.ConverseRequest{CommandId: "join", Command: &pb.ConverseRequest_Join{Join: &pb.ConverseJoin{ChatId: w.eveChat, ParticipantId: w.eve}}}); err != nil {
				t.Fatal(err)
			}
			if m, err := conv.Recv(); err != nil || m.GetResult().GetErrorCode() != "" {
				t.Fatalf("join: %v %v", m, err)
			}
		}
		key := must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "integration"}))
		byKey := openChatStream(t, withToken(ctx, key.GetKey()), w.raw, w.danaChat, 0)
		recvNext(t, byKey)

		must[*pb.RevokeAgentSessionsResponse](t, "RevokeAgentSessions")(c.RevokeAgentSessions(ctx, &pb.RevokeAgentSessionsRequest{AgentId: w.eve}))
		notAMessage := func(m *pb.WatchChatResponse) bool { return m.GetChatEvent().GetMessage() == nil }
		wantCode(t, recvEndSkipping(t, chat, notAMessage), connect.CodeUnauthenticated)
		wantCode(t, recvEndSkipping(t, presence, func(*pb.WatchPresenceResponse) bool { return true }), connect.CodeUnauthenticated)
		if conv != nil {
			wantCode(t, recvEndSkipping(t, conv, func(m *pb.ConverseResponse) bool { return m.GetChatEvent().GetMessage() == nil }), connect.CodeUnauthenticated)
		}

		must[*pb.RevokeApiKeyResponse](t, "RevokeApiKey")(c.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: key.GetApiKey().GetId()}))
		wantCode(t, recvEndSkipping(t, byKey, notAMessage), connect.CodeUnauthenticated)
	})
}
