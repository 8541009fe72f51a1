package domain

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// SiteSpec is what an integrator sets when creating a site.
type SiteSpec struct {
	// ID is the identifier to use; empty means a generated one.
	ID             string
	Name           string
	AllowedOrigins []string
	ProactiveChat  ProactiveChatSettings
	Retention      RetentionSettings
	// VisitorLauncher is off unless spec turns it on.
	VisitorLauncher VisitorLauncherSettings
	BusinessHours   BusinessHours
	OfflineMessage  OfflineMessageSettings
}

// CreateSite adds a site. Proactive chat stays disabled unless spec enables it.
func (s *Service) CreateSite(ctx context.Context, spec SiteSpec) (*Site, error) {
	if err := validateLauncher(spec.VisitorLauncher); err != nil {
		return nil, err
	}
	if err := checkChosenID("id", spec.ID); err != nil {
		return nil, err
	}
	given, err := syncSiteRules(&spec.ProactiveChat, &Site{ProactiveChat: spec.ProactiveChat}, []string{"proactive_chat"})
	if err != nil {
		return nil, err
	}
	if err := validateSiteWithRules(spec.Name, spec.AllowedOrigins, spec.ProactiveChat, spec.Retention, spec.BusinessHours, spec.OfflineMessage, given); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	site := &Site{
		ID:              cmp.Or(spec.ID, newID("site")),
		Name:            spec.Name,
		AllowedOrigins:  spec.AllowedOrigins,
		ProactiveChat:   spec.ProactiveChat,
		Retention:       spec.Retention,
		VisitorLauncher: spec.VisitorLauncher,
		BusinessHours:   spec.BusinessHours,
		OfflineMessage:  spec.OfflineMessage,
		CreateTime:      now,
		UpdateTime:      now,
	}
	err = s.store.Update(ctx, func(tx WriteTx) error {
		if _, err := tx.Site(site.ID); ErrorCode(err) != CodeNotFound {
			return cmp.Or(err, error(Errorf(CodeAlreadyExists, "site %q already exists", site.ID)))
		}
		return tx.PutSite(site)
	})
	if err == nil {
		err = s.refreshOrigins(ctx)
	}
	if err != nil {
		return nil, err
	}
	return site, nil
}

// GetSite returns the site with the given id.
func (s *Service) GetSite(ctx context.Context, id string) (site *Site, err error) {
	if id == "" {
		return nil, invalid("site_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		site, err = tx.Site(id)
		return err
	})
	return site, err
}

// ListSites returns every site.
func (s *Service) ListSites(ctx context.Context) (sites []*Site, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		sites, err = tx.Sites()
		return err
	})
	return sites, err
}

// Paths UpdateSite accepts in its field mask: the mutable fields, each
// proactive chat setting and each retention period.
var siteUpdatePaths = []string{"name", "allowed_origins", "proactive_chat",
	"proactive_chat.enabled", "proactive_chat.mode", "proactive_chat.launch_after_seconds",
	"proactive_chat.invite_text", "proactive_chat.form_fields",
	"proactive_chat.invite_timeout_seconds", "proactive_chat.reinvite_cooldown_seconds",
	"proactive_chat.alert_timeout_seconds", "proactive_chat.include_pages",
	"proactive_chat.exclude_pages", "proactive_chat.queue_hold_seconds",
	"proactive_chat.inactivity_timeout_seconds", "proactive_chat.inactivity_warning_seconds",
	"proactive_chat.rules", "proactive_chat.caps",
	"retention", "retention.visitor_seconds", "retention.chat_seconds",
	"visitor_launcher", "visitor_launcher.enabled", "visitor_launcher.label",
	"business_hours", "business_hours.time_zone", "business_hours.weekly", "business_hours.holidays",
	"offline_message", "offline_message.max_wait_seconds"}

// siteOutputOnly are paths a client may send back (a REST client PATCHing
// the site it read derives its mask from the body) but that no update
// changes: they are ignored, as AIP-134 asks.
var siteOutputOnly = []string{"id", "create_time", "update_time"}

