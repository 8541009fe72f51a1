package protoconv

import (
	"slices"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// SiteToProto converts a site; nil gives nil.
func SiteToProto(s *domain.Site) *pb.Site {
	if s == nil {
		return nil
	}
	return &pb.Site{
		Id:              s.ID,
		Name:            s.Name,
		AllowedOrigins:  slices.Clone(s.AllowedOrigins),
		ProactiveChat:   ProactiveChatSettingsToProto(s.ProactiveChat),
		Retention:       RetentionSettingsToProto(s.Retention),
		CreateTime:      TimeToProto(s.CreateTime),
		UpdateTime:      TimeToProto(s.UpdateTime),
		VisitorLauncher: VisitorLauncherToProto(s.VisitorLauncher),
		BusinessHours:   BusinessHoursToProto(s.BusinessHours),
		OfflineMessage:  OfflineMessageSettingsToProto(s.OfflineMessage),
	}
}

// SiteFromProto converts a site; nil gives nil.
func SiteFromProto(s *pb.Site) *domain.Site {
	if s == nil {
		return nil
	}
	return &domain.Site{
		ID:              s.GetId(),
		Name:            s.GetName(),
		AllowedOrigins:  slices.Clone(s.GetAllowedOrigins()),
		ProactiveChat:   ProactiveChatSettingsFromProto(s.GetProactiveChat()),
		Retention:       RetentionSettingsFromProto(s.GetRetention()),
		CreateTime:      TimeFromProto(s.GetCreateTime()),
		UpdateTime:      TimeFromProto(s.GetUpdateTime()),
		VisitorLauncher: VisitorLauncherFromProto(s.GetVisitorLauncher()),
		BusinessHours:   BusinessHoursFromProto(s.GetBusinessHours()),
		OfflineMessage:  OfflineMessageSettingsFromProto(s.GetOfflineMessage()),
	}
}

// VisitorLauncherToProto converts a site's launcher settings; a site with
// none set has none, so stored sites do not grow.
func VisitorLauncherToProto(l domain.VisitorLauncherSettings) *pb.VisitorLauncherSettings {
	if l == (domain.VisitorLauncherSettings{}) {
		return nil
	}
	return &pb.VisitorLauncherSettings{Enabled: l.Enabled, Label: l.Label}
}

// VisitorLauncherFromProto converts a site's launcher settings; nil is off.
func VisitorLauncherFromProto(l *pb.VisitorLauncherSettings) domain.VisitorLauncherSettings {
	return domain.VisitorLauncherSettings{Enabled: l.GetEnabled(), Label: l.GetLabel()}
}

// RetentionSettingsToProto converts a site's retention periods; a site
// with none set has none, so stored sites do not grow.
func RetentionSettingsToProto(r domain.RetentionSettings) *pb.RetentionSettings {
	if r == (domain.RetentionSettings{}) {
		return nil
	}
	return &pb.RetentionSettings{VisitorSeconds: r.VisitorSeconds, ChatSeconds: r.ChatSeconds}
}

// RetentionSettingsFromProto converts a site's retention periods; nil is
// none set.
func RetentionSettingsFromProto(r *pb.RetentionSettings) domain.RetentionSettings {
	return domain.RetentionSettings{VisitorSeconds: r.GetVisitorSeconds(), ChatSeconds: r.GetChatSeconds()}
}

// ProactiveChatSettingsToProto converts a site's proactive chat settings.
func ProactiveChatSettingsToProto(s domain.ProactiveChatSettings) *pb.ProactiveChatSettings {
	var fields []*pb.FormField
	if s.FormFields != nil {
		fields = make([]*pb.FormField, len(s.FormFields))
		for i, f := range s.FormFields {
			fields[i] = FormFieldToProto(f)
		}
	}
	return &pb.ProactiveChatSettings{
		Enabled:                  s.Enabled,
		Mode:                     ProactiveChatModeToProto(s.Mode),
		LaunchAfterSeconds:       s.LaunchAfterSeconds,
		InviteText:               s.InviteText,
		FormFields:               fields,
		InviteTimeoutSeconds:     s.InviteTimeoutSeconds,
		ReinviteCooldownSeconds:  s.ReinviteCooldownSeconds,
		AlertTimeoutSeconds:      s.AlertTimeoutSeconds,
		IncludePages:             slices.Clone(s.IncludePages),
		ExcludePages:             slices.Clone(s.ExcludePages),
		QueueHoldSeconds:         s.QueueHoldSeconds,
		InactivityTimeoutSeconds: s.InactivityTimeoutSeconds,
		InactivityWarningSeconds: s.InactivityWarningSeconds,
		Rules:                    TriggerRulesToProto(s.Rules),
		Caps:                     FrequencyCapsToProto(s.Caps),
	}
}

// ProactiveChatSettingsFromProto converts a site's proactive chat settings;
// nil gives the zero value, which is disabled.
func ProactiveChatSettingsFromProto(s *pb.ProactiveChatSettings) domain.ProactiveChatSettings {
	var fields []domain.FormField
	if s.GetFormFields() != nil {
		fields = make([]domain.FormField, len(s.GetFormFields()))
		for i, f := range s.GetFormFields() {
			fields[i] = FormFieldFromProto(f)
		}
	}
	return domain.ProactiveChatSettings{
		Enabled:                  s.GetEnabled(),
		Mode:                     ProactiveChatModeFromProto(s.GetMode()),
		LaunchAfterSeconds:       s.GetLaunchAfterSeconds(),
		InviteText:               s.GetInviteText(),
		FormFields:               fields,
		InviteTimeoutSeconds:     s.GetInviteTimeoutSeconds(),
		ReinviteCooldownSeconds:  s.GetReinviteCooldownSeconds(),
		AlertTimeoutSeconds:      s.GetAlertTimeoutSeconds(),
		IncludePages:             slices.Clone(s.GetIncludePages()),
		ExcludePages:             slices.Clone(s.GetExcludePages()),
		QueueHoldSeconds:         s.GetQueueHoldSeconds(),
		InactivityTimeoutSeconds: s.GetInactivityTimeoutSeconds(),
		InactivityWarningSeconds: s.GetInactivityWarningSeconds(),
		Rules:                    TriggerRulesFromProto(s.GetRules()),
		Caps:                     FrequencyCapsFromProto(s.GetCaps()),
	}
}

// FormFieldToProto converts a form field.
func FormFieldToProto(f domain.FormField) *pb.FormField {
	return &pb.FormField{
		Key:       f.Key,
		Label:     f.Label,
		Type:      FormFieldTypeToProto(f.Type),
		Required:  f.Required,
		MaxLength: f.MaxLength,
	}
}

// FormFieldFromProto converts a form field; nil gives the zero value.
func FormFieldFromProto(f *pb.FormField) domain.FormField {
	return domain.FormField{
		Key:       f.GetKey(),
		Label:     f.GetLabel(),
		Type:      FormFieldTypeFromProto(f.GetType()),
		Required:  f.GetRequired(),
		MaxLength: f.GetMaxLength(),
	}
}

// ProactiveChatModeToProto converts a proactive chat mode.
func ProactiveChatModeToProto(m domain.ProactiveChatMode) pb.ProactiveChatMode {
	switch m {
	case domain.ModeWithInvite:
		return pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE
	case domain.ModeWithoutInvite:
		return pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE
	}
	return pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_UNSPECIFIED
}

// ProactiveChatModeFromProto converts a proactive chat mode.
func ProactiveChatModeFromProto(m pb.ProactiveChatMode) domain.ProactiveChatMode {
	switch m {
	case pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITH_INVITE:
		return domain.ModeWithInvite
	case pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE:
		return domain.ModeWithoutInvite
	}
	return domain.ModeUnspecified
}

// FormFieldTypeToProto converts a form field type.
func FormFieldTypeToProto(t domain.FormFieldType) pb.FormFieldType {
	switch t {
	case domain.FieldText:
		return pb.FormFieldType_FORM_FIELD_TYPE_TEXT
	case domain.FieldTextarea:
		return pb.FormFieldType_FORM_FIELD_TYPE_TEXTAREA
	case domain.FieldEmail:
		return pb.FormFieldType_FORM_FIELD_TYPE_EMAIL
	case domain.FieldPhone:
		return pb.FormFieldType_FORM_FIELD_TYPE_PHONE
	}
	return pb.FormFieldType_FORM_FIELD_TYPE_UNSPECIFIED
}

// FormFieldTypeFromProto converts a form field type.
func FormFieldTypeFromProto(t pb.FormFieldType) domain.FormFieldType {
	switch t {
	case pb.FormFieldType_FORM_FIELD_TYPE_TEXT:
		return domain.FieldText
	case pb.FormFieldType_FORM_FIELD_TYPE_TEXTAREA:
		return domain.FieldTextarea
	case pb.FormFieldType_FORM_FIELD_TYPE_EMAIL:
		return domain.FieldEmail
	case pb.FormFieldType_FORM_FIELD_TYPE_PHONE:
		return domain.FieldPhone
	}
	return domain.FieldUnspecified
}

// CannedReplyToProto converts a canned reply.
func CannedReplyToProto(c *domain.CannedReply) *pb.CannedReply {
	return &pb.CannedReply{Id: c.ID, SiteId: c.SiteID, Shortcut: c.Shortcut, Title: c.Title, Text: c.Text}
}

// CannedReplyFromProto converts a canned reply; nil gives an empty one.
func CannedReplyFromProto(c *pb.CannedReply) *domain.CannedReply {
	return &domain.CannedReply{ID: c.GetId(), SiteID: c.GetSiteId(), Shortcut: c.GetShortcut(), Title: c.GetTitle(), Text: c.GetText()}
}

// BusinessHoursToProto converts a site's business hours; none set gives nil.
func BusinessHoursToProto(h domain.BusinessHours) *pb.BusinessHours {
	if !h.Set() {
		return nil
	}
	out := &pb.BusinessHours{TimeZone: h.TimeZone}
	for _, iv := range h.Weekly {
		out.Weekly = append(out.Weekly, &pb.WeeklyInterval{DayOfWeek: pb.DayOfWeek(iv.Day), Open: iv.Open, Close: iv.Close})
	}
	for _, hd := range h.Holidays {
		out.Holidays = append(out.Holidays, &pb.Holiday{StartDate: hd.StartDate, EndDate: hd.EndDate, Name: hd.Name})
	}
	return out
}

// BusinessHoursFromProto converts a site's business hours; nil is none.
func BusinessHoursFromProto(h *pb.BusinessHours) domain.BusinessHours {
	out := domain.BusinessHours{TimeZone: h.GetTimeZone()}
	for _, iv := range h.GetWeekly() {
		out.Weekly = append(out.Weekly, domain.WeeklyInterval{Day: domain.DayOfWeek(iv.GetDayOfWeek()), Open: iv.GetOpen(), Close: iv.GetClose()})
	}
	for _, hd := range h.GetHolidays() {
		out.Holidays = append(out.Holidays, domain.Holiday{StartDate: hd.GetStartDate(), EndDate: hd.GetEndDate(), Name: hd.GetName()})
	}
	return out
}

// OfflineMessageSettingsToProto converts a site's offline-message
// settings; none set gives nil.
func OfflineMessageSettingsToProto(o domain.OfflineMessageSettings) *pb.OfflineMessageSettings {
	if o == (domain.OfflineMessageSettings{}) {
		return nil
	}
	return &pb.OfflineMessageSettings{MaxWaitSeconds: o.MaxWaitSeconds}
}

// OfflineMessageSettingsFromProto converts a site's offline-message
// settings; nil is none set.
func OfflineMessageSettingsFromProto(o *pb.OfflineMessageSettings) domain.OfflineMessageSettings {
	return domain.OfflineMessageSettings{MaxWaitSeconds: o.GetMaxWaitSeconds()}
}
