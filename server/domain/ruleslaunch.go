package domain

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// The launch path with trigger rules: planLaunch picks the first enabled
// rule whose conditions hold within the caps, or says when to look again
// (the earliest time any rule could hold); fire launches it, or holds the
// visitor out when they fall in the rule's control group.

// launchPlan is what planLaunch decided for a visitor.
type launchPlan struct {
	// rule launches now; nil when none does.
	rule *TriggerRule
	// next is when a rule could hold without anything else changing;
	// zero when only an event (a page view, a report, a setting) can.
	next time.Time
	// awaitAgent: a rule fails only for want of an agent (or a short
	// enough wait): look again when an agent frees up.
	awaitAgent bool
}

// planLaunch evaluates the site's rules for a visitor at now.
func (s *Service) planLaunch(tx ReadTx, site *Site, v *Visitor, p Presence, now time.Time) (launchPlan, error) {
	var plan launchPlan
	if !site.ProactiveOn() || len(site.ProactiveChat.Rules) == 0 || !v.idle() {
		return plan, nil
	}
	if !v.LastLaunchTime.IsZero() && !v.LastLaunchTime.Before(p.VisitStartTime) {
		return plan, nil // once a visit
	}
	facts, err := s.factsOf(tx, site, site.ProactiveChat.Rules, v, p, now)
	if err != nil {
		return plan, err
	}
	soonest := func(t time.Time) {
		if !t.IsZero() && (plan.next.IsZero() || t.Before(plan.next)) {
			plan.next = t
		}
	}
	for i := range site.ProactiveChat.Rules {
		r := &site.ProactiveChat.Rules[i]
		if !r.Enabled {
			continue
		}
		if capped, until := capsBlock(site, *r, v, p.VisitStartTime, now); capped != "" {
			soonest(until)
			continue
		}
		ev := evaluate(*r, facts, now, false)
		if ev.Match {
			plan.rule = r
			return plan, nil
		}
		soonest(ev.Next)
		plan.awaitAgent = plan.awaitAgent || ev.onlyAgent()
	}
	return plan, nil
}

