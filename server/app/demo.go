package app

import (
	"context"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Demo identifiers: fixed so the README's examples work as written.
const (
	DemoSiteID  = "site_demo"
	DemoAgentID = "agent_demo"
)

// SeedDemo creates the demo site (proactive chat enabled) and the demo agent
// serving it, unless they exist already; an existing demo is left as the
// user changed it.
func SeedDemo(ctx context.Context, svc *domain.Service, origin string) error {
	_, err := svc.CreateSite(ctx, domain.SiteSpec{
		ID:             DemoSiteID,
		Name:           "Demo shop",
		AllowedOrigins: []string{origin},
		ProactiveChat: domain.ProactiveChatSettings{
			Enabled:            true,
			Mode:               domain.ModeWithoutInvite,
			LaunchAfterSeconds: 10,
			InviteText:         "Hi! Can we help you find something?",
			FormFields: []domain.FormField{
				{Key: "name", Label: "Your name", Type: domain.FieldText, Required: true},
				{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true},
				{Key: "question", Label: "How can we help?", Type: domain.FieldTextarea},
			},
		},
	})
	if err != nil && domain.ErrorCode(err) != domain.CodeAlreadyExists {
		return err
	}
	_, err = svc.CreateAgent(ctx, domain.AgentSpec{
		ID:                 DemoAgentID,
		DisplayName:        "Dana (demo agent)",
		SiteIDs:            []string{DemoSiteID},
		MaxConcurrentChats: 3,
	})
	if err != nil && domain.ErrorCode(err) != domain.CodeAlreadyExists {
		return err
	}
	return nil
}
