package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// restClient calls the REST API (grpc-gateway under /v1/) with plain
// net/http and protojson, using the paths of proto/…/http.yaml.
type restClient struct {
	base string
	hc   *http.Client
}

// newRESTClient returns a REST client that signs each call as whoever it
// acts as; rawRESTClient one that sends the token of the call's context.
func newRESTClient(t *testing.T, s *testServer) api { return signed(t, s.App, rawRESTClient(t, s)) }

func rawRESTClient(t *testing.T, s *testServer) *restClient {
	tr := &http.Transport{TLSClientConfig: s.tls.Clone()} // HTTP/1.1, also over TLS
	t.Cleanup(tr.CloseIdleConnections)
	return &restClient{base: s.url, hc: &http.Client{Transport: tr}}
}

// call sends body (if any) as JSON and parses the response into out, or
// the error body into a *connect.Error.
func (c *restClient) call(ctx context.Context, method, path string, query url.Values, body, out proto.Message) error {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return connect.NewError(connect.CodeInternal, err)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return transportError(ctx, err)
	}
	if res.StatusCode != http.StatusOK {
		return restError(res.StatusCode, data)
	}
	if err := protojson.Unmarshal(data, out); err != nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("%s %s: parse response %s: %w", method, path, data, err))
	}
	return nil
}

func (c *restClient) newRequest(ctx context.Context, method, path string, query url.Values, body proto.Message) (*http.Request, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		data, err := protojson.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := tokenFrom(ctx); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// restError turns the gateway's error body, {"code": <gRPC code>,
// "message": …, "details": […]} (or a stream's {"error": {…}}), into a
// *connect.Error.
func restError(httpStatus int, body []byte) error {
	var envelope struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &envelope) == nil && envelope.Error != nil {
		body = envelope.Error
	}
	st := &spb.Status{}
	if err := protojson.Unmarshal(body, st); err != nil {
		return connect.NewError(connect.CodeUnknown, fmt.Errorf("HTTP %d with a body that is not a status: %q", httpStatus, body))
	}
	return statusToConnect(status.FromProto(st))
}

// transportError reports a failed HTTP exchange with the code the other
// clients would give.
func transportError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeUnavailable, err)
}

// restStream reads a server stream: newline-delimited JSON, each line
// {"result": <message>} or {"error": <status>}. The request is sent at once
// (the gateway answers only with the first message), Recv waits for it.
type restStream[T any, PT interface {
	*T
	proto.Message
}] struct {
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{}
	res    *http.Response
	err    error
	lines  *bufio.Scanner
	once   sync.Once
}

func openRESTStream[T any, PT interface {
	*T
	proto.Message
}](ctx context.Context, c *restClient, path string, query url.Values) (stream[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		cancel()
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	s := &restStream[T, PT]{ctx: ctx, cancel: cancel, ready: make(chan struct{})}
	go func() {
		defer close(s.ready)
		s.res, s.err = c.hc.Do(req)
		if s.err != nil {
			s.err = transportError(ctx, s.err)
			return
		}
		if s.res.StatusCode != http.StatusOK {
			data, _ := io.ReadAll(s.res.Body)
			s.err = restError(s.res.StatusCode, data)
			return
		}
		s.lines = bufio.NewScanner(s.res.Body)
		s.lines.Buffer(nil, 1<<20)
	}()
	return s, nil
}

func (s *restStream[T, PT]) Recv() (*T, error) {
	<-s.ready
	if s.err != nil {
		return nil, s.err
	}
	for s.lines.Scan() {
		line := bytes.TrimSpace(s.lines.Bytes())
		if len(line) == 0 {
			continue
		}
		var envelope struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(line, &envelope); err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("stream line %q: %w", line, err))
		}
		if envelope.Error != nil {
			s.err = restError(http.StatusOK, envelope.Error)
			return nil, s.err
		}
		msg := PT(new(T))
		if err := protojson.Unmarshal(envelope.Result, msg); err != nil {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("stream result %s: %w", envelope.Result, err))
		}
		return msg, nil
	}
	if err := s.lines.Err(); err != nil {
		return nil, transportError(s.ctx, err)
	}
	return nil, io.EOF
}

func (s *restStream[T, PT]) Close() {
	s.once.Do(func() {
		s.cancel()
		go func() {
			<-s.ready
			if s.res != nil {
				s.res.Body.Close()
			}
		}()
	})
}

