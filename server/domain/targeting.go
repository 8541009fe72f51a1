package domain

import (
	"cmp"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targeting: the facts a trigger rule's conditions look at, and the one
// pure function that evaluates a rule against them (Evaluate). The launch
// path (launch.go, ruleslaunch.go) gathers the facts from presence and the
// visitor's record and launches the first enabled rule that holds.

// visitFacts are the facts presence keeps for a visit: they change with
// every page view and activity report, far too often to write each.
type visitFacts struct {
	// PagesViewed is the pages viewed in this visit, the current one
	// included.
	PagesViewed uint32
	// Referrer is the visit's referrer (the first page's
	// document.referrer), LandingURL its first page.
	Referrer   string
	LandingURL string
	Device     DeviceClass
	Language   string
	// VisitCount is the visits so far, this one included.
	VisitCount uint32
	// ScrollPercent, ExitIntent and LastInteraction are what the widget
	// reported of the current page (ReportActivity); a page view resets
	// them.
	ScrollPercent   uint32
	ExitIntent      bool
	LastInteraction time.Time
}

// newVisitFacts are the facts of a visit opening now: a new one, or the
// visit the server was in when it stopped, going on (start is its start).
func newVisitFacts(visitor *Visitor, start time.Time, viewed bool, referrer string) visitFacts {
	f := visitFacts{Device: visitor.Device, Language: visitor.Language}
	if viewed {
		f.PagesViewed = 1
	}
	if visitor.VisitStartTime.Equal(start) {
		f.Referrer, f.LandingURL, f.VisitCount = visitor.VisitReferrer, visitor.LandingPageURL, visitor.VisitCount
		return f
	}
	f.Referrer = referrer
	if viewed {
		f.LandingURL = visitor.CurrentPage.URL
	}
	f.VisitCount = nextVisitCount(visitor)
	return f
}

// nextVisitCount is the visit count of a visitor's new visit. A visitor
// recorded before visits were counted who had a visit counts it as one.
func nextVisitCount(v *Visitor) uint32 {
	n := v.VisitCount
	if n == 0 && !v.VisitStartTime.IsZero() {
		n = 1
	}
	return n + 1
}

// viewed moves the visit's facts to a new page.
func (f *visitFacts) viewed(old, page PageView, referrer string) {
	if old.URL != page.URL || !old.ViewTime.Equal(page.ViewTime) {
		f.PagesViewed++
	}
	if f.LandingURL == "" {
		f.LandingURL, f.Referrer = page.URL, referrer
	}
	f.ScrollPercent, f.ExitIntent, f.LastInteraction = 0, false, time.Time{}
}

// VisitorActivity is what the widget saw the visitor do on a page.
type VisitorActivity struct {
	ScrollPercent uint32
	ExitIntent    bool
	Interacted    bool
}

// activity applies a visitor's activity on pageURL at now; a report for
// another page than the current one is stale and ignored. It reports
// whether anything changed.
func (t *presenceTracker) activity(visitorID, pageURL string, a VisitorActivity, now time.Time) (changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.visitors[visitorID]
	if v == nil || v.page.URL != pageURL {
		return false
	}
	before := v.facts
	v.facts.ScrollPercent = max(v.facts.ScrollPercent, min(a.ScrollPercent, 100))
	v.facts.ExitIntent = v.facts.ExitIntent || a.ExitIntent
	if a.Interacted {
		v.facts.LastInteraction = now
	}
	return v.facts != before
}

// client sets the device and language of an online visitor (another tab
// started a session).
func (t *presenceTracker) client(visitorID string, device DeviceClass, language string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.visitors[visitorID]; v != nil {
		v.facts.Device, v.facts.Language = device, language
		t.publish(PresenceChanged, v) // agents see them
	}
}

// checkReferrer checks an optional referrer URL as page URLs are checked.
func checkReferrer(v *Violations, field, referrer string) {
	if referrer != "" {
		checkPage(v, field, "", referrer, "")
	}
}

// Facts are everything a trigger rule's conditions look at for one visitor.
type Facts struct {
	VisitStart  time.Time
	Page        PageView
	PagesViewed uint32
	// Referrer is the visit's referrer URL, empty for a direct visit;
	// LandingURL the visit's first page.
	Referrer        string
	LandingURL      string
	VisitCount      uint32
	ChatCount       uint32
	Identity        VisitorIdentity
	Device          DeviceClass
	Language        string
	ScrollPercent   uint32
	ExitIntent      bool
	LastInteraction time.Time
	// Open: within business hours (a site without hours always is);
	// HoursChange is when that next changes, zero for never.
	Open        bool
	HoursChange time.Time
	// AgentAvailable: an agent serving the site has room for a chat.
	AgentAvailable bool
	// PredictedWait is the queue's estimate for a request made now.
	PredictedWait time.Duration
}

// Evaluation is how a visitor fares against a rule.
type Evaluation struct {
	Match bool
	// Failed lists the conditions that do not hold, as
	// "field: has X, needs Y".
	Failed []string
	// Next is the earliest time the rule could hold as far as time goes:
	// when only time-based conditions fail (and perhaps agent
	// availability or the wait, which change as agents free up); zero
	// when something else must change first.
	Next time.Time
	// waitsForAgent: a failing condition is about agents or the wait,
	// which changes when an agent frees up.
	waitsForAgent bool
}

// Evaluate evaluates a rule's conditions against a visitor's facts at
// now. It is pure: the same rule, facts and time give the same answer.
// Beyond the rule's own conditions it applies the two rules that held
// before trigger rules: nothing launches outside business hours unless the
// rule asks for closed hours, and an invitation waits for an agent who can
// answer (except one inviting to leave a message, outside hours).
func Evaluate(r TriggerRule, f Facts, now time.Time) Evaluation {
	return evaluate(r, f, now, true)
}

// evaluate is Evaluate; without explain it only decides (the launch path,
// for every visitor on every page view): a failure is named by its field
// alone, and the first that no time can mend ends the evaluation.
func evaluate(r TriggerRule, f Facts, now time.Time, explain bool) Evaluation {
	c := r.Conditions
	var ev Evaluation
	timeOnly := true
	fail := func(field, format string, args ...any) {
		if explain {
			field += ": " + fmt.Sprintf(format, args...)
		}
		ev.Failed = append(ev.Failed, field)
		timeOnly = false
	}
	decided := func() bool { return !explain && !timeOnly }
	// failUntil is a condition that holds from at on, unless something
	// else changes meanwhile.
	failUntil := func(at time.Time, field, format string, args ...any) {
		if explain {
			field += ": " + fmt.Sprintf(format, args...)
		}
		ev.Failed = append(ev.Failed, field)
		if at.IsZero() {
			timeOnly = false
		} else if at.After(ev.Next) {
			ev.Next = at
		}
	}
	secs := func(d time.Duration) int64 { return int64(max(d, 0) / time.Second) }
	if n := c.MinSecondsOnSite; n > 0 {
		if at := f.VisitStart.Add(durationSeconds(n)); now.Before(at) {
			failUntil(at, "min_seconds_on_site", "has %d s, needs %d s", secs(now.Sub(f.VisitStart)), n)
		}
	}
	if n := c.MinSecondsOnPage; n > 0 {
		if at := f.Page.ViewTime.Add(durationSeconds(n)); now.Before(at) {
			failUntil(at, "min_seconds_on_page", "has %d s, needs %d s", secs(now.Sub(f.Page.ViewTime)), n)
		}
	}
	if n := c.MinIdleSeconds; n > 0 {
		last := f.Page.ViewTime
		if f.LastInteraction.After(last) {
			last = f.LastInteraction
		}
		if at := last.Add(durationSeconds(n)); now.Before(at) {
			failUntil(at, "min_idle_seconds", "idle %d s, needs %d s", secs(now.Sub(last)), n)
		}
	}
	if n := c.MinPagesViewed; n > 0 && f.PagesViewed < n {
		fail("min_pages_viewed", "has %d, needs %d", f.PagesViewed, n)
	}
	if !(ProactiveChatSettings{IncludePages: c.IncludePages, ExcludePages: c.ExcludePages}).PageAllowed(f.Page.URL) {
		fail("pages", "has %q, needs a page of include_pages and none of exclude_pages", f.Page.URL)
	}
	if decided() {
		return Evaluation{Failed: ev.Failed}
	}
	if len(c.PageTitles) > 0 && !anyGlob(c.PageTitles, strings.ToLower(f.Page.Title), true) {
		fail("page_titles", "has %q, needs one of %q", f.Page.Title, c.PageTitles)
	}
	if len(c.ReferrerHosts) > 0 {
		host := referrerHost(f.Referrer, f.LandingURL)
		if !anyGlob(c.ReferrerHosts, host, true) {
			fail("referrer_hosts", "has %q, needs one of %q", host, c.ReferrerHosts)
		}
	}
	if decided() {
		return Evaluation{Failed: ev.Failed}
	}
	if len(c.UTM) > 0 {
		var q url.Values
		if u, err := url.Parse(f.LandingURL); err == nil {
			q = u.Query()
		}
		for _, u := range c.UTM {
			if got := q.Get(u.Parameter); !globMatch(strings.ToLower(u.Value), strings.ToLower(got)) {
				fail("utm."+u.Parameter, "has %q, needs %q", got, u.Value)
			}
		}
	}
	switch c.Recency {
	case RecencyNew:
		if f.VisitCount > 1 {
			fail("recency", "has visit %d, needs a new visitor", f.VisitCount)
		}
	case RecencyReturning:
		if f.VisitCount <= 1 {
			fail("recency", "has a first visit, needs a returning visitor")
		}
	}
	switch c.ChatHistory {
	case ChatHistoryNever:
		if f.ChatCount > 0 {
			fail("chat_history", "has %d chats, needs none", f.ChatCount)
		}
	case ChatHistoryBefore:
		if f.ChatCount == 0 {
			fail("chat_history", "has no chat, needs one before")
		}
	}
	if c.NameKnown && f.Identity.Name == "" {
		fail("name_known", "has no name, needs one")
	}
	if decided() {
		return Evaluation{Failed: ev.Failed}
	}
	for _, a := range c.Attributes {
		if got, ok := f.Identity.Attributes[a.Key]; !attributeMatches(a, got, ok) {
			shown := fmt.Sprintf("%q", got)
			if !ok {
				shown = "none"
			}
			fail("attributes."+a.Key, "has %s, needs %s", shown, a.describe())
		}
	}
	if decided() {
		return Evaluation{Failed: ev.Failed}
	}
	if len(c.Devices) > 0 && !slices.Contains(c.Devices, f.Device) {
		fail("devices", "has %s, needs one of %v", f.Device, c.Devices)
	}
	if len(c.Languages) > 0 && !slices.ContainsFunc(c.Languages, func(l string) bool { return languageMatches(l, f.Language) }) {
		fail("languages", "has %q, needs one of %q", f.Language, c.Languages)
	}
	if n := c.MinScrollPercent; n > 0 && f.ScrollPercent < n {
		fail("min_scroll_percent", "has %d%%, needs %d%%", f.ScrollPercent, n)
	}
	if c.ExitIntent && !f.ExitIntent {
		fail("exit_intent", "has none, needs exit intent")
	}
	switch {
	case c.BusinessHours == HoursClosed && f.Open:
		failUntil(f.HoursChange, "business_hours", "has open, needs closed")
	case c.BusinessHours != HoursClosed && !f.Open:
		failUntil(f.HoursChange, "business_hours", "has closed, needs open")
	}
	invitesToChat := r.Mode == ModeWithInvite && c.BusinessHours != HoursClosed
	// Agents and the wait change when an agent frees up, which the
	// launch path hears of (awaitingAgent): not a reason for no timer.
	if decided() {
		return Evaluation{Failed: ev.Failed}
	}
	if (c.AgentAvailable || invitesToChat) && !f.AgentAvailable {
		ev.Failed = append(ev.Failed, "agent_available: has no agent with room for a chat, needs one")
		ev.waitsForAgent = true
	}
	if n := c.MaxPredictedWaitSeconds; n > 0 && f.PredictedWait > durationSeconds(n) {
		msg := "max_predicted_wait_seconds:"
		if explain {
			msg = fmt.Sprintf("max_predicted_wait_seconds: has %d s, needs at most %d s", secs(f.PredictedWait), n)
		}
		ev.Failed = append(ev.Failed, msg)
		ev.waitsForAgent = true
	}
	ev.Match = len(ev.Failed) == 0
	if !timeOnly || ev.Match {
		ev.Next = time.Time{}
	}
	return ev
}

// String is the device class as failed conditions name it.
func (d DeviceClass) String() string {
	switch d {
	case DeviceDesktop:
		return "desktop"
	case DeviceTablet:
		return "tablet"
	case DevicePhone:
		return "phone"
	}
	return "unknown"
}

// anyGlob reports whether s matches one of globs, lowercased with fold.
func anyGlob(globs []string, s string, fold bool) bool {
	for _, g := range globs {
		if fold {
			g = strings.ToLower(g)
		}
		if globMatch(g, s) {
			return true
		}
	}
	return false
}

// referrerHost is the host of a visit's referrer, or "(direct)" for a
// visit with no outside referrer: none, or the site itself.
func referrerHost(referrer, landing string) string {
	u, err := url.Parse(referrer)
	if referrer == "" || err != nil || u.Host == "" {
		return "(direct)"
	}
	host := strings.ToLower(u.Hostname())
	if l, err := url.Parse(landing); err == nil && strings.EqualFold(l.Hostname(), host) {
		return "(direct)"
	}
	return host
}

// languageMatches matches a language condition against a visitor's
// language by subtags: "de" matches "de" and "de-AT".
func languageMatches(cond, lang string) bool {
	cond, lang = strings.ToLower(cond), strings.ToLower(lang)
	return lang == cond || strings.HasPrefix(lang, cond+"-")
}

// parseNumber parses a decimal number exactly (no float rounding: "0.1"
// is 1/10), as attribute comparisons need.
func parseNumber(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "/eE") {
		return nil, false
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func attributeMatches(a AttributeCondition, got string, present bool) bool {
	switch a.Operator {
	case AttrPresent:
		return present
	case AttrEquals:
		return present && got == a.Value
	case AttrNotEquals:
		return !present || got != a.Value
	case AttrContains:
		return present && strings.Contains(strings.ToLower(got), strings.ToLower(a.Value))
	case AttrGreaterThan, AttrLessThan:
		x, ok1 := parseNumber(got)
		y, ok2 := parseNumber(a.Value)
		if !present || !ok1 || !ok2 {
			return false
		}
		if a.Operator == AttrGreaterThan {
			return x.Cmp(y) > 0
		}
		return x.Cmp(y) < 0
	}
	return false
}

func (a AttributeCondition) describe() string {
	switch a.Operator {
	case AttrPresent:
		return "any value"
	case AttrEquals:
		return fmt.Sprintf("%q", a.Value)
	case AttrNotEquals:
		return fmt.Sprintf("not %q", a.Value)
	case AttrContains:
		return fmt.Sprintf("one containing %q", a.Value)
	case AttrGreaterThan:
		return "> " + a.Value
	case AttrLessThan:
		return "< " + a.Value
	}
	return "?"
}

// factsOf gathers a visitor's facts from their record and presence; the
// agents' and queue's facts only when a rule asks (they read the store).
func (s *Service) factsOf(tx ReadTx, site *Site, rules []TriggerRule, v *Visitor, p Presence, now time.Time) (Facts, error) {
	f := Facts{
		VisitStart: p.VisitStartTime, Page: p.CurrentPage, PagesViewed: p.PagesViewed,
		Referrer: p.Referrer, LandingURL: p.LandingURL, VisitCount: max(v.VisitCount, p.VisitCount), ChatCount: v.ChatCount,
		Identity: v.Identity, Device: cmp.Or(p.Device, v.Device), Language: cmp.Or(p.Language, v.Language),
		ScrollPercent: p.ScrollPercent, ExitIntent: p.ExitIntent, LastInteraction: p.LastInteraction,
		Open: site.OpenAt(now),
	}
	if f.Page.URL == "" {
		f.Page = v.CurrentPage
	}
	f.HoursChange, _ = site.NextChange(now)
	needAgents, needWait := false, false
	for _, r := range rules {
		needAgents = needAgents || (r.Enabled && (r.Mode == ModeWithInvite || r.Conditions.AgentAvailable))
		needWait = needWait || (r.Enabled && r.Conditions.MaxPredictedWaitSeconds > 0)
	}
	return f, s.agentFacts(tx, site.ID, &f, needAgents, needWait)
}

// agentFacts fills in agent availability and the predicted wait.
func (s *Service) agentFacts(tx ReadTx, siteID string, f *Facts, agents, wait bool) error {
	if agents {
		pool, err := newAgentPool(tx, siteID)
		if err != nil {
			return err
		}
		f.AgentAvailable = pool.anyFree(nil)
	}
	if wait {
		open, err := tx.OpenChatRequests(siteID)
		if err != nil {
			return err
		}
		f.PredictedWait = s.waits.estimate(siteID, len(open)+1)
	}
	return nil
}
