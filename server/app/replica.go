package app

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
	"github.com/proactivechat/proactivechat/server/cluster"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// A follower serves the reads of what is stored from its own file
// (replicaReads: the event log, chats, transcripts, notes, sites and
// agents; and WatchEvents' backlog and live events), in the Connect, gRPC
// and gRPC-Web protocols. It runs a replica (domain.Service.FollowWrites)
// on the file its Follower fills, so those reads cost the leader nothing,
// and an event stream on a follower goes on through a leader's death
// without a break: the follower's file holds every event the leader
// acknowledged, and the next leader's events reach it through the log.
//
// Reads are linearizable, as on the leader: before a call or a stream
// is served, the follower reads the log's last position from JetStream
// (which has every entry the leader acknowledged: it acknowledges after
// the log does) and waits until its file holds it (readIndex). So a
// client reads its own writes, made through any node, and a key just
// made works at once. A follower that cannot (the log not answering
// within replicaReadWait, its Follower stopped) sends the call to the
// leader, as before. What the replica serves is answered exactly as the
// leader's App answers it, by the same handlers and interceptors
// (authorization, rate limits, stream caps, the edge's bounds) over the
// same data.
//
// Where it differs, by design:
//   - A request with an Origin other than the node's own goes to the
//     leader: the sites' allowed origins are kept by the leader's domain.
//   - The stream caps (rpc's capped rules) count per node: a key may
//     hold its cap of event streams on each node that serves them.
//   - A follower's live events come up to the Follower's batching
//     window (cluster.applyEvery) after the leader's.
//   - A stream a replica serves moves to the leader's App, resuming
//     after its last event, when this node takes the lease (the
//     replica closes as its Follower stops).
//
// REST calls go through the leader's gateway, as every REST call does.
// ClusterConfig.ReadsOnLeader turns all of this off.

// replicaReads are the unary calls a follower serves from its own file:
// those that read only what is stored (not who is online, nor the
// queue's order, which the leader's domain keeps in memory).
var replicaReads = map[string]bool{
	proactivechatv1connect.AdminServiceListEventsProcedure:       true,
	proactivechatv1connect.AdminServiceGetSiteProcedure:          true,
	proactivechatv1connect.AdminServiceListSitesProcedure:        true,
	proactivechatv1connect.AdminServiceGetAgentProcedure:         true,
	proactivechatv1connect.AdminServiceListAgentsProcedure:       true,
	proactivechatv1connect.ChatServiceGetChatProcedure:           true,
	proactivechatv1connect.ChatServiceListChatsProcedure:         true,
	proactivechatv1connect.ChatServiceListChatEventsProcedure:    true,
	proactivechatv1connect.ChatServiceGetChatTranscriptProcedure: true,
	proactivechatv1connect.ChatServiceListNotesProcedure:         true,
}

// replicaReadWait bounds a follower's wait for its file to reach the
// log's end before a read; past it the read goes to the leader.
const replicaReadWait = 2 * time.Second

// replicaCloseWait bounds how long a replica that closes before its
// node's file is replaced (a snapshot installed) waits for the calls it
// serves to end.
const replicaCloseWait = 5 * time.Second

// replica is the domain a follower runs on its own file, to serve reads.
type replica struct {
	app *App
	f   *cluster.Follower
	// ctx ends when the replica closes: the streams it serves end with
	// it, and the relay opens them again elsewhere.
	ctx  context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	closed   bool
	calls    sync.WaitGroup // the calls and streams under way
	followed chan error     // FollowWrites' end
}

// openReplica builds the replica of the node's file, which f fills.
func (n *Node) openReplica(f *cluster.Follower) (*replica, error) {
	cfg := n.cfg
	a := &App{cfg: cfg, log: n.log, Store: n.store, serveErr: make(chan error, 2), resets: resetLimitOn(cfg.Clock)}
	a.Service = domain.NewService(domain.Config{
		Store:             n.store,
		Broker:            inmem.NewBroker(0),
		Clock:             cfg.Clock,
		Logger:            n.log,
		KeepAliveInterval: cfg.KeepAliveInterval,
		Replica:           true,
	})
	handler, err := a.handler()
	if err != nil {
		a.Service.Close()
		return nil, err
	}
	a.server = newHTTPServer(handler, n.log)
	r := &replica{app: a, f: f, followed: make(chan error, 1)}
	r.ctx, r.stop = context.WithCancel(n.ctx)
	go func() {
		err := a.Service.FollowWrites(r.ctx, f.Changed)
		if err != nil && r.ctx.Err() == nil {
			// A replica that no longer follows the file would serve
			// its streams nothing new: they end, and open again at
			// the leader, as every call goes there from now on.
			n.log.Warn("the replica stopped following this node's file: reads go to the leader", "err", err)
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			r.stop() // the relayed streams' contexts
		}
		r.followed <- err
	}()
	return r, nil
}

// enter counts a call the replica serves; false once it closed.
func (r *replica) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.calls.Add(1)
	return true
}

