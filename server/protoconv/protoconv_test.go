package protoconv_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// at returns distinct UTC times, so that swapped fields do not compare equal.
func at(n int) time.Time {
	return time.Date(2026, 11, 24, 10, n, n, 123456789+n, time.UTC)
}

var (
	visitor = domain.Participant{Role: domain.RoleVisitor, ID: "vis_1", DisplayName: "Visitor"}
	agent   = domain.Participant{Role: domain.RoleAgent, ID: "agt_1", DisplayName: "Ada"}
)

func testSite() *domain.Site {
	return &domain.Site{
		ID:             "site_1",
		Name:           "Shop",
		AllowedOrigins: []string{"https://shop.example", "https://www.shop.example"},
		ProactiveChat: domain.ProactiveChatSettings{
			Enabled:            true,
			Mode:               domain.ModeWithInvite,
			LaunchAfterSeconds: 30,
			InviteText:         "Can we help?",
			FormFields: []domain.FormField{
				{Key: "name", Label: "Name", Type: domain.FieldText, Required: true, MaxLength: 80},
				{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true, MaxLength: 254},
				{Key: "phone", Label: "Phone", Type: domain.FieldPhone, Required: true, MaxLength: 32},
				{Key: "question", Label: "Question", Type: domain.FieldTextarea, Required: true, MaxLength: 2000},
			},
			InviteTimeoutSeconds:     45,
			ReinviteCooldownSeconds:  3600,
			AlertTimeoutSeconds:      20,
			IncludePages:             []string{"https://shop.example/*"},
			ExcludePages:             []string{"*/checkout*", "*/login"},
			QueueHoldSeconds:         90,
			InactivityTimeoutSeconds: 900,
			InactivityWarningSeconds: 60,
			Rules:                    []domain.TriggerRule{testRule()},
			Caps:                     domain.FrequencyCaps{MaxPerVisit: 1, MaxPerDay: 2, MaxEver: 5, SuppressAfterDeclineSeconds: 600},
		},
		Retention:       domain.RetentionSettings{VisitorSeconds: 86400, ChatSeconds: 90 * 86400},
		VisitorLauncher: domain.VisitorLauncherSettings{Enabled: true, Label: "Ask us"},
		CreateTime:      at(1),
		UpdateTime:      at(2),
		BusinessHours: domain.BusinessHours{TimeZone: "Europe/Berlin",
			Weekly:   []domain.WeeklyInterval{{Day: 1, Open: "09:00", Close: "17:00"}},
			Holidays: []domain.Holiday{{StartDate: "2026-12-24", EndDate: "2026-12-26", Name: "Christmas"}}},
		OfflineMessage: domain.OfflineMessageSettings{MaxWaitSeconds: 300},
	}
}

// testRule sets every field of a trigger rule; enums take their last
// values, so a conversion stopping short of the newest is noticed.
func testRule() domain.TriggerRule {
	return domain.TriggerRule{
		ID: "rule_1", Name: "Big carts", Enabled: true, Mode: domain.ModeWithoutInvite, InviteText: "Need help?",
		FormFields: []domain.FormField{{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true, MaxLength: 254}},
		Conditions: domain.TriggerConditions{
			MinSecondsOnSite: 30, MinSecondsOnPage: 10, MinPagesViewed: 3,
			IncludePages: []string{"https://shop.example/*"}, ExcludePages: []string{"*/login"},
			PageTitles: []string{"*cart*"}, ReferrerHosts: []string{"*.google.*"},
			UTM:     []domain.UTMCondition{{Parameter: "utm_campaign", Value: "spring*"}},
			Recency: domain.RecencyReturning, ChatHistory: domain.ChatHistoryBefore, NameKnown: true,
			Attributes: []domain.AttributeCondition{{Key: "cart_value", Operator: domain.AttrLessThan, Value: "100"}},
			Devices:    []domain.DeviceClass{domain.DeviceDesktop, domain.DevicePhone}, Languages: []string{"de"},
			MinScrollPercent: 50, ExitIntent: true, MinIdleSeconds: 20, BusinessHours: domain.HoursClosed,
			AgentAvailable: true, MaxPredictedWaitSeconds: 60,
		},
		Caps:           domain.FrequencyCaps{MaxPerVisit: 1, MaxPerDay: 3, MaxEver: 10, SuppressAfterDeclineSeconds: 3600},
		HoldoutPercent: 10,
		Variants:       []domain.InviteVariant{{ID: "var_1", Name: "A", InviteText: "Hi!", Weight: 3}},
	}
}

