package rpc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

type chatServer struct {
	svc *domain.Service
	log *slog.Logger
}

var _ proactivechatv1connect.ChatServiceHandler = (*chatServer)(nil)

func (s *chatServer) SendMessage(ctx context.Context, req *connect.Request[pb.SendMessageRequest]) (*connect.Response[pb.SendMessageResponse], error) {
	m := req.Msg
	ev, err := s.svc.SendMessage(ctx, m.GetChatId(), m.GetSenderId(), m.GetText(), m.GetIdempotencyKey())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SendMessageResponse{Event: protoconv.ChatEventToProto(ev)}), nil
}

func (s *chatServer) SetTyping(ctx context.Context, req *connect.Request[pb.SetTypingRequest]) (*connect.Response[pb.SetTypingResponse], error) {
	if err := s.svc.SetTyping(ctx, req.Msg.GetChatId(), req.Msg.GetSenderId(), req.Msg.GetTyping()); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.SetTypingResponse{}), nil
}

func (s *chatServer) LeaveChat(ctx context.Context, req *connect.Request[pb.LeaveChatRequest]) (*connect.Response[pb.LeaveChatResponse], error) {
	chat, err := s.svc.LeaveChat(ctx, req.Msg.GetChatId(), req.Msg.GetParticipantId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.LeaveChatResponse{Chat: protoconv.ChatToProto(chat)}), nil
}

func (s *chatServer) RateChat(ctx context.Context, req *connect.Request[pb.RateChatRequest]) (*connect.Response[pb.RateChatResponse], error) {
	m := req.Msg
	chat, err := s.svc.RateChat(ctx, m.GetChatId(), m.GetVisitorId(), m.GetScore(), m.GetComment())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.RateChatResponse{Chat: protoconv.ChatToProto(chat)}), nil
}

func (s *chatServer) GetChat(ctx context.Context, req *connect.Request[pb.GetChatRequest]) (*connect.Response[pb.GetChatResponse], error) {
	chat, err := s.svc.GetChat(ctx, req.Msg.GetChatId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetChatResponse{Chat: protoconv.ChatToProto(chat)}), nil
}

func (s *chatServer) ListChats(ctx context.Context, req *connect.Request[pb.ListChatsRequest]) (*connect.Response[pb.ListChatsResponse], error) {
	m := req.Msg
	var v domain.Violations
	if _, ok := pb.ChatState_name[int32(m.GetState())]; !ok {
		v.Add("state", "is not a chat state")
	}
	if _, ok := pb.ChatEndReason_name[int32(m.GetEndReason())]; !ok {
		v.Add("end_reason", "is not a chat end reason")
	}
	if ts := m.GetStartTimeFrom(); ts != nil && !ts.IsValid() {
		v.Add("start_time_from", "is not a valid time")
	}
	if ts := m.GetStartTimeTo(); ts != nil && !ts.IsValid() {
		v.Add("start_time_to", "is not a valid time")
	}
	if err := v.Err(); err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	f := domain.ChatFilter{
		SiteID:    m.GetSiteId(),
		AgentID:   m.GetAgentId(),
		VisitorID: m.GetVisitorId(),
		State:     protoconv.ChatStateFromProto(m.GetState()),
		EndReason: protoconv.ChatEndReasonFromProto(m.GetEndReason()),
		StartFrom: protoconv.TimeFromProto(m.GetStartTimeFrom()),
		StartTo:   protoconv.TimeFromProto(m.GetStartTimeTo()),
		Query:     m.GetQuery(),
	}
	chats, next, err := s.svc.ListChats(ctx, principalFrom(ctx), f, int(m.GetPageSize()), m.GetPageToken())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListChatsResponse{NextPageToken: next}
	for _, c := range chats {
		out.Chats = append(out.Chats, &pb.ChatSummary{
			Chat:         protoconv.ChatToProto(c.Chat),
			VisitorName:  c.VisitorName,
			VisitorEmail: c.VisitorEmail,
		})
	}
	return connect.NewResponse(out), nil
}

func (s *chatServer) GetChatTranscript(ctx context.Context, req *connect.Request[pb.GetChatTranscriptRequest]) (*connect.Response[pb.GetChatTranscriptResponse], error) {
	text, name, err := s.svc.Transcript(ctx, req.Msg.GetChatId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.GetChatTranscriptResponse{Text: text, FileName: name}), nil
}

