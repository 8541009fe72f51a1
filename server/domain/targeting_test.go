package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// facts is a visitor who matches every condition of fullRule at t0+10m.
func facts() domain.Facts {
	return domain.Facts{
		VisitStart: t0, Page: domain.PageView{URL: cart, Title: "Your Cart", ViewTime: t0.Add(5 * time.Minute)},
		PagesViewed: 4, Referrer: "https://www.google.com/search?q=shoes", LandingURL: home + "?utm_source=news&utm_campaign=spring-sale",
		VisitCount: 3, ChatCount: 1,
		Identity: domain.VisitorIdentity{Name: "Ann", Attributes: map[string]string{"cart_value": "150.50", "plan": "Pro"}},
		Device:   domain.DeviceDesktop, Language: "de-AT", ScrollPercent: 60, ExitIntent: true,
		LastInteraction: t0.Add(8 * time.Minute), Open: true, AgentAvailable: true, PredictedWait: 20 * time.Second,
	}
}

// TestEvaluate covers each condition: the visitor of facts() matches it,
// and one changed fact fails it with the field named; time-based ones say
// when they will hold.
func TestEvaluate(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	cases := []struct {
		name  string
		cond  domain.TriggerConditions
		fail  func(*domain.Facts)
		field string
		next  time.Time // when the failing case could hold by time alone
	}{
		{"MinSecondsOnSite", domain.TriggerConditions{MinSecondsOnSite: 600}, func(f *domain.Facts) { f.VisitStart = t0.Add(time.Minute) }, "min_seconds_on_site", t0.Add(11 * time.Minute)},
		{"MinSecondsOnPage", domain.TriggerConditions{MinSecondsOnPage: 300}, func(f *domain.Facts) { f.Page.ViewTime = t0.Add(9 * time.Minute) }, "min_seconds_on_page", t0.Add(14 * time.Minute)},
		{"MinPagesViewed", domain.TriggerConditions{MinPagesViewed: 4}, func(f *domain.Facts) { f.PagesViewed = 3 }, "min_pages_viewed", time.Time{}},
		{"IncludePages", domain.TriggerConditions{IncludePages: []string{"*/cart"}}, func(f *domain.Facts) { f.Page.URL = home }, "pages", time.Time{}},
		{"ExcludePages", domain.TriggerConditions{ExcludePages: []string{"*/checkout*"}}, func(f *domain.Facts) { f.Page.URL = home + "checkout/pay" }, "pages", time.Time{}},
		{"PageTitles", domain.TriggerConditions{PageTitles: []string{"*CART*"}}, func(f *domain.Facts) { f.Page.Title = "Home" }, "page_titles", time.Time{}},
		{"ReferrerHosts", domain.TriggerConditions{ReferrerHosts: []string{"*.google.*"}}, func(f *domain.Facts) { f.Referrer = "https://duckduckgo.com/" }, "referrer_hosts", time.Time{}},
		{"ReferrerDirect", domain.TriggerConditions{ReferrerHosts: []string{"(direct)"}}, nil, "referrer_hosts", time.Time{}},
		{"UTM", domain.TriggerConditions{UTM: []domain.UTMCondition{{Parameter: "utm_campaign", Value: "SPRING*"}}}, func(f *domain.Facts) { f.LandingURL = home }, "utm.utm_campaign", time.Time{}},
		{"Returning", domain.TriggerConditions{Recency: domain.RecencyReturning}, func(f *domain.Facts) { f.VisitCount = 1 }, "recency", time.Time{}},
		{"New", domain.TriggerConditions{Recency: domain.RecencyNew}, nil, "recency", time.Time{}},
		{"ChattedBefore", domain.TriggerConditions{ChatHistory: domain.ChatHistoryBefore}, func(f *domain.Facts) { f.ChatCount = 0 }, "chat_history", time.Time{}},
		{"NeverChatted", domain.TriggerConditions{ChatHistory: domain.ChatHistoryNever}, nil, "chat_history", time.Time{}},
		{"NameKnown", domain.TriggerConditions{NameKnown: true}, func(f *domain.Facts) { f.Identity.Name = "" }, "name_known", time.Time{}},
		{"AttributeGreaterThan", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrGreaterThan, Value: "100"}}},
			func(f *domain.Facts) { f.Identity.Attributes = map[string]string{"cart_value": "99.99"} }, "attributes.cart_value", time.Time{}},
		{"AttributeNotANumber", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrGreaterThan, Value: "100"}}},
			func(f *domain.Facts) { f.Identity.Attributes = map[string]string{"cart_value": "lots"} }, "attributes.cart_value", time.Time{}},
		{"AttributeLessThan", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrLessThan, Value: "1000"}}},
			func(f *domain.Facts) { f.Identity.Attributes = nil }, "attributes.cart_value", time.Time{}},
		{"AttributeEquals", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "plan", Operator: domain.AttrEquals, Value: "Pro"}}},
			func(f *domain.Facts) { f.Identity.Attributes = map[string]string{"plan": "pro"} }, "attributes.plan", time.Time{}},
		{"AttributeNotEquals", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "plan", Operator: domain.AttrNotEquals, Value: "Free"}}},
			func(f *domain.Facts) { f.Identity.Attributes = map[string]string{"plan": "Free"} }, "attributes.plan", time.Time{}},
		{"AttributeContains", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "plan", Operator: domain.AttrContains, Value: "PR"}}},
			func(f *domain.Facts) { f.Identity.Attributes = map[string]string{"plan": "Free"} }, "attributes.plan", time.Time{}},
		{"AttributePresent", domain.TriggerConditions{Attributes: []domain.AttributeCondition{{Key: "plan", Operator: domain.AttrPresent}}},
			func(f *domain.Facts) { f.Identity.Attributes = nil }, "attributes.plan", time.Time{}},
		{"Devices", domain.TriggerConditions{Devices: []domain.DeviceClass{domain.DeviceDesktop, domain.DeviceTablet}}, func(f *domain.Facts) { f.Device = domain.DevicePhone }, "devices", time.Time{}},
		{"Languages", domain.TriggerConditions{Languages: []string{"fr", "de"}}, func(f *domain.Facts) { f.Language = "deu" }, "languages", time.Time{}},
		{"MinScrollPercent", domain.TriggerConditions{MinScrollPercent: 50}, func(f *domain.Facts) { f.ScrollPercent = 49 }, "min_scroll_percent", time.Time{}},
		{"ExitIntent", domain.TriggerConditions{ExitIntent: true}, func(f *domain.Facts) { f.ExitIntent = false }, "exit_intent", time.Time{}},
		{"MinIdleSeconds", domain.TriggerConditions{MinIdleSeconds: 120}, func(f *domain.Facts) { f.LastInteraction = now.Add(-time.Minute) }, "min_idle_seconds", now.Add(time.Minute)},
		{"BusinessHoursOpen", domain.TriggerConditions{BusinessHours: domain.HoursOpen}, func(f *domain.Facts) { f.Open, f.HoursChange = false, t0.Add(time.Hour) }, "business_hours", t0.Add(time.Hour)},
		{"AgentAvailable", domain.TriggerConditions{AgentAvailable: true}, func(f *domain.Facts) { f.AgentAvailable = false }, "agent_available", time.Time{}},
		{"MaxPredictedWait", domain.TriggerConditions{MaxPredictedWaitSeconds: 30}, func(f *domain.Facts) { f.PredictedWait = 31 * time.Second }, "max_predicted_wait_seconds", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := domain.TriggerRule{ID: "r", Name: "r", Enabled: true, Mode: domain.ModeWithoutInvite, Conditions: c.cond}
			f := facts()
			ev := domain.Evaluate(r, f, now)
			if c.fail == nil { // facts() fails it as it is
				if ev.Match || len(ev.Failed) != 1 || !strings.HasPrefix(ev.Failed[0], c.field+": ") {
					t.Fatalf("got %+v, want %s failing", ev, c.field)
				}
				return
			}
			if !ev.Match || len(ev.Failed) != 0 {
				t.Fatalf("visitor who meets %s: %+v", c.name, ev)
			}
			c.fail(&f)
			ev = domain.Evaluate(r, f, now)
			if ev.Match || len(ev.Failed) != 1 || !strings.HasPrefix(ev.Failed[0], c.field+": has ") && !strings.HasPrefix(ev.Failed[0], c.field+": idle ") {
				t.Fatalf("got %+v, want one failure of %s (\"field: has X, needs Y\")", ev, c.field)
			}
			if !ev.Next.Equal(c.next) {
				t.Fatalf("next = %v, want %v", ev.Next, c.next)
			}
			// The launch path decides the same without explaining.
			if q := domain.EvaluateQuietly(r, f, now); q.Match || !q.Next.Equal(c.next) {
				t.Fatalf("launch path's evaluation %+v, want no match, next %v", q, c.next)
			}
			if !c.next.IsZero() && c.field != "business_hours" { // the hours' facts change then
				if ev := domain.Evaluate(r, f, c.next); !ev.Match {
					t.Fatalf("at next %v: %+v", c.next, ev)
				}
			}
		})
	}

	t.Run("DirectVisit", func(t *testing.T) {
		r := domain.TriggerRule{ID: "r", Name: "r", Enabled: true, Mode: domain.ModeWithoutInvite,
			Conditions: domain.TriggerConditions{ReferrerHosts: []string{"(direct)"}}}
		for _, ref := range []string{"", home + "pricing"} { // none, or the site itself
			f := facts()
			f.Referrer = ref
			if ev := domain.Evaluate(r, f, now); !ev.Match {
				t.Fatalf("referrer %q: %+v", ref, ev)
			}
		}
	})
	t.Run("SeveralConditionsAllMustHold", func(t *testing.T) {
		r := domain.TriggerRule{ID: "r", Name: "r", Enabled: true, Mode: domain.ModeWithoutInvite, Conditions: domain.TriggerConditions{
			MinSecondsOnSite: 900, MinPagesViewed: 5, ExitIntent: true,
		}}
		f := facts()
		f.ExitIntent = false
		ev := domain.Evaluate(r, f, now)
		if ev.Match || len(ev.Failed) != 3 || !ev.Next.IsZero() {
			t.Fatalf("got %+v, want three failures and no time (pages need a page view)", ev)
		}
		if q := domain.EvaluateQuietly(r, f, now); q.Match || !q.Next.IsZero() {
			t.Fatalf("launch path's evaluation %+v, want no match and no time", q)
		}
		f.ExitIntent, f.PagesViewed = true, 5 // only the time on site fails
		if q := domain.EvaluateQuietly(r, f, now); q.Match || !q.Next.Equal(t0.Add(15*time.Minute)) {
			t.Fatalf("launch path's evaluation %+v, want the time on site's", q)
		}
	})
	t.Run("InviteWaitsForAnAgentUnlessClosed", func(t *testing.T) {
		f := facts()
		f.AgentAvailable = false
		r := domain.TriggerRule{ID: "r", Name: "r", Enabled: true, Mode: domain.ModeWithInvite}
		if ev := domain.Evaluate(r, f, now); ev.Match {
			t.Fatal("an invitation with nobody to answer")
		}
		f.Open = false
		r.Conditions.BusinessHours = domain.HoursClosed
		if ev := domain.Evaluate(r, f, now); !ev.Match {
			t.Fatalf("closed-hours invitation (to leave a message): %+v", ev)
		}
		r.Conditions.BusinessHours = domain.HoursAny
		if ev := domain.Evaluate(r, f, now); ev.Match {
			t.Fatal("launched outside business hours without asking for closed hours")
		}
	})
}