// onlyAgent: every failing condition is about agents or the wait.
func (e Evaluation) onlyAgent() bool {
	if !e.waitsForAgent {
		return false
	}
	for _, f := range e.Failed {
		if !hasPrefix(f, "agent_available:") && !hasPrefix(f, "max_predicted_wait_seconds:") {
			return false
		}
	}
	return true
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// capsBlock says which frequency cap, of the rule's or the site's, stops
// r for v at now ("" for none) and when it lifts (zero: not with time).
func capsBlock(site *Site, r TriggerRule, v *Visitor, visitStart, now time.Time) (string, time.Time) {
	if v.DeclineTime.After(time.Time{}) {
		secs := cmp.Or(r.Caps.SuppressAfterDeclineSeconds, site.ProactiveChat.Caps.SuppressAfterDeclineSeconds, site.ProactiveChat.ReinviteCooldownSeconds)
		if secs == 0 {
			return "declined: no invitation again (no reinvite cooldown)", time.Time{}
		}
		if until := v.DeclineTime.Add(durationSeconds(secs)); now.Before(until) {
			return fmt.Sprintf("suppress_after_decline_seconds: declined %d s ago, suppressed for %d s", int64(now.Sub(v.DeclineTime)/time.Second), secs), until
		}
	}
	if why, until := capBlock("rule caps", r.Caps, v.Launches, r.ID, visitStart, now); why != "" {
		return why, until
	}
	return capBlock("site caps", site.ProactiveChat.Caps, v.Launches, "", visitStart, now)
}

// capBlock applies one set of caps to the launches of ruleID (all with "").
func capBlock(scope string, c FrequencyCaps, launches []RuleLaunch, ruleID string, visitStart, now time.Time) (string, time.Time) {
	if c.MaxPerVisit == 0 && c.MaxPerDay == 0 && c.MaxEver == 0 {
		return "", time.Time{}
	}
	var visit, ever uint32
	var day []time.Time
	for _, l := range launches {
		if ruleID != "" && l.RuleID != ruleID {
			continue
		}
		ever++
		if !l.Time.Before(visitStart) {
			visit++
		}
		if now.Sub(l.Time) < 24*time.Hour {
			day = append(day, l.Time)
		}
	}
	switch {
	case c.MaxEver > 0 && ever >= c.MaxEver:
		return fmt.Sprintf("max_ever (%s): %d of %d", scope, ever, c.MaxEver), time.Time{}
	case c.MaxPerVisit > 0 && visit >= c.MaxPerVisit:
		return fmt.Sprintf("max_per_visit (%s): %d of %d", scope, visit, c.MaxPerVisit), time.Time{}
	case c.MaxPerDay > 0 && uint32(len(day)) >= c.MaxPerDay:
		// Launches are oldest first: the cap lifts when enough of the
		// day's have aged out.
		return fmt.Sprintf("max_per_day (%s): %d of %d", scope, len(day), c.MaxPerDay), day[uint32(len(day))-c.MaxPerDay].Add(24 * time.Hour)
	}
	return "", time.Time{}
}

// ruleHash is a visitor's stable number for a rule and purpose, so that
// the visitor is always in the same group and sees the same variant.
func ruleHash(visitorID, ruleID, purpose string) uint64 {
	h := sha256.Sum256([]byte(purpose + "\x00" + ruleID + "\x00" + visitorID))
	return binary.BigEndian.Uint64(h[:8])
}

// HeldOut reports whether a visitor is in a rule's control group.
func HeldOut(visitorID string, r TriggerRule) bool {
	return r.HoldoutPercent > 0 && ruleHash(visitorID, r.ID, "holdout")%100 < uint64(r.HoldoutPercent)
}

// ChooseVariant is the variant of a rule's invitation a visitor sees, by
// weight; the zero variant when the rule has none.
func ChooseVariant(visitorID string, r TriggerRule) InviteVariant {
	var total uint64
	for _, v := range r.Variants {
		total += uint64(v.Weight)
	}
	if total == 0 {
		return InviteVariant{}
	}
	n := ruleHash(visitorID, r.ID, "variant") % total
	for _, v := range r.Variants {
		if n < uint64(v.Weight) {
			return v
		}
		n -= uint64(v.Weight)
	}
	return r.Variants[len(r.Variants)-1]
}

// noteLaunch adds a launch to the visitor's history, dropping the oldest
// past MaxRuleLaunches.
func (v *Visitor) noteLaunch(l RuleLaunch) {
	v.Launches = append(v.Launches, l)
	if n := len(v.Launches) - MaxRuleLaunches; n > 0 {
		v.Launches = append([]RuleLaunch(nil), v.Launches[n:]...)
	}
}

// fire launches rule r for visitor v in tx: holds them out (control
// group), invites them (with invite) or queues them for an agent's alert
// (without invite).
func (s *Service) fire(tx WriteTx, site *Site, v *Visitor, p Presence, r TriggerRule, now time.Time) error {
	if HeldOut(v.ID, r) {
		// Recorded, and the visit's launch all the same: the control
		// group must be the visitors the rule would have approached.
		v.noteLaunch(RuleLaunch{RuleID: r.ID, Time: now, HeldOut: true})
		v.LastLaunchTime = now
		if err := tx.PutVisitor(v); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventRuleHeldOut, SiteID: site.ID, VisitorID: v.ID, RuleID: r.ID})
	}
	variant := ChooseVariant(v.ID, r)
	v.noteLaunch(RuleLaunch{RuleID: r.ID, VariantID: variant.ID, Time: now})
	if r.Mode == ModeWithInvite {
		// Mode 1 fires as an invitation; mode 2's launch is recorded
		// with the request it queues (enqueue).
		if err := s.record(tx, Event{Type: EventLaunchFired, SiteID: site.ID, VisitorID: v.ID, RuleID: r.ID, VariantID: variant.ID}); err != nil {
			return err
		}
		_, err := s.inviteWith(tx, site, v, "", invitationText{text: cmp.Or(variant.InviteText, r.InviteText), ruleID: r.ID, variantID: variant.ID})
		return err
	}
	v.LastLaunchTime = now
	return s.enqueue(tx, site, v, RequestPresence, nil, p)
}

// invitationText is what an invitation says and which rule sent it.
type invitationText struct {
	text              string
	ruleID, variantID string
}

// attribution is the trigger rule a visitor's request comes from: the
// rule that invited them (kind invited), launched them (presence), or in
// whose control group they were this visit (asking themselves).
func attribution(tx ReadTx, v *Visitor, kind ChatRequestKind) (ruleID, variantID string, heldOut bool, err error) {
	l, ok := v.visitLaunch()
	switch {
	case kind == RequestInvited:
		inv, err := tx.Invitation(v.InvitationID)
		if ErrorCode(err) == CodeNotFound {
			return "", "", false, nil
		}
		if err != nil {
			return "", "", false, err
		}
		return inv.RuleID, inv.VariantID, false, nil
	case !ok:
		return "", "", false, nil
	case kind == RequestPresence && !l.HeldOut:
		return l.RuleID, l.VariantID, false, nil
	case kind == RequestVisitor && l.HeldOut:
		return l.RuleID, "", true, nil
	}
	return "", "", false, nil
}
