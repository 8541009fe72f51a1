package rpc

import (
	"net/http"
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
