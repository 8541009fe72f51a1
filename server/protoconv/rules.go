package protoconv

import (
	"slices"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// The enums below convert by value: the domain's constants are the
// proto's in the same order; values out of range pass through, for the
// domain's checks to refuse.

// DeviceClassToProto converts a device class.
func DeviceClassToProto(d domain.DeviceClass) pb.DeviceClass { return pb.DeviceClass(d) }

// DeviceClassFromProto converts a device class.
func DeviceClassFromProto(d pb.DeviceClass) domain.DeviceClass { return domain.DeviceClass(d) }

func ruleLaunchesToProto(ls []domain.RuleLaunch) []*pb.RuleLaunch {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*pb.RuleLaunch, len(ls))
	for i, l := range ls {
		out[i] = &pb.RuleLaunch{RuleId: l.RuleID, VariantId: l.VariantID, Time: TimeToProto(l.Time), HeldOut: l.HeldOut}
	}
	return out
}

func ruleLaunchesFromProto(ls []*pb.RuleLaunch) []domain.RuleLaunch {
	if len(ls) == 0 {
		return nil
	}
	out := make([]domain.RuleLaunch, len(ls))
	for i, l := range ls {
		out[i] = domain.RuleLaunch{RuleID: l.GetRuleId(), VariantID: l.GetVariantId(), Time: TimeFromProto(l.GetTime()), HeldOut: l.GetHeldOut()}
	}
	return out
}

// FrequencyCapsToProto converts caps; none set gives nil, so stored sites
// do not grow.
func FrequencyCapsToProto(c domain.FrequencyCaps) *pb.FrequencyCaps {
	if c == (domain.FrequencyCaps{}) {
		return nil
	}
	return &pb.FrequencyCaps{MaxPerVisit: c.MaxPerVisit, MaxPerDay: c.MaxPerDay, MaxEver: c.MaxEver,
		SuppressAfterDeclineSeconds: c.SuppressAfterDeclineSeconds}
}

// FrequencyCapsFromProto converts caps; nil is none.
func FrequencyCapsFromProto(c *pb.FrequencyCaps) domain.FrequencyCaps {
	return domain.FrequencyCaps{MaxPerVisit: c.GetMaxPerVisit(), MaxPerDay: c.GetMaxPerDay(), MaxEver: c.GetMaxEver(),
		SuppressAfterDeclineSeconds: c.GetSuppressAfterDeclineSeconds()}
}

// TriggerRulesToProto converts a site's rules.
func TriggerRulesToProto(rs []domain.TriggerRule) []*pb.TriggerRule {
	if rs == nil {
		return nil
	}
	out := make([]*pb.TriggerRule, len(rs))
	for i, r := range rs {
		out[i] = TriggerRuleToProto(r)
	}
	return out
}

// TriggerRulesFromProto converts a site's rules.
func TriggerRulesFromProto(rs []*pb.TriggerRule) []domain.TriggerRule {
	if rs == nil {
		return nil
	}
	out := make([]domain.TriggerRule, len(rs))
	for i, r := range rs {
		out[i] = TriggerRuleFromProto(r)
	}
	return out
}

// TriggerRuleToProto converts a rule.
func TriggerRuleToProto(r domain.TriggerRule) *pb.TriggerRule {
	out := &pb.TriggerRule{
		Id: r.ID, Name: r.Name, Enabled: r.Enabled, Mode: ProactiveChatModeToProto(r.Mode),
		InviteText: r.InviteText, FormFields: formFieldsToProto(r.FormFields),
		Conditions: conditionsToProto(r.Conditions), Caps: FrequencyCapsToProto(r.Caps),
		HoldoutPercent: r.HoldoutPercent,
	}
	for _, v := range r.Variants {
		out.Variants = append(out.Variants, &pb.InviteVariant{Id: v.ID, Name: v.Name, InviteText: v.InviteText, Weight: v.Weight})
	}
	return out
}

// TriggerRuleFromProto converts a rule; nil gives the zero rule.
func TriggerRuleFromProto(r *pb.TriggerRule) domain.TriggerRule {
	out := domain.TriggerRule{
		ID: r.GetId(), Name: r.GetName(), Enabled: r.GetEnabled(), Mode: ProactiveChatModeFromProto(r.GetMode()),
		InviteText: r.GetInviteText(), FormFields: formFieldsFromProto(r.GetFormFields()),
		Conditions: conditionsFromProto(r.GetConditions()), Caps: FrequencyCapsFromProto(r.GetCaps()),
		HoldoutPercent: r.GetHoldoutPercent(),
	}
	for _, v := range r.GetVariants() {
		out.Variants = append(out.Variants, domain.InviteVariant{ID: v.GetId(), Name: v.GetName(), InviteText: v.GetInviteText(), Weight: v.GetWeight()})
	}
	return out
}

