package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestChatHistory lists past chats with filters and pages, and reads a
// transcript, on every protocol. REST answered GET /v1/chats with 501
// before ListChats: the REST client calls exactly that.
func TestChatHistory(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, clock := newServer(t)
		c := p.newClient(t, srv)
		ctx := testContext(t)

		w := newWorld(t, ctx, c, enabledWithoutInvite())
		other := createSite(t, ctx, c, "Hat shop", enabledWithoutInvite())
		first := w.startChat(t, ctx, c)
		start := clock.Now()
		send(t, ctx, c, first.GetId(), w.agent.GetId(), "Hello! Can I help?")
		clock.Advance(2 * time.Second)
		send(t, ctx, c, first.GetId(), w.visitor.GetId(), "Yes please")
		leave(t, ctx, c, first.GetId(), w.visitor.GetId())
		leave(t, ctx, c, first.GetId(), w.agent.GetId())
		clock.Advance(time.Minute)
		second := w.startChat(t, ctx, c)

		list := func(req *pb.ListChatsRequest) (ids []string) {
			t.Helper()
			res := must[*pb.ListChatsResponse](t, "ListChats")(c.ListChats(ctx, req))
			for _, s := range res.GetChats() {
				ids = append(ids, s.GetChat().GetId())
			}
			return ids
		}
		for name, tc := range map[string]struct {
			req  *pb.ListChatsRequest
			want []string
		}{
			"Site":       {&pb.ListChatsRequest{SiteId: w.site.GetId()}, []string{second.GetId(), first.GetId()}},
			"OtherSite":  {&pb.ListChatsRequest{SiteId: other.GetId()}, nil},
			"Everything": {&pb.ListChatsRequest{}, []string{second.GetId(), first.GetId()}},
			"Agent":      {&pb.ListChatsRequest{AgentId: w.agent.GetId()}, []string{second.GetId(), first.GetId()}},
			"Visitor":    {&pb.ListChatsRequest{VisitorId: w.visitor.GetId()}, []string{second.GetId(), first.GetId()}},
			"Ended":      {&pb.ListChatsRequest{SiteId: w.site.GetId(), State: pb.ChatState_CHAT_STATE_ENDED}, []string{first.GetId()}},
			"EndReason":  {&pb.ListChatsRequest{EndReason: pb.ChatEndReason_CHAT_END_REASON_BOTH_LEFT}, []string{first.GetId()}},
			"Active":     {&pb.ListChatsRequest{State: pb.ChatState_CHAT_STATE_ACTIVE}, []string{second.GetId()}},
			"TimeRange": {&pb.ListChatsRequest{StartTimeFrom: timestamppb.New(start.Add(-time.Second)),
				StartTimeTo: timestamppb.New(start.Add(time.Second))}, []string{first.GetId()}},
		} {
			if got := list(tc.req); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", name, got, tc.want)
			}
		}

		// One a page, newest first, with the ended chat as it is stored.
		page := must[*pb.ListChatsResponse](t, "ListChats")(c.ListChats(ctx, &pb.ListChatsRequest{SiteId: w.site.GetId(), PageSize: 1}))
		if len(page.GetChats()) != 1 || page.GetChats()[0].GetChat().GetId() != second.GetId() || page.GetNextPageToken() == "" {
			t.Fatalf("first page: %v", page)
		}
		page = must[*pb.ListChatsResponse](t, "ListChats")(c.ListChats(ctx, &pb.ListChatsRequest{SiteId: w.site.GetId(), PageSize: 1, PageToken: page.GetNextPageToken()}))
		if len(page.GetChats()) != 1 || page.GetNextPageToken() != "" {
			t.Fatalf("last page: %v", page)
		}
		got := page.GetChats()[0].GetChat()
		protoEqual(t, "listed chat", got, must[*pb.GetChatResponse](t, "GetChat")(c.GetChat(ctx, &pb.GetChatRequest{ChatId: first.GetId()})).GetChat())

		// The transcript (over REST, a text/plain download).
		tr := must[*pb.GetChatTranscriptResponse](t, "GetChatTranscript")(c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: first.GetId()}))
		if tr.GetFileName() != "transcript-"+first.GetId()+".txt" {
			t.Errorf("file name %q", tr.GetFileName())
		}
		for _, line := range []string{
			"Site: Shoe shop (" + w.site.GetId() + ")\n",
			"Chat: " + first.GetId() + "\n",
			"Started: " + start.UTC().Format(time.RFC3339) + "\n",
			"End reason: both left\n",
			"Agent: Dana (" + w.agent.GetId() + ")\n",
			"[" + start.UTC().Format("2006-01-02 15:04:05") + "] Dana: Hello! Can I help?\n",
			"[" + start.Add(2*time.Second).UTC().Format("2006-01-02 15:04:05") + "] Visitor: Yes please\n",
			"] Visitor left\n",
			"] Chat ended: both left\n",
		} {
			if !strings.Contains(tr.GetText(), line) {
				t.Errorf("transcript lacks %q:\n%s", line, tr.GetText())
			}
		}
		_, err := c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: "chat_nope"})
		wantCode(t, err, connect.CodeNotFound)

		// Bad input names its field.
		for field, req := range map[string]*pb.ListChatsRequest{
			"page_size":     {PageSize: 201},
			"page_token":    {PageToken: "bad token"},
			"start_time_to": {StartTimeFrom: timestamppb.New(start), StartTimeTo: timestamppb.New(start.Add(-time.Hour))},
		} {
			_, err := c.ListChats(ctx, req)
			wantCode(t, err, connect.CodeInvalidArgument)
			if fields := badRequestFields(err); !slices.Equal(fields, []string{field}) {
				t.Errorf("%s: fields %v (%v)", field, fields, err)
			}
		}
	})
}
