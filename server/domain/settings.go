package domain

import (
	"path"
	"time"
	"unicode/utf8"
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
// characters (slashes included) and ? for one; [...] and \ are as in
// path.Match, and a pattern path.Match calls malformed matches nothing.
//
// It used to run path.Match with '/' replaced by NUL in both strings, so
// that * would cross slashes. FuzzPageAllowed found that wrong twice: a NUL
// in a pattern matched a '/', and path.Match's * skips bytes rather than
// characters, so that a ? after it matched the tail of a character ("*??"
// matched "€", one character). Hence this matcher over characters, which
// backtracks only to the last * (enough when * is the only variable-length
// term), and leaves classes to path.Match one character at a time.
func globMatch(pattern, s string) bool {
	if _, err := path.Match(pattern, ""); err != nil {
		return false
	}
	p, n := 0, 0         // next term of pattern, next character of s
	star, starN := -1, 0 // the last * seen and where in s its match ends
	for n < len(s) {
		if p < len(pattern) && pattern[p] == '*' {
			star, starN = p, n
			p++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[n:])
		if p < len(pattern) {
			if term := globTerm(pattern[p:]); globTermMatches(term, s[n:n+w]) {
				p, n = p+len(term), n+w
				continue
			}
		}
		if star < 0 {
			return false
		}
		// Let the last * take one more character, and go on after it.
		_, w = utf8.DecodeRuneInString(s[starN:])
		starN += w
		p, n = star+1, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// globTerm returns the first term of a well-formed pattern that does not
// start with *: a character, an escaped one, ? or a class.
func globTerm(pattern string) string {
	switch pattern[0] {
	case '\\':
		_, w := utf8.DecodeRuneInString(pattern[1:])
		return pattern[:1+w]
	case '[':
		// The first ']' not escaped ends the class: path.Match refuses an
		// unescaped one where it would not.
		for i := 1; i < len(pattern); i++ {
			switch pattern[i] {
			case '\\':
				i++
			case ']':
				return pattern[:i+1]
			}
		}
	}
	_, w := utf8.DecodeRuneInString(pattern)
	return pattern[:w]
}

// globTermMatches reports whether a term matches one character c of s.
func globTermMatches(term, c string) bool {
	switch term[0] {
	case '?':
		return true
	case '\\':
		return term[1:] == c
	case '[':
		ok, _ := path.Match(term, c)
		return ok
	}
	return term == c
}
