package bolt_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// reopen closes s and opens its file again; the new store is closed when
// the test ends.
func reopen(t *testing.T, s *bolt.Store) *bolt.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// putInvitations stores the invitations in one Update.
func putInvitations(t *testing.T, s *bolt.Store, invs ...*domain.Invitation) {
	t.Helper()
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, inv := range invs {
			if err := tx.PutInvitation(inv); err != nil {
				return err
			}
		}
		return nil
	})
}

// pendingIDs lists the ids PendingInvitations returns.
func pendingIDs(t *testing.T, s *bolt.Store) []string {
	t.Helper()
	var ids []string
	MustView(t, s, func(tx domain.ReadTx) error {
		invs, err := tx.PendingInvitations()
		for _, inv := range invs {
			if inv.State != domain.InvitationPending {
				t.Errorf("PendingInvitations returned %q in state %d", inv.ID, inv.State)
			}
			ids = append(ids, inv.ID)
		}
		return err
	})
	return ids
}

func TestPendingInvitations(t *testing.T) {
	inv := func(id string, state domain.InvitationState) *domain.Invitation {
		return &domain.Invitation{ID: id, SiteID: "s1", VisitorID: "v_" + id, State: state, CreateTime: at(1)}
	}
	s := MustOpen(t)
	if got := pendingIDs(t, s); got != nil {
		t.Fatalf("empty store: pending %v", got)
	}

	putInvitations(t, s, inv("c", domain.InvitationPending), inv("a", domain.InvitationPending),
		inv("b", domain.InvitationDeclined), inv("d", domain.InvitationUnspecified))
	if got, want := pendingIDs(t, s), []string{"a", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}

	// Every final state leaves the index; a pending one joins it.
	putInvitations(t, s, inv("a", domain.InvitationAccepted), inv("b", domain.InvitationPending))
	if got, want := pendingIDs(t, s), []string{"b", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after accepting a and re-inviting b: pending %v, want %v", got, want)
	}
	for _, state := range []domain.InvitationState{domain.InvitationDeclined, domain.InvitationExpired, domain.InvitationWithdrawn} {
		putInvitations(t, s, inv("x", domain.InvitationPending))
		putInvitations(t, s, inv("x", state))
		if got, want := pendingIDs(t, s), []string{"b", "c"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after state %d: pending %v, want %v", state, got, want)
		}
	}

	// Pending again within one transaction: the last put wins.
	putInvitations(t, s, inv("a", domain.InvitationPending), inv("c", domain.InvitationExpired), inv("c", domain.InvitationPending))
	if got, want := pendingIDs(t, s), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pending %v, want %v", got, want)
	}

	// A failed Update leaves the index as it was.
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx domain.WriteTx) error {
		if err := tx.PutInvitation(inv("a", domain.InvitationAccepted)); err != nil {
			return err
		}
		if err := tx.PutInvitation(inv("e", domain.InvitationPending)); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update: %v, want %v", err, boom)
	}
	if got, want := pendingIDs(t, s), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a failed Update: pending %v, want %v", got, want)
	}

	s = reopen(t, s)
	if got, want := pendingIDs(t, s), []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopening: pending %v, want %v", got, want)
	}
	MustView(t, s, func(tx domain.ReadTx) error {
		got, err := tx.Invitation("d")
		if want := inv("d", domain.InvitationUnspecified); err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Invitation(d) = %+v, want %+v", got, want)
		}
		return err
	})
}

// request is a queued chat request of site enqueued at time n.
func request(site, id string, n int) *domain.ChatRequest {
	return &domain.ChatRequest{ID: id, SiteID: site, VisitorID: "v_" + id, Kind: domain.RequestInvited,
		State: domain.RequestQueued, EnqueueTime: at(n)}
}

