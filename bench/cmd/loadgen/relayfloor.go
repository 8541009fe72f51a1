package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proactivechat/proactivechat/bench/hist"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// The relay floor: a chat message's transport with nothing else. The echo
// floor is the cheapest thing the stack does (a message and its answer on
// a stream that already exists, 100 of them sharing a connection); a chat
// message in this product is a unary SendMessage on the sender's own
// connection whose event goes out on two server streams (the visitor's and
// the agent's), each on a connection of its own. The relay server does
// exactly that and no more: no authentication, no storage, no chat state.
// What the real server does per message beyond this is ours to cut; what
// this costs is the stack's.

// relayHub passes each message sent to a chat to the chat's watchers.
// It is served beside the echo (its Converse).
type relayHub struct {
	echoHandler
	mu       sync.Mutex
	watchers map[string][]chan *pb.ChatEvent
	seq      atomic.Uint32
}

func (h *relayHub) SendMessage(ctx context.Context, req *connect.Request[pb.SendMessageRequest]) (*connect.Response[pb.SendMessageResponse], error) {
	m := req.Msg
	// Shaped like the real event: the sender, a time, the key.
	ev := &pb.ChatEvent{ChatId: m.GetChatId(), Seq: h.seq.Add(1), Time: timestamppb.Now(),
		Kind: &pb.ChatEvent_Message{Message: &pb.ChatMessage{
			Sender: &pb.Participant{Role: pb.ParticipantRole_PARTICIPANT_ROLE_VISITOR, Id: m.GetSenderId(), DisplayName: "Visitor"},
			Text:   m.GetText(), IdempotencyKey: m.GetIdempotencyKey(),
		}}}
	h.mu.Lock()
	watchers := h.watchers[m.GetChatId()]
	h.mu.Unlock()
	for _, w := range watchers {
		select {
		case w <- ev:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return connect.NewResponse(&pb.SendMessageResponse{Event: ev}), nil
}

func (h *relayHub) WatchChat(ctx context.Context, req *connect.Request[pb.WatchChatRequest], s *connect.ServerStream[pb.WatchChatResponse]) error {
	ch := make(chan *pb.ChatEvent, 16)
	id := req.Msg.GetChatId()
	h.mu.Lock()
	h.watchers[id] = append(h.watchers[id], ch)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		ws := h.watchers[id]
		for i, w := range ws {
			if w == ch {
				h.watchers[id] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
	}()
	// A keep-alive first tells the client it is registered.
	if err := s.Send(&pb.WatchChatResponse{Event: &pb.WatchChatResponse_KeepAlive{KeepAlive: &pb.KeepAlive{}}}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-ch:
			if err := s.Send(&pb.WatchChatResponse{Event: &pb.WatchChatResponse_ChatEvent{ChatEvent: ev}}); err != nil {
				return err
			}
		}
	}
}

// RelayFloor is the relay's result.
type RelayFloor struct {
	Chats      int          `json:"chats"`
	Agents     int          `json:"agents"`
	MsgsPerS   float64      `json:"msgs_per_s"`
	Ack        hist.Summary `json:"ack_latency"`
	Delivered  int64        `json:"events_delivered"`
	ServerCPU  float64      `json:"server_cpu_us_per_msg"`
	GOMAXPROCS string       `json:"server_gomaxprocs"`
	// Memory floors (floorHeld): KiB of server RSS per idle stream.
	HeldStreams    int     `json:"held_streams"`
	KBPerOwnConn   float64 `json:"kb_per_stream_own_connection"`
	KBPerMuxStream float64 `json:"kb_per_stream_multiplexed"`
	MuxPerConn     int     `json:"multiplexed_streams_per_connection"`
}

// startEchoServer starts the echo server process (which also serves the
// relay) on cpu and returns it with its address; closing stdin stops it.
func startEchoServer(exe, cpu, gomaxprocs string) (*exec.Cmd, func(), string, error) {
	cmd := pinned(cpu, exe, "-floor-echo-server")
	if gomaxprocs != "" {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+gomaxprocs)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, "", err
	}
	stop := func() { stdin.Close(); cmd.Wait() }
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, nil, "", fmt.Errorf("echo server: %v", err)
	}
	return cmd, stop, strings.TrimSpace(addr), nil
}

