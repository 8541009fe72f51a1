package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// wantUnauthenticated fails unless err is Unauthenticated.
func wantUnauthenticated(t *testing.T, what string, err error) {
	t.Helper()
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("%s: %v, want unauthenticated", what, err)
	}
}

// streamEndsUnauthenticated reads s until it ends and wants Unauthenticated.
func streamEndsUnauthenticated[T any](t *testing.T, what string, s stream[T]) {
	t.Helper()
	for {
		if _, err := s.Recv(); err != nil {
			wantUnauthenticated(t, what, err)
			return
		}
	}
}

// TestAgentSessions: signing in, signing out, expiry, revocation and a
// password change, each ending the session's calls and its open streams.
func TestAgentSessions(t *testing.T) {
	srv, clock := newServer(t)
	ctx := testContext(t)
	c := newConnectClient(t, srv)
	raw := rawConnectClient(t, srv)
	site := createSite(t, ctx, c, "Shop", nil)
	agent := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Dana", SiteIds: []string{site.GetId()}})).GetAgent()
	must[*pb.SetAgentPasswordResponse](t, "SetAgentPassword")(c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: agent.GetId(), Password: "correct horse"}))

	signIn := func(password string) (string, error) {
		res, err := raw.SignIn(ctx, &pb.SignInRequest{AgentId: agent.GetId(), Password: password})
		return res.GetToken(), err
	}
	getSelf := func(token string) error {
		_, err := raw.GetAgent(withToken(ctx, token), &pb.GetAgentRequest{AgentId: agent.GetId()})
		return err
	}
	watch := func(token string) stream[pb.WatchAgentResponse] {
		t.Helper()
		s, err := raw.WatchAgent(withToken(ctx, token), &pb.WatchAgentRequest{AgentId: agent.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if recvNext(t, s).GetSnapshot() == nil {
			t.Fatal("WatchAgent did not start with a snapshot")
		}
		return s
	}

	t.Run("WrongCredentials", func(t *testing.T) {
		_, err := signIn("wrong horse")
		wantUnauthenticated(t, "wrong password", err)
		_, err2 := raw.SignIn(ctx, &pb.SignInRequest{AgentId: "agent_nobody", Password: "correct horse"})
		wantUnauthenticated(t, "unknown agent", err2)
		if errorMessage(err) != errorMessage(err2) {
			t.Errorf("a wrong password (%q) and an unknown agent (%q) are told apart", errorMessage(err), errorMessage(err2))
		}
		_, err = raw.GetAgent(ctx, &pb.GetAgentRequest{AgentId: agent.GetId()})
		wantUnauthenticated(t, "no credentials", err)
		req := connect.NewRequest(&pb.GetAgentRequest{AgentId: agent.GetId()})
		req.Header().Set("Authorization", "Basic ZGFuYTpwdw==")
		_, err = srvConnectAdmin(t, srv).GetAgent(ctx, req)
		wantUnauthenticated(t, "Basic credentials", err)
	})

	t.Run("SignOut", func(t *testing.T) {
		token := must[string](t, "SignIn")(signIn("correct horse"))
		if !strings.HasPrefix(token, "pcs_") {
			t.Fatalf("session token %q lacks its pcs_ prefix", token)
		}
		if err := getSelf(token); err != nil {
			t.Fatal(err)
		}
		s := watch(token)
		if _, err := raw.SignOut(withToken(ctx, token), &pb.SignOutRequest{}); err != nil {
			t.Fatal(err)
		}
		streamEndsUnauthenticated(t, "WatchAgent after signing out", s)
		wantUnauthenticated(t, "a call after signing out", getSelf(token))
	})

	t.Run("Expiry", func(t *testing.T) {
		res := must[*pb.CreateAgentSessionResponse](t, "CreateAgentSession")(c.CreateAgentSession(ctx, &pb.CreateAgentSessionRequest{AgentId: agent.GetId(), Ttl: durationpb.New(time.Hour)}))
		if got := res.GetSession().GetExpireTime().AsTime().Sub(clock.Now()); got != time.Hour {
			t.Fatalf("session expires in %v, want 1h", got)
		}
		s := watch(res.GetToken())
		clock.Advance(59 * time.Minute)
		if err := getSelf(res.GetToken()); err != nil {
			t.Fatalf("a minute before expiry: %v", err)
		}
		clock.Advance(time.Minute)
		streamEndsUnauthenticated(t, "WatchAgent at expiry", s)
		wantUnauthenticated(t, "a call after expiry", getSelf(res.GetToken()))
	})

	t.Run("RevokeAndPasswordChange", func(t *testing.T) {
		one := must[string](t, "SignIn")(signIn("correct horse"))
		two := must[string](t, "SignIn")(signIn("correct horse"))
		s := watch(one)
		n := must[*pb.RevokeAgentSessionsResponse](t, "RevokeAgentSessions")(c.RevokeAgentSessions(ctx, &pb.RevokeAgentSessionsRequest{AgentId: agent.GetId()}))
		if n.GetRevoked() < 2 {
			t.Errorf("revoked %d sessions, want at least the 2 open", n.GetRevoked())
		}
		streamEndsUnauthenticated(t, "WatchAgent after revocation", s)
		wantUnauthenticated(t, "first session after revocation", getSelf(one))
		wantUnauthenticated(t, "second session after revocation", getSelf(two))

		three := must[string](t, "SignIn")(signIn("correct horse"))
		must[*pb.SetAgentPasswordResponse](t, "SetAgentPassword")(c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: agent.GetId(), Password: "battery staple"}))
		wantUnauthenticated(t, "a session after a password change", getSelf(three))
		_, err := signIn("correct horse")
		wantUnauthenticated(t, "the old password", err)
		if _, err := signIn("battery staple"); err != nil {
			t.Fatalf("the new password: %v", err)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		_, err := c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: agent.GetId(), Password: "short"})
		wantCode(t, err, connect.CodeInvalidArgument)
		if !slices.Contains(badRequestFields(err), "password") {
			t.Errorf("fields %v, want password", badRequestFields(err))
		}
		_, err = c.CreateAgentSession(ctx, &pb.CreateAgentSessionRequest{AgentId: agent.GetId(), Ttl: durationpb.New(31 * 24 * time.Hour)})
		wantCode(t, err, connect.CodeInvalidArgument)
		if !slices.Contains(badRequestFields(err), "ttl") {
			t.Errorf("fields %v, want ttl", badRequestFields(err))
		}
		_, err = c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: "agent_nobody", Password: "long enough"})
		wantCode(t, err, connect.CodeNotFound)
	})
}

