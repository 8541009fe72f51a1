package rpc

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestRateLimitClientKey: which address a call is counted under.
func TestRateLimitClientKey(t *testing.T) {
	r := &rateLimiter{gatewayPeer: "bufconn", limits: RateLimits{LocalProxy: true}}
	xff := func(v ...string) http.Header {
		h := http.Header{}
		for _, s := range v {
			h.Add("X-Forwarded-For", s)
		}
		return h
	}
	for _, c := range []struct {
		peer    string
		header  http.Header
		key     string
		limited bool
	}{
		{"203.0.113.7:5555", nil, "203.0.113.7", true},
		// A public client's X-Forwarded-For is not believed.
		{"203.0.113.7:5555", xff("198.51.100.1"), "203.0.113.7", true},
		// An IPv6 client is its /64; an IPv4-mapped one is IPv4.
		{"[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64", true},
		{"[::ffff:203.0.113.7]:443", nil, "203.0.113.7", true},
		// Over the gateway, the last entry is the REST client's address
		// (the gateway appends it to whatever the client sent).
		{"bufconn", xff("198.51.100.1, 203.0.113.9"), "203.0.113.9", true},
		{"bufconn", xff("198.51.100.1", "203.0.113.9"), "203.0.113.9", true},
		{"bufconn", xff("2001:db8::1"), "2001:db8::/64", true},
		{"bufconn", nil, "bufconn", true},
		// Loopback is exempt unless Loopback is set.
		{"127.0.0.1:1234", nil, "", false},
		{"[::1]:1234", nil, "", false},
		{"bufconn", xff("203.0.113.9, 127.0.0.2"), "203.0.113.9", true},
		// A reverse proxy on this host names the client; its own hops are skipped.
		{"127.0.0.1:1234", xff("203.0.113.9"), "203.0.113.9", true},
		{"127.0.0.1:1234", xff("198.51.100.1, 203.0.113.9, 127.0.0.1"), "203.0.113.9", true},
		{"bufconn", xff("203.0.113.9, 127.0.0.1"), "203.0.113.9", true},
		{"[::1]:1234", xff("127.0.0.1"), "", false},
	} {
		key, limited := r.client(c.peer, c.header)
		if key != c.key || limited != c.limited {
			t.Errorf("client(%q, %v) = %q, %v; want %q, %v", c.peer, c.header, key, limited, c.key, c.limited)
		}
	}
	r.limits.Loopback = true
	if key, limited := r.client("127.0.0.2:1", nil); key != "127.0.0.2" || !limited {
		t.Errorf("with Loopback, client(127.0.0.2) = %q, %v", key, limited)
	}
	r.limits.LocalProxy = false
	if key, limited := r.client("127.0.0.1:1", http.Header{"X-Forwarded-For": {"203.0.113.9"}}); key != "127.0.0.1" || !limited {
		t.Errorf("without LocalProxy, a loopback peer's X-Forwarded-For was believed: %q, %v", key, limited)
	}
}

// TestRateLimitClientKeyBehindClusterNodes: the X-Forwarded-For of a peer
// TrustedProxy names (a cluster's node forwarding to the leader) is
// believed, across machines; anyone else's is not, wherever it comes from.
func TestRateLimitClientKeyBehindClusterNodes(t *testing.T) {
	nodes := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.2"): true, netip.MustParseAddr("fd00::3"): true}
	r := &rateLimiter{gatewayPeer: "bufconn", limits: RateLimits{LocalProxy: true, TrustedProxy: func(a netip.Addr) bool { return nodes[a] }}}
	for _, c := range []struct {
		peer, xff, key string
	}{
		// A follower names its client.
		{"10.0.0.2:40000", "203.0.113.9", "203.0.113.9"},
		{"[fd00::3]:40000", "2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"[::ffff:10.0.0.2]:40000", "203.0.113.9", "203.0.113.9"},
		// What the client wrote itself, to the left of what the follower
		// appended, is not believed.
		{"10.0.0.2:40000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		// Over the REST gateway: the gateway appends the follower's
		// address, a hop that is skipped.
		{"bufconn", "198.51.100.1, 203.0.113.9, 10.0.0.2", "203.0.113.9"},
		// A proxy on the follower's host, then the follower.
		{"10.0.0.2:40000", "203.0.113.9, 127.0.0.1", "203.0.113.9"},
		// A client that is not a node is not believed, whatever it says,
		// even that it is a node.
		{"10.0.0.9:40000", "203.0.113.9", "10.0.0.9"},
		{"10.0.0.9:40000", "10.0.0.2", "10.0.0.9"},
		{"bufconn", "203.0.113.9, 10.0.0.9", "10.0.0.9"},
	} {
		key, limited := r.client(c.peer, http.Header{"X-Forwarded-For": {c.xff}})
		if key != c.key || !limited {
			t.Errorf("client(%q, X-Forwarded-For %q) = %q, %v; want %q, limited", c.peer, c.xff, key, limited, c.key)
		}
	}
}
