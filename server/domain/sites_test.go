package domain_test

import (
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestCreateSite(t *testing.T) {
	e := newEnv(t, 0)
	t.Run("DisabledByDefault", func(t *testing.T) {
		site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop"})
		if err != nil {
			t.Fatal(err)
		}
		if site.ProactiveChat.Enabled {
			t.Fatal("a new site must have proactive chat disabled")
		}
		got, err := e.svc.GetSite(ctx(t), site.ID)
		if err != nil || got.ProactiveChat.Enabled || got.Name != "Shop" {
			t.Fatalf("GetSite = %+v, %v", got, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		before, _ := e.svc.ListSites(ctx(t))
		for name, spec := range map[string]domain.SiteSpec{
			"name":                                {},
			"allowed_origins[0]":                  {Name: "x", AllowedOrigins: []string{"https://ok.example/path"}},
			"proactive_chat.mode":                 {Name: "x", ProactiveChat: domain.ProactiveChatSettings{Enabled: true}},
			"proactive_chat.launch_after_seconds": {Name: "x", ProactiveChat: domain.ProactiveChatSettings{LaunchAfterSeconds: 100000}},
			"proactive_chat.form_fields[0].key":   {Name: "x", ProactiveChat: domain.ProactiveChatSettings{FormFields: []domain.FormField{{Key: "Bad Key", Label: "L", Type: domain.FieldText}}}},
			"proactive_chat.form_fields[1].key":   {Name: "x", ProactiveChat: domain.ProactiveChatSettings{FormFields: []domain.FormField{{Key: "a", Label: "L", Type: domain.FieldText}, {Key: "a", Label: "L", Type: domain.FieldText}}}},
			"proactive_chat.form_fields[0].type":  {Name: "x", ProactiveChat: domain.ProactiveChatSettings{FormFields: []domain.FormField{{Key: "a", Label: "L"}}}},
			"proactive_chat.form_fields[0].label": {Name: "x", ProactiveChat: domain.ProactiveChatSettings{FormFields: []domain.FormField{{Key: "a", Type: domain.FieldEmail}}}},
			"proactive_chat.invite_text":          {Name: "x", ProactiveChat: domain.ProactiveChatSettings{InviteText: strings.Repeat("x", 501)}},
		} {
			_, err := e.svc.CreateSite(ctx(t), spec)
			wantCode(t, err, domain.CodeInvalid)
			if !strings.Contains(err.Error(), name+":") {
				t.Errorf("error %q does not name %s", err, name)
			}
		}
		after, _ := e.svc.ListSites(ctx(t))
		if len(after) != len(before) {
			t.Fatalf("rejected sites were stored: %d sites, want %d", len(after), len(before))
		}
	})
	t.Run("ErrAlreadyExists", func(t *testing.T) {
		if _, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: "site_fixed", Name: "A"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: "site_fixed", Name: "B"})
		wantCode(t, err, domain.CodeAlreadyExists)
		got, _ := e.svc.GetSite(ctx(t), "site_fixed")
		if got.Name != "A" {
			t.Fatalf("existing site overwritten: %q", got.Name)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.GetSite(ctx(t), "site_nope")
		wantCode(t, err, domain.CodeNotFound)
	})
}

func TestUpdateSite(t *testing.T) {
	e := newEnv(t, 0)
	site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop", AllowedOrigins: []string{"https://shop.example"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OnlyMaskedFields", func(t *testing.T) {
		got, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID, Name: "ignored", ProactiveChat: domain.ProactiveChatSettings{
			Enabled: true, Mode: domain.ModeWithInvite,
		}}, []string{"proactive_chat.enabled", "proactive_chat.mode"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Shop" || !got.ProactiveChat.Enabled || got.ProactiveChat.Mode != domain.ModeWithInvite || len(got.AllowedOrigins) != 1 {
			t.Fatalf("UpdateSite = %+v", got)
		}
	})
	t.Run("ErrInvalidResultKeepsOld", func(t *testing.T) {
		_, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID}, []string{"proactive_chat.mode"})
		wantCode(t, err, domain.CodeInvalid) // enabled without a mode
		got, _ := e.svc.GetSite(ctx(t), site.ID)
		if got.ProactiveChat.Mode != domain.ModeWithInvite {
			t.Fatalf("rejected update was stored: %+v", got.ProactiveChat)
		}
	})
	t.Run("ErrUnknownPath", func(t *testing.T) {
		_, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: site.ID}, []string{"name", "color"})
		wantCode(t, err, domain.CodeInvalid)
		if !strings.Contains(err.Error(), "update_mask") {
			t.Fatalf("error %q does not name update_mask", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "site_nope", Name: "x"}, nil)
		wantCode(t, err, domain.CodeNotFound)
	})
}