func esc(s string) string { return url.PathEscape(s) }

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func (c *restClient) CreateSite(ctx context.Context, r *pb.CreateSiteRequest) (*pb.CreateSiteResponse, error) {
	out := &pb.CreateSiteResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/sites", nil, r, out)
}

func (c *restClient) GetSite(ctx context.Context, r *pb.GetSiteRequest) (*pb.GetSiteResponse, error) {
	out := &pb.GetSiteResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId()), nil, nil, out)
}

func (c *restClient) ListSites(ctx context.Context, r *pb.ListSitesRequest) (*pb.ListSitesResponse, error) {
	out := &pb.ListSitesResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites", nil, nil, out)
}

func (c *restClient) UpdateSite(ctx context.Context, r *pb.UpdateSiteRequest) (*pb.UpdateSiteResponse, error) {
	out := &pb.UpdateSiteResponse{}
	q := url.Values{}
	if paths := r.GetUpdateMask().GetPaths(); len(paths) > 0 {
		q.Set("update_mask", strings.Join(paths, ","))
	}
	site := r.GetSite()
	if site == nil {
		site = &pb.Site{}
	}
	return out, c.call(ctx, http.MethodPatch, "/v1/sites/"+esc(site.GetId()), q, site, out)
}

func (c *restClient) CreateAgent(ctx context.Context, r *pb.CreateAgentRequest) (*pb.CreateAgentResponse, error) {
	out := &pb.CreateAgentResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/agents", nil, r, out)
}

func (c *restClient) GetAgent(ctx context.Context, r *pb.GetAgentRequest) (*pb.GetAgentResponse, error) {
	out := &pb.GetAgentResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/agents/"+esc(r.GetAgentId()), nil, nil, out)
}

func (c *restClient) ListAgents(ctx context.Context, r *pb.ListAgentsRequest) (*pb.ListAgentsResponse, error) {
	out := &pb.ListAgentsResponse{}
	q := url.Values{}
	if r.GetSiteId() != "" {
		q.Set("site_id", r.GetSiteId())
	}
	return out, c.call(ctx, http.MethodGet, "/v1/agents", q, nil, out)
}

func (c *restClient) UpdateAgent(ctx context.Context, r *pb.UpdateAgentRequest) (*pb.UpdateAgentResponse, error) {
	out := &pb.UpdateAgentResponse{}
	q := url.Values{}
	if paths := r.GetUpdateMask().GetPaths(); len(paths) > 0 {
		q.Set("update_mask", strings.Join(paths, ","))
	}
	agent := r.GetAgent()
	if agent == nil {
		agent = &pb.Agent{}
	}
	return out, c.call(ctx, http.MethodPatch, "/v1/agents/"+esc(agent.GetId()), q, agent, out)
}

func (c *restClient) ListOnlineVisitors(ctx context.Context, r *pb.ListOnlineVisitorsRequest) (*pb.ListOnlineVisitorsResponse, error) {
	out := &pb.ListOnlineVisitorsResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/visitors", nil, nil, out)
}

func (c *restClient) StartVisitorSession(ctx context.Context, r *pb.StartVisitorSessionRequest) (*pb.StartVisitorSessionResponse, error) {
	out := &pb.StartVisitorSessionResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/sites/"+esc(r.GetSiteId())+"/sessions", nil, r, out)
}

func (c *restClient) ReportPageView(ctx context.Context, r *pb.ReportPageViewRequest) (*pb.ReportPageViewResponse, error) {
	out := &pb.ReportPageViewResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/pageviews", nil, r, out)
}

func (c *restClient) WatchVisitor(ctx context.Context, r *pb.WatchVisitorRequest) (stream[pb.WatchVisitorResponse], error) {
	q := url.Values{}
	if r.GetPageUrl() != "" {
		q.Set("page_url", r.GetPageUrl())
	}
	if r.GetPageTitle() != "" {
		q.Set("page_title", r.GetPageTitle())
	}
	if r.GetPageReferrer() != "" {
		q.Set("page_referrer", r.GetPageReferrer())
	}
	if r.GetResumeChatId() != "" {
		q.Set("resume_chat_id", r.GetResumeChatId())
		q.Set("resume_after_seq", u32(r.GetResumeAfterSeq()))
	}
	return openRESTStream[pb.WatchVisitorResponse](ctx, c, "/v1/visitors/"+esc(r.GetVisitorId())+"/events", q)
}

