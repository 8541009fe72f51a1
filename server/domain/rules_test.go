package domain_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// rulesSite creates a site whose proactive chat is the given rules, and an
// available agent serving it.
func (e *engine) rulesSite(t *testing.T, id string, caps domain.FrequencyCaps, rules ...domain.TriggerRule) *domain.Site {
	t.Helper()
	site := e.site(t, id, domain.ProactiveChatSettings{Enabled: true, ReinviteCooldownSeconds: 600, Rules: rules, Caps: caps})
	e.agent(t, "agent-"+id, "Ada", 5, id)
	e.setStatus(t, "agent-"+id, domain.StatusAvailable)
	return site
}

func invites(text string, c domain.TriggerConditions) domain.TriggerRule {
	return domain.TriggerRule{Name: text, Enabled: true, Mode: domain.ModeWithInvite, InviteText: text, Conditions: c}
}

// noInvitation fails if the visitor has been invited once due timers ran.
func (e *engine) noInvitation(t *testing.T, vid, when string) {
	t.Helper()
	e.clock.Advance(0)
	if st := e.state(t, vid); st.Invitation != nil {
		t.Fatalf("%s: invited (%q)", when, st.Invitation.Text)
	}
}

// TestRules_SeveralConditions: the first enabled rule whose conditions all
// hold launches, as soon as the last of them comes true, whatever made it
// true (a page view, an attribute, an activity report); its invitation
// carries its text and id.
func TestRules_SeveralConditions(t *testing.T) {
	e := newEngine(t)
	site := e.rulesSite(t, "shop", domain.FrequencyCaps{},
		domain.TriggerRule{Name: "Off", Enabled: false, Mode: domain.ModeWithInvite, InviteText: "disabled rule"},
		invites("Big cart", domain.TriggerConditions{
			MinPagesViewed:   2,
			Attributes:       []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrGreaterThan, Value: "100"}},
			Devices:          []domain.DeviceClass{domain.DeviceDesktop},
			MinScrollPercent: 50,
		}),
		invites("Slow", domain.TriggerConditions{MinSecondsOnSite: 600}))
	rule := site.ProactiveChat.Rules[1]
	v, _, _, err := e.svc.StartVisitorSessionWithClient(ctx(t), "shop", "", nil, domain.ClientInfo{Device: domain.DeviceDesktop, Language: "en-GB"})
	if err != nil {
		t.Fatal(err)
	}
	vid := v.ID
	e.page(t, vid, home)
	e.noInvitation(t, vid, "one page")
	s, _ := e.page(t, vid, cart)
	e.noInvitation(t, vid, "two pages")
	if _, err := e.svc.UpdateVisitorAttributes(ctx(t), vid, map[string]string{"cart_value": "99"}, nil); err != nil {
		t.Fatal(err)
	}
	e.noInvitation(t, vid, "cart of 99")
	if _, err := e.svc.UpdateVisitorAttributes(ctx(t), vid, map[string]string{"cart_value": "150.5"}, nil); err != nil {
		t.Fatal(err)
	}
	e.noInvitation(t, vid, "scrolled 0%")
	// A report of another page than the current one is stale.
	if err := e.svc.ReportActivity(ctx(t), vid, home, domain.VisitorActivity{ScrollPercent: 80}); err != nil {
		t.Fatal(err)
	}
	e.noInvitation(t, vid, "scrolled on the page before")
	if err := e.svc.ReportActivity(ctx(t), vid, cart, domain.VisitorActivity{ScrollPercent: 60}); err != nil {
		t.Fatal(err)
	}
	inv := awaitDue(t, e, s, invited).State.Invitation
	if inv.Text != "Big cart" || inv.RuleID != rule.ID || !inv.CreateTime.Equal(t0) {
		t.Fatalf("invitation %+v, want rule %s's, at once", inv, rule.ID)
	}
	// The launch path of legacy fields mirrors the first rule: "Off".
	if site.ProactiveChat.InviteText != "disabled rule" {
		t.Fatalf("settings' invite_text %q, want the first rule's", site.ProactiveChat.InviteText)
	}
}

