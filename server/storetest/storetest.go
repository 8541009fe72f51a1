// Package storetest is the conformance suite of domain.Store: one set of
// tests that every store implementation runs, so that the domain can rely on
// the contract written in server/domain/store.go and on nothing else. The
// embedded bbolt store runs it today (server/bolt); a replicated store runs
// the same suite before it may take bbolt's place.
//
// The suite talks to the store only through domain.Store. Each test opens
// a fresh, empty store with the open function it is given.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// Run runs the whole suite against the stores open returns. open must
// return a new, empty store each time and close it when t ends (Run may
// close it earlier; a second Close must be harmless).
func Run(t *testing.T, open func(t *testing.T) domain.Store) {
	t.Run("Records", func(t *testing.T) { testRecords(t, open) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open) })
	t.Run("Copies", func(t *testing.T) { testCopies(t, open) })
	t.Run("IDOrder", func(t *testing.T) { testIDOrder(t, open) })
	t.Run("ReadOwnWrites", func(t *testing.T) { testReadOwnWrites(t, open) })
	t.Run("AgentLogins", func(t *testing.T) { testAgentLogins(t, open) })
	t.Run("VisitorTokens", func(t *testing.T) { testVisitorTokens(t, open) })
	t.Run("ChatEvents", func(t *testing.T) { testChatEvents(t, open) })
	t.Run("MessageKeys", func(t *testing.T) { testMessageKeys(t, open) })
	t.Run("NotesAndWhispers", func(t *testing.T) { testNotesAndWhispers(t, open) })
	t.Run("ActiveChats", func(t *testing.T) { testActiveChats(t, open) })
	t.Run("SiteChats", func(t *testing.T) { testSiteChats(t, open) })
	t.Run("PendingInvitations", func(t *testing.T) { testPendingInvitations(t, open) })
	t.Run("Queue", func(t *testing.T) { testQueue(t, open) })
	t.Run("RoutingDecisions", func(t *testing.T) { testRoutingDecisions(t, open) })
	t.Run("CannedReplies", func(t *testing.T) { testCannedReplies(t, open) })
	t.Run("OfflineMessages", func(t *testing.T) { testOfflineMessages(t, open) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open) })
	t.Run("Ratings", func(t *testing.T) { testRatings(t, open) })
	t.Run("Funnel", func(t *testing.T) { testFunnel(t, open) })
	t.Run("Visitors", func(t *testing.T) { testVisitors(t, open) })
	t.Run("EventLog", func(t *testing.T) { testEventLog(t, open) })
	t.Run("Webhooks", func(t *testing.T) { testWebhooks(t, open) })
	t.Run("EraseVisitor", func(t *testing.T) { testEraseVisitor(t, open) })
	t.Run("DeleteChat", func(t *testing.T) { testDeleteChat(t, open) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open) })
	t.Run("Atomicity", func(t *testing.T) { testAtomicity(t, open) })
	t.Run("Serializable", func(t *testing.T) { testSerializable(t, open) })
	t.Run("OnCommit", func(t *testing.T) { testOnCommit(t, open) })
	t.Run("View", func(t *testing.T) { testView(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
}

var bg = context.Background()

// at is a fixed instant n seconds into the suite's day, with nanoseconds
// so that a store that drops them is noticed.
func at(n int) time.Time {
	return time.Date(2026, 11, 24, 10, 0, 0, 1000, time.UTC).Add(time.Duration(n) * time.Second)
}

func mustUpdate(t *testing.T, s domain.Store, fn func(domain.WriteTx) error) {
	t.Helper()
	if err := s.Update(bg, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t *testing.T, s domain.Store, fn func(domain.ReadTx) error) {
	t.Helper()
	if err := s.View(bg, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// read returns what get reads in a View of its own.
func read[T any](t *testing.T, s domain.Store, get func(domain.ReadTx) (T, error)) T {
	t.Helper()
	var out T
	mustView(t, s, func(tx domain.ReadTx) (err error) {
		out, err = get(tx)
		return err
	})
	return out
}

// equal fails t unless got deep-equals want.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantCode fails t unless err carries code.
func wantCode(t *testing.T, what string, err error, code domain.Code) {
	t.Helper()
	if got := domain.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %v), want code %v", what, err, got, code)
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func visitorP(id string) domain.Participant {
	return domain.Participant{Role: domain.RoleVisitor, ID: id, DisplayName: "Visitor " + id}
}

func agentP(id string) domain.Participant {
	return domain.Participant{Role: domain.RoleAgent, ID: id, DisplayName: "Agent " + id}
}

func newSite(id string) *domain.Site {
	return &domain.Site{
		ID:             id,
		Name:           "Shop " + id,
		AllowedOrigins: []string{"https://" + id + ".example"},
		ProactiveChat: domain.ProactiveChatSettings{
			Enabled:            true,
			Mode:               domain.ModeWithInvite,
			LaunchAfterSeconds: 30,
			InviteText:         "Can we help?",
			FormFields: []domain.FormField{
				{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: true, MaxLength: 254},
			},
		},
		CreateTime: at(1),
		UpdateTime: at(2),
	}
}

func newAgent(id string, sites ...string) *domain.Agent {
	return &domain.Agent{
		ID:                 id,
		DisplayName:        "Agent " + id,
		SiteIDs:            sites,
		MaxConcurrentChats: 3,
		Status:             domain.StatusAvailable,
		StatusChangeTime:   at(3),
		CreateTime:         at(4),
	}
}

func newVisitor(id, site string) *domain.Visitor {
	return &domain.Visitor{
		ID:             id,
		SiteID:         site,
		CreateTime:     at(5),
		CurrentPage:    domain.PageView{URL: "https://shop.example/", Title: "Home", ViewTime: at(6)},
		Engagement:     domain.EngagementBrowsing,
		VisitStartTime: at(5),
	}
}

// newChat is an active chat of visitor with agent, started at at(n).
func newChat(id, site, visitor, agent string, n int) *domain.Chat {
	return &domain.Chat{
		ID:               id,
		SiteID:           site,
		Visitor:          visitorP(visitor),
		Agent:            agentP(agent),
		State:            domain.ChatStateActive,
		CreateTime:       at(n),
		LastActivityTime: at(n),
	}
}

func started(c *domain.Chat) domain.ChatEvent {
	return domain.ChatEvent{ChatID: c.ID, Seq: 1, Time: c.CreateTime,
		Started: &domain.ChatStarted{Visitor: c.Visitor, Agent: c.Agent}}
}

func message(chatID string, seq uint32, from domain.Participant, key string) domain.ChatEvent {
	return domain.ChatEvent{ChatID: chatID, Seq: seq, Time: at(100 + int(seq)),
		Message: &domain.ChatMessage{Sender: from, Text: fmt.Sprintf("message %d", seq), IdempotencyKey: key}}
}

func newInvitation(id, site, visitor string, state domain.InvitationState) *domain.Invitation {
	return &domain.Invitation{ID: id, SiteID: site, VisitorID: visitor, State: state, Text: "Can we help?",
		CreateTime: at(7), ExpireTime: at(37), InvitedByAgentID: "agt_1"}
}

// newRequest is a queued request enqueued at at(n).
func newRequest(id, site, visitor string, n int) *domain.ChatRequest {
	return &domain.ChatRequest{ID: id, SiteID: site, VisitorID: visitor, Kind: domain.RequestInvited,
		State: domain.RequestQueued, FormValues: map[string]string{"email": visitor + "@example.com"},
		EnqueueTime: at(n), PageURL: "https://shop.example/", PageTitle: "Home", VisitStartTime: at(5)}
}

// alerting is req offered to agent until at(n).
func alerting(req *domain.ChatRequest, agent string, n int) *domain.ChatRequest {
	r := *req
	r.State, r.AlertedAgentID, r.AlertDeadline, r.AlertReason = domain.RequestAlerting, agent, at(n), "longest idle"
	return &r
}

func newOffline(id, site, visitor string, n int) *domain.OfflineMessage {
	return &domain.OfflineMessage{ID: id, SiteID: site, VisitorID: visitor, Name: "Bo", Email: "bo@example.com",
		Text: "Call me", Page: "https://shop.example/", CreateTime: at(n), State: domain.OfflineMessageNew, RequestID: "r-" + id}
}

// newEvent is an event of typ; the store keeps only the fields of its type
// (events.go), so callers set only those.
func newEvent(typ domain.EventType, site, visitor string, n int) *domain.Event {
	return &domain.Event{Type: typ, Time: at(n), SiteID: site, VisitorID: visitor}
}

// ids returns the IDs of records, in their order.
func ids[T any](records []T, id func(T) string) []string {
	out := []string{}
	for _, r := range records {
		out = append(out, id(r))
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

// seqsOf lists the Seqs of events, notes or whispers.
func seqsOf[T any](records []T, seq func(T) uint32) []uint32 {
	out := []uint32{}
	for _, r := range records {
		out = append(out, seq(r))
	}
	return out
}

func seqRange(from, to uint32) []uint32 {
	out := []uint32{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func eventSeq(e domain.ChatEvent) uint32 { return e.Seq }