func testOfflineMessage() *domain.OfflineMessage {
	return &domain.OfflineMessage{ID: "msg_1", SiteID: "site_1", VisitorID: "visitor_1", Name: "Grace",
		Email: "grace@example.com", Text: "Call me", Page: "https://shop.example/", CreateTime: at(1),
		State: domain.OfflineMessageHandled, HandledBy: "agt_1", HandledTime: at(2), RequestID: "r1"}
}

func testAgent() *domain.Agent {
	return &domain.Agent{
		ID:                 "agt_1",
		DisplayName:        "Ada",
		SiteIDs:            []string{"site_1", "site_2"},
		MaxConcurrentChats: 3,
		Status:             domain.StatusAvailable,
		StatusChangeTime:   at(3),
		ActiveChatIDs:      []string{"chat_1"},
		CreateTime:         at(4),
		LastChatEndTime:    at(5),
		Login:              "dana@shop.example",
		SupervisedSiteIDs:  []string{"site_3"},
	}
}

func testVisitor() *domain.Visitor {
	return &domain.Visitor{
		ID:           "vis_1",
		SiteID:       "site_1",
		CreateTime:   at(6),
		CurrentPage:  domain.PageView{URL: "https://shop.example/cart", Title: "Cart", ViewTime: at(7)},
		ActiveChatID: "chat_1",
		// Engagement is the last value, so a conversion stopping short of
		// the newest values is noticed.
		Engagement:     domain.EngagementAlerting,
		InvitationID:   "inv_1",
		ChatRequestID:  "req_1",
		DeclineTime:    at(16),
		VisitStartTime: at(17),
		VisitEndTime:   at(18),
		LastLaunchTime: at(31),
		Identity:       testIdentity(),
		ChatRequested:  true,
		VisitCount:     3,
		ChatCount:      2,
		Device:         domain.DevicePhone,
		Language:       "de-AT",
		VisitReferrer:  "https://www.google.com/",
		LandingPageURL: "https://shop.example/?utm_source=news",
		Launches:       []domain.RuleLaunch{{RuleID: "rule_1", VariantID: "var_1", Time: at(32), HeldOut: true}},
	}
}

func testChat() *domain.Chat {
	return &domain.Chat{
		ID:                  "chat_1",
		SiteID:              "site_1",
		Visitor:             visitor,
		Agent:               agent,
		State:               domain.ChatStateEnded,
		CreateTime:          at(8),
		EndTime:             at(9),
		LastSeq:             5,
		VisitorLeftTime:     at(10),
		AgentLeftTime:       at(11),
		EndReason:           domain.EndInactive,
		ChatRequestID:       "req_1",
		LastActivityTime:    at(19),
		VisitorMessageCount: 7,
		Rating:              &domain.Rating{Score: 4, Comment: "Good", Time: at(20)},
		RuleID:              "rule_1",
		VariantID:           "var_1",
	}
}

// testEvents holds one event of every kind.
func testEvents() map[string]domain.ChatEvent {
	left := agent
	return map[string]domain.ChatEvent{
		"Started": {ChatID: "chat_1", Seq: 1, Time: at(12), LogPosition: 40,
			Started: &domain.ChatStarted{Visitor: visitor, Agent: agent}},
		"Message": {ChatID: "chat_1", Seq: 2, Time: at(13), LogPosition: 41,
			Message: &domain.ChatMessage{Sender: visitor, Text: "Hello <b>", IdempotencyKey: "k1"}},
		"ParticipantLeft": {ChatID: "chat_1", Seq: 3, Time: at(14), LogPosition: 42,
			ParticipantLeft: &left},
		"Ended": {ChatID: "chat_1", Seq: 4, Time: at(15), LogPosition: 43,
			Ended: &domain.ChatEnded{Reason: domain.EndVisitorDeclined}},
		"InactivityWarning": {ChatID: "chat_1", Seq: 5, Time: at(20), LogPosition: 44,
			InactivityWarning: &domain.InactivityWarning{EndTime: at(21)}},
		"Transferred": {ChatID: "chat_1", Seq: 6, Time: at(22), LogPosition: 45,
			Transferred: &domain.ChatTransferred{From: agent, To: domain.Participant{Role: domain.RoleAgent, ID: "agt_2", DisplayName: "Dana"}}},
	}
}

