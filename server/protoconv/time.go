package protoconv

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// TimeToProto converts t to a Timestamp; the zero time becomes nil, because
// the domain uses the zero time for "never" and proto for "unset".
func TimeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// TimeFromProto converts ts to a UTC time; nil becomes the zero time rather
// than the Unix epoch that ts.AsTime would give.
func TimeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
