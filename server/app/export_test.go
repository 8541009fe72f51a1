package app

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
