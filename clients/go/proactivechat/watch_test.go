package proactivechat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"github.com/proactivechat/proactivechat/clients/go/proactivechat"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// fakeStream replays scripted messages, then ends with err.
type fakeStream struct {
	msgs   []*pb.WatchEventsResponse
	err    error
	closed *int
}

func (f *fakeStream) Recv() (*pb.WatchEventsResponse, error) {
	if len(f.msgs) == 0 {
		return nil, f.err
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

func (f *fakeStream) Close() { *f.closed++ }

func event(pos uint64) *pb.WatchEventsResponse {
	return &pb.WatchEventsResponse{Item: &pb.WatchEventsResponse_Event{Event: &pb.Event{Position: pos, Type: "chat.message"}}}
}

func keepAlive() *pb.WatchEventsResponse {
	return &pb.WatchEventsResponse{Item: &pb.WatchEventsResponse_KeepAlive{KeepAlive: &pb.KeepAlive{}}}
}

// TestWatchResumes: each call starts after the last event yielded, with
// the filters; keep-alives and events already yielded are skipped; the
// retry wait counts consecutive failures and hears why; a refusal ends it.
func TestWatchResumes(t *testing.T) {
	unavailable := connect.NewError(connect.CodeUnavailable, errors.New("server is shutting down"))
	calls := []struct {
		openErr error
		msgs    []*pb.WatchEventsResponse
		err     error
	}{
		{msgs: []*pb.WatchEventsResponse{keepAlive(), event(3), keepAlive(), event(4)}, err: unavailable},
		{openErr: errors.New("dial tcp: connection refused")},
		{msgs: []*pb.WatchEventsResponse{event(4), event(5)}, err: proactivechat.ErrStreamEnded}, // 4 again: a server that repeats itself
		{msgs: []*pb.WatchEventsResponse{keepAlive()}, err: unavailable},
		{err: connect.NewError(connect.CodePermissionDenied, errors.New("the key was revoked"))},
	}
	var afters []uint64
	closed := 0
	open := func(_ context.Context, req *pb.WatchEventsRequest) (proactivechat.Stream, error) {
		if req.GetSiteId() != "site_1" || !slices.Equal(req.GetTypes(), []string{"chat.message"}) {
			t.Errorf("request %v, want the filters", req)
		}
		c := calls[len(afters)]
		afters = append(afters, req.GetAfter())
		if c.openErr != nil {
			return nil, c.openErr
		}
		return &fakeStream{msgs: c.msgs, err: c.err, closed: &closed}, nil
	}
	var waits []string
	wait := func(_ context.Context, attempt int, err error) error {
		waits = append(waits, fmt.Sprintf("%d %v", attempt, err))
		return nil
	}

	var got []uint64
	var last error
	for ev, err := range proactivechat.WatchWith(t.Context(), open, 2,
		proactivechat.WithSite("site_1"), proactivechat.WithTypes("chat.message"), proactivechat.WithRetryWait(wait)) {
		if err != nil {
			last = err
			continue
		}
		got = append(got, ev.GetPosition())
	}

	if want := []uint64{3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("positions %v, want %v", got, want)
	}
	if want := []uint64{2, 4, 4, 5, 5}; !slices.Equal(afters, want) {
		t.Errorf("calls after %v, want %v", afters, want)
	}
	wantWaits := []string{
		"1 " + unavailable.Error(),
		"2 dial tcp: connection refused", // no message between: still failing
		"1 " + proactivechat.ErrStreamEnded.Error(),
		"1 " + unavailable.Error(), // a keep-alive arrived: the stream worked
	}
	if !slices.Equal(waits, wantWaits) {
		t.Errorf("waits %q, want %q", waits, wantWaits)
	}
	if e, ok := proactivechat.AsError(last); !ok || e.Code != connect.CodePermissionDenied {
		t.Errorf("last error %v, want PERMISSION_DENIED", last)
	}
	if closed != 4 {
		t.Errorf("%d streams closed, want the 4 opened", closed)
	}
}

// TestWatchWaitEnds: an error from the retry wait ends Events with it.
func TestWatchWaitEnds(t *testing.T) {
	giveUp := errors.New("give up")
	closed := 0
	open := func(context.Context, *pb.WatchEventsRequest) (proactivechat.Stream, error) {
		return &fakeStream{err: proactivechat.ErrStreamEnded, closed: &closed}, nil
	}
	var errs []error
	for _, err := range proactivechat.WatchWith(t.Context(), open, 0, proactivechat.WithRetryWait(func(context.Context, int, error) error { return giveUp })) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], giveUp) {
		t.Fatalf("errors %v, want just %v", errs, giveUp)
	}
}
