package app_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// listEventsWith reads the whole log with ListEvents as ctx's caller.
func listEventsWith(t *testing.T, ctx context.Context, c api, req *pb.ListEventsRequest) []*pb.Event {
	t.Helper()
	var out []*pb.Event
	for {
		res := must[*pb.ListEventsResponse](t, "ListEvents")(c.ListEvents(ctx, req))
		out = append(out, res.GetEvents()...)
		if !res.GetHasMore() {
			return out
		}
		req = proto.CloneOf(req)
		req.After = res.GetNextAfter()
	}
}

// TestScopedAPIKey: over every protocol, a key scoped to site A lists and
// watches only A's events, at the log's own positions, and only A's chats;
// naming site B, or B's chat, is PermissionDenied.
func TestScopedAPIKey(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		raw := rawClientFor(t, p, srv)
		ctx := testContext(t)

		a := newWorld(t, ctx, c, enabledWithoutInvite())
		b := newWorld(t, ctx, c, enabledWithoutInvite())
		chatA, chatB := a.startChat(t, ctx, c), b.startChat(t, ctx, c)
		send(t, ctx, c, chatA.GetId(), a.visitor.GetId(), "Hello A")
		send(t, ctx, c, chatB.GetId(), b.visitor.GetId(), "Hello B")

		res := must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "Brand A", SiteIds: []string{a.site.GetId()}}))
		if got := res.GetApiKey().GetSiteIds(); !slices.Equal(got, []string{a.site.GetId()}) {
			t.Fatalf("key's site_ids = %v, want [%s]", got, a.site.GetId())
		}
		_, err := c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "Nowhere", SiteIds: []string{"site_missing"}})
		wantCode(t, err, connect.CodeInvalidArgument)
		kctx := withToken(ctx, res.GetKey())

		// Events: A's only, where the whole log has them.
		all := listEventsWith(t, ctx, c, &pb.ListEventsRequest{})
		var wantA []*pb.Event
		for _, ev := range all {
			if ev.GetSiteId() == a.site.GetId() {
				wantA = append(wantA, ev)
			}
		}
		got := listEventsWith(t, kctx, raw, &pb.ListEventsRequest{PageSize: 2})
		if len(got) != len(wantA) || len(got) == len(all) {
			t.Fatalf("scoped ListEvents = %v, want the %d of site A's of %d", eventTypes(got), len(wantA), len(all))
		}
		for i := range got {
			if !proto.Equal(got[i], wantA[i]) {
				t.Fatalf("scoped event %d = %v, want %v", i, got[i], wantA[i])
			}
		}
		_, err = raw.ListEvents(kctx, &pb.ListEventsRequest{SiteId: b.site.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)
		wantCode(t, firstMessage(raw.WatchEvents(kctx, &pb.WatchEventsRequest{SiteId: b.site.GetId()})), connect.CodePermissionDenied)

		// WatchEvents: the backlog of A, then live events of A; B's skipped.
		watch := must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(raw.WatchEvents(kctx, &pb.WatchEventsRequest{}))
		defer watch.Close()
		for _, want := range wantA {
			if ev := nextEvent(t, watch); !proto.Equal(ev, want) {
				t.Fatalf("watched backlog event = %v, want %v", ev, want)
			}
		}
		send(t, ctx, c, chatB.GetId(), b.agent.GetId(), "Only B")
		send(t, ctx, c, chatA.GetId(), a.agent.GetId(), "Only A")
		last := all[len(all)-1].GetPosition()
		if ev := nextEvent(t, watch); ev.GetChatMessage().GetText() != "Only A" || ev.GetPosition() != last+2 {
			t.Fatalf("live event = %v, want A's message at the log's position %d", ev, last+2)
		}

		// Chats: A's only.
		chats := must[*pb.ListChatsResponse](t, "ListChats")(raw.ListChats(kctx, &pb.ListChatsRequest{}))
		if len(chats.GetChats()) != 1 || chats.GetChats()[0].GetChat().GetId() != chatA.GetId() {
			t.Fatalf("scoped ListChats = %v, want only %s", chats.GetChats(), chatA.GetId())
		}
		_, err = raw.ListChats(kctx, &pb.ListChatsRequest{SiteId: b.site.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)
		must[*pb.GetChatTranscriptResponse](t, "GetChatTranscript")(raw.GetChatTranscript(kctx, &pb.GetChatTranscriptRequest{ChatId: chatA.GetId()}))
		_, err = raw.GetChatTranscript(kctx, &pb.GetChatTranscriptRequest{ChatId: chatB.GetId()})
		wantCode(t, err, connect.CodePermissionDenied)

		// Sites: A's only; no new ones.
		sites := must[*pb.ListSitesResponse](t, "ListSites")(raw.ListSites(kctx, &pb.ListSitesRequest{}))
		if len(sites.GetSites()) != 1 || sites.GetSites()[0].GetId() != a.site.GetId() {
			t.Fatalf("scoped ListSites = %v, want only %s", sites.GetSites(), a.site.GetId())
		}
		_, err = raw.CreateSite(kctx, &pb.CreateSiteRequest{Name: "Brand C"})
		wantCode(t, err, connect.CodePermissionDenied)
	})
}
