package domain

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Trigger rules decide whom a site approaches, when and how (issue 19). A
// site's rules are ordered: the first enabled rule whose conditions all
// hold, within its frequency caps and the site's, launches (targeting.go).
// The legacy launching criterion (mode, launch_after_seconds, invite_text,
// form_fields, include_pages, exclude_pages) is the first rule's: the
// fields of ProactiveChatSettings of those names mirror it (syncRules).

// TriggerRule is one of a site's trigger rules.
type TriggerRule struct {
	// ID is stable across edits and reordering: the funnel follows it.
	ID      string
	Name    string
	Enabled bool
	Mode    ProactiveChatMode
	// InviteText is the invitation's text; empty is DefaultInviteText.
	InviteText string
	FormFields []FormField
	Conditions TriggerConditions
	Caps       FrequencyCaps
	// HoldoutPercent of the matching visitors (0 to 50) form the control
	// group: recorded as held out, not approached.
	HoldoutPercent uint32
	// Variants are A/B versions of the invitation's text; none means
	// InviteText alone.
	Variants []InviteVariant
}

// InviteVariant is one version of a rule's invitation text.
type InviteVariant struct {
	ID         string
	Name       string
	InviteText string
	// Weight is the variant's relative share of visitors, 1 to 100.
	Weight uint32
}

// VisitorRecency is whether a visitor is new or returning.
type VisitorRecency int

// Visitor recencies.
const (
	RecencyAny VisitorRecency = iota
	RecencyNew
	RecencyReturning
)

// ChatHistoryCondition is whether a visitor chatted before.
type ChatHistoryCondition int

// Chat history conditions.
const (
	ChatHistoryAny ChatHistoryCondition = iota
	ChatHistoryNever
	ChatHistoryBefore
)

// BusinessHoursCondition is whether the site is open.
type BusinessHoursCondition int

// Business hours conditions.
const (
	HoursAny BusinessHoursCondition = iota
	HoursOpen
	HoursClosed
)

// AttributeOperator compares a visitor attribute.
type AttributeOperator int

// Attribute operators.
const (
	AttrUnspecified AttributeOperator = iota
	AttrPresent
	AttrEquals
	AttrNotEquals
	AttrContains
	AttrGreaterThan
	AttrLessThan
)

// DeviceClass is the kind of device the widget runs on.
type DeviceClass int

// Device classes.
const (
	DeviceUnspecified DeviceClass = iota
	DeviceDesktop
	DeviceTablet
	DevicePhone
)

// UTMCondition matches one UTM parameter of the visit's landing page.
type UTMCondition struct {
	Parameter string
	// Value is a case-insensitive glob.
	Value string
}

// AttributeCondition compares one visitor attribute, e.g. cart_value > 100.
type AttributeCondition struct {
	Key      string
	Operator AttributeOperator
	Value    string
}

// TriggerConditions must all hold for a rule to launch; zero fields are
// no condition.
type TriggerConditions struct {
	MinSecondsOnSite uint32
	MinSecondsOnPage uint32
	MinPagesViewed   uint32
	IncludePages     []string
	ExcludePages     []string
	PageTitles       []string
	ReferrerHosts    []string
	UTM              []UTMCondition
	Recency          VisitorRecency
	ChatHistory      ChatHistoryCondition
	NameKnown        bool
	Attributes       []AttributeCondition
	Devices          []DeviceClass
	Languages        []string
	MinScrollPercent uint32
	ExitIntent       bool
	MinIdleSeconds   uint32
	BusinessHours    BusinessHoursCondition
	AgentAvailable   bool
	// MaxPredictedWaitSeconds: the site's estimated wait for a request
	// made now is at most this; 0 is no condition.
	MaxPredictedWaitSeconds uint32
}

