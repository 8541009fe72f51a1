package proactivechat

import (
	"context"
	"iter"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// Stream is one WatchEvents call, for tests of the iterator without a
// server: Recv returns ErrStreamEnded at a clean end.
type Stream interface {
	Recv() (*pb.WatchEventsResponse, error)
	Close()
}

// WatchWith is Events over calls made by open.
func WatchWith(ctx context.Context, open func(ctx context.Context, req *pb.WatchEventsRequest) (Stream, error), after uint64, opts ...WatchOption) iter.Seq2[*pb.Event, error] {
	return watch(ctx, func(ctx context.Context, req *pb.WatchEventsRequest) (eventStream, error) {
		s, err := open(ctx, req)
		if err != nil {
			return nil, err
		}
		return testStream{s}, nil
	}, after, opts)
}

type testStream struct{ s Stream }

func (t testStream) recv() (*pb.WatchEventsResponse, error) { return t.s.Recv() }
func (t testStream) close()                                 { t.s.Close() }
