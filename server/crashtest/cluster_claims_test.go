package crashtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// claims is the queue's part of the cluster crash test, on a site of its
// own with two agents who each speak to a different node. Visitors ask for
// a chat (the launcher); both agents decline each request, so that it
// waits in the queue passed by both, where either may claim it; then both
// claim it at once. The last few requests are left in the queue.
type claims struct {
	cc     *clusterChats
	siteID string
	agents [2]agentCreds

	mu     sync.Mutex
	claims []*claim
}

// claim is one visitor's request and what its two claims were told.
type claim struct {
	run       *chatRun
	requestID string
	queued    bool // left in the queue
	// won is the chat of each agent whose claim was acknowledged; refused
	// counts the agents refused only after retrying (their earlier attempt
	// may have been the one that won).
	won     map[string]string
	refused int
}

func newClaims(ctx context.Context, t *testing.T, cc *clusterChats) *claims {
	t.Helper()
	c := cc.c
	api := c.apis[0]
	q := &claims{cc: cc}
	q.siteID = must(api.admin.CreateSite(ctx, as(c.adminKey, &pb.CreateSiteRequest{
		Name:           "cluster crash test: the queue",
		AllowedOrigins: []string{"https://shop.example.com"},
		ProactiveChat: &pb.ProactiveChatSettings{
			Enabled:            true,
			Mode:               pb.ProactiveChatMode_PROACTIVE_CHAT_MODE_WITHOUT_INVITE,
			LaunchAfterSeconds: 24 * 60 * 60,
		},
		VisitorLauncher: &pb.VisitorLauncherSettings{Enabled: true},
	})))(t).Msg.GetSite().GetId()
	for i := range q.agents {
		agent := must(api.admin.CreateAgent(ctx, as(c.adminKey, &pb.CreateAgentRequest{
			DisplayName: fmt.Sprintf("Queue agent %d", i), SiteIds: []string{q.siteID}, MaxConcurrentChats: 100,
		})))(t).Msg.GetAgent()
		token := must(api.admin.CreateAgentSession(ctx, as(c.adminKey, &pb.CreateAgentSessionRequest{AgentId: agent.GetId()})))(t).Msg.GetToken()
		must(api.agent.SetAgentStatus(ctx, as(token, &pb.SetAgentStatusRequest{
			AgentId: agent.GetId(), Status: pb.AgentStatus_AGENT_STATUS_AVAILABLE,
		})))(t)
		q.agents[i] = agentCreds{agent.GetId(), token}
	}
	return q
}

// agentNode is the node agent i of the queue speaks to.
func (q *claims) agentNode(i int) int { return 1 + i }