// FrequencyCaps keep a visitor from being nagged; 0 is no cap.
type FrequencyCaps struct {
	MaxPerVisit uint32
	MaxPerDay   uint32
	MaxEver     uint32
	// SuppressAfterDeclineSeconds: no launch this long after the visitor
	// declined or let an invitation expire; 0 uses the site's reinvite
	// cooldown (whose 0 is never again, as before rules).
	SuppressAfterDeclineSeconds uint32
}

// Bounds of trigger rules. Lists of conditions are short by design: a rule
// is read by a person, and each visitor's rules are evaluated on every page
// view and activity report.
const (
	MaxTriggerRules        = 50
	MaxRuleConditions      = 20 // entries of each list of conditions but the pages
	MaxRuleVariants        = 10
	MaxGlobBytes           = 512
	MaxLanguageBytes       = 35
	MaxHoldoutPercent      = 50
	MaxVariantWeight       = 100
	MaxCapCount            = 100 // per visit, day or ever: RuleLaunch history holds as many
	MaxRuleIDBytes         = 64
	MaxRuleSeconds         = MaxLaunchAfterSeconds
	MaxPredictedWaitWindow = MaxLaunchAfterSeconds
)

// DefaultInviteText is an invitation's text when its rule sets none.
const DefaultInviteText = "Hi! Would you like to chat with us?"

// ruleID is the form of rule and variant ids: server-assigned ones are
// "rule_…" and "var_…", a client may keep ids it read.
var ruleID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// utmParameters are the UTM parameters a condition may name.
var utmParameters = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}

// LegacyRuleID is the id of the rule a database from before rules gets
// from its launching criterion (MigrateLegacyRules).
const LegacyRuleID = "rule_default"

// legacyRule is a site's first rule as the legacy fields describe it,
// keeping what they do not describe from base.
func (p *ProactiveChatSettings) legacyRule(base TriggerRule) TriggerRule {
	r := base
	r.Mode = p.Mode
	r.Conditions.MinSecondsOnSite = p.LaunchAfterSeconds
	r.InviteText = p.InviteText
	r.FormFields = p.FormFields
	r.Conditions.IncludePages = p.IncludePages
	r.Conditions.ExcludePages = p.ExcludePages
	return r
}

// mirrorFirstRule sets the legacy fields from the first rule.
func (p *ProactiveChatSettings) mirrorFirstRule() {
	if len(p.Rules) == 0 {
		return
	}
	r := p.Rules[0]
	p.Mode = r.Mode
	p.LaunchAfterSeconds = r.Conditions.MinSecondsOnSite
	p.InviteText = r.InviteText
	p.FormFields = r.FormFields
	p.IncludePages = r.Conditions.IncludePages
	p.ExcludePages = r.Conditions.ExcludePages
}

// legacyDiffers reports whether the legacy fields say something other than
// the first rule.
func (p *ProactiveChatSettings) legacyDiffers() bool {
	if len(p.Rules) == 0 {
		return p.Mode != ModeUnspecified
	}
	r := p.Rules[0]
	return p.Mode != r.Mode || p.LaunchAfterSeconds != r.Conditions.MinSecondsOnSite ||
		p.InviteText != r.InviteText || !slices.Equal(p.FormFields, r.FormFields) ||
		!slices.Equal(p.IncludePages, r.Conditions.IncludePages) || !slices.Equal(p.ExcludePages, r.Conditions.ExcludePages)
}

// syncRules makes the rules and the legacy fields agree after a change.
// With rulesGiven the rules are what the client said and the legacy fields
// follow them. Otherwise the client wrote the legacy fields (a client
// written before rules): they edit the first rule, creating it when there
// is none; a first rule set to no mode is removed when it is the only one
// (the site is back to no launching criterion), which a site with more
// rules refuses. newID names a rule created so.
func (p *ProactiveChatSettings) syncRules(rulesGiven bool, newRuleID func() string) error {
	if !rulesGiven && p.legacyDiffers() {
		switch {
		case len(p.Rules) == 0:
			p.Rules = []TriggerRule{p.legacyRule(TriggerRule{ID: newRuleID(), Name: "Default", Enabled: true})}
		case p.Mode == ModeUnspecified && len(p.Rules) == 1:
			// The other settings stay as written, as they did before rules.
			p.Rules = nil
			return nil
		case p.Mode == ModeUnspecified:
			return invalid("proactive_chat.mode", "is required while the site has %d trigger rules (it is the first rule's)", len(p.Rules))
		default:
			p.Rules = slices.Clone(p.Rules)
			p.Rules[0] = p.legacyRule(p.Rules[0])
		}
	}
	if rulesGiven && len(p.Rules) == 0 {
		p.Mode, p.LaunchAfterSeconds, p.InviteText, p.FormFields, p.IncludePages, p.ExcludePages = ModeUnspecified, 0, "", nil, nil, nil
	}
	p.mirrorFirstRule()
	return nil
}