// UpdateSite copies the fields named by paths from update onto the stored
// site with update.ID; no paths means every mutable field. The change
// applies at once to visitors already on the site.
func (s *Service) UpdateSite(ctx context.Context, update *Site, paths []string) (*Site, error) {
	if update == nil || update.ID == "" {
		return nil, invalid("site.id", "is required")
	}
	if len(paths) == 0 {
		paths = []string{"name", "allowed_origins", "proactive_chat", "retention", "visitor_launcher", "business_hours", "offline_message"}
	}
	paths = slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return slices.Contains(siteOutputOnly, p) })
	for _, p := range paths {
		if !slices.Contains(siteUpdatePaths, p) {
			return nil, invalid("update_mask", "unknown path %q; allowed: %v", p, siteUpdatePaths)
		}
	}
	var site *Site
	launcherChanged := false
	err := s.store.Update(ctx, func(tx WriteTx) error {
		var err error
		if site, err = tx.Site(update.ID); err != nil {
			return err
		}
		before := launcherShown(site)
		for _, p := range paths {
			applySitePath(site, update, p)
		}
		launcherChanged = before != launcherShown(site)
		given, err := syncSiteRules(&site.ProactiveChat, update, paths)
		if err != nil {
			return err
		}
		if err := validateSiteWithRules(site.Name, site.AllowedOrigins, site.ProactiveChat, site.Retention, site.BusinessHours, site.OfflineMessage, given); err != nil {
			return err
		}
		if err := validateLauncher(site.VisitorLauncher); err != nil {
			return err
		}
		site.UpdateTime = s.clock.Now()
		return tx.PutSite(site)
	})
	if err != nil {
		return nil, err
	}
	if err := s.refreshOrigins(ctx); err != nil {
		return nil, err
	}
	s.refreshSite(site.ID)
	if launcherChanged {
		s.launcherChanged(site.ID)
	}
	return site, nil
}

func applySitePath(site, update *Site, path string) {
	switch path {
	case "name":
		site.Name = update.Name
	case "allowed_origins":
		site.AllowedOrigins = update.AllowedOrigins
	case "proactive_chat":
		old := site.ProactiveChat
		site.ProactiveChat = update.ProactiveChat
		if len(update.ProactiveChat.Rules) == 0 && update.ProactiveChat.Caps == (FrequencyCaps{}) {
			// A client written before rules: it edits the first rule
			// (syncRules) and keeps the others and the caps.
			site.ProactiveChat.Rules, site.ProactiveChat.Caps = old.Rules, old.Caps
		}
	case "proactive_chat.rules":
		site.ProactiveChat.Rules = update.ProactiveChat.Rules
	case "proactive_chat.caps":
		site.ProactiveChat.Caps = update.ProactiveChat.Caps
	case "proactive_chat.enabled":
		site.ProactiveChat.Enabled = update.ProactiveChat.Enabled
	case "proactive_chat.mode":
		site.ProactiveChat.Mode = update.ProactiveChat.Mode
	case "proactive_chat.launch_after_seconds":
		site.ProactiveChat.LaunchAfterSeconds = update.ProactiveChat.LaunchAfterSeconds
	case "proactive_chat.invite_text":
		site.ProactiveChat.InviteText = update.ProactiveChat.InviteText
	case "proactive_chat.form_fields":
		site.ProactiveChat.FormFields = update.ProactiveChat.FormFields
	case "proactive_chat.invite_timeout_seconds":
		site.ProactiveChat.InviteTimeoutSeconds = update.ProactiveChat.InviteTimeoutSeconds
	case "proactive_chat.reinvite_cooldown_seconds":
		site.ProactiveChat.ReinviteCooldownSeconds = update.ProactiveChat.ReinviteCooldownSeconds
	case "proactive_chat.alert_timeout_seconds":
		site.ProactiveChat.AlertTimeoutSeconds = update.ProactiveChat.AlertTimeoutSeconds
	case "proactive_chat.include_pages":
		site.ProactiveChat.IncludePages = update.ProactiveChat.IncludePages
	case "proactive_chat.exclude_pages":
		site.ProactiveChat.ExcludePages = update.ProactiveChat.ExcludePages
	case "proactive_chat.queue_hold_seconds":
		site.ProactiveChat.QueueHoldSeconds = update.ProactiveChat.QueueHoldSeconds
	case "proactive_chat.inactivity_timeout_seconds":
		site.ProactiveChat.InactivityTimeoutSeconds = update.ProactiveChat.InactivityTimeoutSeconds
	case "proactive_chat.inactivity_warning_seconds":
		site.ProactiveChat.InactivityWarningSeconds = update.ProactiveChat.InactivityWarningSeconds
	case "retention":
		site.Retention = update.Retention
	case "retention.visitor_seconds":
		site.Retention.VisitorSeconds = update.Retention.VisitorSeconds
	case "retention.chat_seconds":
		site.Retention.ChatSeconds = update.Retention.ChatSeconds
	case "visitor_launcher":
		site.VisitorLauncher = update.VisitorLauncher
	case "visitor_launcher.enabled":
		site.VisitorLauncher.Enabled = update.VisitorLauncher.Enabled
	case "visitor_launcher.label":
		site.VisitorLauncher.Label = update.VisitorLauncher.Label
	case "business_hours":
		site.BusinessHours = update.BusinessHours
	case "business_hours.time_zone":
		site.BusinessHours.TimeZone = update.BusinessHours.TimeZone
	case "business_hours.weekly":
		site.BusinessHours.Weekly = update.BusinessHours.Weekly
	case "business_hours.holidays":
		site.BusinessHours.Holidays = update.BusinessHours.Holidays
	case "offline_message":
		site.OfflineMessage = update.OfflineMessage
	case "offline_message.max_wait_seconds":
		site.OfflineMessage.MaxWaitSeconds = update.OfflineMessage.MaxWaitSeconds
	}
}

var formFieldKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func validateSite(name string, origins []string, pc ProactiveChatSettings, retention RetentionSettings, hours BusinessHours, offline OfflineMessageSettings) error {
	var v Violations
	if required(&v, "name", name) && len(name) > MaxNameBytes {
		v.Add("name", "must be at most %d bytes", MaxNameBytes)
	}
	// Every string of a site must be UTF-8: the site is stored as a
	// protobuf message, whose strings must be, so invalid UTF-8 got past
	// this check only to fail the write as an internal error (found by
	// FuzzCreateSite). Likewise below for origins, patterns and labels.
	if !utf8.ValidString(name) {
		v.Add("name", "must be UTF-8")
	}
	if len(origins) > MaxOrigins {
		v.Add("allowed_origins", "at most %d origins", MaxOrigins)
	}
	for i, o := range origins {
		if err := checkOrigin(o); err != nil {
			v.Add(fmt.Sprintf("allowed_origins[%d]", i), "%v", err)
		}
	}
	if pc.Mode < ModeUnspecified || pc.Mode > ModeWithoutInvite {
		v.Add("proactive_chat.mode", "unknown mode %d", pc.Mode)
	}
	if pc.Enabled && pc.Mode == ModeUnspecified {
		v.Add("proactive_chat.mode", "is required when proactive chat is enabled")
	}
	if pc.LaunchAfterSeconds > MaxLaunchAfterSeconds {
		v.Add("proactive_chat.launch_after_seconds", "must be at most %d", MaxLaunchAfterSeconds)
	}
	if len(pc.InviteText) > MaxInviteTextBytes {
		v.Add("proactive_chat.invite_text", "must be at most %d bytes", MaxInviteTextBytes)
	}
	if !utf8.ValidString(pc.InviteText) {
		v.Add("proactive_chat.invite_text", "must be UTF-8")
	}
	if len(pc.FormFields) > MaxFormFields {
		v.Add("proactive_chat.form_fields", "at most %d fields", MaxFormFields)
	}
	for name, secs := range map[string]uint32{
		"invite_timeout_seconds":     pc.InviteTimeoutSeconds,
		"reinvite_cooldown_seconds":  pc.ReinviteCooldownSeconds,
		"alert_timeout_seconds":      pc.AlertTimeoutSeconds,
		"queue_hold_seconds":         pc.QueueHoldSeconds,
		"inactivity_timeout_seconds": pc.InactivityTimeoutSeconds,
		"inactivity_warning_seconds": pc.InactivityWarningSeconds,
	} {
		if secs > 7*MaxLaunchAfterSeconds {
			v.Add("proactive_chat."+name, "must be at most %d", 7*MaxLaunchAfterSeconds)
		}
	}
	if pc.InactivityWarningSeconds != 0 && pc.InactivityWarningSeconds >= uint32(pc.InactivityTimeout()/time.Second) {
		v.Add("proactive_chat.inactivity_warning_seconds", "must be less than the inactivity timeout")
	}
	for name, globs := range map[string][]string{"include_pages": pc.IncludePages, "exclude_pages": pc.ExcludePages} {
		if len(globs) > MaxPagePatterns {
			v.Add("proactive_chat."+name, "at most %d patterns", MaxPagePatterns)
		}
		for i, g := range globs {
			if _, err := path.Match(g, ""); err != nil || g == "" || len(g) > MaxURLBytes || !utf8.ValidString(g) {
				v.Add(fmt.Sprintf("proactive_chat.%s[%d]", name, i), "%q is not a glob pattern such as https://shop.example/products/*", g)
			}
		}
	}
	seen := map[string]bool{}
	for i, f := range pc.FormFields {
		field := fmt.Sprintf("proactive_chat.form_fields[%d]", i)
		switch {
		case !formFieldKey.MatchString(f.Key):
			v.Add(field+".key", "must match %s", formFieldKey)
		case seen[f.Key]:
			v.Add(field+".key", "duplicate key %q", f.Key)
		}
		seen[f.Key] = true
		if required(&v, field+".label", f.Label) && len(f.Label) > MaxNameBytes {
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
	checkRetentionSettings(&v, retention)
	checkBusinessHours(&v, hours)
	checkOfflineMessageSettings(&v, offline)
	return v.Err()
}

// checkOrigin accepts scheme://host[:port] with http or https and nothing
// more, in UTF-8 (url.Parse lets other bytes through in the host).
func checkOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || !utf8.ValidString(origin) || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://www.example.com", origin)
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	var v Violations
	v.Add(field, format, args...)
	return v.Err()
}
