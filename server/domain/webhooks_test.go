package domain_test

import (
	"net"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestParseEventID(t *testing.T) {
	for _, pos := range []uint64{1, 15, 16, 1 << 40, ^uint64(0)} {
		if got, ok := domain.ParseEventID(domain.EventID(pos)); !ok || got != pos {
			t.Errorf("ParseEventID(EventID(%d)) = %d, %v", pos, got, ok)
		}
	}
	for _, id := range []string{"", "evt_", "evt_0000000000000000", "evt_000000000000000g", "evt_00000000000000001", "xyz_0000000000000001", "evt_000000000000000A"} {
		if _, ok := domain.ParseEventID(id); ok {
			t.Errorf("ParseEventID(%q) accepted", id)
		}
	}
}

func TestIsPrivateIP(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "::1", "10.0.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fc00::1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "::", "224.0.0.251", "ff02::1", "::ffff:127.0.0.1"} {
		if !domain.IsPrivateIP(net.ParseIP(s)) {
			t.Errorf("IsPrivateIP(%s) = false", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "100.128.0.1", "172.32.0.1", "2001:4860:4860::8888", "93.184.216.34"} {
		if domain.IsPrivateIP(net.ParseIP(s)) {
			t.Errorf("IsPrivateIP(%s) = true", s)
		}
	}
}