// assignRuleIDs gives rules and variants without an id a new one.
func (p *ProactiveChatSettings) assignRuleIDs() {
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.ID == "" {
			r.ID = newID("rule")
		}
		if len(r.Variants) > 0 {
			r.Variants = slices.Clone(r.Variants)
		}
		for j := range r.Variants {
			if r.Variants[j].ID == "" {
				r.Variants[j].ID = newID("var")
			}
		}
	}
}

// MigrateLegacyRules gives a site stored before trigger rules its
// launching criterion as its first rule, enabled, with the id
// LegacyRuleID. It reports whether it changed the site. The store calls it
// for each site as it opens a database.
func MigrateLegacyRules(site *Site) bool {
	pc := &site.ProactiveChat
	if len(pc.Rules) > 0 || pc.Mode == ModeUnspecified {
		return false
	}
	pc.Rules = []TriggerRule{pc.legacyRule(TriggerRule{ID: LegacyRuleID, Name: "Default", Enabled: true})}
	return true
}

// RuleByID returns the site's rule with id.
func (p *ProactiveChatSettings) RuleByID(id string) (TriggerRule, bool) {
	for _, r := range p.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return TriggerRule{}, false
}

// checkRules checks a site's rules and caps, naming fields under
// "proactive_chat".
func checkRules(v *Violations, pc ProactiveChatSettings, firstMirrored bool) {
	if len(pc.Rules) > MaxTriggerRules {
		v.Add("proactive_chat.rules", "at most %d rules", MaxTriggerRules)
		return
	}
	checkCaps(v, "proactive_chat.caps", pc.Caps)
	ids, names := map[string]bool{}, map[string]bool{}
	for i, r := range pc.Rules {
		field := fmt.Sprintf("proactive_chat.rules[%d]", i)
		if i == 0 && firstMirrored {
			// Its mirrored fields were checked as the settings'.
			var all Violations
			checkRule(&all, field, r)
			for _, fv := range all {
				if !firstRuleMirrored.MatchString(fv.Field) {
					*v = append(*v, fv)
				}
			}
		} else {
			checkRule(v, field, r)
		}
		if r.ID != "" {
			if ids[r.ID] {
				v.Add(field+".id", "duplicate id %q", r.ID)
			}
			ids[r.ID] = true
		}
		if names[r.Name] {
			v.Add(field+".name", "duplicate name %q: names are unique within the site", r.Name)
		}
		names[r.Name] = true
	}
}

// CheckTriggerRule checks one rule as UpdateSite does, naming its fields
// under field (e.g. "rule").
func CheckTriggerRule(field string, r TriggerRule) error {
	var v Violations
	checkRule(&v, field, r)
	return v.Err()
}

