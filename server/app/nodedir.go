package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/cluster"
)

// nodesBucket is the JetStream KV bucket of the node directory.
const nodesBucket = "proactivechat_nodes"

// nodeDirectory is the list of a cluster's nodes and where each serves: a
// JetStream KV bucket with one key per node, its name, whose value is the
// node's advertised HOST:PORT (prefixed with "https://" when the node
// serves TLS: peerAddress). Each node writes its key when it joins and
// watches the bucket. The leader believes X-Forwarded-For, for its rate
// limits, from the nodes' addresses and from nobody else's: followers
// forward every client's call to it and append the client's address, but
// a client can write anything in the header itself. Nor does it hold the
// nodes' connections to a client's budget of HTTP/2 stream resets: a
// follower's few connections carry all its clients' streams, and each
// client has its budget on the follower.
//
// A node's addresses are what its advertised host resolves to when its
// key is written or read: an IP address as it is, a name through DNS. The
// followers' connections to the leader must come from one of them, which
// holds when -advertise names the address the nodes reach each other on.
// A key stays when its node stops (it is still a member and may come
// back); removing a node for good is deleting its key
// (`nats kv del proactivechat_nodes NAME`).
type nodeDirectory struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	// addrs is the current set of the nodes' addresses, replaced as a
	// whole on each change, so that trusted reads it without a lock.
	addrs atomic.Pointer[map[netip.Addr]bool]
}

// newNodeDirectory returns a directory that trusts no address until it is
// opened and watched.
func newNodeDirectory(log *slog.Logger) *nodeDirectory {
	d := &nodeDirectory{log: log}
	d.addrs.Store(&map[netip.Addr]bool{})
	return d
}

// open creates the directory's bucket, or opens it.
func (d *nodeDirectory) open(ctx context.Context, js jetstream.JetStream, replicas int) error {
	replicas, err := cluster.KeepReplicas(ctx, js, "KV_"+nodesBucket, replicas)
	if err != nil {
		return fmt.Errorf("open the node directory: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      nodesBucket,
		Description: "Proactive Chat cluster nodes: name → advertised HOST:PORT",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return fmt.Errorf("open the node directory: %w", err)
	}
	d.kv = kv
	return nil
}

// opened reports whether open succeeded.
func (d *nodeDirectory) opened() bool { return d.kv != nil }

// register writes this node's address (peerAddress).
func (d *nodeDirectory) register(ctx context.Context, name, peer string) error {
	if _, err := d.kv.PutString(ctx, name, peer); err != nil {
		return fmt.Errorf("register in the node directory: %w", err)
	}
	return nil
}

// trusted reports whether a is one of the nodes' addresses.
func (d *nodeDirectory) trusted(a netip.Addr) bool {
	return (*d.addrs.Load())[a.Unmap()]
}

// watch keeps the set of addresses on the bucket's content until ctx ends.
func (d *nodeDirectory) watch(ctx context.Context) {
	for ctx.Err() == nil {
		if err := d.watchOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("watching the node directory", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (d *nodeDirectory) watchOnce(ctx context.Context) error {
	w, err := d.kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	nodes := map[string][]netip.Addr{}
	for e := range w.Updates() {
		if e == nil {
			continue // the end of the initial values
		}
		if e.Operation() != jetstream.KeyValuePut {
			delete(nodes, e.Key())
		} else {
			nodes[e.Key()] = d.resolve(ctx, e.Key(), string(e.Value()))
		}
		set := map[netip.Addr]bool{}
		for _, addrs := range nodes {
			for _, a := range addrs {
				set[a] = true
			}
		}
		d.addrs.Store(&set)
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("the watch ended")
}

// resolve returns the addresses of a node's address (peerAddress); none
// (the node is not trusted) when its host does not resolve.
func (d *nodeDirectory) resolve(ctx context.Context, name, peer string) []netip.Addr {
	advertise, _ := parsePeerAddress(peer)
	host, _, err := net.SplitHostPort(advertise)
	if err != nil {
		d.log.Warn("node directory: bad address", "node", name, "addr", peer)
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		d.log.Warn("node directory: cannot resolve a node's host", "node", name, "host", host, "err", err)
		return nil
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs
}