func testInvitation() *domain.Invitation {
	return &domain.Invitation{
		ID:               "inv_1",
		SiteID:           "site_1",
		VisitorID:        "vis_1",
		State:            domain.InvitationWithdrawn,
		Text:             "Can we help?",
		CreateTime:       at(22),
		ExpireTime:       at(23),
		RespondTime:      at(24),
		InvitedByAgentID: "agt_1",
		RuleID:           "rule_1",
		VariantID:        "var_1",
	}
}

func testChatRequest() *domain.ChatRequest {
	return &domain.ChatRequest{
		ID:               "req_1",
		SiteID:           "site_1",
		VisitorID:        "vis_1",
		Kind:             domain.RequestPresence,
		State:            domain.RequestAbandoned,
		FormValues:       map[string]string{"name": "Bo", "email": "bo@example.com"},
		EnqueueTime:      at(25),
		AlertedAgentID:   "agt_2",
		AlertDeadline:    at(26),
		PassedAgentIDs:   []string{"agt_1", "agt_3"},
		ChatID:           "chat_1",
		CloseTime:        at(27),
		PageURL:          "https://shop.example/cart",
		PageTitle:        "Cart",
		VisitStartTime:   at(28),
		HoldUntil:        at(29),
		AlertReason:      "longest idle (3m), 2 of 3 chats free; 2 candidate(s)",
		AlertedAgentName: "Dana",
		VisitorIdentity:  testIdentity(),
		RuleID:           "rule_1",
		VariantID:        "var_1",
		HeldOut:          true,
	}
}

func testIdentity() domain.VisitorIdentity {
	return domain.VisitorIdentity{Name: "Jane Doe", Email: "jane@example.com", ExternalID: "u-42",
		Attributes: map[string]string{"plan": "pro"}, Verified: true}
}

func testRoutingDecision() *domain.RoutingDecision {
	return &domain.RoutingDecision{
		ChatRequestID: "req_1",
		SiteID:        "site_1",
		Time:          at(30),
		AgentID:       "agt_2",
		Reason:        "longest idle (12m since last chat), 2 of 3 chats free; 3 candidates",
	}
}

// roundTrip converts x to proto, through the wire format, and back, failing
// unless it comes back equal.
func roundTrip[D any, P proto.Message](t *testing.T, x D, to func(D) P, from func(P) D) {
	t.Helper()
	msg := to(x)
	if got := from(msg); !reflect.DeepEqual(got, x) {
		t.Fatalf("FromProto(ToProto(x)):\n got %+v\nwant %+v", got, x)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	decoded := msg.ProtoReflect().New().Interface().(P)
	if err := proto.Unmarshal(b, decoded); err != nil {
		t.Fatal(err)
	}
	if got := from(decoded); !reflect.DeepEqual(got, x) {
		t.Fatalf("after Marshal/Unmarshal:\n got %+v\nwant %+v", got, x)
	}
}

// requireNoZeroFields fails when a field of v is zero, so that a field added
// to a domain type but not to the fixtures (and maybe not to the
// conversion) is noticed. Pointers named in optional may be nil.
func requireNoZeroFields(t *testing.T, v any, optional ...string) {
	t.Helper()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(path, v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				name := path + "." + v.Type().Field(i).Name
				f := v.Field(i)
				if f.IsZero() && !(f.Kind() == reflect.Pointer && contains(optional, v.Type().Field(i).Name)) {
					t.Errorf("fixture field %s is zero", name)
				}
				walk(name, f)
			}
		}
	}
	walk(reflect.TypeOf(v).String(), reflect.ValueOf(v))
}