func formFieldsToProto(fs []domain.FormField) []*pb.FormField {
	if fs == nil {
		return nil
	}
	out := make([]*pb.FormField, len(fs))
	for i, f := range fs {
		out[i] = FormFieldToProto(f)
	}
	return out
}

func formFieldsFromProto(fs []*pb.FormField) []domain.FormField {
	if fs == nil {
		return nil
	}
	out := make([]domain.FormField, len(fs))
	for i, f := range fs {
		out[i] = FormFieldFromProto(f)
	}
	return out
}

func conditionsToProto(c domain.TriggerConditions) *pb.TriggerConditions {
	out := &pb.TriggerConditions{
		MinSecondsOnSite: c.MinSecondsOnSite, MinSecondsOnPage: c.MinSecondsOnPage, MinPagesViewed: c.MinPagesViewed,
		IncludePages: slices.Clone(c.IncludePages), ExcludePages: slices.Clone(c.ExcludePages),
		PageTitles: slices.Clone(c.PageTitles), ReferrerHosts: slices.Clone(c.ReferrerHosts),
		Recency: pb.VisitorRecency(c.Recency), ChatHistory: pb.ChatHistoryCondition(c.ChatHistory),
		NameKnown: c.NameKnown, Languages: slices.Clone(c.Languages), MinScrollPercent: c.MinScrollPercent,
		ExitIntent: c.ExitIntent, MinIdleSeconds: c.MinIdleSeconds, BusinessHours: pb.BusinessHoursCondition(c.BusinessHours),
		AgentAvailable: c.AgentAvailable, MaxPredictedWaitSeconds: c.MaxPredictedWaitSeconds,
	}
	for _, u := range c.UTM {
		out.Utm = append(out.Utm, &pb.UtmCondition{Parameter: u.Parameter, Value: u.Value})
	}
	for _, a := range c.Attributes {
		out.Attributes = append(out.Attributes, &pb.AttributeCondition{Key: a.Key, Operator: pb.AttributeOperator(a.Operator), Value: a.Value})
	}
	for _, d := range c.Devices {
		out.Devices = append(out.Devices, DeviceClassToProto(d))
	}
	return out
}

func conditionsFromProto(c *pb.TriggerConditions) domain.TriggerConditions {
	out := domain.TriggerConditions{
		MinSecondsOnSite: c.GetMinSecondsOnSite(), MinSecondsOnPage: c.GetMinSecondsOnPage(), MinPagesViewed: c.GetMinPagesViewed(),
		IncludePages: slices.Clone(c.GetIncludePages()), ExcludePages: slices.Clone(c.GetExcludePages()),
		PageTitles: slices.Clone(c.GetPageTitles()), ReferrerHosts: slices.Clone(c.GetReferrerHosts()),
		Recency: domain.VisitorRecency(c.GetRecency()), ChatHistory: domain.ChatHistoryCondition(c.GetChatHistory()),
		NameKnown: c.GetNameKnown(), Languages: slices.Clone(c.GetLanguages()), MinScrollPercent: c.GetMinScrollPercent(),
		ExitIntent: c.GetExitIntent(), MinIdleSeconds: c.GetMinIdleSeconds(), BusinessHours: domain.BusinessHoursCondition(c.GetBusinessHours()),
		AgentAvailable: c.GetAgentAvailable(), MaxPredictedWaitSeconds: c.GetMaxPredictedWaitSeconds(),
	}
	for _, u := range c.GetUtm() {
		out.UTM = append(out.UTM, domain.UTMCondition{Parameter: u.GetParameter(), Value: u.GetValue()})
	}
	for _, a := range c.GetAttributes() {
		out.Attributes = append(out.Attributes, domain.AttributeCondition{Key: a.GetKey(), Operator: domain.AttributeOperator(a.GetOperator()), Value: a.GetValue()})
	}
	for _, d := range c.GetDevices() {
		out.Devices = append(out.Devices, DeviceClassFromProto(d))
	}
	return out
}