func (c *restClient) SetAgentStatus(ctx context.Context, r *pb.SetAgentStatusRequest) (*pb.SetAgentStatusResponse, error) {
	out := &pb.SetAgentStatusResponse{}
	return out, c.call(ctx, http.MethodPut, "/v1/agents/"+esc(r.GetAgentId())+"/status", nil, r, out)
}

func (c *restClient) WatchPresence(ctx context.Context, r *pb.WatchPresenceRequest) (stream[pb.WatchPresenceResponse], error) {
	return openRESTStream[pb.WatchPresenceResponse](ctx, c, "/v1/agents/"+esc(r.GetAgentId())+"/presence", nil)
}

func (c *restClient) StartChat(ctx context.Context, r *pb.StartChatRequest) (*pb.StartChatResponse, error) {
	out := &pb.StartChatResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats", nil, r, out)
}

func (c *restClient) SendMessage(ctx context.Context, r *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	out := &pb.SendMessageResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/messages", nil, r, out)
}

func (c *restClient) SetTyping(ctx context.Context, r *pb.SetTypingRequest) (*pb.SetTypingResponse, error) {
	out := &pb.SetTypingResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/typing", nil, r, out)
}

func (c *restClient) LeaveChat(ctx context.Context, r *pb.LeaveChatRequest) (*pb.LeaveChatResponse, error) {
	out := &pb.LeaveChatResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/leave", nil, r, out)
}

func (c *restClient) GetChat(ctx context.Context, r *pb.GetChatRequest) (*pb.GetChatResponse, error) {
	out := &pb.GetChatResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/chats/"+esc(r.GetChatId()), nil, nil, out)
}

func (c *restClient) ListChatEvents(ctx context.Context, r *pb.ListChatEventsRequest) (*pb.ListChatEventsResponse, error) {
	out := &pb.ListChatEventsResponse{}
	q := url.Values{"after_seq": {u32(r.GetAfterSeq())}, "page_size": {u32(r.GetPageSize())}}
	return out, c.call(ctx, http.MethodGet, "/v1/chats/"+esc(r.GetChatId())+"/events", q, nil, out)
}