// queueEntry is the visitor's open request in the queue, or nil.
func (q *claims) queueEntry(ctx context.Context, visitorID string) (*pb.ChatRequest, error) {
	entries, _, _, err := ccall(ctx, q.cc.c, 0, "list the queue", func(ctx context.Context, api *clients) ([]*pb.ChatRequest, error) {
		res, err := api.admin.ListQueue(ctx, as(q.cc.c.adminKey, &pb.ListQueueRequest{SiteId: q.siteID}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetChatRequests(), nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.GetVisitorId() == visitorID {
			return e, nil
		}
	}
	return nil, nil
}

// run has visitor i ask for a chat, both agents pass on it, and then
// (unless leave) both claim it at once through different nodes; every
// call is retried across kills.
func (q *claims) run(ctx, streamCtx context.Context, i int, leave bool, fail func(error)) error {
	c := q.cc.c
	session, _, _, err := ccall(ctx, c, i, "start visitor session", func(ctx context.Context, api *clients) (*pb.StartVisitorSessionResponse, error) {
		res, err := api.visitor.StartVisitorSession(ctx, connect.NewRequest(&pb.StartVisitorSessionRequest{SiteId: q.siteID}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	})
	if err != nil {
		return err
	}
	run := &chatRun{idx: 1000 + i, visitorID: session.GetVisitor().GetId(), visitorToken: session.GetToken()}
	online := make(chan struct{})
	q.cc.streams.Go(func() { fail(q.cc.watch(streamCtx, run, online)) })
	select {
	case <-online:
	case <-ctx.Done():
		return fmt.Errorf("queue visitor %d never got its first state", i)
	}
	// A RequestChat retried after its first attempt was stored finds the
	// visitor queued already.
	_, attempts, _, err := ccall(ctx, c, i, fmt.Sprintf("queue visitor %d asks for a chat", i), func(ctx context.Context, api *clients) (*pb.RequestChatResponse, error) {
		res, err := api.visitor.RequestChat(ctx, as(run.visitorToken, &pb.RequestChatRequest{VisitorId: run.visitorID}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	})
	if err != nil && !(attempts > 1 && connect.CodeOf(err) == connect.CodeFailedPrecondition) {
		return err
	}
	// Each alerted agent declines, until the request waits in the queue
	// passed by both.
	cl := &claim{run: run, queued: leave, won: map[string]string{}}
	deadline := time.Now().Add(converge)
	for {
		e, err := q.queueEntry(ctx, run.visitorID)
		if err != nil {
			return err
		}
		if e == nil {
			return fmt.Errorf("queue visitor %d asked for a chat, and no request of it is in the queue", i)
		}
		cl.requestID = e.GetId()
		if e.GetState() == pb.ChatRequestState_CHAT_REQUEST_STATE_QUEUED && len(e.GetPassedAgentIds()) == len(q.agents) {
			break
		}
		if e.GetState() == pb.ChatRequestState_CHAT_REQUEST_STATE_ALERTING {
			for k, a := range q.agents {
				if a.id != e.GetAlertedAgentId() {
					continue
				}
				// A decline retried after the first was stored finds the
				// request offered elsewhere: the next look says.
				_, _, _, err := ccall(ctx, c, q.agentNode(k), "decline "+e.GetId(), func(ctx context.Context, api *clients) (*pb.DeclineChatRequestResponse, error) {
					res, err := api.agent.DeclineChatRequest(ctx, as(a.token, &pb.DeclineChatRequestRequest{AgentId: a.id, ChatRequestId: e.GetId()}))
					if err != nil {
						return nil, err
					}
					return res.Msg, nil
				})
				if err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
					return err
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queue visitor %d: its request is %v after %v, want it queued and passed by both agents", i, e, converge)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	q.mu.Lock()
	q.claims = append(q.claims, cl)
	q.mu.Unlock()
	if leave {
		return nil
	}

	// Both claim it at once, each through its own node.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for k, a := range q.agents {
		wg.Go(func() {
			chat, attempts, _, err := ccall(ctx, c, q.agentNode(k), fmt.Sprintf("%s claims %s", a.id, cl.requestID), func(ctx context.Context, api *clients) (*pb.Chat, error) {
				res, err := api.agent.AcceptChatRequest(ctx, as(a.token, &pb.AcceptChatRequestRequest{AgentId: a.id, ChatRequestId: cl.requestID}))
				if err != nil {
					return nil, err
				}
				return res.Msg.GetChat(), nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				cl.won[a.id] = chat.GetId()
			case connect.CodeOf(err) == connect.CodeFailedPrecondition && attempts > 1:
				cl.refused++
			case connect.CodeOf(err) == connect.CodeFailedPrecondition:
				// Refused at the first attempt: the other claim won.
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// check checks every claim once the load is over: no request was claimed
// twice, each claimed visitor is in exactly one active chat, with the
// agent whose claim was acknowledged, and the queue holds exactly the
// requests left in it, first in first out.
func (q *claims) check(ctx context.Context, t *testing.T) (claimed, left int) {
	t.Helper()
	c := q.cc.c
	api := c.apis[2%len(c.apis)]
	var wantQueue []string
	for _, cl := range q.claims {
		chats := must(api.chat.ListChats(ctx, as(c.adminKey, &pb.ListChatsRequest{VisitorId: cl.run.visitorID})))(t).Msg.GetChats()
		if cl.queued {
			wantQueue = append(wantQueue, cl.requestID)
			if len(chats) != 0 {
				t.Errorf("visitor %s, left in the queue, is in chats %v", cl.run.visitorID, chats)
			}
			continue
		}
		claimed++
		if len(cl.won) > 1 {
			t.Errorf("request %s was claimed twice: both agents' claims were acknowledged: %v", cl.requestID, cl.won)
		}
		if len(cl.won) == 0 && cl.refused == 0 {
			t.Errorf("request %s: both claims were refused at once, none won", cl.requestID)
		}
		if len(chats) != 1 || chats[0].GetChat().GetState() != pb.ChatState_CHAT_STATE_ACTIVE || chats[0].GetChat().GetChatRequestId() != cl.requestID {
			t.Errorf("visitor %s, whose request %s was claimed, is in chats %v; want one active chat of that request", cl.run.visitorID, cl.requestID, chats)
			continue
		}
		chat := chats[0].GetChat()
		for agent, chatID := range cl.won {
			if chat.GetId() != chatID || chat.GetAgent().GetId() != agent {
				t.Errorf("request %s: %s's claim was acknowledged with chat %s, but the visitor is in chat %s with %s", cl.requestID, agent, chatID, chat.GetId(), chat.GetAgent().GetId())
			}
		}
		if a := chat.GetAgent().GetId(); a != q.agents[0].id && a != q.agents[1].id {
			t.Errorf("request %s: chat %s is with %s, who did not claim it", cl.requestID, chat.GetId(), a)
		}
	}
	entries := must(api.admin.ListQueue(ctx, as(c.adminKey, &pb.ListQueueRequest{SiteId: q.siteID})))(t).Msg.GetChatRequests()
	var got []string
	for _, e := range entries {
		got = append(got, e.GetId())
		if e.GetState() != pb.ChatRequestState_CHAT_REQUEST_STATE_QUEUED {
			t.Errorf("queued request %s is %v", e.GetId(), e.GetState())
		}
	}
	if !slices.Equal(got, wantQueue) {
		t.Errorf("the queue holds %v, want the requests left in it, in order: %v", got, wantQueue)
	}
	return claimed, len(wantQueue)
}
