package domain

import (
	"context"
	"crypto/sha256"
	"net/url"
	"strings"
	"unicode/utf8"
)

// StartVisitorSession begins a visitor session on a site, or resumes the
// one resumeToken belongs to. The token is a bearer secret: only its SHA-256
// is stored. An unknown token, or one of another site, starts a new session
// rather than failing, because the widget cannot do better than start anew.
func (s *Service) StartVisitorSession(ctx context.Context, siteID, resumeToken string) (visitor *Visitor, token string, resumed bool, err error) {
	return s.StartVisitorSessionWithIdentity(ctx, siteID, resumeToken, nil)
}

// StartVisitorSessionWithIdentity is StartVisitorSession for a page that
// says who the visitor is: the claim (nil for none) is checked and, on a
// resumed session, replaces the identity stored before. A wrong claim
// fails the call and stores nothing.
func (s *Service) StartVisitorSessionWithIdentity(ctx context.Context, siteID, resumeToken string, claim *IdentityClaim) (visitor *Visitor, token string, resumed bool, err error) {
	var v Violations
	// Only an empty id is missing: any other unknown id, blank ones
	// included, is NotFound as everywhere else.
	if siteID == "" {
		v.Add("site_id", "is required")
	}
	if claim != nil {
		checkIdentity(&v, "identity", *claim)
	}
	if err := v.Err(); err != nil {
		return nil, "", false, err
	}
	if resumeToken != "" {
		hash := sha256.Sum256([]byte(resumeToken))
		same := true // the claim, if any, is what the visitor's record says
		err = s.store.View(ctx, func(tx ReadTx) error {
			if _, err := tx.Site(siteID); err != nil {
				return err
			}
			v, err := tx.VisitorByTokenHash(hash[:])
			if err == nil && v.SiteID == siteID {
				visitor = v
			}
			if ErrorCode(err) == CodeNotFound {
				err = nil
			}
			if err != nil || visitor == nil || claim == nil {
				return err
			}
			id, err := resolveIdentity(tx, siteID, *claim)
			same = visitor.Identity.Equal(id)
			return err
		})
		if err != nil {
			return nil, "", false, err
		}
		if visitor != nil {
			// Each page load of a signed-in visitor says who they are
			// again: written only when it changed.
			if !same {
				if visitor, err = s.IdentifyVisitor(ctx, visitor.ID, *claim); err != nil {
					return nil, "", false, err
				}
			}
			return visitor, resumeToken, true, nil
		}
	}
	token, hash := newSecret(visitorTokenPrefix)
	visitor = &Visitor{ID: newID("visitor"), SiteID: siteID, CreateTime: s.clock.Now(), Engagement: EngagementBrowsing}
	err = s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		if claim != nil {
			id, err := resolveIdentity(tx, siteID, *claim)
			if err != nil {
				return err
			}
			visitor.Identity = id
		}
		// A session is a token for the widget, asked for by every new
		// browser: the visit, when the widget opens, is visitor.arrived.
		if err := quiet(tx, "a visitor's session", func() error {
			if err := tx.PutVisitor(visitor); err != nil {
				return err
			}
			return tx.PutVisitorToken(hash[:], visitor.ID)
		}); err != nil {
			return err
		}
		if !visitor.Identity.IsZero() {
			_, err := s.recordIdentified(tx, visitor)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, "", false, err
	}
	return visitor, token, false, nil
}

// RecordPageView stores the page a visitor is looking at and tells the
// agents watching the site.
func (s *Service) RecordPageView(ctx context.Context, visitorID, pageURL, title string) (*Visitor, error) {
	return s.RecordPageViewFrom(ctx, visitorID, pageURL, title, "")
}

// RecordPageViewFrom is RecordPageView with the page's referrer
// (document.referrer, optional): the first page of a visit gives the
// visit's referrer, which trigger rules look at.
func (s *Service) RecordPageViewFrom(ctx context.Context, visitorID, pageURL, title, referrer string) (*Visitor, error) {
	var v Violations
	required(&v, "visitor_id", visitorID)
	checkPage(&v, "url", "title", pageURL, title)
	checkReferrer(&v, "referrer", referrer)
	if err := v.Err(); err != nil {
		return nil, err
	}
	visitor, err := s.viewPage(ctx, visitorID, pageURL, title)
	if err != nil {
		return nil, err
	}
	s.presence.pageViewed(visitorID, visitor.CurrentPage, referrer)
	// The page conditions of the launching criteria depend on the current
	// page: re-arm the launch timer, or a visit that began on a page they
	// exclude would never launch after moving to one they allow.
	s.scheduleLaunch(visitorID)
	return visitor, nil
}

// viewPage makes a checked page view the visitor's current page and
// returns the visitor with it. The page is written behind (pageWriteDelay
// says why); presence and the launch timer are the caller's.
func (s *Service) viewPage(ctx context.Context, visitorID, pageURL, title string) (*Visitor, error) {
	page := PageView{URL: pageURL, Title: title, ViewTime: s.clock.Now()}
	var visitor *Visitor
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		visitor, err = tx.Visitor(visitorID)
		return err
	})
	if err != nil {
		return nil, err
	}
	visitor.CurrentPage = page
	s.pages.record(visitorID, page)
	return visitor, nil
}

func checkPage(v *Violations, urlField, titleField, pageURL, title string) {
	if required(v, urlField, pageURL) {
		u, err := url.Parse(pageURL)
		switch {
		case len(pageURL) > MaxURLBytes:
			v.Add(urlField, "must be at most %d bytes", MaxURLBytes)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.Add(urlField, "must be an absolute http(s) URL")
		case !utf8.ValidString(pageURL):
			// url.Parse lets bytes that are not UTF-8 through, and the
			// page is stored in a protobuf string, which must be UTF-8:
			// the write failed as an internal error (found by
			// FuzzRecordPageView).
			v.Add(urlField, "must be UTF-8")
		case strings.ContainsFunc(pageURL, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			// url.Parse refuses most control characters, but not DEL in a
			// fragment (found by FuzzRecordPageView).
			v.Add(urlField, "must not contain control characters")
		}
	}
	if len(title) > MaxTitleBytes {
		v.Add(titleField, "must be at most %d bytes", MaxTitleBytes)
	}
	if !utf8.ValidString(title) {
		v.Add(titleField, "must be UTF-8")
	}
}
