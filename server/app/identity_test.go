package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestVisitorIdentity: the page says who the visitor is, verified with
// the site's identity secret; agents see it in presence, admins in the
// export; a wrong hash is refused naming the field; and a later
// IdentifyVisitor reaches the agents' presence stream.
func TestVisitorIdentity(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shop", enabledWithoutInvite())
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
		presence, _ := openPresenceStream(t, ctx, c, agent.GetId())

		secret := must[*pb.RotateSiteIdentitySecretResponse](t, "RotateSiteIdentitySecret")(c.RotateSiteIdentitySecret(ctx,
			&pb.RotateSiteIdentitySecretRequest{SiteId: site.GetId()})).GetSecret()
		if got := must[*pb.GetSiteIdentitySecretResponse](t, "GetSiteIdentitySecret")(c.GetSiteIdentitySecret(ctx,
			&pb.GetSiteIdentitySecretRequest{SiteId: site.GetId()})).GetSecret(); got != secret {
			t.Fatalf("GetSiteIdentitySecret = %q, want the rotated %q", got, secret)
		}
		// What the site's backend computes.
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("u-42"))
		hash := hex.EncodeToString(mac.Sum(nil))
		// A wrong hash: the right one with its last digit changed (a fixed
		// suffix would be the right hash once in 256 secrets).
		wrong := hash[:63] + map[bool]string{true: "1", false: "0"}[hash[63] == '0']

		_, err := c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId(),
			Identity: &pb.VisitorIdentity{Name: "Jane Doe", ExternalId: "u-42", IdentityHash: wrong}})
		wantCode(t, err, connect.CodeInvalidArgument)
		if fields := badRequestFields(err); !slices.Equal(fields, []string{"identity.identity_hash"}) {
			t.Fatalf("BadRequest fields %v, want identity.identity_hash", fields)
		}
		_, err = c.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId(),
			Identity: &pb.VisitorIdentity{Attributes: map[string]string{"Plan": "pro"}}})
		if fields := badRequestFields(err); !slices.Equal(fields, []string{`identity.attributes["Plan"]`}) {
			t.Fatalf("BadRequest fields %v (%v), want identity.attributes[\"Plan\"]", fields, err)
		}

		want := &pb.VisitorIdentity{Name: "Jane Doe", Email: "jane@example.com", ExternalId: "u-42",
			Attributes: map[string]string{"plan": "pro", "orders": "3"}, Verified: true}
		claim := &pb.VisitorIdentity{Name: want.Name, Email: want.Email, ExternalId: want.ExternalId, Attributes: want.Attributes,
			IdentityHash: hash, Verified: false}
		session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(c.StartVisitorSession(ctx,
			&pb.StartVisitorSessionRequest{SiteId: site.GetId(), Identity: claim}))
		vid := session.GetVisitor().GetId()
		protoEqual(t, "session's identity", session.GetVisitor().GetIdentity(), want)
		openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: vid, PageUrl: page1})

		arrived := recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
			return m.GetArrived().GetVisitorId() == vid
		}).GetArrived()
		protoEqual(t, "presence's identity", arrived.GetIdentity(), want)
		online := must[*pb.ListOnlineVisitorsResponse](t, "ListOnlineVisitors")(c.ListOnlineVisitors(ctx,
			&pb.ListOnlineVisitorsRequest{SiteId: site.GetId()})).GetVisitors()
		if len(online) != 1 {
			t.Fatalf("online = %v, want the visitor", online)
		}
		protoEqual(t, "ListOnlineVisitors' identity", online[0].GetIdentity(), want)
		x := must[*pb.ExportVisitorResponse](t, "ExportVisitor")(c.ExportVisitor(ctx, &pb.ExportVisitorRequest{VisitorId: vid}))
		protoEqual(t, "exported identity", x.GetVisitor().GetIdentity(), want)

		// The visitor signs out and in as someone else, without verification.
		later := must[*pb.IdentifyVisitorResponse](t, "IdentifyVisitor")(c.IdentifyVisitor(ctx, &pb.IdentifyVisitorRequest{
			VisitorId: vid, Identity: &pb.VisitorIdentity{Name: "Guest", Verified: true}})).GetVisitor().GetIdentity()
		protoEqual(t, "identity after IdentifyVisitor", later, &pb.VisitorIdentity{Name: "Guest"})
		recvUntil(t, presence, func(m *pb.WatchPresenceResponse) bool {
			return m.GetChanged().GetVisitorId() == vid && m.GetChanged().GetIdentity().GetName() == "Guest"
		})
	})
}
