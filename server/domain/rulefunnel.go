package domain

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// The trigger rules' funnel: per site, UTC hour, rule and variant, how many
// visitors each rule matched, held out, invited, and how many accepted,
// sent the form, were queued, chatted and rated the chat, with the control
// group's "chatted anyway". Like the site's funnel (funnel.go) it is
// counted from the events as recordAt appends them, in the same
// transaction, from the rule_id and variant_id the events carry.

// RuleVariant names one funnel of the report: a rule as a whole (VariantID
// empty) or one of its variants.
type RuleVariant struct {
	RuleID, VariantID string
}

// Slots of a rule's funnel counters; stored, so never renumbered.
const (
	ruleSlotMatched = iota
	ruleSlotHeldOut
	ruleSlotInvited
	ruleSlotAccepted
	ruleSlotForms
	ruleSlotQueued
	ruleSlotChatted
	ruleSlotRated
	ruleSlotHeldOutChatted
)

// ruleFunnelSlots is the rule counters ev adds one to.
func ruleFunnelSlots(ev *Event) []int {
	if ev.RuleID == "" || ev.SiteID == "" {
		return nil
	}
	switch {
	case ev.Type == EventRuleHeldOut:
		return []int{ruleSlotMatched, ruleSlotHeldOut}
	case ev.Type == EventRequestAccepted && ev.HeldOut:
		return []int{ruleSlotHeldOutChatted}
	case ev.HeldOut:
		return nil // the control group's own way to a chat: only its end counts
	}
	switch ev.Type {
	case EventLaunchFired:
		return []int{ruleSlotMatched}
	case EventInvitationSent:
		return []int{ruleSlotInvited}
	case EventInvitationAccepted:
		return []int{ruleSlotAccepted}
	case EventFormSubmitted:
		return []int{ruleSlotForms}
	case EventRequestQueued:
		return []int{ruleSlotQueued}
	case EventRequestAccepted:
		return []int{ruleSlotChatted}
	case EventChatRated:
		return []int{ruleSlotRated}
	}
	return nil
}

// countRuleFunnel adds ev's rule counters in tx: for the rule, and for
// its variant when it has one.
func countRuleFunnel(tx WriteTx, ev *Event) error {
	slots := ruleFunnelSlots(ev)
	if len(slots) == 0 {
		return nil
	}
	if err := tx.AddRuleFunnel(ev.SiteID, ev.RuleID, "", ev.Time, slots); err != nil {
		return err
	}
	if ev.VariantID != "" {
		return tx.AddRuleFunnel(ev.SiteID, ev.RuleID, ev.VariantID, ev.Time, slots)
	}
	return nil
}

// RuleFunnel is one rule's (or variant's) funnel over a range of hours.
type RuleFunnel struct {
	RuleID, VariantID                          string
	Matched, HeldOut, Invited, Accepted, Forms uint64
	Queued, Chatted, Rated, HeldOutChatted     uint64
}

// TriggerRuleReport is the funnel of a site's rules.
type TriggerRuleReport struct {
	SiteID     string
	Start, End time.Time
	// Rules has one funnel per rule in the site's order (VariantID empty),
	// then rules no longer on the site that counted in the range, then
	// one per variant.
	Rules []RuleFunnel
	// PredictedWait is the site's estimated wait now.
	PredictedWait time.Duration
}

