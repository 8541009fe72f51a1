package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// wantFunnelIsEvents checks, over the wire, that GetFunnel counts for the
// site exactly the corresponding events ListEvents lists: each step's
// events, chats with a visitor message once each, chats ended by reason.
func wantFunnelIsEvents(t *testing.T, ctx context.Context, c api, clock *fakeclock.Clock, siteID string) *pb.Funnel {
	t.Helper()
	f := must[*pb.GetFunnelResponse](t, "GetFunnel")(c.GetFunnel(ctx, &pb.GetFunnelRequest{
		SiteId:    siteID,
		StartTime: timestamppb.New(t0.Add(-time.Hour)),
		EndTime:   timestamppb.New(clock.Now().Add(time.Hour)),
	})).GetFunnel()
	evs := listAll(t, c, &pb.ListEventsRequest{SiteId: siteID})
	byType := map[string]uint64{}
	messaged := map[string]bool{}
	ends := map[pb.ChatEndReason]uint64{}
	for _, ev := range evs {
		byType[ev.GetType()]++
		if m := ev.GetChatMessage(); m != nil && m.GetSender().GetRole() == pb.ParticipantRole_PARTICIPANT_ROLE_VISITOR {
			messaged[m.GetChatId()] = true
		}
		if e := ev.GetChatEnded(); e != nil {
			ends[e.GetReason()]++
		}
	}
	if len(f.GetSteps()) != 12 {
		t.Fatalf("funnel has %d steps, want 12", len(f.GetSteps()))
	}
	var total uint64
	for _, s := range f.GetSteps() {
		want := byType[s.GetEventType()]
		if s.GetStep() == "chats_with_visitor_message" {
			want = uint64(len(messaged))
		}
		if s.GetCount() != want {
			t.Errorf("funnel %s = %d, ListEvents has %d", s.GetStep(), s.GetCount(), want)
		}
		total += s.GetCount()
	}
	if total == 0 {
		t.Error("the funnel counts nothing")
	}
	got := map[pb.ChatEndReason]uint64{}
	for _, e := range f.GetEnds() {
		got[e.GetReason()] = e.GetCount()
	}
	if len(got) != len(ends) {
		t.Errorf("funnel ends %v, ListEvents has %v", got, ends)
	}
	for r, n := range ends {
		if got[r] != n {
			t.Errorf("funnel ends %v, ListEvents has %v", got, ends)
		}
	}
	if f.GetWaitCount() != byType["request.accepted"] {
		t.Errorf("funnel has %d waits, ListEvents %d acceptances", f.GetWaitCount(), byType["request.accepted"])
	}
	return f
}

// TestGetFunnel: over every protocol (REST's GET /v1/sites/{site}/funnel
// among them), the funnel after a visitor chatted counts the events;
// bad ranges are refused naming the field.
func TestGetFunnel(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)

		site := createSite(t, ctx, c, "Shoe shop", enabledWithoutInvite())
		agent := createAvailableAgent(t, ctx, c, "Dana", site.GetId())
		console, _ := openAgentStream(t, ctx, c, agent.GetId())
		visitor, widget := visitorOnline(t, ctx, c, site.GetId(), page1)
		clock.Advance(30 * time.Second)
		alert := recvAlert(t, console)
		clock.Advance(20 * time.Second)
		chat := must[*pb.AcceptChatRequestResponse](t, "AcceptChatRequest")(c.AcceptChatRequest(ctx, &pb.AcceptChatRequestRequest{
			AgentId: agent.GetId(), ChatRequestId: alert.GetChatRequest().GetId(),
		})).GetChat()
		send(t, ctx, c, chat.GetId(), visitor.GetId(), "Hi")
		send(t, ctx, c, chat.GetId(), visitor.GetId(), "Anyone?")
		leave(t, ctx, c, chat.GetId(), visitor.GetId())
		leave(t, ctx, c, chat.GetId(), agent.GetId())
		widget.Close()

		f := wantFunnelIsEvents(t, ctx, c, clock, site.GetId())
		counts := map[string]uint64{}
		for _, s := range f.GetSteps() {
			counts[s.GetStep()] = s.GetCount()
		}
		for step, want := range map[string]uint64{"visits": 1, "launches": 1, "queued": 1, "alerted": 1, "accepted": 1, "chats_with_visitor_message": 1} {
			if counts[step] != want {
				t.Errorf("%s = %d, want %d", step, counts[step], want)
			}
		}
		if got := f.GetWaitP50().AsDuration(); got != 20*time.Second {
			t.Errorf("wait p50 = %v, want 20s (the bucket of a 20 s wait)", got)
		}
		if !f.GetStartTime().AsTime().Equal(t0.Add(-time.Hour)) || f.GetSiteId() != site.GetId() {
			t.Errorf("funnel of %q from %v", f.GetSiteId(), f.GetStartTime().AsTime())
		}

		// ListEvents knows the newer types.
		if _, err := c.ListEvents(ctx, &pb.ListEventsRequest{Types: []string{"visitor.identified", "chat.rated"}}); err != nil {
			t.Errorf("ListEvents of visitor.identified and chat.rated: %v", err)
		}

		_, err := c.GetFunnel(ctx, &pb.GetFunnelRequest{SiteId: site.GetId(), StartTime: timestamppb.New(t0), EndTime: timestamppb.New(t0.Add(400 * 24 * time.Hour))})
		wantCode(t, err, connect.CodeInvalidArgument)
		if f := badRequestFields(err); !slices.Equal(f, []string{"end_time"}) {
			t.Errorf("a 400-day range: fields %v, want end_time", f)
		}
		_, err = c.GetFunnel(ctx, &pb.GetFunnelRequest{SiteId: site.GetId(), StartTime: timestamppb.New(t0), EndTime: timestamppb.New(t0.Add(-time.Hour))})
		if f := badRequestFields(err); !slices.Equal(f, []string{"start_time"}) {
			t.Errorf("a reversed range: fields %v, want start_time", f)
		}
	})
}
