package app

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// brokenBody yields data, then fails as a connection that died.
type brokenBody struct{ r *bytes.Reader }

var errConnDied = errors.New("connection died")

func (b *brokenBody) Read(p []byte) (int, error) {
	n, _ := b.r.Read(p)
	if n == 0 {
		return 0, errConnDied
	}
	return n, nil
}

func (b *brokenBody) Close() error { return nil }

// readEnding reads a forwarded body of contentType whose connection dies
// after data, through endUnavailable, 3 bytes at a time.
func readEnding(contentType string, data []byte) (*http.Response, []byte, error) {
	res := &http.Response{Header: http.Header{"Content-Type": {contentType}}, Body: &brokenBody{bytes.NewReader(data)}}
	endUnavailable(res)
	var out []byte
	buf := make([]byte, 3)
	for {
		n, err := res.Body.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return res, out, nil
		}
		if err != nil {
			return res, out, err
		}
	}
}

// The ending is added only between whole messages: a body cut in the
// middle of one (or a unary answer) is aborted, as the proxy did before.
func TestEndUnavailable_OnlyBetweenMessages(t *testing.T) {
	msg := envelope(0, []byte("hello"))
	for _, ct := range []string{"application/grpc", "application/grpc-web+proto", "application/connect+json"} {
		if _, _, err := readEnding(ct, msg[:len(msg)-2]); !errors.Is(err, errConnDied) {
			t.Errorf("%s cut mid-message: %v, want the connection's error", ct, err)
		}
		if _, _, err := readEnding(ct, msg[:3]); !errors.Is(err, errConnDied) {
			t.Errorf("%s cut mid-envelope: %v, want the connection's error", ct, err)
		}
	}
	res, out, err := readEnding("application/grpc", append(append([]byte{}, msg...), msg...))
	if err != nil || !bytes.Equal(out, append(append([]byte{}, msg...), msg...)) || res.Trailer.Get("Grpc-Status") != "14" {
		t.Errorf("gRPC cut between messages: %q, %v, trailers %v; want both messages, then UNAVAILABLE", out, err, res.Trailer)
	}
	_, out, err = readEnding("application/connect+proto", msg)
	end := out[len(msg):]
	if err != nil || len(end) < 5 || end[0] != 0x02 || !bytes.Contains(end, []byte(`"code":"unavailable"`)) {
		t.Errorf("Connect cut between messages: %q, %v; want an end-stream message with unavailable", out, err)
	}
	_, out, err = readEnding("application/grpc-web", msg)
	end = out[len(msg):]
	if err != nil || len(end) < 5 || end[0] != 0x80 || !bytes.Contains(end, []byte("grpc-status:14\r\n")) {
		t.Errorf("gRPC-Web cut between messages: %q, %v; want a trailers frame with status 14", out, err)
	}
	if _, _, err := readEnding("application/json", []byte(`{"sites":[]`)); !errors.Is(err, errConnDied) {
		t.Errorf("a unary JSON answer cut: %v, want the connection's error", err)
	}
	_, out, err = readEnding("application/json", []byte("{\"result\":{}}\n"))
	if err != nil || !bytes.HasSuffix(out, []byte("\"code\":14,\"message\":\""+leaderGoneMessage+"\",\"details\":[]}}\n")) {
		t.Errorf("a REST stream cut between lines: %q, %v; want an error line with code 14", out, err)
	}
	if _, _, err := readEnding("application/grpc-web-text", []byte("AAAA")); !errors.Is(err, errConnDied) {
		t.Errorf("gRPC-Web text cut: %v, want the connection's error", err)
	}
}