func (c *restClient) ListChats(ctx context.Context, r *pb.ListChatsRequest) (*pb.ListChatsResponse, error) {
	out := &pb.ListChatsResponse{}
	q := url.Values{}
	for k, v := range map[string]string{"siteId": r.GetSiteId(), "agentId": r.GetAgentId(), "visitorId": r.GetVisitorId(),
		"query": r.GetQuery(), "pageToken": r.GetPageToken()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if r.GetState() != pb.ChatState_CHAT_STATE_UNSPECIFIED {
		q.Set("state", r.GetState().String())
	}
	if r.GetEndReason() != pb.ChatEndReason_CHAT_END_REASON_UNSPECIFIED {
		q.Set("endReason", r.GetEndReason().String())
	}
	if r.GetPageSize() != 0 {
		q.Set("pageSize", u32(r.GetPageSize()))
	}
	if ts := r.GetStartTimeFrom(); ts != nil {
		q.Set("startTimeFrom", ts.AsTime().Format(time.RFC3339Nano))
	}
	if ts := r.GetStartTimeTo(); ts != nil {
		q.Set("startTimeTo", ts.AsTime().Format(time.RFC3339Nano))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/chats", q, nil, out)
}

func (c *restClient) TransferChat(ctx context.Context, r *pb.TransferChatRequest) (*pb.TransferChatResponse, error) {
	out := &pb.TransferChatResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+":transfer", nil, r, out)
}

func (c *restClient) AddNote(ctx context.Context, r *pb.AddNoteRequest) (*pb.AddNoteResponse, error) {
	out := &pb.AddNoteResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/notes", nil, r, out)
}

func (c *restClient) CreateCannedReply(ctx context.Context, r *pb.CreateCannedReplyRequest) (*pb.CreateCannedReplyResponse, error) {
	out := &pb.CreateCannedReplyResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/sites/"+esc(r.GetCannedReply().GetSiteId())+"/canned-replies", nil, cannedBody(r.GetCannedReply()), out)
}

func (c *restClient) UpdateCannedReply(ctx context.Context, r *pb.UpdateCannedReplyRequest) (*pb.UpdateCannedReplyResponse, error) {
	out := &pb.UpdateCannedReplyResponse{}
	path := "/v1/sites/" + esc(r.GetCannedReply().GetSiteId()) + "/canned-replies/" + esc(r.GetCannedReply().GetId())
	return out, c.call(ctx, http.MethodPut, path, nil, cannedBody(r.GetCannedReply()), out)
}

// cannedBody is the request body of a canned reply: never nil.
func cannedBody(c *pb.CannedReply) *pb.CannedReply {
	if c == nil {
		return &pb.CannedReply{}
	}
	return c
}

func (c *restClient) DeleteCannedReply(ctx context.Context, r *pb.DeleteCannedReplyRequest) (*pb.DeleteCannedReplyResponse, error) {
	out := &pb.DeleteCannedReplyResponse{}
	return out, c.call(ctx, http.MethodDelete, "/v1/sites/"+esc(r.GetSiteId())+"/canned-replies/"+esc(r.GetCannedReplyId()), nil, nil, out)
}

func (c *restClient) ListCannedReplies(ctx context.Context, r *pb.ListCannedRepliesRequest) (*pb.ListCannedRepliesResponse, error) {
	out := &pb.ListCannedRepliesResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/canned-replies", nil, nil, out)
}

func (c *restClient) ListColleagues(ctx context.Context, r *pb.ListColleaguesRequest) (*pb.ListColleaguesResponse, error) {
	out := &pb.ListColleaguesResponse{}
	q := url.Values{"site_id": {r.GetSiteId()}}
	return out, c.call(ctx, http.MethodGet, "/v1/agents/"+esc(r.GetAgentId())+"/colleagues", q, nil, out)
}

func (c *restClient) ListNotes(ctx context.Context, r *pb.ListNotesRequest) (*pb.ListNotesResponse, error) {
	out := &pb.ListNotesResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/chats/"+esc(r.GetChatId())+"/notes", nil, nil, out)
}

// GetChatTranscript downloads the transcript as the REST API serves it: a
// text/plain attachment, not JSON.
func (c *restClient) GetChatTranscript(ctx context.Context, r *pb.GetChatTranscriptRequest) (*pb.GetChatTranscriptResponse, error) {
	path := "/v1/chats/" + esc(r.GetChatId()) + "/transcript"
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, restError(res.StatusCode, data)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("GET %s: Content-Type %q, want text/plain", path, ct))
	}
	disposition, params, err := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
	if err != nil || disposition != "attachment" {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("GET %s: Content-Disposition %q, want an attachment", path, res.Header.Get("Content-Disposition")))
	}
	return &pb.GetChatTranscriptResponse{Text: string(data), FileName: params["filename"]}, nil
}

func (c *restClient) WatchChat(ctx context.Context, r *pb.WatchChatRequest) (stream[pb.WatchChatResponse], error) {
	q := url.Values{"after_seq": {u32(r.GetAfterSeq())}}
	return openRESTStream[pb.WatchChatResponse](ctx, c, "/v1/chats/"+esc(r.GetChatId())+"/events:watch", q)
}

func (c *restClient) WatchNotes(ctx context.Context, r *pb.WatchNotesRequest) (stream[pb.WatchNotesResponse], error) {
	q := url.Values{"after_seq": {u32(r.GetAfterSeq())}}
	return openRESTStream[pb.WatchNotesResponse](ctx, c, "/v1/chats/"+esc(r.GetChatId())+"/notes:watch", q)
}

func (c *restClient) ListQueue(ctx context.Context, r *pb.ListQueueRequest) (*pb.ListQueueResponse, error) {
	out := &pb.ListQueueResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/queue", nil, nil, out)
}

// eventQuery is the query of the event requests' filters.
func eventQuery(after uint64, siteID string, types []string) url.Values {
	q := url.Values{}
	if after != 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if siteID != "" {
		q.Set("site_id", siteID)
	}
	for _, t := range types {
		q.Add("types", t)
	}
	return q
}

