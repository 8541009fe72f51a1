package domain

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// VisitorIdentity is who a visitor is, as the page that embeds the widget
// says, or as the visitor answered in the data-collection form. Only
// ExternalID can be verified (Verified): the rest is what the page said.
// A value is never changed once stored: a change makes a new one, so
// presence may share it with every agent's stream.
type VisitorIdentity struct {
	Name       string
	Email      string
	ExternalID string
	Attributes map[string]string
	// Verified says ExternalID came with a matching HMAC of the site's
	// identity secret.
	Verified bool
}

// IsZero reports whether nothing is known of who the visitor is.
func (id VisitorIdentity) IsZero() bool {
	return id.Name == "" && id.Email == "" && id.ExternalID == "" && len(id.Attributes) == 0
}

// Equal reports whether two identities say the same.
func (id VisitorIdentity) Equal(o VisitorIdentity) bool {
	return id.Name == o.Name && id.Email == o.Email && id.ExternalID == o.ExternalID &&
		id.Verified == o.Verified && maps.Equal(id.Attributes, o.Attributes)
}

// IdentityClaim is what a page says of its visitor: an identity and, for
// its ExternalID to be trusted, the hex HMAC-SHA256 of that id with the
// site's identity secret.
type IdentityClaim struct {
	Identity VisitorIdentity
	Hash     string
}

// Limits of a visitor's identity.
const (
	MaxIdentityNameBytes      = 200
	MaxIdentityEmailBytes     = 254
	MaxIdentityExternalID     = 128
	MaxIdentityAttributes     = 20
	MaxIdentityAttrKeyBytes   = 64
	MaxIdentityAttrValueBytes = 500
)

var attributeKey = regexp.MustCompile(`^[a-z0-9_]+$`)

// checkIdentity checks a claim's fields, naming them under prefix
// ("identity").
func checkIdentity(v *Violations, prefix string, c IdentityClaim) {
	id := c.Identity
	checkText := func(field, val string, limit int) bool {
		switch {
		case len(val) > limit:
			v.Add(prefix+"."+field, "must be at most %d bytes", limit)
		case !utf8.ValidString(val):
			v.Add(prefix+"."+field, "must be UTF-8")
		case strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			v.Add(prefix+"."+field, "must not contain control characters")
		default:
			return true
		}
		return false
	}
	checkText("name", id.Name, MaxIdentityNameBytes)
	if checkText("email", id.Email, MaxIdentityEmailBytes) && id.Email != "" && !validEmail(id.Email) {
		v.Add(prefix+".email", "must be an e-mail address like name@example.com")
	}
	checkText("external_id", id.ExternalID, MaxIdentityExternalID)
	if len(id.Attributes) > MaxIdentityAttributes {
		v.Add(prefix+".attributes", "must have at most %d entries", MaxIdentityAttributes)
	}
	for _, k := range slices.Sorted(maps.Keys(id.Attributes)) {
		field := fmt.Sprintf("%s.attributes[%q]", prefix, k)
		switch {
		case len(k) > MaxIdentityAttrKeyBytes || !attributeKey.MatchString(k):
			v.Add(field, "key must be 1–%d bytes of a-z, 0-9 and _", MaxIdentityAttrKeyBytes)
		case len(id.Attributes[k]) > MaxIdentityAttrValueBytes:
			v.Add(field, "must be at most %d bytes", MaxIdentityAttrValueBytes)
		case !utf8.ValidString(id.Attributes[k]):
			v.Add(field, "must be UTF-8")
		}
	}
	if c.Hash != "" && id.ExternalID == "" {
		v.Add(prefix+".identity_hash", "is given without an external_id to verify")
	}
}

// validEmail is the form's rule for e-mail fields: one plain address with
// a dot in its domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndex(s, "@")+1:], ".")
}

// verifyIdentity turns a checked claim into the identity to store, with
// the site's identity secret ("" when it has none). With a secret, an
// external id needs its hash, and a wrong one is refused; without, an
// external id is kept unverified and a hash is refused (there is nothing
// to check it with).
func verifyIdentity(prefix string, c IdentityClaim, secret string) (VisitorIdentity, error) {
	id := c.Identity
	id.Name = strings.TrimSpace(id.Name)
	id.Email = strings.TrimSpace(id.Email)
	id.Attributes = maps.Clone(id.Attributes)
	if len(id.Attributes) == 0 {
		id.Attributes = nil
	}
	id.Verified = false
	if id.ExternalID == "" {
		return id, nil
	}
	switch {
	case secret == "" && c.Hash != "":
		return VisitorIdentity{}, invalid(prefix+".identity_hash", "cannot be checked: the site has no identity secret (RotateSiteIdentitySecret makes one)")
	case secret == "":
		return id, nil
	case c.Hash == "":
		return VisitorIdentity{}, invalid(prefix+".identity_hash", "is required with external_id: the site verifies identities (hex HMAC-SHA256 of external_id with the site's identity secret)")
	}
	got, err := hex.DecodeString(strings.ToLower(c.Hash))
	if err != nil || !hmac.Equal(got, IdentityHash(secret, id.ExternalID)) {
		return VisitorIdentity{}, invalid(prefix+".identity_hash", "does not match external_id (hex HMAC-SHA256 of external_id with the site's identity secret)")
	}
	id.Verified = true
	return id, nil
}

