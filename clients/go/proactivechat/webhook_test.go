package proactivechat_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

var (
	secretKey    = []byte("0123456789abcdef0123456789abcdef")
	secret       = "whsec_" + base64.StdEncoding.EncodeToString(secretKey)
	newSecretKey = []byte("fedcba9876543210fedcba9876543210")
	newSecret    = "whsec_" + base64.StdEncoding.EncodeToString(newSecretKey)
	sentAt       = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
)

// signByHand signs as Standard Webhooks v1 says, without the library.
func signByHand(key []byte, id string, at time.Time, body []byte) string {
	h := hmac.New(sha256.New, key)
	fmt.Fprintf(h, "%s.%d.%s", id, at.Unix(), body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// signWithLibrary signs with the Standard Webhooks library.
func signWithLibrary(t *testing.T, secret, id string, at time.Time, body []byte) string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func webhookHeader(id string, at time.Time, signature string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", signature)
	return h
}

func TestVerifyWebhook(t *testing.T) {
	body := []byte(`{"type":"chat.message","timestamp":"2030-01-02T09:00:00Z","data":{}}`)
	const id = "msg_2b4xK"
	libSig := signWithLibrary(t, secret, id, sentAt, body)
	if got := signByHand(secretKey, id, sentAt, body); got != libSig {
		t.Fatalf("signature by hand %q, by the library %q", got, libSig)
	}
	oldSig := signByHand(secretKey, id, sentAt, body)
	newSig := signByHand(newSecretKey, id, sentAt, body)

	for _, tc := range []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		now    time.Time
		want   error // nil: accepted
	}{
		{"OK", secret, webhookHeader(id, sentAt, libSig), body, sentAt.Add(time.Minute), nil},
		{"OKSignedByHand", secret, webhookHeader(id, sentAt, oldSig), body, sentAt, nil},
		{"OKAtTheTolerance", secret, webhookHeader(id, sentAt, libSig), body, sentAt.Add(proactivechat.WebhookTolerance), nil},
		{"ErrTamperedBody", secret, webhookHeader(id, sentAt, libSig), append([]byte{' '}, body...), sentAt, proactivechat.ErrWebhookSignature},
		{"ErrOtherID", secret, webhookHeader("msg_other", sentAt, libSig), body, sentAt, proactivechat.ErrWebhookSignature},
		{"ErrWrongSecret", newSecret, webhookHeader(id, sentAt, libSig), body, sentAt, proactivechat.ErrWebhookSignature},
		{"ErrExpired", secret, webhookHeader(id, sentAt, libSig), body, sentAt.Add(proactivechat.WebhookTolerance + time.Second), proactivechat.ErrWebhookTimestamp},
		{"ErrFromTheFuture", secret, webhookHeader(id, sentAt, libSig), body, sentAt.Add(-proactivechat.WebhookTolerance - time.Second), proactivechat.ErrWebhookTimestamp},
		{"RotationNewSecret", newSecret, webhookHeader(id, sentAt, oldSig+" "+newSig), body, sentAt, nil},
		{"RotationOldSecret", secret, webhookHeader(id, sentAt, newSig+" "+oldSig), body, sentAt, nil},
		{"RotationNeither", "whsec_" + base64.StdEncoding.EncodeToString([]byte("another")), webhookHeader(id, sentAt, oldSig+" "+newSig), body, sentAt, proactivechat.ErrWebhookSignature},
		{"ErrMissingSignature", secret, webhookHeader(id, sentAt, ""), body, sentAt, proactivechat.ErrWebhookHeaders},
		{"ErrMissingID", secret, webhookHeader("", sentAt, libSig), body, sentAt, proactivechat.ErrWebhookHeaders},
		{"ErrBadTimestamp", secret, func() http.Header {
			h := webhookHeader(id, sentAt, libSig)
			h.Set("webhook-timestamp", "yesterday")
			return h
		}(), body, sentAt, proactivechat.ErrWebhookHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := proactivechat.VerifyWebhook(tc.secret, tc.header, tc.body, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifyWebhook = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("ErrBadSecret", func(t *testing.T) {
		if err := proactivechat.VerifyWebhook("whsec_not base64!", webhookHeader(id, sentAt, libSig), body, sentAt); err == nil {
			t.Fatal("VerifyWebhook with a malformed secret = nil, want an error")
		}
	})
}

func TestParseWebhook(t *testing.T) {
	ev := &pb.Event{
		Position: 42, Id: "ev_1", Type: "agent.status_changed", Time: timestamppb.New(sentAt),
		Payload: &pb.Event_AgentStatusChanged{AgentStatusChanged: &pb.AgentStatusChanged{AgentId: "ag_1", Status: pb.AgentStatus_AGENT_STATUS_AWAY}},
	}
	data, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// Fields of later versions, outside and inside data, are ignored.
	data = append([]byte(`{"newField":1,`), data[1:]...)
	body := fmt.Sprintf(`{"type":"agent.status_changed","timestamp":"2030-01-02T09:00:00Z","data":%s,"version":2}`, data)

	got, err := proactivechat.ParseWebhook([]byte(body))
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if got.Type != "agent.status_changed" || !got.Timestamp.Equal(sentAt) || !proto.Equal(got.Event, ev) {
		t.Fatalf("ParseWebhook = %+v, want %v at %v", got, ev, sentAt)
	}

	for _, bad := range []string{`not json`, `{"type":"x","data":{"position":"minus one"}}`} {
		if _, err := proactivechat.ParseWebhook([]byte(bad)); err == nil {
			t.Errorf("ParseWebhook(%s) = nil error", bad)
		}
	}
}