// TestCaps covers each frequency cap, the rule's and the site's, and the
// suppression after a refusal.
func TestCaps(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	visitStart := now.Add(-10 * time.Minute)
	rule := domain.TriggerRule{ID: "r1", Name: "r1", Enabled: true, Mode: domain.ModeWithInvite}
	site := &domain.Site{ProactiveChat: domain.ProactiveChatSettings{ReinviteCooldownSeconds: 600}}
	launch := func(ruleID string, ago time.Duration) domain.RuleLaunch {
		return domain.RuleLaunch{RuleID: ruleID, Time: now.Add(-ago)}
	}
	cases := []struct {
		name      string
		rule, all domain.FrequencyCaps
		launches  []domain.RuleLaunch
		decline   time.Duration // ago; 0 none
		cooldown  uint32
		capped    string
		until     time.Time
	}{
		{name: "NoCaps", launches: []domain.RuleLaunch{launch("r1", time.Minute), launch("r1", time.Hour)}},
		{name: "RulePerVisit", rule: domain.FrequencyCaps{MaxPerVisit: 1}, launches: []domain.RuleLaunch{launch("r1", time.Minute)}, capped: "max_per_visit (rule caps)"},
		{name: "RulePerVisitEarlierVisit", rule: domain.FrequencyCaps{MaxPerVisit: 1}, launches: []domain.RuleLaunch{launch("r1", time.Hour)}},
		{name: "RulePerDay", rule: domain.FrequencyCaps{MaxPerDay: 2}, launches: []domain.RuleLaunch{launch("r1", 30*time.Hour), launch("r1", 20*time.Hour), launch("r1", 2*time.Hour)},
			capped: "max_per_day (rule caps)", until: now.Add(4 * time.Hour)},
		{name: "RulePerDayOtherRule", rule: domain.FrequencyCaps{MaxPerDay: 1}, launches: []domain.RuleLaunch{launch("r2", time.Hour)}},
		{name: "RuleEver", rule: domain.FrequencyCaps{MaxEver: 2}, launches: []domain.RuleLaunch{launch("r1", 40*time.Hour), launch("r1", 30*time.Hour)}, capped: "max_ever (rule caps)"},
		{name: "SitePerDayAcrossRules", all: domain.FrequencyCaps{MaxPerDay: 2}, launches: []domain.RuleLaunch{launch("r2", 3*time.Hour), launch("r3", 2*time.Hour)},
			capped: "max_per_day (site caps)", until: now.Add(21 * time.Hour)},
		{name: "SiteEver", all: domain.FrequencyCaps{MaxEver: 1}, launches: []domain.RuleLaunch{launch("r9", 40*time.Hour)}, capped: "max_ever (site caps)"},
		{name: "DeclineUsesCooldown", decline: 5 * time.Minute, capped: "suppress_after_decline_seconds", until: now.Add(5 * time.Minute)},
		{name: "DeclineRuleSuppression", rule: domain.FrequencyCaps{SuppressAfterDeclineSeconds: 3600}, decline: 30 * time.Minute, capped: "suppress_after_decline_seconds", until: now.Add(30 * time.Minute)},
		{name: "DeclineSiteSuppression", all: domain.FrequencyCaps{SuppressAfterDeclineSeconds: 7200}, decline: 90 * time.Minute, capped: "suppress_after_decline_seconds", until: now.Add(30 * time.Minute)},
		{name: "DeclineOver", decline: 11 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, s := rule, *site
			r.Caps, s.ProactiveChat.Caps = c.rule, c.all
			v := &domain.Visitor{Launches: c.launches}
			if c.decline > 0 {
				v.DeclineTime = now.Add(-c.decline)
			}
			capped, until := domain.CapsBlock(&s, r, v, visitStart, now)
			if !strings.HasPrefix(capped, c.capped) || (c.capped == "") != (capped == "") || !until.Equal(c.until) {
				t.Fatalf("capped by %q until %v, want %q until %v", capped, until, c.capped, c.until)
			}
		})
	}
	t.Run("DeclineWithoutCooldownIsForGood", func(t *testing.T) {
		s := *site
		s.ProactiveChat.ReinviteCooldownSeconds = 0
		v := &domain.Visitor{DeclineTime: t0}
		if capped, until := domain.CapsBlock(&s, rule, v, visitStart, now); capped == "" || !until.IsZero() {
			t.Fatalf("capped by %q until %v, want for good", capped, until)
		}
	})
}

