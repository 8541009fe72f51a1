package domain

import (
	"context"
	"strings"
	"unicode/utf8"
)

// The visitor launcher: a button the widget shows while a visitor may ask
// for a chat themselves (RequestChat), whether or not they were invited.

func validateLauncher(l VisitorLauncherSettings) error {
	var v Violations
	switch {
	case !utf8.ValidString(l.Label):
		v.Add("visitor_launcher.label", "must be UTF-8")
	case utf8.RuneCountInString(l.Label) > MaxLauncherLabel:
		v.Add("visitor_launcher.label", "must be at most %d characters", MaxLauncherLabel)
	case l.Label != "" && strings.TrimSpace(l.Label) == "":
		v.Add("visitor_launcher.label", "must not be only white space")
	}
	return v.Err()
}

// launcherShown reports whether the site offers the launcher at all: it is
// on and so is proactive chat.
func launcherShown(site *Site) bool {
	return site.VisitorLauncher.Enabled && site.ProactiveOn()
}

// mayRequestChat reports whether the visitor may use the launcher now:
// browsing (never invited, or said No), not in a chat.
func mayRequestChat(v *Visitor) bool {
	return v.idle() && v.ActiveChatID == ""
}

// launcherFor is the launcher the visitor's widget shows now; nil for none.
func launcherFor(site *Site, v *Visitor) *VisitorLauncherSettings {
	if !launcherShown(site) || !mayRequestChat(v) {
		return nil
	}
	l := site.VisitorLauncher
	if l.Label == "" {
		l.Label = DefaultLauncherLabel
	}
	return &l
}

// launcherChanged tells the widgets of a site's visitors to show or hide the
// launcher after the site's settings changed.
func (s *Service) launcherChanged(siteID string) {
	for _, id := range s.presence.onSite(siteID) {
		s.broker.Publish(visitorTopic(id), VisitorChanged{VisitorID: id})
	}
}

// RequestChat is the launcher: a browsing visitor asks for a chat. Like
// accepting an invitation it shows the site's form, or queues the chat
// request at once when the site has none; the request's kind is
// RequestVisitor. A visitor who said No to an invitation may ask; nobody
// may outside the site's business hours.
func (s *Service) RequestChat(ctx context.Context, visitorID string) (*VisitorState, error) {
	if visitorID == "" {
		return nil, invalid("visitor_id", "is required")
	}
	err := s.update(ctx, func(tx WriteTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		site, err := tx.Site(visitor.SiteID)
		if err != nil {
			return err
		}
		switch {
		case !site.ProactiveOn():
			return Errorf(CodeFailedPrecondition, "proactive chat is off on site %q", site.ID)
		case !site.VisitorLauncher.Enabled:
			return Errorf(CodeFailedPrecondition, "the chat launcher is off on site %q", site.ID)
		case !site.OpenAt(s.clock.Now()):
			return Errorf(CodeFailedPrecondition, "site %q is closed (business hours); leave a message instead", site.ID)
		case !mayRequestChat(visitor):
			return Errorf(CodeFailedPrecondition, "visitor %q is %s; only a browsing visitor can ask for a chat", visitorID, visitor.Engagement)
		}
		return s.formOrQueue(tx, site, visitor, RequestVisitor)
	})
	if err != nil {
		return nil, err
	}
	return s.VisitorState(ctx, visitorID)
}