func (r *replica) leave() { r.calls.Done() }

// serveLocal serves a relayed stream in process (relayOnce).
func (r *replica) serveLocal(w http.ResponseWriter, req *http.Request) {
	if !r.enter() {
		unavailable(w, req, "this node's file is changing hands")
		return
	}
	defer r.leave()
	r.app.server.Handler.ServeHTTP(w, req)
}

// close ends the replica: its streams end (the relay opens them again
// at the next leader). The file stays open: it is the node's. Before the
// file is replaced (drain), the calls under way are given
// replicaCloseWait to finish; otherwise they finish on the file as it
// goes on (the node takes the lease), and nobody waits for them: a
// client slow to read its answer does not delay a takeover.
func (r *replica) close(drain bool) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.app.Service.Close()
	if drain {
		done := make(chan struct{})
		go func() { r.calls.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(replicaCloseWait):
		}
	}
	err := <-r.followed
	r.app.gatewayConn.Close()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// readyReplica returns the node's replica once its file holds the log's
// end as it was when asked (readIndex), or nil when the node has none, or
// cannot tell in time: the caller then goes to the leader.
func (n *Node) readyReplica(ctx context.Context) *replica {
	n.mu.Lock()
	r := n.replica
	n.mu.Unlock()
	if r == nil || r.ctx.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, replicaReadWait)
	defer cancel()
	last, err := n.readIndex.get(ctx, n.logJS.Last)
	if err == nil {
		err = r.f.WaitFor(ctx, last)
	}
	if err != nil {
		n.log.Debug("a read goes to the leader: this node's file is not known to be current", "err", err)
		return nil
	}
	return r
}

// serveFromReplica serves a unary read from the node's own file, and
// reports whether it did: false sends it to the leader.
func (n *Node) serveFromReplica(w http.ResponseWriter, req *http.Request) bool {
	if req.Method != http.MethodPost || !replicaReads[req.URL.Path] || crossOrigin(req.Header.Get("Origin"), req.Host) {
		return false
	}
	r := n.readyReplica(req.Context())
	if r == nil || !r.enter() {
		return false
	}
	defer r.leave()
	n.servedFromFile.Add(1)
	r.app.server.Handler.ServeHTTP(w, req)
	return true
}

// crossOrigin reports whether a request with this Origin header, made to
// host, comes from another origin than the node's: the one rule of what
// is same-origin, for CORS (App.cors) and for what a follower serves.
func crossOrigin(origin, host string) bool {
	return origin != "" && origin != "http://"+host && origin != "https://"+host
}

// followWithReplica opens the replica of f's file for the node to serve
// reads with while f runs; without one (it could not be built), the
// node sends every read to the leader.
func (n *Node) followWithReplica(f *cluster.Follower) {
	r, err := n.openReplica(f)
	if err != nil {
		n.log.Warn("reads go to the leader: no replica of this node's file", "err", err)
		return
	}
	n.mu.Lock()
	n.replica = r
	n.mu.Unlock()
}

// closeReplica closes the node's replica, if any, before its Follower's
// file is led (the node took the lease, or stops) or, with drain,
// replaced.
func (n *Node) closeReplica(drain bool) {
	n.mu.Lock()
	r := n.replica
	n.replica = nil
	n.mu.Unlock()
	if r == nil {
		return
	}
	if err := r.close(drain); err != nil && n.ctx.Err() == nil {
		n.log.Warn("the replica stopped following the file", "err", err)
	}
}

// readIndex asks the log for its last position on behalf of every read
// that waits for it, one request at a time: the reads that arrive while a
// request is under way share the next one, which begins after they
// arrived, so each read still gets a position at least as late as every
// write acknowledged before it began. Under a steady load of reads, one
// request per round trip replaces one per read.
type readIndex struct {
	mu      sync.Mutex
	waiting []chan readIndexResult
	asking  bool
}

type readIndexResult struct {
	pos uint64
	err error
}

// get returns the log's last position as read after get was called.
func (ri *readIndex) get(ctx context.Context, last func(context.Context) (uint64, error)) (uint64, error) {
	ch := make(chan readIndexResult, 1)
	ri.mu.Lock()
	ri.waiting = append(ri.waiting, ch)
	if !ri.asking {
		ri.asking = true
		go ri.ask(last)
	}
	ri.mu.Unlock()
	select {
	case r := <-ch:
		return r.pos, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// ask reads the log's end for the reads waiting, batch after batch, until
// none waits.
func (ri *readIndex) ask(last func(context.Context) (uint64, error)) {
	for {
		ri.mu.Lock()
		batch := ri.waiting
		ri.waiting = nil
		if len(batch) == 0 {
			ri.asking = false
			ri.mu.Unlock()
			return
		}
		ri.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), replicaReadWait)
		pos, err := last(ctx)
		cancel()
		for _, ch := range batch {
			ch <- readIndexResult{pos, err}
		}
	}
}
