package app

import (
	"context"
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