// GetTriggerRuleReport returns the funnel of each of a site's rules and
// variants over [start, end), widened to whole UTC hours as GetFunnel.
func (s *Service) GetTriggerRuleReport(ctx context.Context, siteID string, start, end time.Time) (*TriggerRuleReport, error) {
	start, end, err := s.funnelRange(siteID, start, end)
	if err != nil {
		return nil, err
	}
	rep := &TriggerRuleReport{SiteID: siteID, Start: start, End: end}
	err = s.store.View(ctx, func(tx ReadTx) error {
		site, err := tx.Site(siteID)
		if err != nil {
			return err
		}
		counts, err := tx.RuleFunnelCounters(siteID, start, end)
		if err != nil {
			return err
		}
		var f Facts
		if err := s.agentFacts(tx, siteID, &f, false, true); err != nil {
			return err
		}
		rep.PredictedWait = f.PredictedWait
		order := map[string]int{}
		for i, r := range site.ProactiveChat.Rules {
			order[r.ID] = i
			// Every rule and variant of the site is reported, counted or not.
			keys := []RuleVariant{{RuleID: r.ID}}
			for _, v := range r.Variants {
				keys = append(keys, RuleVariant{RuleID: r.ID, VariantID: v.ID})
			}
			for _, k := range keys {
				if _, ok := counts[k]; !ok {
					counts[k] = nil
				}
			}
		}
		keys := make([]RuleVariant, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		rank := func(id string) int {
			if i, ok := order[id]; ok {
				return i
			}
			return len(order)
		}
		slices.SortFunc(keys, func(a, b RuleVariant) int {
			return cmp.Or(
				cmp.Compare(boolInt(a.VariantID != ""), boolInt(b.VariantID != "")),
				cmp.Compare(rank(a.RuleID), rank(b.RuleID)),
				cmp.Compare(a.RuleID, b.RuleID),
				cmp.Compare(a.VariantID, b.VariantID))
		})
		for _, k := range keys {
			rep.Rules = append(rep.Rules, ruleFunnelFrom(k, counts[k]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ruleFunnelFrom(k RuleVariant, c FunnelCounters) RuleFunnel {
	at := func(i int) uint64 {
		if i < len(c) {
			return c[i]
		}
		return 0
	}
	return RuleFunnel{RuleID: k.RuleID, VariantID: k.VariantID,
		Matched: at(ruleSlotMatched), HeldOut: at(ruleSlotHeldOut), Invited: at(ruleSlotInvited),
		Accepted: at(ruleSlotAccepted), Forms: at(ruleSlotForms), Queued: at(ruleSlotQueued),
		Chatted: at(ruleSlotChatted), Rated: at(ruleSlotRated), HeldOutChatted: at(ruleSlotHeldOutChatted)}
}

// RuleEvaluation is how one visitor online now fares against a rule.
type RuleEvaluation struct {
	Visitor Presence
	// Matches: all conditions hold (caps aside).
	Matches bool
	Failed  []string
	// CappedBy names the cap that stops the rule for the visitor now.
	CappedBy string
}

// MaxPreviewVisitors is how many visitors a preview evaluates.
const MaxPreviewVisitors = 1000

// PreviewTriggerRule evaluates a rule, as being edited, against the site's
// visitors online now, the longest on the site first (at most
// MaxPreviewVisitors); it also returns how many are online.
func (s *Service) PreviewTriggerRule(ctx context.Context, siteID string, r TriggerRule) ([]RuleEvaluation, int, error) {
	var v Violations
	required(&v, "site_id", siteID)
	checkRule(&v, "rule", r)
	if err := v.Err(); err != nil {
		return nil, 0, err
	}
	online := s.presence.snapshot([]string{siteID}, nil)
	var out []RuleEvaluation
	err := s.store.View(ctx, func(tx ReadTx) error {
		site, err := tx.Site(siteID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		rules := []TriggerRule{r}
		for _, p := range online[:min(len(online), MaxPreviewVisitors)] {
			visitor, err := tx.Visitor(p.VisitorID)
			if ErrorCode(err) == CodeNotFound {
				continue // erased meanwhile
			}
			if err != nil {
				return err
			}
			facts, err := s.factsOf(tx, site, rules, visitor, p, now)
			if err != nil {
				return err
			}
			ev := Evaluate(r, facts, now)
			e := RuleEvaluation{Visitor: p, Matches: ev.Match, Failed: ev.Failed}
			switch {
			case !visitor.LastLaunchTime.IsZero() && !visitor.LastLaunchTime.Before(p.VisitStartTime):
				e.CappedBy = "once a visit: already launched (or engaged) this visit"
			default:
				e.CappedBy, _ = capsBlock(site, r, visitor, p.VisitStartTime, now)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, len(online), nil
}