func putRequests(t *testing.T, s *bolt.Store, reqs ...*domain.ChatRequest) {
	t.Helper()
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for _, r := range reqs {
			if err := tx.PutChatRequest(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// openIDs lists the ids OpenChatRequests(siteID) returns, failing unless
// every one of them is open and of the site.
func openIDs(t *testing.T, s *bolt.Store, siteID string) []string {
	t.Helper()
	var ids []string
	MustView(t, s, func(tx domain.ReadTx) error {
		reqs, err := tx.OpenChatRequests(siteID)
		for _, r := range reqs {
			if !r.Open() || (siteID != "" && r.SiteID != siteID) {
				t.Errorf("OpenChatRequests(%q) returned %+v", siteID, r)
			}
			ids = append(ids, r.ID)
		}
		return err
	})
	return ids
}

func TestOpenChatRequests(t *testing.T) {
	t.Run("FIFO", func(t *testing.T) {
		s := MustOpen(t)
		// Stored out of order; "b" and "a" tie on time, and 300s crosses
		// more than one byte of the nanosecond key.
		putRequests(t, s, request("s1", "d", 300), request("s1", "b", 2), request("s1", "c", 5))
		putRequests(t, s, request("s1", "a", 2), request("s1", "e", 1))
		want := []string{"e", "a", "b", "c", "d"}
		if got := openIDs(t, s, "s1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("open %v, want %v", got, want)
		}
		s = reopen(t, s)
		if got := openIDs(t, s, "s1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("after reopening: open %v, want %v", got, want)
		}
		if got := openIDs(t, s, "s2"); got != nil {
			t.Fatalf("other site: open %v, want none", got)
		}
	})

	t.Run("OddTimes", func(t *testing.T) {
		// Times the nanosecond key cannot hold still come out in order.
		s := MustOpen(t)
		early, late := request("s1", "early", 0), request("s1", "late", 0)
		early.EnqueueTime = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)
		late.EnqueueTime = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
		zero := request("s1", "zero", 0)
		zero.EnqueueTime = time.Time{}
		putRequests(t, s, late, request("s1", "now", 1), early, zero)
		want := []string{"zero", "early", "now", "late"}
		if got := openIDs(t, s, "s1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("open %v, want %v", got, want)
		}
		putRequests(t, s, &domain.ChatRequest{ID: "zero", SiteID: "s1", State: domain.RequestAbandoned},
			&domain.ChatRequest{ID: "late", SiteID: "s1", State: domain.RequestAbandoned})
		if got, want := openIDs(t, s, "s1"), []string{"early", "now"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after closing: open %v, want %v", got, want)
		}
	})

	t.Run("ClosingRemoves", func(t *testing.T) {
		s := MustOpen(t)
		putRequests(t, s, request("s1", "a", 1), request("s1", "b", 2), request("s1", "c", 3), request("s1", "d", 4))

		// Alerting is still open and keeps its place.
		alerting := request("s1", "b", 2)
		alerting.State, alerting.AlertedAgentID, alerting.AlertDeadline = domain.RequestAlerting, "agt_1", at(40)
		putRequests(t, s, alerting)
		if got, want := openIDs(t, s, "s1"), []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after alerting b: open %v, want %v", got, want)
		}

		accepted := request("s1", "b", 2)
		accepted.State, accepted.ChatID, accepted.CloseTime = domain.RequestAccepted, "chat_1", at(41)
		abandoned := request("s1", "c", 3)
		abandoned.State, abandoned.CloseTime = domain.RequestAbandoned, at(42)
		putRequests(t, s, accepted, abandoned)
		want := []string{"a", "d"}
		if got := openIDs(t, s, "s1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("after closing b and c: open %v, want %v", got, want)
		}
		if got := openIDs(t, s, ""); !reflect.DeepEqual(got, want) {
			t.Fatalf("all sites after closing b and c: open %v, want %v", got, want)
		}
		check := func(s *bolt.Store) {
			t.Helper()
			MustView(t, s, func(tx domain.ReadTx) error {
				for _, want := range []*domain.ChatRequest{accepted, abandoned} {
					got, err := tx.ChatRequest(want.ID)
					if err != nil {
						return err
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("ChatRequest(%q) = %+v, want %+v", want.ID, got, want)
					}
				}
				return nil
			})
		}
		check(s)

		// Putting a closed request again does not bring it back.
		putRequests(t, s, abandoned)
		s = reopen(t, s)
		if got := openIDs(t, s, "s1"); !reflect.DeepEqual(got, want) {
			t.Fatalf("after reopening: open %v, want %v", got, want)
		}
		check(s)

		// A closed request put back in the queue rejoins it.
		putRequests(t, s, request("s1", "c", 3))
		if got, want := openIDs(t, s, "s1"), []string{"a", "c", "d"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after requeueing c: open %v, want %v", got, want)
		}
	})

	t.Run("KeyFollowsStoredVersion", func(t *testing.T) {
		s := MustOpen(t)
		putRequests(t, s, request("s1", "a", 1), request("s1", "b", 2), request("s1", "c", 3))
		// A new enqueue time moves the request; its old entry goes.
		putRequests(t, s, request("s1", "a", 4))
		if got, want := openIDs(t, s, "s1"), []string{"b", "c", "a"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after moving a: open %v, want %v", got, want)
		}
		// So does a new site.
		putRequests(t, s, request("s2", "b", 2))
		if got, want := openIDs(t, s, "s1"), []string{"c", "a"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("s1 after moving b to s2: open %v, want %v", got, want)
		}
		if got, want := openIDs(t, s, "s2"), []string{"b"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("s2 after moving b to s2: open %v, want %v", got, want)
		}
		// And closing with a different enqueue time still removes the
		// entry of the stored one.
		closed := request("s1", "c", 9)
		closed.State = domain.RequestAbandoned
		putRequests(t, s, closed)
		if got, want := openIDs(t, s, ""), []string{"b", "a"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after closing c: open %v, want %v", got, want)
		}
	})

	t.Run("SiteIsolation", func(t *testing.T) {
		s := MustOpen(t)
		// "s1" is a prefix of "s10"; a site of one byte less or more must
		// not read into either.
		putRequests(t, s,
			request("s10", "x1", 1), request("s1", "y2", 2), request("s10", "x3", 3),
			request("s1", "y4", 4), request("s", "z5", 5), request("s2", "w0", 0))
		for _, tc := range []struct {
			site string
			want []string
		}{
			{"s1", []string{"y2", "y4"}},
			{"s10", []string{"x1", "x3"}},
			{"s", []string{"z5"}},
			{"s2", []string{"w0"}},
			{"s3", nil},
			{"", []string{"w0", "x1", "y2", "x3", "y4", "z5"}},
		} {
			if got := openIDs(t, s, tc.site); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("OpenChatRequests(%q) = %v, want %v", tc.site, got, tc.want)
			}
		}
		MustView(t, s, func(tx domain.ReadTx) error {
			if _, err := tx.OpenChatRequests("s1\x00"); domain.ErrorCode(err) != domain.CodeInvalid {
				t.Errorf("NUL in site id: got %v, want invalid argument", err)
			}
			return nil
		})
	})

	t.Run("FailedUpdateLeavesIndex", func(t *testing.T) {
		s := MustOpen(t)
		putRequests(t, s, request("s1", "a", 1), request("s1", "b", 2))
		boom := errors.New("boom")
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			closed := request("s1", "a", 1)
			closed.State = domain.RequestAccepted
			for _, r := range []*domain.ChatRequest{closed, request("s1", "c", 3), request("s1", "b", 7)} {
				if err := tx.PutChatRequest(r); err != nil {
					return err
				}
			}
			return boom
		})
		if err != boom {
			t.Fatalf("Update: %v, want %v", err, boom)
		}
		if got, want := openIDs(t, s, "s1"), []string{"a", "b"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after a failed Update: open %v, want %v", got, want)
		}
	})
}