func checkRule(v *Violations, field string, r TriggerRule) {
	checkText := func(f, s string, min, max int) {
		switch {
		case len(s) < min:
			v.Add(field+"."+f, "is required")
		case len(s) > max:
			v.Add(field+"."+f, "must be at most %d bytes", max)
		case !utf8.ValidString(s):
			v.Add(field+"."+f, "must be UTF-8")
		case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }):
			v.Add(field+"."+f, "must not contain control characters")
		}
	}
	if r.ID != "" && !ruleID.MatchString(r.ID) {
		v.Add(field+".id", "must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", MaxRuleIDBytes)
	}
	checkText("name", r.Name, 1, 100)
	switch {
	case r.Mode == ModeUnspecified:
		v.Add(field+".mode", "is required (with invite or without invite)")
	case r.Mode < ModeUnspecified || r.Mode > ModeWithoutInvite:
		v.Add(field+".mode", "unknown mode %d", r.Mode)
	}
	checkText("invite_text", r.InviteText, 0, MaxInviteTextBytes)
	if len(r.FormFields) > MaxFormFields {
		v.Add(field+".form_fields", "at most %d fields", MaxFormFields)
	}
	checkFormFields(v, field+".form_fields", r.FormFields)
	checkConditions(v, field+".conditions", r.Mode, r.Conditions)
	checkCaps(v, field+".caps", r.Caps)
	if r.HoldoutPercent > MaxHoldoutPercent {
		v.Add(field+".holdout_percent", "must be at most %d", MaxHoldoutPercent)
	}
	if len(r.Variants) > MaxRuleVariants {
		v.Add(field+".variants", "at most %d variants", MaxRuleVariants)
	} else if len(r.Variants) > 0 && r.Mode == ModeWithoutInvite {
		v.Add(field+".variants", "are invitation texts: a rule without invite has none")
	}
	ids := map[string]bool{}
	for i, vr := range r.Variants {
		vf := fmt.Sprintf("variants[%d]", i)
		if vr.ID != "" {
			if !ruleID.MatchString(vr.ID) {
				v.Add(field+"."+vf+".id", "must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", MaxRuleIDBytes)
			} else if ids[vr.ID] {
				v.Add(field+"."+vf+".id", "duplicate id %q", vr.ID)
			}
			ids[vr.ID] = true
		}
		checkText(vf+".name", vr.Name, 1, 100)
		checkText(vf+".invite_text", vr.InviteText, 1, MaxInviteTextBytes)
		if vr.Weight < 1 || vr.Weight > MaxVariantWeight {
			v.Add(field+"."+vf+".weight", "must be between 1 and %d", MaxVariantWeight)
		}
	}
}

func checkCaps(v *Violations, field string, c FrequencyCaps) {
	for name, n := range map[string]uint32{"max_per_visit": c.MaxPerVisit, "max_per_day": c.MaxPerDay, "max_ever": c.MaxEver} {
		if n > MaxCapCount {
			v.Add(field+"."+name, "must be at most %d", MaxCapCount)
		}
	}
	if c.SuppressAfterDeclineSeconds > 7*MaxLaunchAfterSeconds {
		v.Add(field+".suppress_after_decline_seconds", "must be at most %d", 7*MaxLaunchAfterSeconds)
	}
}

// checkGlobs checks a list of glob patterns.
func checkGlobs(v *Violations, field string, globs []string, maxLen int) {
	if len(globs) > maxLen {
		v.Add(field, "at most %d patterns", maxLen)
		return
	}
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" || len(g) > MaxGlobBytes || !utf8.ValidString(g) {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "%q is not a glob pattern (*, ?) of at most %d bytes", g, MaxGlobBytes)
		}
	}
}