// IdentityHash is HMAC-SHA256(secret, externalID): what a site's backend
// computes, in hex, for the page to pass as the identity hash.
func IdentityHash(secret, externalID string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(externalID))
	return m.Sum(nil)
}

// resolveIdentity checks a claim of a visitor of siteID against the site's
// secret, in tx.
func resolveIdentity(tx ReadTx, siteID string, c IdentityClaim) (VisitorIdentity, error) {
	secret, err := tx.SiteIdentitySecret(siteID)
	if ErrorCode(err) == CodeNotFound {
		secret, err = "", nil
	}
	if err != nil {
		return VisitorIdentity{}, err
	}
	return verifyIdentity("identity", c, secret)
}

// IdentifyVisitor replaces who a visitor is with what the page says now
// (the visitor signed in after the page loaded). Agents watching the site
// see the change at once.
func (s *Service) IdentifyVisitor(ctx context.Context, visitorID string, c IdentityClaim) (*Visitor, error) {
	var v Violations
	required(&v, "visitor_id", visitorID)
	checkIdentity(&v, "identity", c)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var visitor *Visitor
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		visitor, err = tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		id, err := resolveIdentity(tx, visitor.SiteID, c)
		if err != nil {
			return err
		}
		if visitor.Identity.Equal(id) {
			return nil // the same again: nothing changes
		}
		visitor.Identity = id
		if err := tx.PutVisitor(visitor); err != nil {
			return err
		}
		ev, err := s.recordIdentified(tx, visitor)
		if err != nil {
			return err
		}
		ev.visitor = visitor
		// The queue shows who waits: an open request follows.
		if visitor.ChatRequestID == "" {
			return nil
		}
		req, err := tx.ChatRequest(visitor.ChatRequestID)
		if err != nil || !req.Open() {
			return err
		}
		req.VisitorIdentity = id
		ev.request = req
		return tx.PutChatRequest(req)
	})
	if err != nil {
		return nil, err
	}
	s.pages.latest(visitor)
	s.scheduleLaunch(visitorID) // rules may look at who the visitor is
	return visitor, nil
}

// recordIdentified records that visitor's identity changed to what it
// says now.
func (s *Service) recordIdentified(tx WriteTx, visitor *Visitor) (*Event, error) {
	return s.recordEvent(tx, Event{Type: EventVisitorIdentified, SiteID: visitor.SiteID, VisitorID: visitor.ID, Identity: visitor.Identity})
}

// identityFromForm is the visitor's identity after the form: a name field
// (key or label "name", e.g. "full_name") gives the name and an e-mail
// field (type e-mail, or key or label "email") the e-mail, unless a
// verified identity already has them: the site's backend knows better than
// what was typed.
func identityFromForm(id VisitorIdentity, fields []FormField, values map[string]string) VisitorIdentity {
	for _, f := range fields {
		val := values[f.Key]
		if val == "" {
			continue
		}
		key, label := strings.ToLower(f.Key), strings.ToLower(strings.TrimSpace(f.Label))
		switch {
		case f.Type == FieldEmail || key == "email" || key == "e_mail" || label == "email" || label == "e-mail":
			if (!id.Verified || id.Email == "") && validEmail(val) && len(val) <= MaxIdentityEmailBytes {
				id.Email = val
			}
		case isNameField(key) || isNameField(label):
			if (!id.Verified || id.Name == "") && len(val) <= MaxIdentityNameBytes {
				id.Name = val
			}
		}
	}
	return id
}

func isNameField(s string) bool {
	switch s {
	case "name", "full_name", "fullname", "full name", "your name", "your_name":
		return true
	}
	return false
}

// GetSiteIdentitySecret returns the secret a site's backend signs its
// visitors' external ids with; CodeNotFound until one was made.
func (s *Service) GetSiteIdentitySecret(ctx context.Context, siteID string) (string, error) {
	if siteID == "" {
		return "", invalid("site_id", "is required")
	}
	var secret string
	err := s.store.View(ctx, func(tx ReadTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		var err error
		secret, err = tx.SiteIdentitySecret(siteID)
		if ErrorCode(err) == CodeNotFound {
			return Errorf(CodeNotFound, "site %q has no identity secret: RotateSiteIdentitySecret makes one", siteID)
		}
		return err
	})
	return secret, err
}

// RotateSiteIdentitySecret makes a new identity secret for a site,
// replacing the old one at once.
func (s *Service) RotateSiteIdentitySecret(ctx context.Context, siteID string) (string, error) {
	if siteID == "" {
		return "", invalid("site_id", "is required")
	}
	var b [32]byte
	rand.Read(b[:])
	secret := hex.EncodeToString(b[:])
	err := s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Site(siteID); err != nil {
			return err
		}
		if err := tx.PutSiteIdentitySecret(siteID, secret); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventSiteUpdated, SiteID: siteID, Fields: []string{"identity_secret"}})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}