// TestControlGroupAndVariants: the groups are stable per visitor and rule,
// and their sizes follow holdout_percent and the variants' weights.
func TestControlGroupAndVariants(t *testing.T) {
	r := domain.TriggerRule{ID: "rule_a", HoldoutPercent: 20, Variants: []domain.InviteVariant{
		{ID: "v1", InviteText: "A", Weight: 1}, {ID: "v2", InviteText: "B", Weight: 3}}}
	const n = 4000
	held, shown := 0, map[string]int{}
	for i := range n {
		id := fmt.Sprintf("visitor_%d", i)
		h := domain.HeldOut(id, r)
		if h != domain.HeldOut(id, r) {
			t.Fatal("held out differs between calls")
		}
		if h {
			held++
		}
		v := domain.ChooseVariant(id, r)
		if v.ID != domain.ChooseVariant(id, r).ID {
			t.Fatal("variant differs between calls")
		}
		shown[v.ID]++
	}
	if held < n*17/100 || held > n*23/100 {
		t.Fatalf("%d of %d held out, want about 20%%", held, n)
	}
	if shown["v2"] < n*70/100 || shown["v2"] > n*80/100 {
		t.Fatalf("variants %v, want about 1:3", shown)
	}
	other := r
	other.ID = "rule_b"
	same := 0
	for i := range n {
		id := fmt.Sprintf("visitor_%d", i)
		if domain.HeldOut(id, r) && domain.HeldOut(id, other) {
			same++
		}
	}
	if same > n*8/100 { // independent: about 4%
		t.Fatalf("%d visitors held out of both rules: the groups are not independent per rule", same)
	}
	if r.HoldoutPercent = 0; domain.HeldOut("visitor_1", r) {
		t.Fatal("held out of a rule without a control group")
	}
}

