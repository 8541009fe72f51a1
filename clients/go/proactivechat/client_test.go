package proactivechat_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/ratelimit"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// TestDial: both clients reach the real server with the admin API key,
// and a wrong key is UNAUTHENTICATED.
func TestDial(t *testing.T) {
	srv := mustSharedServer(t)
	forEachTransport(t, func(t *testing.T, tr transport) {
		ctx := testContext(t)
		c := tr.dial(t, srv, srv.key)
		site, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Shoe shop " + tr.name})
		if err != nil {
			t.Fatalf("CreateSite: %v", err)
		}
		sites, err := c.ListSites(ctx)
		if err != nil {
			t.Fatalf("ListSites: %v", err)
		}
		if !slices.ContainsFunc(sites, func(s *pb.Site) bool { return s.GetId() == site.GetId() }) {
			t.Fatalf("ListSites = %v, want %v among them", sites, site)
		}

		_, err = tr.dial(t, srv, "pca_wrong").ListSites(ctx)
		e, ok := proactivechat.AsError(err)
		if !ok || e.Code != connect.CodeUnauthenticated {
			t.Fatalf("ListSites with a wrong key: %v, want UNAUTHENTICATED", err)
		}
	})
}

// TestAsErrorFieldViolations: an invalid request's error names the field.
func TestAsErrorFieldViolations(t *testing.T) {
	srv := mustSharedServer(t)
	forEachTransport(t, func(t *testing.T, tr transport) {
		_, err := tr.dial(t, srv, srv.key).CreateSite(testContext(t), &pb.CreateSiteRequest{Name: ""})
		e, ok := proactivechat.AsError(err)
		if !ok {
			t.Fatalf("CreateSite without a name: %v, want a server error", err)
		}
		if e.Code != connect.CodeInvalidArgument || len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "name" || e.FieldViolations[0].Description == "" {
			t.Fatalf("CreateSite without a name: %#v, want INVALID_ARGUMENT on name", e)
		}
		if e.Unwrap() != err {
			t.Fatalf("Unwrap = %v, want the transport's error", e.Unwrap())
		}
	})
}

// TestAsErrorRetryAfter: a rate-limited call says how long to wait.
func TestAsErrorRetryAfter(t *testing.T) {
	srv := startServer(t, func(c *app.Config) {
		c.RateLimits = &rpc.RateLimits{SessionsPerAddr: ratelimit.Per(1, time.Hour, 1), Loopback: true}
	})
	forEachTransport(t, func(t *testing.T, tr transport) {
		ctx := testContext(t)
		c := tr.dial(t, srv, srv.key)
		site, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: "Limited " + tr.name})
		if err != nil {
			t.Fatal(err)
		}
		// The first transport spent the address's one session.
		if tr.name == transports[0].name {
			if err := c.StartVisitorSession(ctx, site.GetId()); err != nil {
				t.Fatalf("first session: %v", err)
			}
		}
		err = c.StartVisitorSession(ctx, site.GetId())
		e, ok := proactivechat.AsError(err)
		if !ok || e.Code != connect.CodeResourceExhausted {
			t.Fatalf("second session: %v, want RESOURCE_EXHAUSTED", err)
		}
		if e.RetryAfter <= 59*time.Minute || e.RetryAfter > time.Hour {
			t.Fatalf("RetryAfter = %v, want about an hour", e.RetryAfter)
		}
	})
}

// TestAsError: errors made by hand, as each transport carries them.
func TestAsError(t *testing.T) {
	badRequest := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "site_id", Description: "is required"},
		{Field: "types[0]", Description: "is not an event type"},
	}}
	retry := &errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)}
	wantViolations := []proactivechat.FieldViolation{{Field: "site_id", Description: "is required"}, {Field: "types[0]", Description: "is not an event type"}}

	t.Run("Connect", func(t *testing.T) {
		ce := connect.NewError(connect.CodeInvalidArgument, errors.New("bad request"))
		for _, d := range []proto.Message{badRequest, retry} {
			detail, err := connect.NewErrorDetail(d)
			if err != nil {
				t.Fatal(err)
			}
			ce.AddDetail(detail)
		}
		e, ok := proactivechat.AsError(errWrap{ce})
		if !ok || e.Code != connect.CodeInvalidArgument || e.Message != "bad request" || !slices.Equal(e.FieldViolations, wantViolations) || e.RetryAfter != 1500*time.Millisecond {
			t.Fatalf("AsError = %#v, %v", e, ok)
		}
		if got, want := e.Error(), "invalid_argument: bad request (site_id: is required; types[0]: is not an event type)"; got != want {
			t.Fatalf("Error() = %q, want %q", got, want)
		}
	})
	t.Run("ConnectRetryAfterHeader", func(t *testing.T) {
		ce := connect.NewError(connect.CodeResourceExhausted, errors.New("slow down"))
		ce.Meta().Set("Retry-After", "30")
		if e, ok := proactivechat.AsError(ce); !ok || e.RetryAfter != 30*time.Second {
			t.Fatalf("AsError = %#v, %v; want RetryAfter 30s", e, ok)
		}
	})
	t.Run("GRPC", func(t *testing.T) {
		st, err := status.New(codes.InvalidArgument, "bad request").WithDetails(badRequest, retry)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := proactivechat.AsError(errWrap{st.Err()})
		if !ok || e.Code != connect.CodeInvalidArgument || e.Message != "bad request" || !slices.Equal(e.FieldViolations, wantViolations) || e.RetryAfter != 1500*time.Millisecond {
			t.Fatalf("AsError = %#v, %v", e, ok)
		}
	})
	t.Run("NotFromTheServer", func(t *testing.T) {
		for _, err := range []error{nil, errors.New("boom"), context.Canceled} {
			if e, ok := proactivechat.AsError(err); ok {
				t.Errorf("AsError(%v) = %#v, want false", err, e)
			}
		}
	})
}

// errWrap wraps an error as callers do with fmt.Errorf("…: %w").
type errWrap struct{ err error }

func (w errWrap) Error() string { return "call: " + w.err.Error() }
func (w errWrap) Unwrap() error { return w.err }