// srvConnectAdmin is a bare Connect AdminService client, for hand-made
// headers.
func srvConnectAdmin(t *testing.T, srv *testServer) interface {
	GetAgent(context.Context, *connect.Request[pb.GetAgentRequest]) (*connect.Response[pb.GetAgentResponse], error)
} {
	return rawConnectClient(t, srv).(*connectClient).admin
}

// TestAPIKeys: keys are shown once, listed without secrets, revocable
// (at once), and the last one cannot be revoked.
func TestAPIKeys(t *testing.T) {
	srv, clock := newServer(t)
	ctx := testContext(t)
	c := newRESTClient(t, srv)
	raw := rawRESTClient(t, srv)
	initial := adminKey(t, srv.App)
	if !strings.HasPrefix(initial, "pca_") {
		t.Fatalf("initial key %q lacks its pca_ prefix", initial)
	}
	clock.Advance(time.Second)
	created := must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "CRM sync"}))
	crm := created.GetKey()
	if _, err := raw.ListSites(withToken(ctx, crm), &pb.ListSitesRequest{}); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	keys := must[*pb.ListApiKeysResponse](t, "ListApiKeys")(c.ListApiKeys(ctx, &pb.ListApiKeysRequest{})).GetApiKeys()
	var names []string
	for _, k := range keys {
		names = append(names, k.GetName())
	}
	if !slices.Equal(names, []string{"initial", "CRM sync"}) {
		t.Fatalf("keys %v, want initial and CRM sync, oldest first", names)
	}
	_, err := c.CreateApiKey(ctx, &pb.CreateApiKeyRequest{})
	wantCode(t, err, connect.CodeInvalidArgument)

	// Revoked with the initial key: the CRM key stops working at once.
	must[*pb.RevokeApiKeyResponse](t, "RevokeApiKey")(c.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: created.GetApiKey().GetId()}))
	_, err = raw.ListSites(withToken(ctx, crm), &pb.ListSitesRequest{})
	wantUnauthenticated(t, "a revoked key", err)
	_, err = c.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: keys[0].GetId()})
	wantCode(t, err, connect.CodeFailedPrecondition)
	_, err = c.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: "key_none"})
	wantCode(t, err, connect.CodeNotFound)

	// A restart keeps the keys and makes no new one.
	if err := srv.shutdown(); err != nil {
		t.Fatal(err)
	}
	again := startServer(t, srv.Store.Path(), clock)
	if again.InitialAPIKey != "" {
		t.Fatal("a restart made another initial key")
	}
	if _, err := rawRESTClient(t, again).ListSites(withToken(ctx, initial), &pb.ListSitesRequest{}); err != nil {
		t.Fatalf("the initial key after a restart: %v", err)
	}
}

// TestVisitorToken: a visitor's token is the key to that visitor only, and
// erasing the visitor voids it.
func TestVisitorToken(t *testing.T) {
	srv, _ := newServer(t)
	ctx := testContext(t)
	c := newGRPCClient(t, srv)
	raw := rawGRPCClient(t, srv)
	site := createSite(t, ctx, c, "Shop", nil)
	session := must[*pb.StartVisitorSessionResponse](t, "StartVisitorSession")(raw.StartVisitorSession(ctx, &pb.StartVisitorSessionRequest{SiteId: site.GetId()}))
	if !strings.HasPrefix(session.GetToken(), "pcv_") {
		t.Fatalf("visitor token %q lacks its pcv_ prefix", session.GetToken())
	}
	vctx := withToken(ctx, session.GetToken())
	id := session.GetVisitor().GetId()
	if _, err := raw.ReportPageView(vctx, &pb.ReportPageViewRequest{VisitorId: id, Url: "https://shop.example/"}); err != nil {
		t.Fatal(err)
	}
	must[*pb.EraseVisitorResponse](t, "EraseVisitor")(c.EraseVisitor(ctx, &pb.EraseVisitorRequest{VisitorId: id}))
	_, err := raw.ReportPageView(vctx, &pb.ReportPageViewRequest{VisitorId: id, Url: "https://shop.example/"})
	wantUnauthenticated(t, "the token of an erased visitor", err)
}
