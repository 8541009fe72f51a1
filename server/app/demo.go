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
