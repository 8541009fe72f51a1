package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"connectrpc.com/connect"
	bolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/bench/hist"
	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// The floor: what this machine does with no application in the way,
// measured in the same run, on the same cores and the same disk.
//
//   - echo: a bare connect-go bidirectional echo server (ChatService.Converse
//     answering each request with a chat event carrying the same text, so
//     the messages are the size of the real ones), served like the real
//     server (net/http, h2c, gzip only above 1 KiB) on the server's core;
//     the client is the load generator's own gRPC client on its core.
//   - bolt: bbolt Puts on the disk of the bench database, on the server's
//     core: one Put per transaction (two fsyncs each), and 100 per
//     transaction (what group commit can reach).

type echoHandler struct {
	proactivechatv1connect.UnimplementedChatServiceHandler
}

func (echoHandler) Converse(ctx context.Context, s *connect.BidiStream[pb.ConverseRequest, pb.ConverseResponse]) error {
	for {
		req, err := s.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ev := &pb.ChatEvent{ChatId: "chat_echo", Seq: 1, Kind: &pb.ChatEvent_Message{Message: &pb.ChatMessage{Text: req.GetSend().GetText()}}}
		if err := s.Send(&pb.ConverseResponse{Event: &pb.ConverseResponse_ChatEvent{ChatEvent: ev}}); err != nil {
			return err
		}
	}
}

// echoMux serves the echo and the relay as the real server serves its
// services: connect-go, gzip only above 1 KiB.
func echoMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(proactivechatv1connect.NewChatServiceHandler(&relayHub{watchers: map[string][]chan *pb.ChatEvent{}}, connect.WithCompressMinBytes(1024)))
	return mux
}

// runEchoServer serves the echo until its stdin closes; it prints its
// address first.
func runEchoServer() error {
	mux := echoMux()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	// A diagnosis aid: FLOOR_CPUPROFILE=prefix profiles each floor server
	// (prefix-PORT.pprof), to set beside the real server's profile.
	if prefix := os.Getenv("FLOOR_CPUPROFILE"); prefix != "" {
		f, err := os.Create(fmt.Sprintf("%s-%d.pprof", prefix, ln.Addr().(*net.TCPAddr).Port))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// EchoFloor is the bare RPC stack's result.
type EchoFloor struct {
	Streams        int          `json:"streams"`
	RoundTripsPerS float64      `json:"round_trips_per_s"`
	Latency        hist.Summary `json:"latency"`
	OneStreamRTPS  float64      `json:"one_stream_round_trips_per_s"`
	OneStream      hist.Summary `json:"one_stream_latency"`
	ServerCPUPerRT float64      `json:"server_cpu_us_per_round_trip"`
	hists          map[string]*hist.Histogram
}

// floorEcho starts the echo server on the server's core and drives it.
func floorEcho(exe, cpu string, streams, msgSize int, d time.Duration) (*EchoFloor, error) {
	cmd, stop, addr, err := startEchoServer(exe, cpu, "")
	if err != nil {
		return nil, err
	}
	defer stop()
	conn, err := dial(addr, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := pb.NewChatServiceClient(conn)
	text := messageText('E', 0, 0, msgSize)

	run := func(n int, d time.Duration) (float64, *hist.Histogram, time.Duration, error) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := &pb.ConverseRequest{Command: &pb.ConverseRequest_Send{Send: &pb.ConverseSend{Text: text}}}
		total, all, elapsed, cpuUsed, err := closedLoop(cmd.Process.Pid, n, d, func(_ int, end time.Time, h *hist.Histogram) (int64, error) {
			s, err := client.Converse(ctx)
			if err != nil {
				return 0, err
			}
			defer s.CloseSend()
			var count int64
			for time.Now().Before(end) {
				t := time.Now()
				if err := s.Send(req); err != nil {
					break
				}
				if _, err := s.Recv(); err != nil {
					break
				}
				h.RecordDuration(time.Since(t))
				count++
			}
			return count, nil
		})
		return float64(total) / elapsed.Seconds(), all, cpuUsed, err
	}
	// Warm up: connection, SETTINGS, code paths.
	if _, _, _, err := run(streams, 300*time.Millisecond); err != nil {
		return nil, err
	}
	rps, h, cpuUsed, err := run(streams, d)
	if err != nil {
		return nil, err
	}
	rps1, h1, _, err := run(1, d/2)
	if err != nil {
		return nil, err
	}
	f := &EchoFloor{Streams: streams, RoundTripsPerS: rps, Latency: h.Summarize(), OneStreamRTPS: rps1, OneStream: h1.Summarize(),
		hists: map[string]*hist.Histogram{"echo_100_streams": h, "echo_1_stream": h1}}
	if h.Count() > 0 {
		f.ServerCPUPerRT = float64(cpuUsed.Microseconds()) / float64(h.Count())
	}
	return f, nil
}

// BoltFloor is the bare disk's result.
type BoltFloor struct {
	PutsPerS      float64      `json:"single_put_txn_per_s"`
	Latency       hist.Summary `json:"single_put_txn_latency"`
	BatchPutsPerS float64      `json:"batch100_puts_per_s"`
}

// runBoltFloor measures bbolt in dir for d each way and prints the result
// as JSON (it runs as a child process on the server's core).
func runBoltFloor(dir string, d time.Duration, size int) error {
	path := filepath.Join(dir, "floor.db")
	defer os.Remove(path)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	bucket := []byte("b")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		return err
	}
	val := []byte(messageText('B', 0, 0, size))
	var key uint64
	put := func(tx *bolt.Tx) error {
		key++
		k := binary.BigEndian.AppendUint64(nil, key)
		return tx.Bucket(bucket).Put(k, val)
	}
	h := hist.New()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		t := time.Now()
		if err := db.Update(put); err != nil {
			return err
		}
		h.RecordDuration(time.Since(t))
		n++
	}
	single := float64(n) / time.Since(start).Seconds()
	start = time.Now()
	n = 0
	for time.Since(start) < d {
		err := db.Update(func(tx *bolt.Tx) error {
			for range 100 {
				if err := put(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += 100
	}
	batch := float64(n) / time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(BoltFloor{PutsPerS: single, Latency: h.Summarize(), BatchPutsPerS: batch})
}

func floorBolt(exe, cpu, dir string, d time.Duration, size int) (*BoltFloor, error) {
	cmd := pinned(cpu, exe, "-floor-bolt", dir, "-floor-duration", d.String(), "-size", fmt.Sprint(size))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bbolt floor: %v", err)
	}
	var f BoltFloor
	if err := json.Unmarshal(out, &f); err != nil {
		return nil, fmt.Errorf("bbolt floor: %v: %s", err, out)
	}
	return &f, nil
}

// closedLoop runs n clients at once for d, each calling send until end and
// recording each round trip in its histogram, and returns what they did
// together, and the CPU time the server process (pid) used meanwhile.
func closedLoop(pid, n int, d time.Duration, send func(i int, end time.Time, h *hist.Histogram) (int64, error)) (int64, *hist.Histogram, time.Duration, time.Duration, error) {
	var mu sync.Mutex
	all := hist.New()
	var total int64
	var firstErr error
	var wg sync.WaitGroup
	cpu0, _ := procCPU(pid)
	start := time.Now()
	end := start.Add(d)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hist.New()
			count, err := send(i, end, h)
			mu.Lock()
			defer mu.Unlock()
			all.Merge(h)
			total += count
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := procCPU(pid)
	return total, all, elapsed, cpu1 - cpu0, firstErr
}