func TestAgents(t *testing.T) {
	e := newEnv(t, 0)
	site, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Other"})
	t.Run("Defaults", func(t *testing.T) {
		a, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != domain.StatusOffline || a.MaxConcurrentChats != domain.DefaultConcurrentChats {
			t.Fatalf("new agent = %+v", a)
		}
	})
	t.Run("ListBySite", func(t *testing.T) {
		if _, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "Olga", SiteIDs: []string{other.ID}}); err != nil {
			t.Fatal(err)
		}
		agents, err := e.svc.ListAgents(ctx(t), other.ID)
		if err != nil || len(agents) != 1 || agents[0].DisplayName != "Olga" {
			t.Fatalf("ListAgents = %v, %v", agents, err)
		}
	})
	t.Run("ErrUnknownSite", func(t *testing.T) {
		_, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{DisplayName: "X", SiteIDs: []string{"site_nope"}})
		wantCode(t, err, domain.CodeNotFound)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{MaxConcurrentChats: 101})
		wantCode(t, err, domain.CodeInvalid)
		for _, f := range []string{"display_name", "max_concurrent_chats"} {
			if !strings.Contains(err.Error(), f) {
				t.Errorf("error %q does not name %s", err, f)
			}
		}
	})
	t.Run("ErrStatus", func(t *testing.T) {
		_, err := e.svc.SetAgentStatus(ctx(t), "agent_nope", domain.StatusAvailable)
		wantCode(t, err, domain.CodeNotFound)
		_, err = e.svc.SetAgentStatus(ctx(t), "agent_nope", domain.StatusUnspecified)
		wantCode(t, err, domain.CodeInvalid)
	})
}

func TestVisitorSession(t *testing.T) {
	e := newEnv(t, 0)
	site, _ := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Shop"})
	other, _ := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Other"})
	v, token, resumed, err := e.svc.StartVisitorSession(ctx(t), site.ID, "")
	if err != nil || resumed || token == "" {
		t.Fatalf("new session: %v %q %v %v", v, token, resumed, err)
	}
	t.Run("Resume", func(t *testing.T) {
		got, gotToken, resumed, err := e.svc.StartVisitorSession(ctx(t), site.ID, token)
		if err != nil || !resumed || got.ID != v.ID || gotToken != token {
			t.Fatalf("resume = %v %v %v", got, resumed, err)
		}
	})
	t.Run("OtherSiteStartsAnew", func(t *testing.T) {
		got, _, resumed, err := e.svc.StartVisitorSession(ctx(t), other.ID, token)
		if err != nil || resumed || got.ID == v.ID {
			t.Fatalf("token reused across sites: %v %v %v", got, resumed, err)
		}
	})
	t.Run("UnknownTokenStartsAnew", func(t *testing.T) {
		got, _, resumed, err := e.svc.StartVisitorSession(ctx(t), site.ID, "forged")
		if err != nil || resumed || got.ID == v.ID {
			t.Fatalf("forged token: %v %v %v", got, resumed, err)
		}
	})
	t.Run("ErrUnknownSite", func(t *testing.T) {
		_, _, _, err := e.svc.StartVisitorSession(ctx(t), "site_nope", "")
		wantCode(t, err, domain.CodeNotFound)
	})
	t.Run("ErrBadPage", func(t *testing.T) {
		_, err := e.svc.RecordPageView(ctx(t), v.ID, "javascript:alert(1)", "")
		wantCode(t, err, domain.CodeInvalid)
		_, err = e.svc.RecordPageView(ctx(t), v.ID, "https://shop.example/"+strings.Repeat("a", 2048), "")
		wantCode(t, err, domain.CodeInvalid)
	})
}