func checkConditions(v *Violations, field string, mode ProactiveChatMode, c TriggerConditions) {
	for name, secs := range map[string]uint32{"min_seconds_on_site": c.MinSecondsOnSite, "min_seconds_on_page": c.MinSecondsOnPage,
		"min_idle_seconds": c.MinIdleSeconds, "max_predicted_wait_seconds": c.MaxPredictedWaitSeconds} {
		if secs > MaxRuleSeconds {
			v.Add(field+"."+name, "must be at most %d", MaxRuleSeconds)
		}
	}
	if c.MinPagesViewed > 10000 {
		v.Add(field+".min_pages_viewed", "must be at most 10000")
	}
	// The page lists take as many patterns as the site's include_pages and
	// exclude_pages did, which a first rule mirrors.
	checkGlobs(v, field+".include_pages", c.IncludePages, MaxPagePatterns)
	checkGlobs(v, field+".exclude_pages", c.ExcludePages, MaxPagePatterns)
	checkGlobs(v, field+".page_titles", c.PageTitles, MaxRuleConditions)
	checkGlobs(v, field+".referrer_hosts", c.ReferrerHosts, MaxRuleConditions)
	if len(c.UTM) > MaxRuleConditions {
		v.Add(field+".utm", "at most %d conditions", MaxRuleConditions)
	}
	for i, u := range c.UTM {
		f := fmt.Sprintf("%s.utm[%d]", field, i)
		if !slices.Contains(utmParameters, u.Parameter) {
			v.Add(f+".parameter", "must be one of %v", utmParameters)
		}
		checkGlobs(v, f+".value", []string{u.Value}, 1)
	}
	if c.Recency < RecencyAny || c.Recency > RecencyReturning {
		v.Add(field+".recency", "unknown value %d", c.Recency)
	}
	if c.ChatHistory < ChatHistoryAny || c.ChatHistory > ChatHistoryBefore {
		v.Add(field+".chat_history", "unknown value %d", c.ChatHistory)
	}
	if len(c.Attributes) > MaxRuleConditions {
		v.Add(field+".attributes", "at most %d conditions", MaxRuleConditions)
	}
	for i, a := range c.Attributes {
		f := fmt.Sprintf("%s.attributes[%d]", field, i)
		if len(a.Key) > MaxIdentityAttrKeyBytes || !attributeKey.MatchString(a.Key) {
			v.Add(f+".key", "must be 1 to %d bytes of a-z, 0-9 and _", MaxIdentityAttrKeyBytes)
		}
		switch {
		case a.Operator <= AttrUnspecified || a.Operator > AttrLessThan:
			v.Add(f+".operator", "is required (present, equals, not equals, contains, greater than or less than)")
		case a.Operator == AttrGreaterThan || a.Operator == AttrLessThan:
			if _, ok := parseNumber(a.Value); !ok {
				v.Add(f+".value", "%q is not a decimal number", a.Value)
			}
		}
		if len(a.Value) > MaxIdentityAttrValueBytes || !utf8.ValidString(a.Value) {
			v.Add(f+".value", "must be UTF-8, at most %d bytes", MaxIdentityAttrValueBytes)
		}
	}
	if len(c.Devices) > MaxRuleConditions {
		v.Add(field+".devices", "at most %d device classes", MaxRuleConditions)
	}
	for i, d := range c.Devices {
		if d <= DeviceUnspecified || d > DevicePhone {
			v.Add(fmt.Sprintf("%s.devices[%d]", field, i), "must be desktop, tablet or phone")
		}
	}
	if len(c.Languages) > MaxRuleConditions {
		v.Add(field+".languages", "at most %d languages", MaxRuleConditions)
	}
	for i, l := range c.Languages {
		if !languageTag.MatchString(l) {
			v.Add(fmt.Sprintf("%s.languages[%d]", field, i), "%q is not a language tag such as de or pt-BR", l)
		}
	}
	if c.MinScrollPercent > 100 {
		v.Add(field+".min_scroll_percent", "must be at most 100")
	}
	switch {
	case c.BusinessHours < HoursAny || c.BusinessHours > HoursClosed:
		v.Add(field+".business_hours", "unknown value %d", c.BusinessHours)
	case c.BusinessHours == HoursClosed && mode == ModeWithoutInvite:
		v.Add(field+".business_hours", "closed cannot launch a rule without invite: nobody is alerted outside business hours")
	}
}

// firstRuleMirrored are the fields of the first rule that the legacy
// settings mirror, as violations name them.
var firstRuleMirrored = regexp.MustCompile(`^proactive_chat\.rules\[0\]\.(mode|invite_text|form_fields|conditions\.(min_seconds_on_site|include_pages|exclude_pages))\b`)

