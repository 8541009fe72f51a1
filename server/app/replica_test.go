package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
)

// servedFromFile is what n's status says it served from its own file.
func servedFromFile(t *testing.T, n *testNode) int64 {
	t.Helper()
	st, err := n.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.ServedFromFile
}

// waitServesReads waits until each of nodes serves the event log's reads
// from its own file (a follower's replica is up once it follows).
func waitServesReads(t *testing.T, nodes ...*testNode) {
	t.Helper()
	deadline := time.Now().Add(converge)
	for _, n := range nodes {
		for {
			st, err := n.Status()
			if err == nil && st.ServesReads {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve reads from its file: %+v, %v", n.name, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// fromFile runs call until f served it from its own file, and undo
// after each call that went to the leader: a follower that cannot tell in
// time that its file is current (a slow JetStream, under -race on a busy
// machine) sends the call to the leader instead, which answers it as
// well. A stream's node chooses where to open it after the client's call
// has returned: the count is waited for, past the follower's bound on
// that choice.
func fromFile(t *testing.T, f *testNode, call func(), undo func()) {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		before := servedFromFile(t, f)
		call()
		for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
			if servedFromFile(t, f) > before {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sent every call to the leader", f.name)
		}
		undo()
	}
}

// A follower answers the reads of what is stored from its own file, in
// every protocol but REST, and a client reads its own writes there: what
// was written through the leader a moment before is in each answer. The
// followers here apply the log only when a read waits for it (their
// batching window is an hour), so a follower that answered without first
// reaching the log's end would miss it, and would not know a key made a
// moment before (Unauthenticated).
func TestCluster_AFollowerServesReadsFromItsOwnFile(t *testing.T) {
	nodes := startNodesWith(t, 3, nodeOptions{leaseTTL: clusterLeaseTTL, before: func(n *app.Node) { n.SetFollowerWindow(time.Hour) }})
	leader, followers := leaderAndFollowers(t, nodes)
	waitServesReads(t, followers...)
	ctx := testContext(t)
	admin := newConnectClient(t, leader.srv)
	f := followers[0]
	for _, p := range protocols {
		if p.name == "REST" {
			continue // the gateway's calls go to the leader
		}
		t.Run(p.name, func(t *testing.T) {
			c := p.newClient(t, f.srv)
			w := newWorld(t, ctx, admin, enabledWithoutInvite())
			chat := w.startChat(t, ctx, admin)
			text := "Hello from " + p.name
			sent := send(t, ctx, admin, chat.GetId(), w.agent.GetId(), text)
			note := must[*pb.AddNoteResponse](t, "AddNote")(admin.AddNote(ctx, &pb.AddNoteRequest{ChatId: chat.GetId(), AuthorId: w.agent.GetId(), Text: "VIP"})).GetNote()
			reads := []struct {
				name string
				read func() error
			}{
				{"GetSite", func() error {
					got, err := c.GetSite(ctx, &pb.GetSiteRequest{SiteId: w.site.GetId()})
					return want(err, got.GetSite().GetName() == w.site.GetName(), got)
				}},
				{"ListSites", func() error {
					got, err := c.ListSites(ctx, &pb.ListSitesRequest{})
					return want(err, slices.ContainsFunc(got.GetSites(), func(s *pb.Site) bool { return s.GetId() == w.site.GetId() }), got)
				}},
				{"GetAgent", func() error {
					got, err := c.GetAgent(ctx, &pb.GetAgentRequest{AgentId: w.agent.GetId()})
					return want(err, got.GetAgent().GetStatus() == pb.AgentStatus_AGENT_STATUS_AVAILABLE, got)
				}},
				{"ListAgents", func() error {
					got, err := c.ListAgents(ctx, &pb.ListAgentsRequest{SiteId: w.site.GetId()})
					return want(err, len(got.GetAgents()) == 1 && got.GetAgents()[0].GetId() == w.agent.GetId(), got)
				}},
				{"GetChat", func() error {
					got, err := c.GetChat(ctx, &pb.GetChatRequest{ChatId: chat.GetId()})
					return want(err, got.GetChat().GetLastSeq() == sent.GetSeq(), got)
				}},
				{"ListChats", func() error {
					got, err := c.ListChats(ctx, &pb.ListChatsRequest{SiteId: w.site.GetId()})
					return want(err, len(got.GetChats()) == 1 && got.GetChats()[0].GetChat().GetId() == chat.GetId(), got)
				}},
				{"ListChatEvents", func() error {
					got, err := c.ListChatEvents(ctx, &pb.ListChatEventsRequest{ChatId: chat.GetId()})
					evs := got.GetEvents()
					return want(err, len(evs) > 0 && evs[len(evs)-1].GetMessage().GetText() == text, got)
				}},
				{"GetChatTranscript", func() error {
					got, err := c.GetChatTranscript(ctx, &pb.GetChatTranscriptRequest{ChatId: chat.GetId()})
					return want(err, strings.Contains(got.GetText(), text), got)
				}},
				{"ListNotes", func() error {
					got, err := c.ListNotes(ctx, &pb.ListNotesRequest{ChatId: chat.GetId()})
					return want(err, len(got.GetNotes()) == 1 && got.GetNotes()[0].GetSeq() == note.GetSeq(), got)
				}},
				{"ListEvents", func() error {
					got, err := c.ListEvents(ctx, &pb.ListEventsRequest{SiteId: w.site.GetId(), Types: []string{"chat.message"}})
					evs := got.GetEvents()
					return want(err, len(evs) == 1 && evs[0].GetChatMessage().GetText() == text, got)
				}},
			}
			for _, r := range reads {
				fromFile(t, f, func() {
					if err := r.read(); err != nil {
						t.Fatalf("%s on the follower: %v", r.name, err)
					}
				}, func() {})
			}
		})
	}
	// A key made through the leader a moment before opens a read on the
	// follower; bad input is answered as the leader does.
	raw := rawConnectClient(t, f.srv)
	key := must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(admin.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "reader"})).GetKey()
	fromFile(t, f, func() {
		must[*pb.ListSitesResponse](t, "ListSites with a new key")(raw.ListSites(withToken(ctx, key), &pb.ListSitesRequest{}))
	}, func() {})
	_, err := raw.ListEvents(withToken(ctx, key), &pb.ListEventsRequest{Types: []string{"nope"}})
	wantCode(t, err, connect.CodeInvalidArgument)
	_, err = raw.GetChat(withToken(ctx, key), &pb.GetChatRequest{ChatId: "chat_none"})
	wantCode(t, err, connect.CodeNotFound)
	_, err = raw.ListEvents(withToken(ctx, "pca_nope"), &pb.ListEventsRequest{})
	wantCode(t, err, connect.CodeUnauthenticated)
}

// want is err, or an error showing got when ok is false.
func want(err error, ok bool, got any) error {
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("answered %v", got)
	}
	return nil
}

