package app_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestAgentLogins: agents sign in with an e-mail address or a login name
// an admin gave them, unique among agents, instead of their generated id;
// an unknown login fails exactly like a wrong password.
func TestAgentLogins(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		dana := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Dana", Login: "Dana@Shop.example"})).GetAgent()
		if dana.GetLogin() != "Dana@Shop.example" {
			t.Fatalf("created agent's login is %q", dana.GetLogin())
		}
		must[*pb.SetAgentPasswordResponse](t, "SetAgentPassword")(c.SetAgentPassword(ctx, &pb.SetAgentPasswordRequest{AgentId: dana.GetId(), Password: "correct horse"}))
		signIn := func(login, password string) (*pb.SignInResponse, error) {
			return c.SignIn(ctx, &pb.SignInRequest{Login: login, Password: password})
		}

		t.Run("OK", func(t *testing.T) {
			res := must[*pb.SignInResponse](t, "SignIn")(signIn("dana@shop.EXAMPLE", "correct horse"))
			if res.GetAgent().GetId() != dana.GetId() || res.GetToken() == "" {
				t.Fatalf("signed in as %q with token %q, want %q and a token", res.GetAgent().GetId(), res.GetToken(), dana.GetId())
			}
			// By id still works (the README's walkthrough).
			must[*pb.SignInResponse](t, "SignIn by id")(c.SignIn(ctx, &pb.SignInRequest{AgentId: dana.GetId(), Password: "correct horse"}))
		})

		t.Run("ErrUnknownLoginLikeWrongPassword", func(t *testing.T) {
			_, wrong := signIn("dana@shop.example", "wrong horse")
			wantUnauthenticated(t, "wrong password", wrong)
			_, unknown := signIn("nobody@shop.example", "correct horse")
			wantUnauthenticated(t, "unknown login", unknown)
			if errorMessage(wrong) != errorMessage(unknown) {
				t.Errorf("a wrong password (%q) and an unknown login (%q) are told apart", errorMessage(wrong), errorMessage(unknown))
			}
		})

		t.Run("ErrLoginRequired", func(t *testing.T) {
			_, err := signIn("", "correct horse")
			wantCode(t, err, connect.CodeInvalidArgument)
			if f := badRequestFields(err); len(f) != 1 || f[0] != "login" {
				t.Errorf("fields %v, want [login]", f)
			}
		})

		t.Run("ErrLoginTaken", func(t *testing.T) {
			_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Other Dana", Login: "DANA@shop.example"})
			wantCode(t, err, connect.CodeAlreadyExists)
			eli := must[*pb.CreateAgentResponse](t, "CreateAgent")(c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Eli", Login: "eli"})).GetAgent()
			_, err = c.UpdateAgent(ctx, &pb.UpdateAgentRequest{
				Agent:      &pb.Agent{Id: eli.GetId(), Login: "dana@shop.example"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"login"}},
			})
			wantCode(t, err, connect.CodeAlreadyExists)
		})

		t.Run("ErrLoginTakenConcurrently", func(t *testing.T) {
			// Created at once by several admins: exactly one agent gets it.
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := range 8 {
				wg.Go(func() {
					_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: fmt.Sprint("Twin ", i), Login: "twin@shop.example"})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			won := 0
			for err := range errs {
				switch connect.CodeOf(err) {
				case connect.CodeAlreadyExists:
				default:
					if err != nil {
						t.Fatal(err)
					}
					won++
				}
			}
			if won != 1 {
				t.Errorf("%d agents got the same login, want 1", won)
			}
		})

		t.Run("ErrLoginInvalid", func(t *testing.T) {
			for _, login := range []string{"a b", "x", "Dana <dana@shop.example>", "dana@"} {
				_, err := c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Fay", Login: login})
				wantCode(t, err, connect.CodeInvalidArgument)
				if f := badRequestFields(err); len(f) != 1 || f[0] != "login" {
					t.Errorf("login %q: fields %v, want [login]", login, f)
				}
			}
		})

		t.Run("ChangedLogin", func(t *testing.T) {
			must[*pb.UpdateAgentResponse](t, "UpdateAgent")(c.UpdateAgent(ctx, &pb.UpdateAgentRequest{
				Agent:      &pb.Agent{Id: dana.GetId(), Login: "dana.k"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"login"}},
			}))
			_, err := signIn("dana@shop.example", "correct horse")
			wantUnauthenticated(t, "the old login", err)
			must[*pb.SignInResponse](t, "SignIn with the new login")(signIn("Dana.K", "correct horse"))
			// The old login is free for another agent now.
			must[*pb.CreateAgentResponse](t, "CreateAgent with the freed login")(c.CreateAgent(ctx, &pb.CreateAgentRequest{DisplayName: "Gus", Login: "dana@shop.example"}))
		})
	})
}

// TestQueueEntryNamesAlertedAgent: a colleague's console shows whom a
// queued visitor is alerting by name, not by id.
func TestQueueEntryNamesAlertedAgent(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)
		site := createSite(t, ctx, c, "Shop", enabledWithoutInvite())
		agent := createAvailableAgent(t, ctx, c, "Dana Kowalski", site.GetId())
		events, err := c.WatchAgent(ctx, &pb.WatchAgentRequest{AgentId: agent.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(events.Close)
		recvNext(t, events) // the snapshot
		visitorOnline(t, ctx, c, site.GetId(), "https://shop.example/pricing")
		// The launching criteria (30 s on the site) are met; the alert
		// lasts the site's alert timeout from then.
		clock.Advance(30 * time.Second)
		recvUntil(t, events, func(m *pb.WatchAgentResponse) bool { return m.GetAlert() != nil })
		queue := must[*pb.ListQueueResponse](t, "ListQueue")(c.ListQueue(ctx, &pb.ListQueueRequest{SiteId: site.GetId()})).GetChatRequests()
		if len(queue) != 1 || queue[0].GetState() != pb.ChatRequestState_CHAT_REQUEST_STATE_ALERTING {
			t.Fatalf("queue %v, want one alerting entry", queue)
		}
		if got := queue[0].GetAlertedAgentName(); got != "Dana Kowalski" {
			t.Errorf("alerted_agent_name %q, want %q", got, "Dana Kowalski")
		}
	})
}