// appendDecisions appends n decisions of site, numbered from first on, in one
// Update; each decision's AgentID is its number.
func appendDecisions(t *testing.T, s *bolt.Store, site string, first, n int) {
	t.Helper()
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for i := first; i < first+n; i++ {
			d := &domain.RoutingDecision{ChatRequestID: "req", SiteID: site, Time: at(i % 60), AgentID: fmt.Sprint(i), Reason: "r"}
			if err := tx.AppendRoutingDecision(d); err != nil {
				return err
			}
		}
		return nil
	})
}

// decisionNumbers lists the numbers RoutingDecisions(site, limit) returns.
func decisionNumbers(t *testing.T, s *bolt.Store, site string, limit int) []string {
	t.Helper()
	var out []string
	MustView(t, s, func(tx domain.ReadTx) error {
		ds, err := tx.RoutingDecisions(site, limit)
		for _, d := range ds {
			if d.SiteID != site {
				t.Errorf("RoutingDecisions(%q) returned one of %q", site, d.SiteID)
			}
			out = append(out, d.AgentID)
		}
		return err
	})
	return out
}

// numbers lists from down to to as strings.
func numbers(from, to int) []string {
	var out []string
	for i := from; i >= to; i-- {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func TestRoutingDecisions(t *testing.T) {
	t.Run("NewestFirst", func(t *testing.T) {
		s := MustOpen(t)
		appendDecisions(t, s, "s1", 1, 3)
		appendDecisions(t, s, "s10", 100, 2)
		appendDecisions(t, s, "s1", 4, 300) // the sequence crosses a byte
		appendDecisions(t, s, "s", 200, 1)
		for _, tc := range []struct {
			site  string
			limit int
			want  []string
		}{
			{"s1", 3, numbers(303, 301)},
			{"s1", 0, numbers(303, 1)},
			{"s1", -1, numbers(303, 1)},
			{"s1", 1000, numbers(303, 1)},
			{"s10", 10, numbers(101, 100)},
			{"s", 10, numbers(200, 200)},
			{"s2", 10, nil},
			{"", 10, nil},
		} {
			if got := decisionNumbers(t, s, tc.site, tc.limit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RoutingDecisions(%q, %d) = %v, want %v", tc.site, tc.limit, got, tc.want)
			}
		}
		want := &domain.RoutingDecision{ChatRequestID: "req", SiteID: "s10", Time: at(101 % 60), AgentID: "101", Reason: "r"}
		s = reopen(t, s)
		MustView(t, s, func(tx domain.ReadTx) error {
			got, err := tx.RoutingDecisions("s10", 1)
			if err == nil && !reflect.DeepEqual(got, []*domain.RoutingDecision{want}) {
				t.Errorf("after reopening: got %+v, want %+v", got, want)
			}
			return err
		})
	})

	t.Run("KeepsLatest1000", func(t *testing.T) {
		s := MustOpen(t)
		appendDecisions(t, s, "s10", 0, 5)
		appendDecisions(t, s, "s1", 1, 1005)
		if got, want := decisionNumbers(t, s, "s1", 0), numbers(1005, 6); !reflect.DeepEqual(got, want) {
			t.Fatalf("kept %d decisions, %v … %v; want %d, %v … %v",
				len(got), got[:1], got[len(got)-1:], len(want), want[:1], want[len(want)-1:])
		}
		// Across Updates and a reopen, the count carries on.
		s = reopen(t, s)
		appendDecisions(t, s, "s1", 1006, 1)
		appendDecisions(t, s, "s1", 1007, 2)
		if got, want := decisionNumbers(t, s, "s1", 0), numbers(1008, 9); !reflect.DeepEqual(got, want) {
			t.Fatalf("kept %d decisions, %v … %v; want %d, %v … %v",
				len(got), got[:1], got[len(got)-1:], len(want), want[:1], want[len(want)-1:])
		}
		// Trimming one site leaves the others alone.
		if got, want := decisionNumbers(t, s, "s10", 0), numbers(4, 0); !reflect.DeepEqual(got, want) {
			t.Fatalf("s10: %v, want %v", got, want)
		}
	})

	t.Run("FailedUpdateKeepsDecisions", func(t *testing.T) {
		s := MustOpen(t)
		appendDecisions(t, s, "s1", 1, 1000)
		boom := errors.New("boom")
		err := s.Update(t.Context(), func(tx domain.WriteTx) error {
			for i := range 10 {
				if err := tx.AppendRoutingDecision(&domain.RoutingDecision{SiteID: "s1", AgentID: fmt.Sprint(2000 + i)}); err != nil {
					return err
				}
			}
			return boom
		})
		if err != boom {
			t.Fatalf("Update: %v, want %v", err, boom)
		}
		if got, want := decisionNumbers(t, s, "s1", 0), numbers(1000, 1); !reflect.DeepEqual(got, want) {
			t.Fatalf("after a failed Update: %d decisions, want %d", len(got), len(want))
		}
	})

	t.Run("ErrNUL", func(t *testing.T) {
		s := MustOpen(t)
		MustView(t, s, func(tx domain.ReadTx) error {
			if _, err := tx.RoutingDecisions("s1\x00", 10); domain.ErrorCode(err) != domain.CodeInvalid {
				t.Errorf("got %v, want invalid argument", err)
			}
			return nil
		})
	})
}