// denseEvents reads the whole event log from s, checking that each event
// follows the one before (nothing missed, nothing repeated): next reads
// until an event matches.
func denseEvents(t *testing.T, name string, s stream[pb.WatchEventsResponse]) (next func(match func(*pb.Event) bool)) {
	var last uint64
	return func(match func(*pb.Event) bool) {
		t.Helper()
		for {
			m, err := s.Recv()
			if err != nil {
				t.Fatalf("%s: the event stream failed after %d: %v", name, last, err)
			}
			ev := m.GetEvent()
			if ev == nil {
				continue
			}
			if ev.GetPosition() != last+1 {
				t.Fatalf("%s: event at %d after %d", name, ev.GetPosition(), last)
			}
			last = ev.GetPosition()
			if match(ev) {
				return
			}
		}
	}
}

func siteCreated(id string) func(*pb.Event) bool {
	return func(ev *pb.Event) bool { return ev.GetType() == "site.created" && ev.GetSiteId() == id }
}

// createSiteUntilAcked creates a site, retrying while the cluster has no
// leader (UNAVAILABLE).
func createSiteUntilAcked(t *testing.T, ctx context.Context, c api, name string) *pb.Site {
	t.Helper()
	deadline := time.Now().Add(converge)
	for {
		res, err := c.CreateSite(ctx, &pb.CreateSiteRequest{Name: name, AllowedOrigins: []string{origin}})
		if err == nil {
			return res.GetSite()
		}
		if connect.CodeOf(err) != connect.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("CreateSite %q: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The followers serve the integrations' event streams from their own
// files: a revoked key's stream ends there at once, and the streams read
// on through the leader's death, every event once and in order, the next
// leader's included. One of the two followers becomes that leader: its
// stream moves from its file to its domain, after its last event.
func TestCluster_EventStreamsOnFollowersCarryOnWhenTheLeaderDies(t *testing.T) {
	nodes := startNodes(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*converge)
	defer cancel()
	leader, followers := leaderAndFollowers(t, nodes)
	waitServesReads(t, followers...)
	admin := newConnectClient(t, leader.srv)
	clients := []api{newGRPCClient(t, followers[0].srv), newConnectClient(t, followers[1].srv)}
	var reads []func(func(*pb.Event) bool)
	for i, f := range followers {
		var s stream[pb.WatchEventsResponse]
		fromFile(t, f, func() {
			s = must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(clients[i].WatchEvents(ctx, &pb.WatchEventsRequest{}))
		}, func() { s.Close() })
		t.Cleanup(s.Close)
		reads = append(reads, denseEvents(t, f.name, s))
		site := createSite(t, ctx, admin, "Before "+f.name, enabledWithoutInvite())
		for _, read := range reads {
			read(siteCreated(site.GetId()))
		}
	}

	// A key revoked through the leader ends its stream on a follower.
	key := must[*pb.CreateApiKeyResponse](t, "CreateApiKey")(admin.CreateApiKey(ctx, &pb.CreateApiKeyRequest{Name: "to revoke"}))
	ks := must[stream[pb.WatchEventsResponse]](t, "WatchEvents")(rawGRPCClient(t, followers[0].srv).WatchEvents(withToken(ctx, key.GetKey()), &pb.WatchEventsRequest{}))
	t.Cleanup(ks.Close)
	recvUntil(t, ks, func(m *pb.WatchEventsResponse) bool { return m.GetEvent() != nil })
	must[*pb.RevokeApiKeyResponse](t, "RevokeApiKey")(admin.RevokeApiKey(ctx, &pb.RevokeApiKeyRequest{ApiKeyId: key.GetApiKey().GetId()}))
	for {
		_, err := ks.Recv()
		if err != nil {
			wantCode(t, err, connect.CodeUnauthenticated)
			break
		}
	}

	leader.Crash()
	for i, f := range followers {
		site := createSiteUntilAcked(t, ctx, clients[i], fmt.Sprintf("After, through %s", f.name))
		for _, read := range reads {
			read(siteCreated(site.GetId()))
		}
	}
}

// With ReadsOnLeader (-reads-on-leader) a follower serves no read from
// its file: each goes to the leader, as before followers served reads.
func TestCluster_ReadsOnLeaderSendsEveryReadToTheLeader(t *testing.T) {
	nodes := startNodesWith(t, 3, nodeOptions{configure: func(cc *app.ClusterConfig) { cc.ReadsOnLeader = true }})
	leader, followers := leaderAndFollowers(t, nodes)
	ctx := testContext(t)
	site := createSite(t, ctx, newConnectClient(t, leader.srv), "Shoe shop", enabledWithoutInvite())
	pos, err := leader.Store().Position()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		// Its Follower has applied the site: were its replica to be
		// made, it would be up by now (it is made before the Follower
		// runs).
		for deadline := time.Now().Add(converge); ; time.Sleep(10 * time.Millisecond) {
			if st, err := f.Status(); err == nil && st.Position >= pos {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not apply the log", f.name)
			}
		}
		got := must[*pb.GetSiteResponse](t, "GetSite")(newGRPCClient(t, f.srv).GetSite(ctx, &pb.GetSiteRequest{SiteId: site.GetId()}))
		if got.GetSite().GetName() != "Shoe shop" {
			t.Fatalf("%s: GetSite answered %v", f.name, got)
		}
		if st, err := f.Status(); err != nil || st.ServedFromFile != 0 || st.ServesReads {
			t.Fatalf("%s: %+v, %v; want no read served from its file", f.name, st, err)
		}
	}
}
