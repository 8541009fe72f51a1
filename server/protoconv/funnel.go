package protoconv

import (
	"sort"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
)

// FunnelToProto converts a site's funnel.
func FunnelToProto(f *domain.Funnel) *pb.Funnel {
	out := &pb.Funnel{
		SiteId:    f.SiteID,
		StartTime: TimeToProto(f.Start),
		EndTime:   TimeToProto(f.End),
	}
	for _, step := range domain.FunnelSteps {
		out.Steps = append(out.Steps, &pb.FunnelStepCount{
			Step: step.String(), EventType: string(step.EventType()), Count: f.Steps[step],
		})
	}
	reasons := make([]domain.ChatEndReason, 0, len(f.Ends))
	for r := range f.Ends {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return reasons[i] < reasons[j] })
	for _, r := range reasons {
		out.Ends = append(out.Ends, &pb.FunnelEndCount{Reason: ChatEndReasonToProto(r), Count: f.Ends[r]})
	}
	for _, n := range f.WaitCounts {
		out.WaitCount += n
	}
	if out.WaitCount > 0 {
		out.WaitP50 = durationpb.New(f.WaitP50)
		out.WaitP90 = durationpb.New(f.WaitP90)
	}
	return out
}
