package app

import (
	"encoding/binary"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"
)

// TestStreamBodyClockRunsOnlyInsideMessages: a client stream's clock runs
// from its start until its first message is whole, and then only from a
// message's first byte to its last: a quiet stream between messages (a
// chat nobody writes in) is never cut.
func TestStreamBodyClockRunsOnlyInsideMessages(t *testing.T) {
	e := newEdge(nil, time.Hour, time.Hour)
	pr, pw := io.Pipe()
	s := e.newStreamBody(httptest.NewRecorder(), httptest.NewRequest("POST", "/proactivechat.v1.ChatService/Converse", pr), protoGRPC)
	defer s.stop()
	due := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.waiting
	}
	message := func(payload string) []byte {
		b := make([]byte, envelopePrefix, envelopePrefix+len(payload))
		binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
		return append(b, payload...)
	}
	read := func(n int) {
		t.Helper()
		if _, err := io.ReadFull(s, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}

	if !due() {
		t.Fatal("the first message is not due from the start")
	}
	go pw.Write(message("join"))
	read(envelopePrefix + 4)
	if due() {
		t.Fatal("after a whole message the clock still runs: a quiet stream would be cut")
	}
	m := message("abc")
	go pw.Write(m[:envelopePrefix+1])
	read(envelopePrefix + 1)
	if !due() {
		t.Fatal("a message begun is not on the clock")
	}
	go pw.Write(m[envelopePrefix+1:])
	read(2)
	if due() {
		t.Fatal("after the message's last byte the clock still runs")
	}
	pw.Close()
	if n, err := s.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("at the client's end of the stream: %d, %v; want io.EOF", n, err)
	}
}

// TestEdgeKnowsClientStreams: the edge reads every body whole before the
// handler runs except a client stream's, which it must know by its path:
// read whole, a stream would never start.
func TestEdgeKnowsClientStreams(t *testing.T) {
	procs := newEdge(nil, 0, 0).procedures
	for path, clientStream := range map[string]bool{
		"/proactivechat.v1.ChatService/Converse":                         true,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
		"/proactivechat.v1.ChatService/WatchChat":                        false,
		"/proactivechat.v1.VisitorService/StartVisitorSession":           false,
		"/grpc.health.v1.Health/Watch":                                   false,
	} {
		if got, ok := procs[path]; !ok || got != clientStream {
			t.Errorf("%s: known %v, client stream %v; want known, client stream %v", path, ok, got, clientStream)
		}
	}
}
