package app

import (
	"context"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Demo identifiers: fixed so the README's examples work as written.
const (
	// DemoSiteID runs proactive chat without invite.
	DemoSiteID = "site_demo"
	// DemoInviteSiteID runs proactive chat with invite and a form.
	DemoInviteSiteID = "site_demo_invite"
	DemoAgentID      = "agent_demo"
	// DemoAgentPassword is the demo agent's password, set when the demo
	// agent is created. Demo mode is for trying the product, not for
	// serving anyone.
	DemoAgentPassword = "demo-agent"
	// DemoAgentLogin is the demo agent's e-mail, what it signs in with.
	DemoAgentLogin = "agent@demo.example"
)

// SeedDemo creates the demo sites (proactive chat enabled, one of each
// mode) and the demo agent serving them, unless they exist already; an existing demo is left as the
// user changed it.
//
// origin, the base URL main prints, is the demo sites' one allowed
// origin: it lets a page elsewhere embed the demo's widget from there. The
// demo's own pages need none. The server serves them, and the widget calls
// the server it was loaded from, so its calls are same-origin, which no
// allowed origin restricts (App.cors), whatever name or address the
// browser opened them by. That is why, on a cluster, the demo works
// through every node although the first leader seeds it with its own base
// URL only: each node serves the pages, and a follower passes the
// request's Host on to the leader (TestCluster_EndToEnd,
// DemoThroughEveryNode).
func SeedDemo(ctx context.Context, svc *domain.Service, origin string) error {
	sites := []domain.SiteSpec{{
		ID:             DemoSiteID,
		Name:           "Demo shop (without invite)",
		AllowedOrigins: []string{origin},
		ProactiveChat: domain.ProactiveChatSettings{
			Enabled:            true,
			Mode:               domain.ModeWithoutInvite,
			LaunchAfterSeconds: 10,
		},
	}, {
		ID:             DemoInviteSiteID,
		Name:           "Demo shop (with invite)",
		AllowedOrigins: []string{origin},
		ProactiveChat: domain.ProactiveChatSettings{
			Enabled:            true,
			Mode:               domain.ModeWithInvite,
			LaunchAfterSeconds: 10,
			InviteText:         "Hi! Can we help you find something?",
			FormFields: []domain.FormField{
				{Key: "name", Label: "Your name", Type: domain.FieldText, Required: true},
				{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true},
				{Key: "question", Label: "How can we help?", Type: domain.FieldTextarea},
			},
		},
	}}
	for _, spec := range sites {
		if _, err := svc.CreateSite(ctx, spec); err != nil && domain.ErrorCode(err) != domain.CodeAlreadyExists {
			return err
		}
	}
	_, err := svc.CreateAgent(ctx, domain.AgentSpec{
		ID:                 DemoAgentID,
		DisplayName:        "Dana (demo agent)",
		SiteIDs:            []string{DemoSiteID, DemoInviteSiteID},
		MaxConcurrentChats: 3,
		Login:              DemoAgentLogin,
	})
	switch domain.ErrorCode(err) {
	case "":
		return svc.SetAgentPassword(ctx, DemoAgentID, DemoAgentPassword)
	case domain.CodeAlreadyExists:
		return nil
	}
	return err
}
