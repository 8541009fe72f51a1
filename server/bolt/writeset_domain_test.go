package bolt_test

import (
	"context"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
	"github.com/proactivechat/proactivechat/server/password"
)

// TestWriteSet_DomainFlows runs the product's own flows over a store whose
// write sets are applied to a mirror: whatever path a flow writes by, the
// mirror must end up the same, or a cluster's followers would drift.
func TestWriteSet_DomainFlows(t *testing.T) {
	src, dst, _ := mirrored(t)
	clock := fakeclock.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	svc := domain.NewService(domain.Config{
		Store:              src,
		Broker:             inmem.NewBroker(64),
		Clock:              clock,
		PresenceGrace:      15 * time.Second,
		KeepAliveInterval:  30 * time.Second,
		AgentQueueInterval: -1,
		Passwords:          password.Hasher{Params: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}},
	})
	defer svc.Close()
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	site, err := svc.CreateSite(ctx, domain.SiteSpec{Name: "Shop", ProactiveChat: domain.ProactiveChatSettings{
		Enabled: true, Mode: domain.ModeWithInvite, LaunchAfterSeconds: 30, InviteText: "Can we help?",
	}})
	must("create site", err)
	agent, err := svc.CreateAgent(ctx, domain.AgentSpec{DisplayName: "Dana", Login: "dana", SiteIDs: []string{site.ID}, MaxConcurrentChats: 3})
	must("create agent", err)
	must("set password", svc.SetAgentPassword(ctx, agent.ID, "correct horse battery staple"))
	_, err = svc.SetAgentStatus(ctx, agent.ID, domain.StatusAvailable)
	must("set status", err)
	_, _, err = svc.CreateAPIKey(ctx, "ci", nil)
	must("create api key", err)
	reply, err := svc.CreateCannedReply(ctx, domain.CannedReply{SiteID: site.ID, Shortcut: "/hi", Title: "Hello", Text: "Hello!"})
	must("create canned reply", err)
	must("delete canned reply", svc.DeleteCannedReply(ctx, site.ID, reply.ID))
	hook, err := svc.CreateWebhook(ctx, domain.WebhookSpec{URL: "https://hooks.example/x", SiteID: site.ID, Enabled: true})
	must("create webhook", err)

	visitor, _, _, err := svc.StartVisitorSession(ctx, site.ID, "")
	must("start visitor session", err)
	// The widget's stream puts the visitor on the site, on a page.
	wctx, closeWidget := context.WithCancel(ctx)
	widget := make(chan error, 1)
	opened := make(chan struct{})
	go func() {
		var once bool
		widget <- svc.WatchVisitor(wctx, domain.VisitorWatch{VisitorID: visitor.ID, PageURL: "https://shop.example/pricing", PageTitle: "Pricing"},
			func(u domain.VisitorUpdate) error {
				if u.State != nil && !once {
					once = true
					close(opened)
				}
				return nil
			})
	}()
	select {
	case <-opened:
	case err := <-widget:
		t.Fatalf("widget stream: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("widget stream sent no state")
	}
	_, err = svc.RecordPageView(ctx, visitor.ID, "https://shop.example/checkout", "Checkout")
	must("record page view", err)
	chat, err := svc.StartChat(ctx, agent.ID, visitor.ID)
	must("start chat", err)
	for i, text := range []string{"Hello", "Any questions?", "Bye"} {
		_, err := svc.SendMessage(ctx, chat.ID, agent.ID, text, "k"+string(rune('0'+i)))
		must("send message", err)
	}
	_, err = svc.SendMessage(ctx, chat.ID, visitor.ID, "Thanks", "v1")
	must("send message", err)
	_, err = svc.AddNote(ctx, chat.ID, agent.ID, "asked about pricing")
	must("add note", err)
	_, err = svc.LeaveChat(ctx, chat.ID, visitor.ID)
	must("leave chat", err)
	_, err = svc.RateChat(ctx, chat.ID, visitor.ID, 5, "great")
	must("rate chat", err)
	must("delete webhook", svc.DeleteWebhook(ctx, hook.ID))

	other, _, _, err := svc.StartVisitorSession(ctx, site.ID, "")
	must("start visitor session", err)
	_, err = svc.RecordPageView(ctx, other.ID, "https://shop.example/", "Home")
	must("record page view", err)
	must("erase visitor", svc.EraseVisitor(ctx, other.ID))

	// Compared once nothing writes in the background any more.
	closeWidget()
	if err := <-widget; err != nil && ctx.Err() == nil && err != context.Canceled {
		t.Logf("widget stream: %v", err)
	}
	svc.Close()
	sameContent(t, src, dst)
}
