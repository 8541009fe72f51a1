package domain

import (
	"context"
	"fmt"
	"maps"
)

// What the widget tells the server for the trigger rules' conditions:
// activity on the page (presence: not stored), the visitor's attributes
// (stored, in the identity), and the browser (stored with the visitor).

// ReportActivity applies what the visitor did on the current page (scroll
// depth, exit intent, interaction) and evaluates the site's rules again. A
// report for another page than the current one is stale (the page changed
// meanwhile) and ignored, as is one for a visitor not on the site.
func (s *Service) ReportActivity(ctx context.Context, visitorID, pageURL string, a VisitorActivity) error {
	var v Violations
	required(&v, "visitor_id", visitorID)
	checkPage(&v, "page_url", "", pageURL, "")
	if a.ScrollPercent > 100 {
		v.Add("activity.scroll_percent", "must be at most 100")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if !s.presence.online(visitorID) {
		_, err := s.getVisitor(ctx, visitorID) // NotFound for an unknown one
		return err
	}
	if s.presence.activity(visitorID, pageURL, a, s.clock.Now()) {
		s.scheduleLaunch(visitorID)
	}
	return nil
}

// UpdateVisitorAttributes sets and removes attributes of a visitor's
// identity, leaving the rest of it as it is. The result must keep within
// the identity's bounds; the page says it, like the rest of the identity,
// so it is not verified. Agents see the change, and the site's rules are
// evaluated again.
func (s *Service) UpdateVisitorAttributes(ctx context.Context, visitorID string, set map[string]string, remove []string) (*Visitor, error) {
	var v Violations
	required(&v, "visitor_id", visitorID)
	if len(set) > MaxIdentityAttributes {
		v.Add("set", "must have at most %d entries", MaxIdentityAttributes)
	} else {
		var attrs Violations
		checkIdentity(&attrs, "identity", IdentityClaim{Identity: VisitorIdentity{Attributes: set}})
		for _, e := range attrs {
			v.Add("set"+e.Field[len("identity.attributes"):], "%s", e.Description)
		}
	}
	if len(remove) > MaxIdentityAttributes {
		v.Add("remove", "must have at most %d entries", MaxIdentityAttributes)
	} else {
		for i, k := range remove {
			if len(k) > MaxIdentityAttrKeyBytes || !attributeKey.MatchString(k) {
				v.Add(fmt.Sprintf("remove[%d]", i), "key must be 1–%d bytes of a-z, 0-9 and _", MaxIdentityAttrKeyBytes)
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var visitor *Visitor
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if visitor, err = tx.Visitor(visitorID); err != nil {
			return err
		}
		// A new map: a stored identity is never changed (presence shares it).
		attrs := maps.Clone(visitor.Identity.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for _, k := range remove {
			delete(attrs, k)
		}
		maps.Copy(attrs, set)
		if len(attrs) > MaxIdentityAttributes {
			return invalid("set", "the visitor would have %d attributes, at most %d", len(attrs), MaxIdentityAttributes)
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		if maps.Equal(attrs, visitor.Identity.Attributes) {
			return nil
		}
		id := visitor.Identity
		id.Attributes = attrs
		visitor.Identity = id
		if err := tx.PutVisitor(visitor); err != nil {
			return err
		}
		ev, err := s.recordIdentified(tx, visitor)
		if err != nil {
			return err
		}
		ev.visitor = visitor
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.pages.latest(visitor)
	s.scheduleLaunch(visitorID)
	return visitor, nil
}

// ClientInfo is what the widget knows of the browser.
type ClientInfo struct {
	Device   DeviceClass
	Language string
}

func checkClientInfo(v *Violations, c ClientInfo) {
	if c.Device < DeviceUnspecified || c.Device > DevicePhone {
		v.Add("client_info.device", "unknown device class %d", c.Device)
	}
	if c.Language != "" && (len(c.Language) > MaxLanguageBytes || !languageTag.MatchString(c.Language)) {
		v.Add("client_info.language", "must be a BCP 47 language tag such as de-AT, at most %d bytes", MaxLanguageBytes)
	}
}

// setClient stores what the widget said of the browser, when it changed.
func (s *Service) setClient(ctx context.Context, visitor *Visitor, c ClientInfo) (*Visitor, error) {
	if c == (ClientInfo{}) || (visitor.Device == c.Device && visitor.Language == c.Language) {
		return visitor, nil
	}
	var out *Visitor
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if out, err = tx.Visitor(visitor.ID); err != nil {
			return err
		}
		out.Device, out.Language = c.Device, c.Language
		// What the browser says of itself at each session start: a fact
		// for the trigger rules, not a change of the visitor's state.
		return quiet(tx, "the browser's device and language", func() error { return tx.PutVisitor(out) })
	})
	if err != nil {
		return nil, err
	}
	s.presence.client(out.ID, c.Device, c.Language)
	s.scheduleLaunch(out.ID)
	s.pages.latest(out)
	return out, nil
}

// StartVisitorSessionWithClient is StartVisitorSessionWithIdentity with
// what the widget knows of the browser (device class and language), kept
// with the visitor for the trigger rules.
func (s *Service) StartVisitorSessionWithClient(ctx context.Context, siteID, resumeToken string, claim *IdentityClaim, c ClientInfo) (*Visitor, string, bool, error) {
	var v Violations
	checkClientInfo(&v, c)
	if err := v.Err(); err != nil {
		return nil, "", false, err
	}
	visitor, token, resumed, err := s.StartVisitorSessionWithIdentity(ctx, siteID, resumeToken, claim)
	if err != nil {
		return nil, "", false, err
	}
	if visitor, err = s.setClient(ctx, visitor, c); err != nil {
		return nil, "", false, err
	}
	return visitor, token, resumed, nil
}