// requireNoUnsetProtoFields fails when a field of m is unset, so that a
// field added to a proto message but not converted is noticed. Only the set
// member of a oneof is required; well-known types are not looked into.
func requireNoUnsetProtoFields(t *testing.T, m proto.Message) {
	t.Helper()
	var walk func(path string, m protoreflect.Message)
	walk = func(path string, m protoreflect.Message) {
		if strings.HasPrefix(string(m.Descriptor().FullName()), "google.protobuf.") {
			return
		}
		fields := m.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			name := path + "." + string(fd.Name())
			if o := fd.ContainingOneof(); o != nil && m.WhichOneof(o) != fd {
				continue
			}
			if fd.FullName() == "proactivechat.v1.VisitorIdentity.identity_hash" {
				continue // input only: a claim, never stored nor returned
			}
			if !m.Has(fd) {
				t.Errorf("proto field %s is unset", name)
				continue
			}
			switch {
			case fd.IsList() && fd.Message() != nil:
				for j, l := 0, m.Get(fd).List(); j < l.Len(); j++ {
					walk(fmt.Sprintf("%s[%d]", name, j), l.Get(j).Message())
				}
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(name, m.Get(fd).Message())
			}
		}
	}
	walk(string(m.ProtoReflect().Descriptor().FullName()), m.ProtoReflect())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRoundTrip(t *testing.T) {
	t.Run("Site", func(t *testing.T) {
		requireNoZeroFields(t, testSite())
		requireNoUnsetProtoFields(t, protoconv.SiteToProto(testSite()))
		roundTrip(t, testSite(), protoconv.SiteToProto, protoconv.SiteFromProto)
	})
	t.Run("OfflineMessage", func(t *testing.T) {
		requireNoZeroFields(t, testOfflineMessage())
		requireNoUnsetProtoFields(t, protoconv.OfflineMessageToProto(testOfflineMessage()))
		roundTrip(t, testOfflineMessage(), protoconv.OfflineMessageToProto, protoconv.OfflineMessageFromProto)
	})
	t.Run("Agent", func(t *testing.T) {
		requireNoZeroFields(t, testAgent())
		requireNoUnsetProtoFields(t, protoconv.AgentToProto(testAgent()))
		roundTrip(t, testAgent(), protoconv.AgentToProto, protoconv.AgentFromProto)
	})
	t.Run("Visitor", func(t *testing.T) {
		requireNoZeroFields(t, testVisitor())
		requireNoUnsetProtoFields(t, protoconv.VisitorToProto(testVisitor()))
		roundTrip(t, testVisitor(), protoconv.VisitorToProto, protoconv.VisitorFromProto)
	})
	t.Run("Chat", func(t *testing.T) {
		requireNoZeroFields(t, testChat())
		requireNoUnsetProtoFields(t, protoconv.ChatToProto(testChat()))
		roundTrip(t, testChat(), protoconv.ChatToProto, protoconv.ChatFromProto)
	})
	for name, ev := range testEvents() {
		t.Run("ChatEvent"+name, func(t *testing.T) {
			requireNoZeroFields(t, ev, "Started", "Message", "ParticipantLeft", "Ended", "InactivityWarning", "Transferred")
			requireNoUnsetProtoFields(t, protoconv.ChatEventToProto(ev))
			roundTrip(t, ev, protoconv.ChatEventToProto, protoconv.ChatEventFromProto)
		})
	}
	t.Run("ChatNote", func(t *testing.T) {
		n := domain.ChatNote{ChatID: "chat_1", Seq: 1, Time: at(23), Author: agent, Text: "VIP"}
		requireNoZeroFields(t, n)
		requireNoUnsetProtoFields(t, protoconv.ChatNoteToProto(n))
		roundTrip(t, n, protoconv.ChatNoteToProto, protoconv.ChatNoteFromProto)
	})
	t.Run("Invitation", func(t *testing.T) {
		requireNoZeroFields(t, testInvitation())
		requireNoUnsetProtoFields(t, protoconv.InvitationToProto(testInvitation()))
		roundTrip(t, testInvitation(), protoconv.InvitationToProto, protoconv.InvitationFromProto)
	})
	t.Run("ChatRequest", func(t *testing.T) {
		requireNoZeroFields(t, testChatRequest())
		requireNoUnsetProtoFields(t, protoconv.ChatRequestToProto(testChatRequest()))
		roundTrip(t, testChatRequest(), protoconv.ChatRequestToProto, protoconv.ChatRequestFromProto)
	})
	t.Run("ChatRequestPartialPage", func(t *testing.T) {
		// Either half of the page snapshot survives without the other.
		roundTrip(t, &domain.ChatRequest{PageURL: "https://shop.example/"}, protoconv.ChatRequestToProto, protoconv.ChatRequestFromProto)
		roundTrip(t, &domain.ChatRequest{PageTitle: "Home"}, protoconv.ChatRequestToProto, protoconv.ChatRequestFromProto)
	})
	t.Run("RoutingDecision", func(t *testing.T) {
		requireNoZeroFields(t, testRoutingDecision())
		requireNoUnsetProtoFields(t, protoconv.RoutingDecisionToProto(testRoutingDecision()))
		roundTrip(t, testRoutingDecision(), protoconv.RoutingDecisionToProto, protoconv.RoutingDecisionFromProto)
	})
	t.Run("Typing", func(t *testing.T) {
		typing := domain.Typing{ChatID: "chat_1", Participant: agent, Typing: true}
		requireNoZeroFields(t, typing)
		requireNoUnsetProtoFields(t, protoconv.TypingToProto(typing))
		roundTrip(t, typing, protoconv.TypingToProto, protoconv.TypingFromProto)
	})
	t.Run("Whisper", func(t *testing.T) {
		w := domain.Whisper{ChatID: "chat_1", Seq: 2, Time: at(9), FromID: "agent_sam", FromName: "Sam", Text: "Offer the discount"}
		requireNoZeroFields(t, w)
		requireNoUnsetProtoFields(t, protoconv.WhisperToProto(w))
		roundTrip(t, w, protoconv.WhisperToProto, protoconv.WhisperFromProto)
	})
	t.Run("ZeroValues", func(t *testing.T) {
		roundTrip(t, &domain.Site{}, protoconv.SiteToProto, protoconv.SiteFromProto)
		roundTrip(t, &domain.Agent{}, protoconv.AgentToProto, protoconv.AgentFromProto)
		roundTrip(t, &domain.Visitor{}, protoconv.VisitorToProto, protoconv.VisitorFromProto)
		roundTrip(t, &domain.Chat{}, protoconv.ChatToProto, protoconv.ChatFromProto)
		roundTrip(t, domain.ChatEvent{}, protoconv.ChatEventToProto, protoconv.ChatEventFromProto)
		roundTrip(t, domain.Typing{}, protoconv.TypingToProto, protoconv.TypingFromProto)
		roundTrip(t, &domain.Invitation{}, protoconv.InvitationToProto, protoconv.InvitationFromProto)
		roundTrip(t, &domain.ChatRequest{}, protoconv.ChatRequestToProto, protoconv.ChatRequestFromProto)
		roundTrip(t, &domain.RoutingDecision{}, protoconv.RoutingDecisionToProto, protoconv.RoutingDecisionFromProto)
		if page := protoconv.ChatRequestToProto(&domain.ChatRequest{}).GetPage(); page != nil {
			t.Errorf("ChatRequest without a page: page %v, want nil", page)
		}
	})
}

