package rpc

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestFanout: a message is built once per event and encoded once, the
// codec's output is the message's encoding appended to what it is given,
// and changing that output changes nothing kept; old events make room.
func TestFanout(t *testing.T) {
	f := newFanout()
	codec := fanoutCodec{f}
	builds := 0
	build := func(id string) func() proto.Message {
		return func() proto.Message {
			builds++
			return &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_QueueChanged{QueueChanged: &pb.ChatRequest{Id: id, SiteId: "shop"}}}
		}
	}
	type event struct{ n int }
	e1, e2 := &event{1}, &event{2}
	m1 := f.message(e1, build("req_1"))
	if again := f.message(e1, build("req_1")); again != m1 || builds != 1 {
		t.Fatalf("the second stream got a new message (%d builds), want the first's", builds)
	}
	if m2 := f.message(e2, build("req_2")); m2 == m1 || builds != 2 {
		t.Fatalf("another event got the first's message (%d builds)", builds)
	}

	want, err := proto.Marshal(m1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := codec.MarshalAppend([]byte("envelope:"), m1)
	if err != nil || string(out) != "envelope:"+string(want) {
		t.Fatalf("MarshalAppend = %q, %v; want the prefix and the encoding", out, err)
	}
	out[len(out)-1] ^= 0xff // connect reuses its buffers
	if again, _ := codec.Marshal(m1); string(again) != string(want) {
		t.Fatal("changing what MarshalAppend returned changed the kept encoding")
	}
	var back pb.WatchAgentResponse
	if err := codec.Unmarshal(want, &back); err != nil || back.GetQueueChanged().GetId() != "req_1" {
		t.Fatalf("Unmarshal: %v, %v", &back, err)
	}
	// A message of nobody's fanout is encoded as connect's codec would.
	own := &pb.WatchAgentResponse{Event: &pb.WatchAgentResponse_QueueChanged{QueueChanged: &pb.ChatRequest{Id: "req_1", SiteId: "shop"}}}
	if b, err := codec.Marshal(own); err != nil || string(b) != string(want) {
		t.Fatalf("Marshal of an unshared message = %q, %v", b, err)
	}
	if _, err := codec.Marshal("not a message"); err == nil {
		t.Error("Marshal of a string: no error")
	}

	// A full ring forgets the oldest event: it is built again if asked.
	for i := range fanoutEntries {
		f.message(&event{100 + i}, build("req_x"))
	}
	if len(f.byEvent) != fanoutEntries || len(f.byMsg) != fanoutEntries {
		t.Fatalf("%d events and %d messages kept, want %d", len(f.byEvent), len(f.byMsg), fanoutEntries)
	}
	builds = 0
	if m := f.message(e1, build("req_1")); m == m1 || builds != 1 {
		t.Fatalf("an evicted event's message was not built again (%d builds)", builds)
	}
	if _, ok, _ := f.encoded(m1); ok {
		t.Error("an evicted message is still encoded from the fanout")
	}
}
