package proactivechat_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

func ExampleDialConnect() {
	srv, err := sharedServer() // the server, in process; yours is at its URL
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c := proactivechat.DialConnect(srv.url, srv.key) // the admin API key, "pca_…"

	res, err := c.Admin.CreateSite(ctx, connect.NewRequest(&pb.CreateSiteRequest{
		Name:           "Shoe shop",
		AllowedOrigins: []string{"https://shoes.example"},
	}))
	if err != nil {
		log.Fatal(err)
	}
	site, err := c.Admin.GetSite(ctx, connect.NewRequest(&pb.GetSiteRequest{SiteId: res.Msg.GetSite().GetId()}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(site.Msg.GetSite().GetName(), site.Msg.GetSite().GetAllowedOrigins())

	// An invalid request: the error says which field and why.
	_, err = c.Admin.CreateSite(ctx, connect.NewRequest(&pb.CreateSiteRequest{}))
	if e, ok := proactivechat.AsError(err); ok {
		for _, v := range e.FieldViolations {
			fmt.Println(e.Code, v.Field)
		}
	}
	// Output:
	// Shoe shop [https://shoes.example]
	// invalid_argument name
}

func ExampleDialGRPC() {
	srv, err := sharedServer()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// host:port; TLS unless the target is on loopback or WithInsecure.
	c, err := proactivechat.DialGRPC(srv.addr, srv.key)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	res, err := c.Admin.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Hat shop"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.GetSite().GetName())

	_, err = c.Admin.GetSite(ctx, &pb.GetSiteRequest{})
	if e, ok := proactivechat.AsError(err); ok {
		fmt.Println(e.Code, e.FieldViolations)
	}
	// Output:
	// Hat shop
	// invalid_argument [{site_id is required}]
}

func ExampleClient_Events() {
	srv, err := sharedServer()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := proactivechat.DialConnect(srv.url, srv.key)

	// Where to start: here the log's end; in an application, the position
	// of the last event it handled, kept in its own database.
	page, err := admin.Admin.ListEvents(ctx, connect.NewRequest(&pb.ListEventsRequest{PageSize: 1000}))
	if err != nil {
		log.Fatal(err)
	}
	for page.Msg.GetHasMore() {
		page, err = admin.Admin.ListEvents(ctx, connect.NewRequest(&pb.ListEventsRequest{After: page.Msg.GetNextAfter(), PageSize: 1000}))
		if err != nil {
			log.Fatal(err)
		}
	}
	last := page.Msg.GetNextAfter()

	// Something happens: an agent signs in and becomes available, then away.
	agent, err := admin.Admin.CreateAgent(ctx, connect.NewRequest(&pb.CreateAgentRequest{DisplayName: "Dana"}))
	if err != nil {
		log.Fatal(err)
	}
	agentID := agent.Msg.GetAgent().GetId()
	session, err := admin.Admin.CreateAgentSession(ctx, connect.NewRequest(&pb.CreateAgentSessionRequest{AgentId: agentID}))
	if err != nil {
		log.Fatal(err)
	}
	dana := proactivechat.DialConnect(srv.url, session.Msg.GetToken())
	for _, st := range []pb.AgentStatus{pb.AgentStatus_AGENT_STATUS_AVAILABLE, pb.AgentStatus_AGENT_STATUS_AWAY} {
		if _, err := dana.Agent.SetAgentStatus(ctx, connect.NewRequest(&pb.SetAgentStatusRequest{AgentId: agentID, Status: st})); err != nil {
			log.Fatal(err)
		}
	}

	// Events reconnects and resumes after last by itself.
	seen := 0
	for ev, err := range admin.Events(ctx, last, proactivechat.WithTypes("agent.status_changed")) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.GetAgentStatusChanged().GetAgentId() != agentID {
			continue
		}
		fmt.Println(ev.GetType(), ev.GetAgentStatusChanged().GetStatus())
		last = ev.GetPosition() // persist it: the next run resumes from it
		if seen++; seen == 2 {
			break
		}
	}
	// Output:
	// agent.status_changed AGENT_STATUS_AVAILABLE
	// agent.status_changed AGENT_STATUS_AWAY
}

func ExampleVerifyWebhook() {
	// The endpoint's secret, as the server showed it when the endpoint was
	// made.
	const secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

	// A delivery, signed here as the server signs it.
	body := []byte(`{"type":"agent.status_changed","timestamp":"2030-01-02T09:00:00Z",` +
		`"data":{"position":"7","id":"ev_7","type":"agent.status_changed","agentStatusChanged":{"agentId":"ag_1","status":"AGENT_STATUS_AWAY"}}}`)
	sentAt := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	wh, _ := standardwebhooks.NewWebhook(secret)
	sig, _ := wh.Sign("msg_1", sentAt, body)
	r, _ := http.NewRequest("POST", "https://shop.example/hooks/proactivechat", nil)
	r.Header.Set("webhook-id", "msg_1")
	r.Header.Set("webhook-timestamp", strconv.FormatInt(sentAt.Unix(), 10))
	r.Header.Set("webhook-signature", sig)

	// In the handler: verify the raw body (pass time.Now()), then decode.
	now := sentAt.Add(3 * time.Second)
	if err := proactivechat.VerifyWebhook(secret, r.Header, body, now); err != nil {
		fmt.Println("rejected:", err) // answer 400 and ignore it
		return
	}
	hook, err := proactivechat.ParseWebhook(body)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println(hook.Type, hook.Event.GetPosition(), hook.Event.GetAgentStatusChanged().GetStatus())

	// A body changed on the way, or a replay after five minutes, is not.
	fmt.Println(proactivechat.VerifyWebhook(secret, r.Header, append(body, ' '), now))
	fmt.Println(proactivechat.VerifyWebhook(secret, r.Header, body, sentAt.Add(time.Hour)))
	// Output:
	// agent.status_changed 7 AGENT_STATUS_AWAY
	// proactivechat: no matching webhook signature
	// proactivechat: webhook timestamp outside the tolerance: 1h0m0s off
}
