package domain

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// CannedReply is a prepared answer of a site that agents insert by its
// Shortcut ("/price"). Its Text may hold the placeholders {visitor.name},
// {agent.name} and {site.name}, which the console fills in.
type CannedReply struct {
	ID       string
	SiteID   string
	Shortcut string
	Title    string
	Text     string
}

// Limits of a canned reply.
const (
	MaxCannedTitleChars = 100
	MaxCannedTextChars  = 2000
)

var shortcutPattern = regexp.MustCompile(`^/[a-z0-9_-]{1,32}$`)

func validateCannedReply(r *CannedReply) error {
	var v Violations
	required(&v, "site_id", r.SiteID)
	if !shortcutPattern.MatchString(r.Shortcut) {
		v.Add("shortcut", "must match %s, e.g. /price", shortcutPattern)
	}
	checkCannedText(&v, "title", r.Title, MaxCannedTitleChars)
	checkCannedText(&v, "text", r.Text, MaxCannedTextChars)
	return v.Err()
}

func checkCannedText(v *Violations, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be UTF-8")
	case strings.TrimSpace(s) == "":
		v.Add(field, "is required and must not be only white space")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "is %d characters; the limit is %d", utf8.RuneCountInString(s), max)
	}
}

// CreateCannedReply adds a canned reply to an existing site; its shortcut
// must be new to the site (AlreadyExists otherwise).
func (s *Service) CreateCannedReply(ctx context.Context, r CannedReply) (*CannedReply, error) {
	r.ID = ""
	if err := validateCannedReply(&r); err != nil {
		return nil, err
	}
	r.ID = newID("canned")
	err := s.update(ctx, func(tx WriteTx) error {
		if err := putCannedReply(tx, &r); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventCannedReplyCreated, SiteID: r.SiteID, CannedReplyID: r.ID})
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateCannedReply replaces the shortcut, title and text of a site's
// canned reply.
func (s *Service) UpdateCannedReply(ctx context.Context, r CannedReply) (*CannedReply, error) {
	var v Violations
	required(&v, "id", r.ID)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := validateCannedReply(&r); err != nil {
		return nil, err
	}
	err := s.update(ctx, func(tx WriteTx) error {
		old, err := tx.CannedReply(r.SiteID, r.ID)
		if err != nil {
			return err
		}
		if err := putCannedReply(tx, &r); err != nil {
			return err
		}
		var fields []string
		for _, f := range []struct {
			name     string
			old, new string
		}{{"shortcut", old.Shortcut, r.Shortcut}, {"title", old.Title, r.Title}, {"text", old.Text, r.Text}} {
			if f.old != f.new {
				fields = append(fields, f.name)
			}
		}
		return s.record(tx, Event{Type: EventCannedReplyUpdated, SiteID: r.SiteID, CannedReplyID: r.ID, Fields: fields})
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// putCannedReply stores r once its site exists and no other reply of the
// site has its shortcut.
func putCannedReply(tx WriteTx, r *CannedReply) error {
	if _, err := tx.Site(r.SiteID); err != nil {
		return err
	}
	all, err := tx.CannedReplies(r.SiteID)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Shortcut == r.Shortcut && o.ID != r.ID {
			return Errorf(CodeAlreadyExists, "site %q already has the shortcut %s", r.SiteID, r.Shortcut)
		}
	}
	return tx.PutCannedReply(r)
}

// DeleteCannedReply removes a site's canned reply; NotFound if it has none
// with that id.
func (s *Service) DeleteCannedReply(ctx context.Context, siteID, id string) error {
	var v Violations
	required(&v, "site_id", siteID)
	required(&v, "canned_reply_id", id)
	if err := v.Err(); err != nil {
		return err
	}
	return s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.CannedReply(siteID, id); err != nil {
			return err
		}
		if err := tx.DeleteCannedReply(siteID, id); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventCannedReplyDeleted, SiteID: siteID, CannedReplyID: id})
	})
}

// ListCannedReplies lists a site's canned replies by shortcut.
func (s *Service) ListCannedReplies(ctx context.Context, siteID string) (out []*CannedReply, err error) {
	if siteID == "" {
		return nil, invalid("site_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		out, err = tx.CannedReplies(siteID)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortCanned(out)
	return out, nil
}

func sortCanned(rs []*CannedReply) {
	slices.SortFunc(rs, func(a, b *CannedReply) int { return strings.Compare(a.Shortcut, b.Shortcut) })
}
