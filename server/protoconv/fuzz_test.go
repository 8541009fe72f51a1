package protoconv_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// record is one type of record the bolt store keeps, with its conversions.
type record struct {
	name string
	// check decodes data as the store does and checks the conversions of
	// what proto.Unmarshal accepted.
	check func(t *testing.T, data []byte)
}

// storedRecord makes the record of a message type P and its domain type D.
func storedRecord[D any, P proto.Message](name string, newP func() P, from func(P) D, to func(D) P) record {
	return record{name: name, check: func(t *testing.T, data []byte) {
		t.Helper()
		m := newP()
		if err := proto.Unmarshal(data, m); err != nil {
			return // the store reports it as a decode error
		}
		d := from(m)
		out := to(d)
		// Nothing the message held is lost or changed, up to the
		// normalisations the package documents.
		if path, ok := equivalent(m.ProtoReflect(), out.ProtoReflect()); !ok {
			t.Fatalf("%s: ToProto(FromProto(m)) differs from m at %s\n   m: %v\n out: %v", name, path, text(m), text(out))
		}
		// The domain value survives the wire: FromProto ∘ Unmarshal ∘
		// Marshal ∘ ToProto is the identity on what FromProto returned.
		b, err := proto.Marshal(out)
		if err != nil {
			t.Fatalf("%s: Marshal(ToProto(FromProto(m))): %v\n m: %v", name, err, text(m))
		}
		m2 := newP()
		if err := proto.Unmarshal(b, m2); err != nil {
			t.Fatalf("%s: Unmarshal of what Marshal wrote: %v", name, err)
		}
		// An empty slice or map and none are the same on the wire (and
		// to the domain): proto.Unmarshal allocates an empty map for a
		// map field of the wrong wire type, which FromProto copies.
		d2 := from(m2)
		nilEmpty(reflect.ValueOf(&d))
		nilEmpty(reflect.ValueOf(&d2))
		if !reflect.DeepEqual(d2, d) {
			t.Fatalf("%s: the domain value changed through the wire:\n got %+v\nwant %+v", name, d2, d)
		}
		if out2 := to(from(m2)); !proto.Equal(out2, out) {
			t.Fatalf("%s: ToProto is not stable:\n got %v\nwant %v", name, text(out2), text(out))
		}
	}}
}

