package domain

import "time"

// DefaultMassDisconnectGrace is how long a visitor whose widget stream was
// dropped in a mass disconnect, or who was on the site when the server
// stopped, still counts as on the site. Visitors leave one by one; when a
// large share of the streams close within one second, the network, a proxy
// or this server dropped them, and every widget reconnects at once. Taking
// them all back takes time: about 830 µs of a core per visitor on its own
// connection (a new connection, HTTP/2 setup, authentication, a state
// read), measured on the load generator's 2-core machine, so 19,000 take
// 15.8 s, past the 15 s presence grace, and the widget's backoff after a
// failed attempt can reach 16 s. With the presence grace, the last ones
// back had lost their chats. One minute takes back about 70,000 visitors
// on a core at that cost.
const DefaultMassDisconnectGrace = time.Minute

// A mass disconnect is at least massDisconnectMinCloses widget streams, and
// at least 1/massDisconnectShare of those open, closing within
// massDisconnectWindow. Page loads close a stream and open another: at one
// page view a visitor every 30 s, 3 % of the streams close in a second,
// well under a fifth.
const (
	massDisconnectWindow    = time.Second
	massDisconnectMinCloses = 100
	massDisconnectShare     = 5
)

// massDisconnects watches the rate of widget stream closes. The
// presenceTracker calls it with its mutex held.
type massDisconnects struct {
	windowStart time.Time
	openAtStart int // widget streams open when the window began
	closes      int // in this window
	// pending are the departures armed with the presence grace that may
	// not have happened yet, oldest first: if a mass disconnect begins,
	// they are put off too. A storm's closes reach a saturated server over
	// seconds, so those noticed before the second that crossed the
	// threshold belong to it as well (a 19,000-stream storm on a slow day
	// lost 46 chats when only that second's were put off).
	pending []pendingDeparture
	// until is when the last mass disconnect is over: a storm's closes
	// reach a saturated server over seconds, and every one of them gets
	// the longer grace.
	until time.Time
}

type pendingDeparture struct {
	v        *visit
	gen      uint64
	closedAt time.Time
}

// closed counts a stream closing at now, with open streams open before it.
// It reports whether the close is part of a mass disconnect, and whether
// this close began one (the caller then puts off the pending departures).
// A mass disconnect lasts grace (the presence grace) past its last busy
// second.
func (m *massDisconnects) closed(now time.Time, open int, grace time.Duration) (mass, began bool) {
	if now.Sub(m.windowStart) >= massDisconnectWindow {
		pending := departedBefore(m.pending, now.Add(-grace))
		*m = massDisconnects{windowStart: now, openAtStart: open, pending: pending, until: m.until}
	}
	m.closes++
	if m.closes >= max(massDisconnectMinCloses, m.openAtStart/massDisconnectShare) {
		began = !now.Before(m.until)
		m.until = now.Add(grace)
	}
	return now.Before(m.until), began
}

// departedBefore drops the departures of streams closed at or before t,
// whose presence grace is over: those visitors are gone.
func departedBefore(pending []pendingDeparture, t time.Time) []pendingDeparture {
	i := 0
	for i < len(pending) && !pending[i].closedAt.After(t) {
		i++
	}
	n := copy(pending, pending[i:])
	clear(pending[n:])
	return pending[:n]
}
