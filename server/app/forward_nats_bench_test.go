package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/proactivechat/proactivechat/server/app"
)

// BenchmarkForwardHop compares the two ways a follower can hand a small
// unary call to the leader: the reverse proxy over HTTP/2 that nodes use
// (docs/cluster.md, Serving on every node), and NATS request/reply, which
// issue 17 recommends, here between two routed NATS servers as between
// two nodes. The client speaks h2c to the follower in both, and the
// leader's answer is the same handler; "direct" is the client asking the
// leader itself. The NATS forwarder is the least it takes: the method,
// path, headers and body in a NATS message, the leader's status, headers
// and body in the reply, no streams and no limits, so it is a lower bound
// of what a real one would cost.
func BenchmarkForwardHop(b *testing.B) {
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sites":[]}`)
	})
	leader := startPlainLeader(b, answer)

	// Two NATS servers, routed: the follower's and the leader's.
	s1, s2 := routedPair(b)
	leaderNC := natsConnect(b, s2.ClientURL())
	followerNC := natsConnect(b, s1.ClientURL())
	const subject = "bench.leader.http"
	if _, err := leaderNC.QueueSubscribe(subject, "leader", func(m *nats.Msg) {
		req := httptest.NewRequest(m.Header.Get("X-Method"), m.Header.Get("X-Path"), bytes.NewReader(m.Data))
		for k, v := range m.Header {
			if !strings.HasPrefix(k, "X-") {
				req.Header[k] = v
			}
		}
		rec := httptest.NewRecorder()
		answer.ServeHTTP(rec, req)
		reply := nats.NewMsg(m.Reply)
		reply.Header = nats.Header(rec.Header().Clone())
		reply.Header.Set("X-Status", strconv.Itoa(rec.Code))
		reply.Data = rec.Body.Bytes()
		m.RespondMsg(reply)
	}); err != nil {
		b.Fatal(err)
	}
	leaderNC.Flush()
	natsFollower := startPlainLeader(b, func(w http.ResponseWriter, r *http.Request) {
		msg := nats.NewMsg(subject)
		msg.Header = nats.Header(r.Header.Clone())
		msg.Header.Set("X-Method", r.Method)
		msg.Header.Set("X-Path", r.URL.RequestURI())
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		msg.Data = body
		res, err := followerNC.RequestMsgWithContext(r.Context(), msg)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		status, _ := strconv.Atoi(res.Header.Get("X-Status"))
		for k, v := range res.Header {
			if !strings.HasPrefix(k, "X-") {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
		w.Write(res.Data)
	})

	// The leader's interest reaches the follower's server over the route.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ping := nats.NewMsg(subject)
		ping.Header.Set("X-Method", "GET")
		ping.Header.Set("X-Path", "/v1/sites")
		if _, err := followerNC.RequestMsg(ping, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("the leader's subscription never reached the follower's server: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	proxyFollower := openLoneNode(b, app.Config{Logger: testLogger(&syncBuffer{})}, app.ClusterConfig{})
	proxyFollower.SetLeader("n2", strings.TrimPrefix(leader.URL, "http://"))

	for _, hop := range []struct{ name, url string }{
		{"direct", leader.URL},
		{"proxy-h2c", "http://" + proxyFollower.Addr().String()},
		{"nats-request-reply", natsFollower.URL},
	} {
		b.Run(hop.name, func(b *testing.B) {
			benchGets(b, h2cClient(b), hop.url+"/v1/sites")
		})
	}
}

// routedPair starts two NATS servers with a route between them.
func routedPair(b *testing.B) (*server.Server, *server.Server) {
	b.Helper()
	ports := [2]int{}
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	routes := fmt.Sprintf("nats://127.0.0.1:%d,nats://127.0.0.1:%d", ports[0], ports[1])
	var servers [2]*server.Server
	for i := range servers {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("b%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			Cluster: server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(routes), NoLog: true, NoSigs: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		s.Start()
		b.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			b.Fatal("NATS server not ready")
		}
		servers[i] = s
	}
	deadline := time.Now().Add(10 * time.Second)
	for servers[0].NumRoutes() == 0 || servers[1].NumRoutes() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("the NATS servers did not route")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return servers[0], servers[1]
}

func natsConnect(b *testing.B, url string) *nats.Conn {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}
