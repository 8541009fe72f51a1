package rpc

import (
	"fmt"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// fanoutEntries is how many recent events a fanout keeps. Every stream
// sends an event within moments of its publication (an agent's batch of
// queue changes is at most a few hundred), so a thousand cover the busiest
// fan-out; an event evicted before some stream sent it is just built and
// encoded again for that stream.
const fanoutEntries = 1024

// fanout builds and encodes a message once for every stream that sends
// it. The domain publishes each presence change and queue change once, to
// every agent watching the site: with 60 agents on a busy queue, or 10
// agents and 20,000 visitors browsing, converting and marshaling the same
// message for each agent was a large part of the server's work. Streams
// ask for the message of an event (the domain's pointer, shared by all of
// them and never changed) and send what they get; the codec, which knows
// the fanout, copies the encoding made for the first one.
type fanout struct {
	mu      sync.Mutex
	byEvent map[any]*fanoutEntry
	byMsg   map[proto.Message]*fanoutEntry
	ring    [fanoutEntries]any // events, oldest at next once full
	next    int
}

type fanoutEntry struct {
	msg     proto.Message
	once    sync.Once
	encoded []byte
	err     error
}

func newFanout() *fanout {
	return &fanout{byEvent: map[any]*fanoutEntry{}, byMsg: map[proto.Message]*fanoutEntry{}}
}

// message returns the message for event, built by build the first time.
// The message is shared: nobody may change it.
func (f *fanout) message(event any, build func() proto.Message) proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.byEvent[event]; ok {
		return e.msg
	}
	if old := f.ring[f.next]; old != nil {
		delete(f.byMsg, f.byEvent[old].msg)
		delete(f.byEvent, old)
	}
	e := &fanoutEntry{msg: build()}
	f.byEvent[event], f.byMsg[e.msg] = e, e
	f.ring[f.next] = event
	f.next = (f.next + 1) % fanoutEntries
	return e.msg
}

// encoded is the encoding of m if m is a message of the fanout, made once.
func (f *fanout) encoded(m proto.Message) (b []byte, ok bool, err error) {
	f.mu.Lock()
	e, ok := f.byMsg[m]
	f.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	e.once.Do(func() { e.encoded, e.err = proto.Marshal(e.msg) })
	return e.encoded, true, e.err
}

// fanoutCodec is connect's binary Protobuf codec, but for the messages of
// its fanout, whose encoding it copies.
type fanoutCodec struct{ f *fanout }

var _ connect.Codec = fanoutCodec{}

func (fanoutCodec) Name() string { return "proto" }

func (c fanoutCodec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

// MarshalAppend lets connect encode into its pooled buffers; an encoding
// of the fanout is copied, never handed over.
func (c fanoutCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	if b, ok, err := c.f.encoded(pm); ok {
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, pm)
}

func (fanoutCodec) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(b, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// MarshalStable and IsBinary are connect's, for GET requests.
func (fanoutCodec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

func (fanoutCodec) IsBinary() bool { return true }