func TestTime(t *testing.T) {
	t.Run("ZeroIsNil", func(t *testing.T) {
		if ts := protoconv.TimeToProto(time.Time{}); ts != nil {
			t.Fatalf("TimeToProto(zero) = %v, want nil", ts)
		}
		if got := protoconv.TimeFromProto(nil); !got.IsZero() {
			t.Fatalf("TimeFromProto(nil) = %v, want zero", got)
		}
		if got := protoconv.ChatToProto(&domain.Chat{}).GetEndTime(); got != nil {
			t.Fatalf("Chat.EndTime = %v, want nil", got)
		}
	})
	t.Run("EpochIsNotZero", func(t *testing.T) {
		epoch := time.Unix(0, 0).UTC()
		if got := protoconv.TimeFromProto(protoconv.TimeToProto(epoch)); !got.Equal(epoch) || got.IsZero() {
			t.Fatalf("got %v, want %v", got, epoch)
		}
	})
	t.Run("OtherZoneSameInstant", func(t *testing.T) {
		x := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
		if got := protoconv.TimeFromProto(protoconv.TimeToProto(x)); !got.Equal(x) {
			t.Fatalf("got %v, want %v", got, x)
		}
	})
}

func TestNil(t *testing.T) {
	if protoconv.SiteToProto(nil) != nil || protoconv.SiteFromProto(nil) != nil ||
		protoconv.AgentToProto(nil) != nil || protoconv.AgentFromProto(nil) != nil ||
		protoconv.VisitorToProto(nil) != nil || protoconv.VisitorFromProto(nil) != nil ||
		protoconv.ChatToProto(nil) != nil || protoconv.ChatFromProto(nil) != nil ||
		protoconv.InvitationToProto(nil) != nil || protoconv.InvitationFromProto(nil) != nil ||
		protoconv.ChatRequestToProto(nil) != nil || protoconv.ChatRequestFromProto(nil) != nil ||
		protoconv.RoutingDecisionToProto(nil) != nil || protoconv.RoutingDecisionFromProto(nil) != nil {
		t.Fatal("nil pointer did not convert to nil")
	}
	if got := protoconv.ChatEventFromProto(nil); !reflect.DeepEqual(got, domain.ChatEvent{}) {
		t.Fatalf("ChatEventFromProto(nil) = %+v", got)
	}
	if got := protoconv.TypingFromProto(nil); !reflect.DeepEqual(got, domain.Typing{}) {
		t.Fatalf("TypingFromProto(nil) = %+v", got)
	}
	if got := protoconv.ProactiveChatSettingsFromProto(nil); !reflect.DeepEqual(got, domain.ProactiveChatSettings{}) {
		t.Fatalf("ProactiveChatSettingsFromProto(nil) = %+v", got)
	}
	// Messages whose nested messages are missing still convert, and an
	// event keeps its kind.
	protoconv.SiteFromProto(&pb.Site{ProactiveChat: &pb.ProactiveChatSettings{FormFields: []*pb.FormField{nil}}})
	kinds := []*pb.ChatEvent{
		{Kind: &pb.ChatEvent_Started{}},
		{Kind: &pb.ChatEvent_Message{}},
		{Kind: &pb.ChatEvent_ParticipantLeft{}},
		{Kind: &pb.ChatEvent_Ended{}},
		{Kind: &pb.ChatEvent_InactivityWarning{}},
	}
	for _, m := range kinds {
		ev := protoconv.ChatEventFromProto(m)
		if ev.Started == nil && ev.Message == nil && ev.ParticipantLeft == nil && ev.Ended == nil && ev.InactivityWarning == nil {
			t.Errorf("ChatEventFromProto(%v) lost its kind", m)
		}
	}
}