// BenchmarkEvaluate is the cost of evaluating a visitor against rules as
// the load generator's -rules gives them: decoys that fail on several
// conditions each, the matching criterion last.
func BenchmarkEvaluate(b *testing.B) {
	decoy := domain.TriggerRule{ID: "d", Name: "d", Enabled: true, Mode: domain.ModeWithInvite, Conditions: domain.TriggerConditions{
		MinSecondsOnSite: 3600, MinPagesViewed: 1000, MinScrollPercent: 50, ExitIntent: true,
		Attributes:    []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrGreaterThan, Value: "100"}},
		Devices:       []domain.DeviceClass{domain.DeviceDesktop},
		ReferrerHosts: []string{"*.example.org"}, IncludePages: []string{"https://shop.example/*"},
	}}
	last := domain.TriggerRule{ID: "c", Name: "c", Enabled: true, Mode: domain.ModeWithInvite,
		Conditions: domain.TriggerConditions{MinSecondsOnSite: 1, IncludePages: []string{"https://shop.example/*"}}}
	f := facts()
	f.ExitIntent, f.Identity.Attributes = false, map[string]string{"cart_value": "20"}
	now := t0.Add(10 * time.Minute)
	for _, c := range []struct {
		n        int
		explain  string
		evaluate func(domain.TriggerRule, domain.Facts, time.Time) domain.Evaluation
	}{{1, "launch", domain.EvaluateQuietly}, {10, "launch", domain.EvaluateQuietly}, {10, "preview", domain.Evaluate}} {
		rules, evaluate := append(slices.Repeat([]domain.TriggerRule{decoy}, c.n-1), last), c.evaluate
		b.Run(fmt.Sprintf("%s/rules=%d", c.explain, c.n), func(b *testing.B) {
			for b.Loop() {
				for _, r := range rules {
					if ev := evaluate(r, f, now); ev.Match != (r.ID == "c") {
						b.Fatal(ev)
					}
				}
			}
		})
	}
}
