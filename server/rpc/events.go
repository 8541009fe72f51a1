package rpc

import (
	"context"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// eventFilter reads the filter fields every event request has, kept to
// the sites of a scoped key (the authorization rule checked a site named).
func eventFilter(ctx context.Context, siteID string, types []string) (domain.EventFilter, error) {
	f := domain.EventFilter{SiteID: siteID}
	for _, t := range types {
		f.Types = append(f.Types, domain.EventType(t))
	}
	return principalFrom(ctx).ScopeEvents(f)
}

func (s *adminServer) ListEvents(ctx context.Context, req *connect.Request[pb.ListEventsRequest]) (*connect.Response[pb.ListEventsResponse], error) {
	m := req.Msg
	f, err := eventFilter(ctx, m.GetSiteId(), m.GetTypes())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	f.Start, f.End = protoconv.TimeFromProto(m.GetStartTime()), protoconv.TimeFromProto(m.GetEndTime())
	page, err := s.svc.ListEvents(ctx, m.GetAfter(), int(m.GetPageSize()), f)
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListEventsResponse{NextAfter: page.NextAfter, HasMore: page.More}
	for _, ev := range page.Events {
		out.Events = append(out.Events, protoconv.EventToProto(ev))
	}
	return connect.NewResponse(out), nil
}

func (s *adminServer) WatchEvents(ctx context.Context, req *connect.Request[pb.WatchEventsRequest], stream *connect.ServerStream[pb.WatchEventsResponse]) error {
	f, err := eventFilter(ctx, req.Msg.GetSiteId(), req.Msg.GetTypes())
	if err != nil {
		return toConnectError(ctx, s.log, err)
	}
	// Send the response headers now: a client opening a quiet stream
	// must not wait for the first event to know it is connected.
	if err := stream.Send(nil); err != nil {
		return err
	}
	err = s.svc.WatchEvents(ctx, req.Msg.GetAfter(), f, func(u domain.EventUpdate) error {
		if u.Event != nil {
			return stream.Send(&pb.WatchEventsResponse{Item: &pb.WatchEventsResponse_Event{Event: protoconv.EventToProto(u.Event)}})
		}
		return stream.Send(&pb.WatchEventsResponse{Item: &pb.WatchEventsResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}})
	})
	return toConnectError(ctx, s.log, err)
}
