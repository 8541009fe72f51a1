package app

import (
	"bytes"
	"context"
	"net/http"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ResetBurst is how many stream resets an HTTP/2 connection may send at
// once, for the external tests.
const ResetBurst = resetBurst

// Crash stops n as abruptly as a process that dies: its NATS server goes
// first (nothing more is replicated or renewed), then every connection;
// the lease is left to run out.
func (n *Node) Crash() {
	n.stopNATS()
	n.h2c.close()
	n.h2c.closeConns()
	n.front.Close()
	n.cancel()
	<-n.done
	n.closeBackends()
}

// RevokeLease deletes the lease's key, as if another node had taken it:
// the holder's next renewal fails.
func (n *Node) RevokeLease() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(n.nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, "proactivechat_lease")
	if err != nil {
		return err
	}
	return kv.Delete(ctx, "leader")
}

// WrapJoin has n join the cluster with wrap around its JetStream (call
// before Start).
func (n *Node) WrapJoin(wrap func(jetstream.JetStream) jetstream.JetStream) { n.wrapJoin = wrap }

// HoldHeartbeats has n's heartbeat handler wait until release: a node
// too busy to read the leader's heartbeats.
func (n *Node) HoldHeartbeats() (release func()) { return n.beats.Hold() }

// Terms is how many leadership terms n has begun serving.
func (n *Node) Terms() int64 { return n.terms.Load() }

// LogStart returns the position of the log's first entry.
func (n *Node) LogStart(ctx context.Context) (uint64, error) { return n.logJS.First(ctx) }

// SetLeader records name at addr as the leader, as the node does when it
// reads the lease, and reports whether that changed.
func (n *Node) SetLeader(name, addr string) bool { return n.setLeader(name, addr) }

// SetRelayKeepAlive sets how often a relayed stream waiting for a leader
// gets a keep-alive, until the returned function restores it.
func SetRelayKeepAlive(d time.Duration) (restore func()) {
	old := relayKeepAlive
	relayKeepAlive = d
	return func() { relayKeepAlive = old }
}

// SelfForwarded is how many requests n served as the leader that it had
// forwarded to itself, through its own port.
func (n *Node) SelfForwarded() int64 { return n.selfForwarded.Load() }

// SetRelayInProcess chooses whether a node that leads serves the streams
// it relays in process (on) or through its own port, as before, until the
// returned function restores it.
func SetRelayInProcess(on bool) (restore func()) {
	old := relayInProcess
	relayInProcess = on
	return func() { relayInProcess = old }
}

// SetRelayOwnStreams chooses whether a node that leads relays its own
// clients' streams in process (on) or has its App serve them directly,
// as before, until the returned function restores it.
func SetRelayOwnStreams(on bool) (restore func()) {
	old := relayOwnStreams
	relayOwnStreams = on
	return func() { relayOwnStreams = old }
}

// LeadWith has n serve as the leader with a (an App of the test's, on its
// own file), as a node does once it has won the lease and started its
// domain, and read the lease naming itself; the returned function ends it,
// as a deposed leader's end does, with the leader at addr.
func (n *Node) LeadWith(a *App) (depose func(name, addr string)) {
	n.mu.Lock()
	n.leader = a
	n.mu.Unlock()
	n.setLeader(n.cc.Node, n.peer)
	return func(name, addr string) {
		n.mu.Lock()
		n.leader = nil
		n.mu.Unlock()
		n.setLeader(name, addr)
	}
}

// RelayHandler is n's widget-stream relay, which Node.ServeHTTP hands
// the widget streams to while n follows.
func (n *Node) RelayHandler() http.Handler { return n.relay }

// InProcessServing is how many handlers inProcess transports run now:
// the goroutines of the streams served in process.
func InProcessServing() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "app.inProcess.serve(")
}

// SetFollowerWindow sets how long the node's Followers wait for more
// entries to apply with the first (cluster.Follower.Window).
func (n *Node) SetFollowerWindow(d time.Duration) { n.followerWindow = d }