func TestEnums(t *testing.T) {
	// The enums are converted one by one rather than cast; every domain value
	// must map to a distinct proto value and back.
	t.Run("ProactiveChatMode", func(t *testing.T) {
		for v := domain.ModeUnspecified; v <= domain.ModeWithoutInvite; v++ {
			if got := protoconv.ProactiveChatModeFromProto(protoconv.ProactiveChatModeToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("FormFieldType", func(t *testing.T) {
		for v := domain.FieldUnspecified; v <= domain.FieldPhone; v++ {
			if got := protoconv.FormFieldTypeFromProto(protoconv.FormFieldTypeToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("AgentStatus", func(t *testing.T) {
		for v := domain.StatusUnspecified; v <= domain.StatusOffline; v++ {
			if got := protoconv.AgentStatusFromProto(protoconv.AgentStatusToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("ChatState", func(t *testing.T) {
		for v := domain.ChatStateUnspecified; v <= domain.ChatStateEnded; v++ {
			if got := protoconv.ChatStateFromProto(protoconv.ChatStateToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("ChatEndReason", func(t *testing.T) {
		for v := domain.EndUnspecified; v <= domain.EndInactive; v++ {
			if got := protoconv.ChatEndReasonFromProto(protoconv.ChatEndReasonToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("Role", func(t *testing.T) {
		for v := domain.RoleUnspecified; v <= domain.RoleAgent; v++ {
			if got := protoconv.RoleFromProto(protoconv.RoleToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("Engagement", func(t *testing.T) {
		for v := domain.EngagementUnspecified; v <= domain.EngagementAlerting; v++ {
			if got := protoconv.EngagementFromProto(protoconv.EngagementToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("InvitationState", func(t *testing.T) {
		for v := domain.InvitationUnspecified; v <= domain.InvitationWithdrawn; v++ {
			if got := protoconv.InvitationStateFromProto(protoconv.InvitationStateToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("ChatRequestKind", func(t *testing.T) {
		for v := domain.RequestKindUnspecified; v <= domain.RequestVisitor; v++ {
			if got := protoconv.ChatRequestKindFromProto(protoconv.ChatRequestKindToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("ChatRequestState", func(t *testing.T) {
		for v := domain.RequestStateUnspecified; v <= domain.RequestAbandoned; v++ {
			if got := protoconv.ChatRequestStateFromProto(protoconv.ChatRequestStateToProto(v)); got != v {
				t.Errorf("%d came back as %d", v, got)
			}
		}
	})
	t.Run("UnknownIsUnspecified", func(t *testing.T) {
		if got := protoconv.AgentStatusFromProto(pb.AgentStatus(99)); got != domain.StatusUnspecified {
			t.Errorf("got %v", got)
		}
		if got := protoconv.ChatStateToProto(domain.ChatState(99)); got != pb.ChatState_CHAT_STATE_UNSPECIFIED {
			t.Errorf("got %v", got)
		}
	})
	t.Run("ProtoValuesCovered", func(t *testing.T) {
		// Every value the proto defines maps onto a domain value and back,
		// so a value added to a proto enum but not here fails.
		check := func(name string, n int, rt func(int32) int32) {
			for v := int32(0); v < int32(n); v++ {
				if got := rt(v); got != v {
					t.Errorf("%s %d came back as %d", name, v, got)
				}
			}
		}
		check("ProactiveChatMode", len(pb.ProactiveChatMode_name), func(v int32) int32 {
			return int32(protoconv.ProactiveChatModeToProto(protoconv.ProactiveChatModeFromProto(pb.ProactiveChatMode(v))))
		})
		check("FormFieldType", len(pb.FormFieldType_name), func(v int32) int32 {
			return int32(protoconv.FormFieldTypeToProto(protoconv.FormFieldTypeFromProto(pb.FormFieldType(v))))
		})
		check("AgentStatus", len(pb.AgentStatus_name), func(v int32) int32 {
			return int32(protoconv.AgentStatusToProto(protoconv.AgentStatusFromProto(pb.AgentStatus(v))))
		})
		check("ChatState", len(pb.ChatState_name), func(v int32) int32 {
			return int32(protoconv.ChatStateToProto(protoconv.ChatStateFromProto(pb.ChatState(v))))
		})
		check("ChatEndReason", len(pb.ChatEndReason_name), func(v int32) int32 {
			return int32(protoconv.ChatEndReasonToProto(protoconv.ChatEndReasonFromProto(pb.ChatEndReason(v))))
		})
		check("ParticipantRole", len(pb.ParticipantRole_name), func(v int32) int32 {
			return int32(protoconv.RoleToProto(protoconv.RoleFromProto(pb.ParticipantRole(v))))
		})
		check("EngagementState", len(pb.EngagementState_name), func(v int32) int32 {
			return int32(protoconv.EngagementToProto(protoconv.EngagementFromProto(pb.EngagementState(v))))
		})
		check("InvitationState", len(pb.InvitationState_name), func(v int32) int32 {
			return int32(protoconv.InvitationStateToProto(protoconv.InvitationStateFromProto(pb.InvitationState(v))))
		})
		check("ChatRequestKind", len(pb.ChatRequestKind_name), func(v int32) int32 {
			return int32(protoconv.ChatRequestKindToProto(protoconv.ChatRequestKindFromProto(pb.ChatRequestKind(v))))
		})
		check("ChatRequestState", len(pb.ChatRequestState_name), func(v int32) int32 {
			return int32(protoconv.ChatRequestStateToProto(protoconv.ChatRequestStateFromProto(pb.ChatRequestState(v))))
		})
	})
}