func (s *chatServer) ListChatEvents(ctx context.Context, req *connect.Request[pb.ListChatEventsRequest]) (*connect.Response[pb.ListChatEventsResponse], error) {
	events, next, err := s.svc.ListChatEvents(ctx, req.Msg.GetChatId(), req.Msg.GetAfterSeq(), int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListChatEventsResponse{NextAfterSeq: next}
	for _, ev := range events {
		out.Events = append(out.Events, protoconv.ChatEventToProto(ev))
	}
	return connect.NewResponse(out), nil
}

func (s *chatServer) WatchChat(ctx context.Context, req *connect.Request[pb.WatchChatRequest], stream *connect.ServerStream[pb.WatchChatResponse]) error {
	// Send the response headers now: a client opening a quiet stream
	// must not wait for the first event to know it is connected.
	if err := stream.Send(nil); err != nil {
		return err
	}
	err := s.svc.WatchChat(ctx, req.Msg.GetChatId(), req.Msg.GetAfterSeq(), func(u domain.ChatUpdate) error {
		return stream.Send(chatUpdateToProto(u))
	})
	return toConnectError(ctx, s.log, err)
}

func chatUpdateToProto(u domain.ChatUpdate) *pb.WatchChatResponse {
	switch {
	case u.Event != nil:
		return &pb.WatchChatResponse{Event: &pb.WatchChatResponse_ChatEvent{ChatEvent: protoconv.ChatEventToProto(*u.Event)}}
	case u.Typing != nil:
		return &pb.WatchChatResponse{Event: &pb.WatchChatResponse_Typing{Typing: protoconv.TypingToProto(*u.Typing)}}
	default:
		return &pb.WatchChatResponse{Event: &pb.WatchChatResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}}
	}
}

// Converse runs one participant's side of a chat over a bidirectional
// stream: the same domain calls as the unary RPCs, and the same events as
// WatchChat. A failed command is answered with a CommandResult carrying its
// error and the stream goes on; the stream ends after the chat has ended.
func (s *chatServer) Converse(ctx context.Context, stream *connect.BidiStream[pb.ConverseRequest, pb.ConverseResponse]) error {
	first, err := stream.Receive()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	join := first.GetJoin()
	if join == nil {
		return toConnectError(ctx, s.log, invalidField("join", "the first request must be join"))
	}
	chat, err := s.svc.GetChat(ctx, join.GetChatId())
	if err != nil {
		return toConnectError(ctx, s.log, err)
	}
	participant := join.GetParticipantId()
	if _, ok := chat.Participant(participant); !ok {
		return toConnectError(ctx, s.log, domain.Errorf(domain.CodePermissionDenied, "%q is not a participant of chat %q", participant, chat.ID))
	}

	var sendMu sync.Mutex
	send := func(r *pb.ConverseResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	if err := send(commandResult(first.GetCommandId(), 0, nil)); err != nil {
		return err
	}

	// Return only once the event goroutine has stopped: it must not send
	// after the handler returned (deferred calls run in reverse order, so
	// cancel first, then wait).
	var watching sync.WaitGroup
	defer watching.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchDone := make(chan error, 1)
	watching.Add(1)
	go func() {
		defer watching.Done()
		watchDone <- s.svc.WatchChat(ctx, chat.ID, join.GetAfterSeq(), func(u domain.ChatUpdate) error {
			w := chatUpdateToProto(u)
			r := &pb.ConverseResponse{}
			switch e := w.Event.(type) {
			case *pb.WatchChatResponse_ChatEvent:
				r.Event = &pb.ConverseResponse_ChatEvent{ChatEvent: e.ChatEvent}
			case *pb.WatchChatResponse_Typing:
				r.Event = &pb.ConverseResponse_Typing{Typing: e.Typing}
			case *pb.WatchChatResponse_KeepAlive:
				r.Event = &pb.ConverseResponse_KeepAlive{KeepAlive: e.KeepAlive}
			}
			return send(r)
		})
	}()
	requests := make(chan *pb.ConverseRequest)
	recvDone := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Receive()
			if err != nil {
				recvDone <- err
				return
			}
			select {
			case requests <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case err := <-watchDone:
			return toConnectError(ctx, s.log, err)
		case err := <-recvDone:
			if !errors.Is(err, io.EOF) {
				return err
			}
			// The client sent all its commands; keep streaming events
			// until the chat ends or the client goes away.
			recvDone = nil
		case req := <-requests:
			if err := send(s.converseCommand(ctx, chat.ID, participant, req)); err != nil {
				return err
			}
		}
	}
}