// nilEmpty sets every empty slice and map reachable from v to nil.
func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			nilEmpty(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				nilEmpty(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 && v.CanSet() {
			v.SetZero()
		}
		for i := 0; i < v.Len(); i++ {
			nilEmpty(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 && v.CanSet() {
			v.SetZero()
		}
	}
}

// records are the types of record the bolt store decodes (server/bolt).
var records = []record{
	storedRecord("Site", func() *pb.Site { return new(pb.Site) }, protoconv.SiteFromProto, protoconv.SiteToProto),
	storedRecord("Agent", func() *pb.Agent { return new(pb.Agent) }, protoconv.AgentFromProto, protoconv.AgentToProto),
	storedRecord("Visitor", func() *pb.Visitor { return new(pb.Visitor) }, protoconv.VisitorFromProto, protoconv.VisitorToProto),
	storedRecord("Chat", func() *pb.Chat { return new(pb.Chat) }, protoconv.ChatFromProto, protoconv.ChatToProto),
	storedRecord("ChatEvent", func() *pb.ChatEvent { return new(pb.ChatEvent) }, protoconv.ChatEventFromProto, protoconv.ChatEventToProto),
	storedRecord("Invitation", func() *pb.Invitation { return new(pb.Invitation) }, protoconv.InvitationFromProto, protoconv.InvitationToProto),
	storedRecord("ChatRequest", func() *pb.ChatRequest { return new(pb.ChatRequest) }, protoconv.ChatRequestFromProto, protoconv.ChatRequestToProto),
	storedRecord("RoutingDecision", func() *pb.RoutingDecision { return new(pb.RoutingDecision) }, protoconv.RoutingDecisionFromProto, protoconv.RoutingDecisionToProto),
}

func text(m proto.Message) string {
	return prototext.MarshalOptions{AllowPartial: true}.Format(m)
}

var timestampName = (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().FullName()

var identityHashName = (&pb.VisitorIdentity{}).ProtoReflect().Descriptor().Fields().ByName("identity_hash").FullName()

// equivalent reports whether out carries every field of m as the package
// documents its conversions: unknown fields are dropped; enum values this
// build does not define are UNSPECIFIED or kept as they are; a Timestamp is the same instant,
// unset exactly when it is the zero time; a message field (outside a
// oneof) that is unset equals an empty one; a oneof keeps its case; an
// input-only field (VisitorIdentity.identity_hash: checked, never kept) is
// dropped. When they differ, it returns the path of the first difference.
func equivalent(m, out protoreflect.Message) (string, bool) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := string(fd.Name())
		if fd.FullName() == identityHashName {
			if out.Has(fd) {
				return name + " (input only, yet kept)", false
			}
			continue
		}
		if fd.ContainingOneof() != nil && m.Has(fd) != out.Has(fd) {
			return name + " (oneof case)", false
		}
		switch {
		case fd.IsList():
			a, b := m.Get(fd).List(), out.Get(fd).List()
			if a.Len() != b.Len() {
				return fmt.Sprintf("%s (%d elements, not %d)", name, b.Len(), a.Len()), false
			}
			for j := 0; j < a.Len(); j++ {
				if p, ok := equalValues(fd, a.Get(j), b.Get(j)); !ok {
					return fmt.Sprintf("%s[%d]%s", name, j, p), false
				}
			}
		case fd.IsMap():
			a, b := m.Get(fd).Map(), out.Get(fd).Map()
			if a.Len() != b.Len() {
				return fmt.Sprintf("%s (%d entries, not %d)", name, b.Len(), a.Len()), false
			}
			var path string
			a.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				w := b.Get(k)
				if !w.IsValid() {
					path = fmt.Sprintf("%s[%v] (missing)", name, k)
					return false
				}
				if p, ok := equalValues(fd.MapValue(), v, w); !ok {
					path = fmt.Sprintf("%s[%v]%s", name, k, p)
					return false
				}
				return true
			})
			if path != "" {
				return path, false
			}
		default:
			if p, ok := equalValues(fd, m.Get(fd), out.Get(fd)); !ok {
				return name + p, false
			}
			if fd.Message() != nil && fd.Message().FullName() == timestampName && out.Has(fd) == timeOf(m.Get(fd)).IsZero() {
				return name + " (set only for a time that is not zero)", false
			}
		}
	}
	return "", true
}

// equalValues compares one value of field fd (a list element, a map value
// or a singular field).
func equalValues(fd protoreflect.FieldDescriptor, a, b protoreflect.Value) (string, bool) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == timestampName {
			if ta, tb := timeOf(a), timeOf(b); !ta.Equal(tb) {
				return fmt.Sprintf(" (time %v, not %v)", tb, ta), false
			}
			return "", true
		}
		if p, ok := equivalent(a.Message(), b.Message()); !ok {
			return "." + p, false
		}
	case protoreflect.EnumKind:
		// A value this build does not define reads back as UNSPECIFIED, or
		// as itself where the conversion passes it through for the
		// domain's checks to refuse (the trigger rules' enums, days).
		want := a.Enum()
		undefined := fd.Enum().Values().ByNumber(want) == nil
		if b.Enum() != want && !(undefined && b.Enum() == 0) {
			return fmt.Sprintf(" (enum %d, not %d)", b.Enum(), want), false
		}
	case protoreflect.BytesKind:
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			return " (bytes)", false
		}
	default:
		if a.Interface() != b.Interface() {
			return fmt.Sprintf(" (%v, not %v)", b.Interface(), a.Interface()), false
		}
	}
	return "", true
}

// timeOf is the instant of a Timestamp value; unset is the zero time.
func timeOf(v protoreflect.Value) time.Time {
	m := v.Message()
	if !m.IsValid() {
		return time.Time{}
	}
	ts := m.Interface().(*timestamppb.Timestamp)
	if ts == nil {
		return time.Time{}
	}
	return protoconv.TimeFromProto(ts)
}