// floorRelay runs chats closed loops of SendMessage (each visitor on its own
// connection, watching its chat there too) with agents connections watching
// the chats, for d, against the relay on the server's core with the
// server's GOMAXPROCS.
func floorRelay(exe, cpu, gomaxprocs string, chats, agents, msgSize int, d time.Duration) (*RelayFloor, error) {
	cmd, stop, addr, err := startEchoServer(exe, cpu, gomaxprocs)
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var conns clientConns
	defer conns.close()
	var delivered atomic.Int64
	var watching sync.WaitGroup
	var watchErr atomic.Pointer[error]
	watch := func(cc pb.ChatServiceClient, chatID string) {
		watching.Add(1)
		go func() {
			registered := false
			defer func() {
				if !registered {
					watching.Done()
				}
			}()
			s, err := cc.WatchChat(ctx, &pb.WatchChatRequest{ChatId: chatID})
			if err != nil {
				watchErr.Store(&err)
				return
			}
			for {
				m, err := s.Recv()
				if err != nil {
					if ctx.Err() == nil && !registered {
						watchErr.Store(&err)
					}
					return
				}
				if m.GetKeepAlive() != nil && !registered {
					registered = true
					watching.Done()
				}
				if m.GetChatEvent() != nil {
					delivered.Add(1)
				}
			}
		}()
	}
	agentClients := make([]pb.ChatServiceClient, agents)
	for a := range agentClients {
		if agentClients[a], err = conns.dial(addr); err != nil {
			return nil, err
		}
	}
	visitorClients := make([]pb.ChatServiceClient, chats)
	for i := range visitorClients {
		if visitorClients[i], err = conns.dial(addr); err != nil {
			return nil, err
		}
		chatID := fmt.Sprintf("relay_%d", i)
		watch(visitorClients[i], chatID)
		watch(agentClients[i%agents], chatID)
	}
	watching.Wait()
	if err := watchErr.Load(); err != nil {
		return nil, fmt.Errorf("relay floor: WatchChat: %v", *err)
	}

	run := func(d time.Duration) (int64, *hist.Histogram, time.Duration, time.Duration, error) {
		return closedLoop(cmd.Process.Pid, chats, d, func(i int, end time.Time, h *hist.Histogram) (int64, error) {
			cc, chatID := visitorClients[i], fmt.Sprintf("relay_%d", i)
			var n int64
			for k := 0; time.Now().Before(end); k++ {
				t := time.Now()
				_, err := cc.SendMessage(ctx, &pb.SendMessageRequest{ChatId: chatID, SenderId: "visitor", Text: messageText('R', t.UnixNano(), k, msgSize),
					IdempotencyKey: fmt.Sprintf("R%d", k)})
				if err != nil {
					return n, err
				}
				h.RecordDuration(time.Since(t))
				n++
			}
			return n, nil
		})
	}
	// Warm up: connections, SETTINGS, code paths.
	if _, _, _, _, err := run(300 * time.Millisecond); err != nil {
		return nil, fmt.Errorf("relay floor: SendMessage: %v", err)
	}
	d0 := delivered.Load()
	n, h, elapsed, cpuUsed, err := run(d)
	if err != nil {
		return nil, fmt.Errorf("relay floor: SendMessage: %v", err)
	}
	f := &RelayFloor{Chats: chats, Agents: agents, MsgsPerS: float64(n) / elapsed.Seconds(), Ack: h.Summarize(),
		Delivered: delivered.Load() - d0, GOMAXPROCS: gomaxprocs}
	if n > 0 {
		f.ServerCPU = float64(cpuUsed.Microseconds()) / float64(n)
	}
	return f, nil
}

// floorHeld is the memory floor: the bare server's RSS growth per idle
// WatchChat stream, holding streams of them, perConn to a connection (1:
// each on its own, as browsers hold them), in a fresh server process with
// the server's GOMAXPROCS. An idle bare server makes no garbage, so this
// has next to no GC headroom in it; the real server's figure does.
func floorHeld(exe, cpu, gomaxprocs string, streams, perConn int) (float64, error) {
	cmd, stop, addr, err := startEchoServer(exe, cpu, gomaxprocs)
	if err != nil {
		return 0, err
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var conns clientConns
	defer conns.close()
	var client pb.ChatServiceClient
	var before procStat
	// Stream 0, on a connection of its own, warms the server's code paths
	// and pools up before the baseline.
	for i := range streams + 1 {
		if i == 1 {
			if before, err = readProc(cmd.Process.Pid); err != nil {
				return 0, err
			}
		}
		if i <= 1 || (i-1)%perConn == 0 {
			if client, err = conns.dial(addr); err != nil {
				return 0, err
			}
		}
		s, err := client.WatchChat(ctx, &pb.WatchChatRequest{ChatId: fmt.Sprintf("idle_%d", i)})
		if err != nil {
			return 0, fmt.Errorf("held floor: WatchChat: %v", err)
		}
		if _, err := s.Recv(); err != nil { // the keep-alive: it is open
			return 0, fmt.Errorf("held floor: WatchChat: %v", err)
		}
	}
	after, err := readProc(cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	// KiB, as every memory figure of the load generator ("KB" in its table).
	return float64(after.RSSKB-before.RSSKB) / float64(streams), nil
}

// clientConns are a floor's client connections, closed together.
type clientConns []*grpc.ClientConn

// dial opens one more connection, from 127.0.0.1.
func (cs *clientConns) dial(addr string) (pb.ChatServiceClient, error) {
	c, err := dial(addr, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	*cs = append(*cs, c)
	return pb.NewChatServiceClient(c), nil
}

func (cs clientConns) close() {
	for _, c := range cs {
		c.Close()
	}
}