func (s *chatServer) converseCommand(ctx context.Context, chatID, participant string, req *pb.ConverseRequest) *pb.ConverseResponse {
	var seq uint32
	var err error
	switch c := req.Command.(type) {
	case *pb.ConverseRequest_Send:
		var ev domain.ChatEvent
		ev, err = s.svc.SendMessage(ctx, chatID, participant, c.Send.GetText(), c.Send.GetIdempotencyKey())
		seq = ev.Seq
	case *pb.ConverseRequest_Typing:
		err = s.svc.SetTyping(ctx, chatID, participant, c.Typing.GetTyping())
	case *pb.ConverseRequest_Leave:
		_, err = s.svc.LeaveChat(ctx, chatID, participant)
	case *pb.ConverseRequest_Join:
		err = domain.Errorf(domain.CodeFailedPrecondition, "already joined chat %q", chatID)
	default:
		err = invalidField("command", "is required")
	}
	return commandResult(req.GetCommandId(), seq, toConnectError(ctx, s.log, err))
}

func commandResult(id string, seq uint32, err error) *pb.ConverseResponse {
	r := &pb.CommandResult{CommandId: id, Seq: seq}
	if err != nil {
		r.ErrorCode = connect.CodeOf(err).String()
		var cerr *connect.Error
		if errors.As(err, &cerr) {
			r.ErrorMessage = cerr.Message()
		}
	}
	return &pb.ConverseResponse{Event: &pb.ConverseResponse_Result{Result: r}}
}

func (s *chatServer) Whisper(ctx context.Context, req *connect.Request[pb.WhisperRequest]) (*connect.Response[pb.WhisperResponse], error) {
	w, err := s.svc.Whisper(ctx, req.Msg.GetChatId(), req.Msg.GetSupervisorId(), req.Msg.GetText())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.WhisperResponse{Whisper: protoconv.WhisperToProto(w)}), nil
}

func (s *chatServer) ListWhispers(ctx context.Context, req *connect.Request[pb.ListWhispersRequest]) (*connect.Response[pb.ListWhispersResponse], error) {
	ws, err := s.svc.ListWhispers(ctx, req.Msg.GetChatId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListWhispersResponse{Whispers: make([]*pb.Whisper, 0, len(ws))}
	for _, w := range ws {
		out.Whispers = append(out.Whispers, protoconv.WhisperToProto(w))
	}
	return connect.NewResponse(out), nil
}
func (s *chatServer) TransferChat(ctx context.Context, req *connect.Request[pb.TransferChatRequest]) (*connect.Response[pb.TransferChatResponse], error) {
	m := req.Msg
	t, err := s.svc.TransferChat(ctx, m.GetChatId(), m.GetFromAgentId(), m.GetToAgentId(), m.GetNote())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.TransferChatResponse{Chat: protoconv.ChatToProto(t.Chat)}
	if t.Note != nil {
		out.Note = protoconv.ChatNoteToProto(*t.Note)
	}
	return connect.NewResponse(out), nil
}

func (s *chatServer) AddNote(ctx context.Context, req *connect.Request[pb.AddNoteRequest]) (*connect.Response[pb.AddNoteResponse], error) {
	n, err := s.svc.AddNote(ctx, req.Msg.GetChatId(), req.Msg.GetAuthorId(), req.Msg.GetText())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	return connect.NewResponse(&pb.AddNoteResponse{Note: protoconv.ChatNoteToProto(n)}), nil
}

func (s *chatServer) ListNotes(ctx context.Context, req *connect.Request[pb.ListNotesRequest]) (*connect.Response[pb.ListNotesResponse], error) {
	notes, err := s.svc.ListNotes(ctx, req.Msg.GetChatId())
	if err != nil {
		return nil, toConnectError(ctx, s.log, err)
	}
	out := &pb.ListNotesResponse{}
	for _, n := range notes {
		out.Notes = append(out.Notes, protoconv.ChatNoteToProto(n))
	}
	return connect.NewResponse(out), nil
}

func (s *chatServer) WatchNotes(ctx context.Context, req *connect.Request[pb.WatchNotesRequest], stream *connect.ServerStream[pb.WatchNotesResponse]) error {
	if err := stream.Send(nil); err != nil {
		return err
	}
	err := s.svc.WatchNotes(ctx, req.Msg.GetChatId(), req.Msg.GetAfterSeq(), func(u domain.NoteUpdate) error {
		if u.Note != nil {
			return stream.Send(&pb.WatchNotesResponse{Event: &pb.WatchNotesResponse_Note{Note: protoconv.ChatNoteToProto(*u.Note)}})
		}
		return stream.Send(&pb.WatchNotesResponse{Event: &pb.WatchNotesResponse_KeepAlive{KeepAlive: keepAlive(u.KeepAlive)}})
	})
	return toConnectError(ctx, s.log, err)
}