// TestRules_TimeOnPage: a time-based condition arms the visitor's timer at
// the time it comes true, and a page view moves it.
func TestRules_TimeOnPage(t *testing.T) {
	e := newEngine(t)
	e.rulesSite(t, "shop", domain.FrequencyCaps{}, invites("Still reading?", domain.TriggerConditions{MinSecondsOnPage: 20, MinIdleSeconds: 10}))
	vid := e.visitor(t, "shop")
	e.page(t, vid, home)
	e.clock.Advance(15 * time.Second)
	s, _ := e.page(t, vid, pricing)
	e.clock.Advance(10 * time.Second) // 25 s on the site, 10 on the page
	e.noInvitation(t, vid, "10 s on the page")
	if err := e.svc.ReportActivity(ctx(t), vid, pricing, domain.VisitorActivity{Interacted: true}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(9 * time.Second) // 19 s on the page, idle 9 s
	e.noInvitation(t, vid, "19 s on the page")
	e.clock.Advance(time.Second) // 20 s on the page, idle 10 s
	inv := awaitDue(t, e, s, invited).State.Invitation
	if !inv.CreateTime.Equal(t0.Add(35 * time.Second)) {
		t.Fatalf("invited at %v, want 20 s after the second page view", inv.CreateTime)
	}
}

// TestRules_ControlGroup: a visitor in a rule's control group is recorded
// as held out and not approached, which is the visit's launch (no later
// rule fires); one who asks for a chat all the same counts as the control
// group's conversion. The others are invited.
func TestRules_ControlGroup(t *testing.T) {
	e := newEngine(t)
	site := e.rulesSite(t, "shop", domain.FrequencyCaps{},
		domain.TriggerRule{Name: "Half", Enabled: true, Mode: domain.ModeWithInvite, InviteText: "Hi", HoldoutPercent: 50,
			Conditions: domain.TriggerConditions{MinSecondsOnSite: 30}},
		invites("Fallback", domain.TriggerConditions{MinSecondsOnSite: 40}))
	if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop", VisitorLauncher: domain.VisitorLauncherSettings{Enabled: true}}, []string{"visitor_launcher"}); err != nil {
		t.Fatal(err)
	}
	rule := site.ProactiveChat.Rules[0]
	var held, shown string
	for i := 0; i < 40 && (held == "" || shown == ""); i++ {
		vid := e.visitor(t, "shop")
		switch {
		case domain.HeldOut(vid, rule) && held == "":
			held = vid
		case !domain.HeldOut(vid, rule) && shown == "":
			shown = vid
		}
	}
	if held == "" || shown == "" {
		t.Fatal("no visitor on each side of a 50% control group in 40")
	}
	hs, _ := e.page(t, held, home)
	ss, _ := e.page(t, shown, home)
	e.clock.Advance(30 * time.Second)
	if inv := awaitDue(t, e, ss, invited).State.Invitation; inv.RuleID != rule.ID {
		t.Fatalf("invitation %+v, want rule %s's", inv, rule.ID)
	}
	e.clock.Advance(15 * time.Second) // past the fallback's 40 s too
	e.noInvitation(t, held, "held out")
	page, err := e.svc.ListEvents(ctx(t), 0, 1000, domain.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(page.Events, func(ev *domain.Event) bool {
		return ev.Type == domain.EventRuleHeldOut && ev.VisitorID == held && ev.RuleID == rule.ID
	}) {
		t.Fatalf("no rule.held_out event for %s", held)
	}
	// The held-out visitor asks with the launcher and chats.
	if _, err := e.svc.RequestChat(ctx(t), held); err != nil {
		t.Fatal(err)
	}
	// Queued, or alerting the site's available agent already: routing
	// runs once the request commits, while the stream reads the state.
	req := awaitDue(t, e, hs, stateWhere(func(st *domain.VisitorState) bool { return waiting(st.Engagement) })).State.Visitor.ChatRequestID
	if r := e.request(t, req); !r.HeldOut || r.RuleID != rule.ID {
		t.Fatalf("request %+v, want held out of %s", r, rule.ID)
	}
	e.accept(t, "agent-shop", req)
	rep, err := e.svc.GetTriggerRuleReport(ctx(t), "shop", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Rules[0]
	want := domain.RuleFunnel{RuleID: rule.ID, Matched: 2, HeldOut: 1, Invited: 1, HeldOutChatted: 1}
	if got != want || len(rep.Rules) != 2 || rep.Rules[1].RuleID != site.ProactiveChat.Rules[1].ID || rep.Rules[1].Matched != 0 {
		t.Fatalf("report %+v, want first %+v then the fallback with nothing", rep.Rules, want)
	}
}

// TestRules_Variants: a visitor sees the variant chosen for them, the
// invitation and the funnel say which, and the form is the rule's.
func TestRules_Variants(t *testing.T) {
	e := newEngine(t)
	r := invites("base", domain.TriggerConditions{MinSecondsOnSite: 10})
	r.FormFields = []domain.FormField{{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true}}
	r.Variants = []domain.InviteVariant{{Name: "A", InviteText: "Text A", Weight: 1}, {Name: "B", InviteText: "Text B", Weight: 1}}
	site := e.rulesSite(t, "shop", domain.FrequencyCaps{}, r)
	rule := site.ProactiveChat.Rules[0]
	if rule.Variants[0].ID == "" || rule.Variants[1].ID == "" {
		t.Fatalf("variants without ids: %+v", rule.Variants)
	}
	vid := e.visitor(t, "shop")
	s, _ := e.page(t, vid, home)
	e.clock.Advance(10 * time.Second)
	inv := awaitDue(t, e, s, invited).State.Invitation
	want := domain.ChooseVariant(vid, rule)
	if inv.Text != want.InviteText || inv.VariantID != want.ID {
		t.Fatalf("invitation %q (%s), want variant %+v", inv.Text, inv.VariantID, want)
	}
	st := e.respond(t, vid, inv.ID, true)
	if len(st.Form) != 1 || st.Form[0].Key != "email" {
		t.Fatalf("form %+v, want the rule's", st.Form)
	}
	// The rest of the funnel: form, queue, chat, rating.
	st, err := e.svc.SubmitForm(ctx(t), vid, map[string]string{"email": "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	chat := e.accept(t, "agent-shop", st.Visitor.ChatRequestID)
	if chat.RuleID != rule.ID || chat.VariantID != want.ID {
		t.Fatalf("chat from rule %q variant %q, want %s %s", chat.RuleID, chat.VariantID, rule.ID, want.ID)
	}
	e.leave(t, chat.ID, vid)
	if _, err := e.svc.RateChat(ctx(t), chat.ID, vid, 5, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.GetTriggerRuleReport(ctx(t), "shop", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var variant *domain.RuleFunnel
	for i := range rep.Rules {
		if rep.Rules[i].VariantID == want.ID {
			variant = &rep.Rules[i]
		}
	}
	whole := domain.RuleFunnel{RuleID: rule.ID, Matched: 1, Invited: 1, Accepted: 1, Forms: 1, Queued: 1, Chatted: 1, Rated: 1}
	shown := whole
	shown.VariantID = want.ID
	if len(rep.Rules) != 3 || rep.Rules[0] != whole || variant == nil || *variant != shown {
		t.Fatalf("report %+v, want the rule and its shown variant through the whole funnel once: %+v", rep.Rules, whole)
	}
}

// TestRules_Caps: a rule capped at one launch a day is not launched in a
// second visit the same day, and is again the day after.
func TestRules_Caps(t *testing.T) {
	e := newEngine(t)
	r := invites("Daily", domain.TriggerConditions{MinSecondsOnSite: 10})
	r.Caps = domain.FrequencyCaps{MaxPerDay: 1}
	e.rulesSite(t, "shop", domain.FrequencyCaps{}, r)
	vid := e.visitor(t, "shop")
	visit := func(when string, wantInvited bool) {
		t.Helper()
		s, _ := e.page(t, vid, home)
		e.clock.Advance(10 * time.Second)
		if wantInvited {
			awaitDue(t, e, s, invited)
		} else {
			e.noInvitation(t, vid, when)
		}
		s.stop()
		e.clock.Advance(grace + time.Second) // the visit ends; an invitation is withdrawn
	}
	visit("first visit", true)
	visit("second visit the same day", false)
	e.clock.Advance(24 * time.Hour)
	visit("the day after", true)
	var v *domain.Visitor
	if err := e.store.View(ctx(t), func(tx domain.ReadTx) (err error) { v, err = tx.Visitor(vid); return err }); err != nil {
		t.Fatal(err)
	}
	if v.VisitCount != 3 || len(v.Launches) != 2 {
		t.Fatalf("visit count %d, launches %+v; want 3 visits, 2 launches", v.VisitCount, v.Launches)
	}
}

// TestRules_MigrationFromBeforeRules opens a database written by the code
// before trigger rules (testdata/before-rules.db, made by
// testdata/before-rules.go.txt on main): the site's launching criterion is
// its first rule, and launching behaves as before.
func TestRules_MigrationFromBeforeRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	copyFile(t, "testdata/before-rules.db", path)
	e := &engine{path: path, clock: fakeclock.New(t0.Add(time.Hour))}
	e.start(t)
	t.Cleanup(e.close)

	site, err := e.svc.GetSite(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	pc := site.ProactiveChat
	if len(pc.Rules) != 1 {
		t.Fatalf("rules %+v, want the launching criterion as one rule", pc.Rules)
	}
	r := pc.Rules[0]
	if r.ID != domain.LegacyRuleID || !r.Enabled || r.Mode != domain.ModeWithInvite || r.InviteText != "Need a hand? Chat with us." ||
		r.Conditions.MinSecondsOnSite != 30 || !slices.Equal(r.Conditions.IncludePages, []string{"https://shop.example/*"}) ||
		!slices.Equal(r.Conditions.ExcludePages, []string{"*/checkout*"}) || len(r.FormFields) != 1 || r.FormFields[0].Key != "email" {
		t.Fatalf("first rule %+v, want the old settings", r)
	}
	if pc.Mode != domain.ModeWithInvite || pc.LaunchAfterSeconds != 30 || pc.ReinviteCooldownSeconds != 600 {
		t.Fatalf("settings %+v changed", pc)
	}
	if blog, err := e.svc.GetSite(ctx(t), "blog"); err != nil || len(blog.ProactiveChat.Rules) != 0 {
		t.Fatalf("site without proactive chat: %+v (%v), want no rules", blog, err)
	}

	e.setStatus(t, "agent-a", domain.StatusAvailable)
	vid := e.visitor(t, "shop")
	checkout := e.visitor(t, "shop")
	s, _ := e.page(t, vid, home)
	e.page(t, checkout, home+"checkout")
	e.clock.Advance(29 * time.Second)
	e.noInvitation(t, vid, "29 s")
	e.clock.Advance(time.Second)
	inv := awaitDue(t, e, s, invited).State.Invitation
	if inv.Text != "Need a hand? Chat with us." || inv.RuleID != domain.LegacyRuleID {
		t.Fatalf("invitation %+v, want the old text from the migrated rule", inv)
	}
	e.noInvitation(t, checkout, "excluded page")

	// Opened again, nothing is migrated twice.
	e.restart(t)
	if again, err := e.svc.GetSite(ctx(t), "shop"); err != nil || len(again.ProactiveChat.Rules) != 1 {
		t.Fatalf("after a restart: %+v (%v)", again, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVisitorFactsBadInput: what the widget reports is bounded and checked,
// a bad report changing nothing.
func TestVisitorFactsBadInput(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", domain.ProactiveChatSettings{})
	vid := e.visitor(t, "shop")
	e.page(t, vid, home)
	for name, c := range map[string]struct {
		err    error
		fields []string
	}{
		"ScrollOver100":   {e.svc.ReportActivity(ctx(t), vid, home, domain.VisitorActivity{ScrollPercent: 101}), []string{"activity.scroll_percent"}},
		"ActivityBadPage": {e.svc.ReportActivity(ctx(t), vid, "javascript:x", domain.VisitorActivity{}), []string{"page_url"}},
		"AttributeKey": {func() error {
			_, err := e.svc.UpdateVisitorAttributes(ctx(t), vid, map[string]string{"Cart Value": "1"}, []string{"ok", "Not OK"})
			return err
		}(), []string{"remove[1]", `set["Cart Value"]`}},
		"TooManyAttributes": {func() error {
			set := map[string]string{}
			for i := range domain.MaxIdentityAttributes {
				set[fmt.Sprintf("a%d", i)] = "x"
			}
			if _, err := e.svc.UpdateVisitorAttributes(ctx(t), vid, set, nil); err != nil {
				return fmt.Errorf("the maximum refused: %w", err)
			}
			_, err := e.svc.UpdateVisitorAttributes(ctx(t), vid, map[string]string{"one_more": "x"}, nil)
			return err
		}(), []string{"set"}},
		"ClientLanguage": {func() error {
			_, _, _, err := e.svc.StartVisitorSessionWithClient(ctx(t), "shop", "", nil, domain.ClientInfo{Language: strings.Repeat("x", 40)})
			return err
		}(), []string{"client_info.language"}},
		"Referrer": {func() error {
			_, err := e.svc.RecordPageViewFrom(ctx(t), vid, home, "", "ftp://elsewhere/")
			return err
		}(), []string{"referrer"}},
	} {
		t.Run(name, func(t *testing.T) {
			if domain.ErrorCode(c.err) != domain.CodeInvalid {
				t.Fatalf("error %v, want InvalidArgument", c.err)
			}
			if got := violationFields(t, c.err); !slices.Equal(got, c.fields) {
				t.Fatalf("fields %v, want %v", got, c.fields)
			}
		})
	}
	var v *domain.Visitor
	if err := e.store.View(ctx(t), func(tx domain.ReadTx) (err error) { v, err = tx.Visitor(vid); return err }); err != nil {
		t.Fatal(err)
	}
	if len(v.Identity.Attributes) != domain.MaxIdentityAttributes || v.Identity.Attributes["one_more"] != "" {
		t.Fatalf("attributes %v, want the %d set and nothing of the refused updates", v.Identity.Attributes, domain.MaxIdentityAttributes)
	}
	if err := e.svc.ReportActivity(ctx(t), "visitor_none", home, domain.VisitorActivity{}); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("activity of an unknown visitor: %v, want NotFound", err)
	}
}
