package domain

import (
	"path"
	"strings"
	"time"
)

// Defaults of a site's proactive chat timings, used where a setting is 0.
const (
	DefaultInviteTimeout     = 60 * time.Second
	DefaultAlertTimeout      = 30 * time.Second
	DefaultQueueHold         = 60 * time.Second
	DefaultInactivityTimeout = 10 * time.Minute
	DefaultInactivityWarning = 2 * time.Minute
)

func secondsOr(s uint32, def time.Duration) time.Duration {
	if s == 0 {
		return def
	}
	return time.Duration(s) * time.Second
}

// LaunchAfter is the launching criteria's time on site.
func (p ProactiveChatSettings) LaunchAfter() time.Duration {
	return time.Duration(p.LaunchAfterSeconds) * time.Second
}

// InviteTimeout is how long an invitation waits for an answer.
func (p ProactiveChatSettings) InviteTimeout() time.Duration {
	return secondsOr(p.InviteTimeoutSeconds, DefaultInviteTimeout)
}

// ReinviteCooldown is how long after a refusal a visitor may be invited
// again; 0 means never again.
func (p ProactiveChatSettings) ReinviteCooldown() time.Duration {
	return time.Duration(p.ReinviteCooldownSeconds) * time.Second
}

// AlertTimeout is how long an alerted agent has to accept.
func (p ProactiveChatSettings) AlertTimeout() time.Duration {
	return secondsOr(p.AlertTimeoutSeconds, DefaultAlertTimeout)
}

// QueueHold is how long a queued visitor whose widget went away keeps its place.
func (p ProactiveChatSettings) QueueHold() time.Duration {
	return secondsOr(p.QueueHoldSeconds, DefaultQueueHold)
}

// InactivityTimeout is how long a chat may go without a message.
func (p ProactiveChatSettings) InactivityTimeout() time.Duration {
	return secondsOr(p.InactivityTimeoutSeconds, DefaultInactivityTimeout)
}

// InactivityWarning is how long before the inactivity end both sides are warned.
func (p ProactiveChatSettings) InactivityWarning() time.Duration {
	w := secondsOr(p.InactivityWarningSeconds, DefaultInactivityWarning)
	if t := p.InactivityTimeout(); w >= t {
		return t / 2
	}
	return w
}

// PageAllowed applies the launching criteria's page conditions to a URL.
func (p ProactiveChatSettings) PageAllowed(url string) bool {
	for _, g := range p.ExcludePages {
		if globMatch(g, url) {
			return false
		}
	}
	if len(p.IncludePages) == 0 {
		return true
	}
	for _, g := range p.IncludePages {
		if globMatch(g, url) {
			return true
		}
	}
	return false
}

// globMatch matches a URL against a pattern where * stands for any
// characters (slashes included) and ? for one.
func globMatch(pattern, s string) bool {
	// path.Match's * stops at '/', so match segment-free: replace '/' in
	// both by a character that cannot occur in a URL.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", sep), strings.ReplaceAll(s, "/", sep))
	return err == nil && ok
}
