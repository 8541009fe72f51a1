package app

import (
	"encoding/json"
	"net/http"
)

// NodeStatusPath is where each node of a cluster says how it stands
// (NodeStatus, as JSON). Unlike every other path it is answered by the node
// itself, never forwarded to the leader: it is what an operator's monitor,
// a load balancer's health check or a test polls on each node to see which
// one leads and whether the followers keep up. It needs no credentials, like
// /metrics, and tells nothing of the data (names of nodes and log
// positions); it reads one key of the node's file.
const NodeStatusPath = "/cluster/status"

// NodeStatus is a node's answer at NodeStatusPath.
type NodeStatus struct {
	// Node is this node's name (-node).
	Node string `json:"node"`
	// Ready is whether the node has joined the cluster and opened its file.
	Ready bool `json:"ready"`
	// Leading is whether this node runs the domain now.
	Leading bool `json:"leading"`
	// Term is the lease revision this node leads under, 0 when it follows.
	Term uint64 `json:"term"`
	// Leader is the node holding the lease as this node last read it
	// (every 250 ms), "" when it knows none.
	Leader string `json:"leader"`
	// Position is the log position the node's file holds: on a follower,
	// how far it has applied the log; nodes at the same position hold the
	// same content.
	Position uint64 `json:"position"`
	// ServedFromFile counts the calls and streams this node served from
	// its own file while it followed, since it started: the event log's
	// reads (ListEvents, WatchEvents), which cost the leader nothing.
	ServedFromFile int64 `json:"served_from_file"`
	// ServesReads is whether the node serves those reads from its file
	// now: it follows, and its replica of the file is up. Otherwise they
	// go to the leader.
	ServesReads bool `json:"serves_reads"`
}

// Status reports how the node stands.
func (n *Node) Status() (NodeStatus, error) {
	st := NodeStatus{Node: n.cc.Node, ServedFromFile: n.servedFromFile.Load()}
	select {
	case <-n.ready:
		st.Ready = true
	default:
		return st, nil
	}
	n.mu.Lock()
	st.Leading, st.Leader = n.leader != nil, n.leaderName
	st.ServesReads = n.replica != nil && n.replica.ctx.Err() == nil
	n.mu.Unlock()
	if st.Leading {
		st.Term = n.lease.Term()
	}
	var err error
	st.Position, err = n.store.Position()
	return st, err
}

func (n *Node) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	st, err := n.Status()
	if err != nil {
		n.log.Warn("node status", "err", err)
		http.Error(w, "status unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}