func FuzzStoredRecords(f *testing.F) {
	seeds := []proto.Message{
		protoconv.SiteToProto(testSite()),
		protoconv.AgentToProto(testAgent()),
		protoconv.VisitorToProto(testVisitor()),
		protoconv.ChatToProto(testChat()),
		protoconv.InvitationToProto(testInvitation()),
		protoconv.ChatRequestToProto(testChatRequest()),
		protoconv.RoutingDecisionToProto(testRoutingDecision()),
		// Values the domain does not know, or normalises.
		&pb.Site{ProactiveChat: &pb.ProactiveChatSettings{Mode: 99, FormFields: []*pb.FormField{{Type: -3}, {}}}},
		&pb.Agent{Status: 42, StatusChangeTime: &timestamppb.Timestamp{Seconds: -62135596800}},
		&pb.Visitor{CreateTime: &timestamppb.Timestamp{}, CurrentPage: &pb.PageView{}, Engagement: 1000},
		&pb.Visitor{CreateTime: &timestamppb.Timestamp{Seconds: 1 << 62, Nanos: -5}, DeclineTime: &timestamppb.Timestamp{Nanos: 2_000_000_001}},
		&pb.Chat{Visitor: &pb.Participant{Role: 7}, State: -1, EndReason: 9},
		&pb.ChatEvent{Kind: &pb.ChatEvent_Started{}},
		&pb.ChatEvent{Kind: &pb.ChatEvent_Message{Message: &pb.ChatMessage{}}},
		&pb.ChatEvent{Kind: &pb.ChatEvent_InactivityWarning{InactivityWarning: &pb.InactivityWarning{EndTime: &timestamppb.Timestamp{Seconds: -1}}}},
		&pb.ChatRequest{Page: &pb.PageSnapshot{}, FormValues: map[string]string{"": ""}, Kind: 5, State: 6},
		&pb.ChatRequest{Page: &pb.PageSnapshot{Title: "only a title"}},
		&pb.Invitation{State: 77},
		&pb.RoutingDecision{},
	}
	for _, ev := range testEvents() {
		seeds = append(seeds, protoconv.ChatEventToProto(ev))
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Two oneof cases (the last wins), an unknown field, a bad UTF-8
	// string, a truncated message, nothing.
	started, _ := proto.Marshal(&pb.ChatEvent{Kind: &pb.ChatEvent_Started{Started: &pb.ChatStarted{}}})
	ended, _ := proto.Marshal(&pb.ChatEvent{Kind: &pb.ChatEvent_Ended{Ended: &pb.ChatEnded{Reason: 2}}})
	f.Add(append(started, ended...))
	f.Add(protowire.AppendVarint(protowire.AppendTag([]byte{}, 999, protowire.VarintType), 1))
	f.Add(protowire.AppendString(protowire.AppendTag([]byte{}, 1, protowire.BytesType), "\xff"))
	site, _ := proto.Marshal(protoconv.SiteToProto(testSite()))
	f.Add(site[:len(site)/2])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range records {
			r.check(t, data)
		}
	})
}

// TestStoredRecordsCheck makes sure the fuzz target's checks fail when a
// conversion loses a field.
func TestStoredRecordsCheck(t *testing.T) {
	m := protoconv.VisitorToProto(testVisitor())
	out := proto.Clone(m).(*pb.Visitor)
	out.ChatRequestId = ""
	if _, ok := equivalent(m.ProtoReflect(), out.ProtoReflect()); ok {
		t.Fatal("a lost field went unnoticed")
	}
	out = proto.Clone(m).(*pb.Visitor)
	out.CreateTime = nil
	if _, ok := equivalent(m.ProtoReflect(), out.ProtoReflect()); ok {
		t.Fatal("a lost time went unnoticed")
	}
	if _, ok := equivalent(m.ProtoReflect(), m.ProtoReflect()); !ok {
		t.Fatal("a message differs from itself")
	}
}
