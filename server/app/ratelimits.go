package app

import (
	"net/netip"
	"time"

	"connectrpc.com/connect"

	"github.com/proactivechat/proactivechat/server/rpc"
)

// rateLimiter is the interceptor enforcing cfg.RateLimits on every
// transport. REST calls reach it over the gateway's in-memory listener,
// whose peer address it knows, so their client is the REST client.
func (a *App) rateLimiter() connect.Interceptor {
	limits := rpc.DefaultRateLimits()
	if a.cfg.RateLimits != nil {
		limits = *a.cfg.RateLimits
	}
	if nodes := a.cfg.trustedProxy; nodes != nil {
		if own := limits.TrustedProxy; own != nil {
			limits.TrustedProxy = func(p netip.Addr) bool { return own(p) || nodes(p) }
		} else {
			limits.TrustedProxy = nodes
		}
	}
	now := time.Now
	if a.cfg.Clock != nil {
		now = a.cfg.Clock.Now
	}
	return rpc.NewRateLimiter(limits, now, a.gatewayLn.Addr().String())
}