// languageTag is a BCP 47 tag, loosely: letters, digits and hyphens.
var languageTag = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8}){0,3}$`)

func checkFormFields(v *Violations, prefix string, fields []FormField) {
	seen := map[string]bool{}
	for i, f := range fields {
		field := fmt.Sprintf("%s[%d]", prefix, i)
		switch {
		case !formFieldKey.MatchString(f.Key):
			v.Add(field+".key", "must match %s", formFieldKey)
		case seen[f.Key]:
			v.Add(field+".key", "duplicate key %q", f.Key)
		}
		seen[f.Key] = true
		if required(v, field+".label", f.Label) && len(f.Label) > MaxNameBytes {
			v.Add(field+".label", "must be at most %d bytes", MaxNameBytes)
		}
		if !utf8.ValidString(f.Label) {
			v.Add(field+".label", "must be UTF-8")
		}
		if f.Type <= FieldUnspecified || f.Type > FieldPhone {
			v.Add(field+".type", "is required (text, textarea, email or phone)")
		}
		if f.MaxLength > 10000 {
			v.Add(field+".max_length", "must be at most 10000")
		}
	}
}

// FormFor is the data-collection form a visitor fills: that of the rule
// whose launch invited them this visit, else the site's (the first rule's).
func (s *Site) FormFor(v *Visitor) []FormField {
	if l, ok := v.visitLaunch(); ok && !l.HeldOut {
		if r, ok := s.ProactiveChat.RuleByID(l.RuleID); ok {
			return r.FormFields
		}
	}
	return s.ProactiveChat.FormFields
}

// durationSeconds is n seconds.
func durationSeconds(n uint32) time.Duration { return time.Duration(n) * time.Second }

// syncSiteRules applies syncRules after an update: the rules count as
// given when the update names them, or replaces the whole proactive chat
// settings with rules in them.
func syncSiteRules(pc *ProactiveChatSettings, update *Site, paths []string) (rulesGiven bool, err error) {
	given := slices.Contains(paths, "proactive_chat.rules") ||
		(slices.Contains(paths, "proactive_chat") && (len(update.ProactiveChat.Rules) > 0 || update.ProactiveChat.Caps != (FrequencyCaps{})))
	if err := pc.syncRules(given, func() string { return newID("rule") }); err != nil {
		return given, err
	}
	pc.assignRuleIDs()
	return given, nil
}

// mirroredFields are the settings that mirror the first rule, as
// violations name them.
var mirroredFields = regexp.MustCompile(`^proactive_chat\.(mode|launch_after_seconds|invite_text|form_fields|include_pages|exclude_pages)\b`)

// validateSiteWithRules is validateSite with the trigger rules. The first
// rule and the settings that mirror it are the same values, checked once,
// under the names the client wrote: the rules' when it gave rules, else
// the settings' (a client written before rules knows no others).
func validateSiteWithRules(name string, origins []string, pc ProactiveChatSettings, retention RetentionSettings, hours BusinessHours, offline OfflineMessageSettings, rulesGiven bool) error {
	var v Violations
	if err := validateSite(name, origins, pc, retention, hours, offline); err != nil {
		e, ok := err.(*Error)
		if !ok {
			return err
		}
		for _, fv := range e.Violations {
			if !rulesGiven || !mirroredFields.MatchString(fv.Field) {
				v = append(v, fv)
			}
		}
	}
	checkRules(&v, pc, !rulesGiven)
	return v.Err()
}

// MaxRuleLaunches is how many launches a visitor's record keeps for the
// frequency caps.
const MaxRuleLaunches = MaxCapCount

// visitLaunch is the launch of the visitor's current (or last) visit.
func (v *Visitor) visitLaunch() (RuleLaunch, bool) {
	if n := len(v.Launches); n > 0 && !v.VisitStartTime.IsZero() && !v.Launches[n-1].Time.Before(v.VisitStartTime) {
		return v.Launches[n-1], true
	}
	return RuleLaunch{}, false
}