func (c *restClient) ListEvents(ctx context.Context, r *pb.ListEventsRequest) (*pb.ListEventsResponse, error) {
	out := &pb.ListEventsResponse{}
	q := eventQuery(r.GetAfter(), r.GetSiteId(), r.GetTypes())
	if r.GetPageSize() != 0 {
		q.Set("page_size", u32(r.GetPageSize()))
	}
	if r.GetStartTime() != nil {
		q.Set("start_time", r.GetStartTime().AsTime().Format(time.RFC3339Nano))
	}
	if r.GetEndTime() != nil {
		q.Set("end_time", r.GetEndTime().AsTime().Format(time.RFC3339Nano))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/events", q, nil, out)
}

func (c *restClient) WatchEvents(ctx context.Context, r *pb.WatchEventsRequest) (stream[pb.WatchEventsResponse], error) {
	return openRESTStream[pb.WatchEventsResponse](ctx, c, "/v1/events:watch", eventQuery(r.GetAfter(), r.GetSiteId(), r.GetTypes()))
}

func (c *restClient) ListRoutingDecisions(ctx context.Context, r *pb.ListRoutingDecisionsRequest) (*pb.ListRoutingDecisionsResponse, error) {
	out := &pb.ListRoutingDecisionsResponse{}
	q := url.Values{}
	if r.GetPageSize() != 0 {
		q.Set("page_size", u32(r.GetPageSize()))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/routing-decisions", q, nil, out)
}

func (c *restClient) RespondToInvitation(ctx context.Context, r *pb.RespondToInvitationRequest) (*pb.RespondToInvitationResponse, error) {
	out := &pb.RespondToInvitationResponse{}
	path := "/v1/visitors/" + esc(r.GetVisitorId()) + "/invitations/" + esc(r.GetInvitationId()) + "/response"
	return out, c.call(ctx, http.MethodPost, path, nil, r, out)
}

func (c *restClient) SubmitForm(ctx context.Context, r *pb.SubmitFormRequest) (*pb.SubmitFormResponse, error) {
	out := &pb.SubmitFormResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/form", nil, r, out)
}

func (c *restClient) LeaveQueue(ctx context.Context, r *pb.LeaveQueueRequest) (*pb.LeaveQueueResponse, error) {
	out := &pb.LeaveQueueResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/leave-queue", nil, r, out)
}

func (c *restClient) WatchAgent(ctx context.Context, r *pb.WatchAgentRequest) (stream[pb.WatchAgentResponse], error) {
	return openRESTStream[pb.WatchAgentResponse](ctx, c, "/v1/agents/"+esc(r.GetAgentId())+"/events", nil)
}

func (c *restClient) AcceptChatRequest(ctx context.Context, r *pb.AcceptChatRequestRequest) (*pb.AcceptChatRequestResponse, error) {
	out := &pb.AcceptChatRequestResponse{}
	path := "/v1/agents/" + esc(r.GetAgentId()) + "/chat-requests/" + esc(r.GetChatRequestId()) + "/accept"
	return out, c.call(ctx, http.MethodPost, path, nil, r, out)
}

func (c *restClient) DeclineChatRequest(ctx context.Context, r *pb.DeclineChatRequestRequest) (*pb.DeclineChatRequestResponse, error) {
	out := &pb.DeclineChatRequestResponse{}
	path := "/v1/agents/" + esc(r.GetAgentId()) + "/chat-requests/" + esc(r.GetChatRequestId()) + "/decline"
	return out, c.call(ctx, http.MethodPost, path, nil, r, out)
}

func (c *restClient) InviteVisitor(ctx context.Context, r *pb.InviteVisitorRequest) (*pb.InviteVisitorResponse, error) {
	out := &pb.InviteVisitorResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/agents/"+esc(r.GetAgentId())+"/invitations", nil, r, out)
}

func (c *restClient) ExportVisitor(ctx context.Context, r *pb.ExportVisitorRequest) (*pb.ExportVisitorResponse, error) {
	out := &pb.ExportVisitorResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/visitors/"+esc(r.GetVisitorId())+":export", nil, nil, out)
}

func (c *restClient) EraseVisitor(ctx context.Context, r *pb.EraseVisitorRequest) (*pb.EraseVisitorResponse, error) {
	out := &pb.EraseVisitorResponse{}
	return out, c.call(ctx, http.MethodDelete, "/v1/visitors/"+esc(r.GetVisitorId()), nil, nil, out)
}

func (c *restClient) CreateApiKey(ctx context.Context, r *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error) {
	out := &pb.CreateApiKeyResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/api-keys", nil, r, out)
}

func (c *restClient) ListApiKeys(ctx context.Context, r *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error) {
	out := &pb.ListApiKeysResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/api-keys", nil, nil, out)
}

func (c *restClient) RevokeApiKey(ctx context.Context, r *pb.RevokeApiKeyRequest) (*pb.RevokeApiKeyResponse, error) {
	out := &pb.RevokeApiKeyResponse{}
	return out, c.call(ctx, http.MethodDelete, "/v1/api-keys/"+esc(r.GetApiKeyId()), nil, nil, out)
}

func (c *restClient) SetAgentPassword(ctx context.Context, r *pb.SetAgentPasswordRequest) (*pb.SetAgentPasswordResponse, error) {
	out := &pb.SetAgentPasswordResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/agents/"+esc(r.GetAgentId())+"/password", nil, r, out)
}

func (c *restClient) CreateAgentSession(ctx context.Context, r *pb.CreateAgentSessionRequest) (*pb.CreateAgentSessionResponse, error) {
	out := &pb.CreateAgentSessionResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/agents/"+esc(r.GetAgentId())+"/sessions", nil, r, out)
}

func (c *restClient) RevokeAgentSessions(ctx context.Context, r *pb.RevokeAgentSessionsRequest) (*pb.RevokeAgentSessionsResponse, error) {
	out := &pb.RevokeAgentSessionsResponse{}
	return out, c.call(ctx, http.MethodDelete, "/v1/agents/"+esc(r.GetAgentId())+"/sessions", nil, nil, out)
}

func (c *restClient) SignIn(ctx context.Context, r *pb.SignInRequest) (*pb.SignInResponse, error) {
	out := &pb.SignInResponse{}
	if r.GetAgentId() == "" {
		return out, c.call(ctx, http.MethodPost, "/v1/sign-in", nil, r, out)
	}
	return out, c.call(ctx, http.MethodPost, "/v1/agents/"+esc(r.GetAgentId())+"/sign-in", nil, r, out)
}

func (c *restClient) SignOut(ctx context.Context, r *pb.SignOutRequest) (*pb.SignOutResponse, error) {
	out := &pb.SignOutResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/sign-out", nil, r, out)
}

func (c *restClient) IdentifyVisitor(ctx context.Context, r *pb.IdentifyVisitorRequest) (*pb.IdentifyVisitorResponse, error) {
	out := &pb.IdentifyVisitorResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/identity", nil, r, out)
}

func (c *restClient) GetSiteIdentitySecret(ctx context.Context, r *pb.GetSiteIdentitySecretRequest) (*pb.GetSiteIdentitySecretResponse, error) {
	out := &pb.GetSiteIdentitySecretResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/identity-secret", nil, nil, out)
}

func (c *restClient) RotateSiteIdentitySecret(ctx context.Context, r *pb.RotateSiteIdentitySecretRequest) (*pb.RotateSiteIdentitySecretResponse, error) {
	out := &pb.RotateSiteIdentitySecretResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/sites/"+esc(r.GetSiteId())+"/identity-secret:rotate", nil, r, out)
}

func (c *restClient) ListLiveChats(ctx context.Context, r *pb.ListLiveChatsRequest) (*pb.ListLiveChatsResponse, error) {
	out := &pb.ListLiveChatsResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/live-chats", nil, nil, out)
}

func (c *restClient) Whisper(ctx context.Context, r *pb.WhisperRequest) (*pb.WhisperResponse, error) {
	out := &pb.WhisperResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/whispers", nil, r, out)
}

func (c *restClient) ListWhispers(ctx context.Context, r *pb.ListWhispersRequest) (*pb.ListWhispersResponse, error) {
	out := &pb.ListWhispersResponse{}
	return out, c.call(ctx, http.MethodGet, "/v1/chats/"+esc(r.GetChatId())+"/whispers", nil, nil, out)
}

func (c *restClient) RequestChat(ctx context.Context, r *pb.RequestChatRequest) (*pb.RequestChatResponse, error) {
	out := &pb.RequestChatResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/chat-request", nil, r, out)
}

func (c *restClient) RateChat(ctx context.Context, r *pb.RateChatRequest) (*pb.RateChatResponse, error) {
	out := &pb.RateChatResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/chats/"+esc(r.GetChatId())+"/rating", nil, r, out)
}

func (c *restClient) GetRatingSummary(ctx context.Context, r *pb.GetRatingSummaryRequest) (*pb.GetRatingSummaryResponse, error) {
	out := &pb.GetRatingSummaryResponse{}
	q := url.Values{}
	if r.GetSiteId() != "" {
		q.Set("site_id", r.GetSiteId())
	}
	if r.GetAgentId() != "" {
		q.Set("agent_id", r.GetAgentId())
	}
	if ts := r.GetStartTime(); ts != nil {
		q.Set("startTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	if ts := r.GetEndTime(); ts != nil {
		q.Set("endTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/rating-summary", q, nil, out)
}

func (c *restClient) GetFunnel(ctx context.Context, r *pb.GetFunnelRequest) (*pb.GetFunnelResponse, error) {
	out := &pb.GetFunnelResponse{}
	q := url.Values{}
	if ts := r.GetStartTime(); ts != nil {
		q.Set("startTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	if ts := r.GetEndTime(); ts != nil {
		q.Set("endTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/funnel", q, nil, out)
}

func (c *restClient) LeaveMessage(ctx context.Context, r *pb.LeaveMessageRequest) (*pb.LeaveMessageResponse, error) {
	out := &pb.LeaveMessageResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/offline-messages", nil, r, out)
}

func (c *restClient) ListOfflineMessages(ctx context.Context, r *pb.ListOfflineMessagesRequest) (*pb.ListOfflineMessagesResponse, error) {
	out := &pb.ListOfflineMessagesResponse{}
	q := url.Values{}
	if r.GetState() != pb.OfflineMessageState_OFFLINE_MESSAGE_STATE_UNSPECIFIED {
		q.Set("state", r.GetState().String())
	}
	if r.GetPageSize() != 0 {
		q.Set("pageSize", fmt.Sprint(r.GetPageSize()))
	}
	if r.GetPageToken() != "" {
		q.Set("pageToken", r.GetPageToken())
	}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/offline-messages", q, nil, out)
}

func (c *restClient) MarkOfflineMessageHandled(ctx context.Context, r *pb.MarkOfflineMessageHandledRequest) (*pb.MarkOfflineMessageHandledResponse, error) {
	out := &pb.MarkOfflineMessageHandledResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/offline-messages/"+esc(r.GetOfflineMessageId())+":handled", nil, r, out)
}

func (c *restClient) PreviewTriggerRule(ctx context.Context, r *pb.PreviewTriggerRuleRequest) (*pb.PreviewTriggerRuleResponse, error) {
	out := &pb.PreviewTriggerRuleResponse{}
	rule := r.GetRule()
	if rule == nil {
		rule = &pb.TriggerRule{}
	}
	return out, c.call(ctx, http.MethodPost, "/v1/sites/"+esc(r.GetSiteId())+"/rules:preview", nil, rule, out)
}

func (c *restClient) GetTriggerRuleReport(ctx context.Context, r *pb.GetTriggerRuleReportRequest) (*pb.GetTriggerRuleReportResponse, error) {
	out := &pb.GetTriggerRuleReportResponse{}
	q := url.Values{}
	if ts := r.GetStartTime(); ts != nil {
		q.Set("startTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	if ts := r.GetEndTime(); ts != nil {
		q.Set("endTime", ts.AsTime().Format(time.RFC3339Nano))
	}
	return out, c.call(ctx, http.MethodGet, "/v1/sites/"+esc(r.GetSiteId())+"/rule-report", q, nil, out)
}

func (c *restClient) ReportActivity(ctx context.Context, r *pb.ReportActivityRequest) (*pb.ReportActivityResponse, error) {
	out := &pb.ReportActivityResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/visitors/"+esc(r.GetVisitorId())+"/activity", nil, r, out)
}

func (c *restClient) UpdateVisitorAttributes(ctx context.Context, r *pb.UpdateVisitorAttributesRequest) (*pb.UpdateVisitorAttributesResponse, error) {
	out := &pb.UpdateVisitorAttributesResponse{}
	return out, c.call(ctx, http.MethodPatch, "/v1/visitors/"+esc(r.GetVisitorId())+"/attributes", nil, r, out)
}
