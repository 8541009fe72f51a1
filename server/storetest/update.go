package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

var errBoom = errors.New("boom")

// testUpdate: what Update returns.
func testUpdate(t *testing.T, open func(*testing.T) domain.Store) {
	t.Run("ReturnsFnError", func(t *testing.T) {
		s := open(t)
		want := domain.Errorf(domain.CodeFailedPrecondition, "no")
		err := s.Update(bg, func(domain.WriteTx) error { return want })
		if err != want {
			t.Fatalf("Update returned %v, want fn's own error %v", err, want)
		}
	})
	t.Run("ContextEndsWhileQueued", func(t *testing.T) { testContextWhileQueued(t, open) })
	t.Run("KeyedRetries", func(t *testing.T) { testKeyedRetries(t, open) })
	t.Run("DoneContext", func(t *testing.T) {
		s := open(t)
		ctx, cancel := context.WithCancel(bg)
		cancel()
		err := s.Update(ctx, func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_1")) })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Update with a done ctx: %v, want context.Canceled", err)
		}
		sites := read(t, s, func(tx domain.ReadTx) ([]*domain.Site, error) { return tx.Sites() })
		if len(sites) != 0 {
			t.Errorf("Update with a done ctx wrote %d sites", len(sites))
		}
	})
}

// testContextWhileQueued: an Update whose ctx ends while it waits for
// an earlier one either wrote (nil) or did not (ctx's error): never
// anything in between.
func testContextWhileQueued(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	entered, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(bg, func(tx domain.WriteTx) error {
			select {
			case <-entered:
			default:
				close(entered)
			}
			<-release
			return tx.PutSite(newSite("site_1"))
		})
	}()
	<-entered
	ctx, cancel := context.WithCancel(bg)
	second := make(chan error, 1)
	go func() {
		second <- s.Update(ctx, func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_2")) })
	}()
	cancel()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	err := <-second
	sites := read(t, s, func(tx domain.ReadTx) ([]*domain.Site, error) { return tx.Sites() })
	written := len(sites) == 2
	switch {
	case err == nil && !written:
		t.Error("Update returned nil but its write is not there")
	case err != nil && !errors.Is(err, context.Canceled):
		t.Errorf("Update whose ctx ended: %v, want nil or context.Canceled", err)
	case err != nil && written:
		t.Error("Update returned ctx's error but its write is there")
	}
}

// testKeyedRetries: concurrent senders append keyed messages to one chat,
// some in Updates that fail after appending; then every committed key is
// found at its message, and every failed one is unused, so that its retry
// is taken.
func testKeyedRetries(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	c := newChat("chat_1", "site_1", "vis_1", "agt_1", 1)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.PutChat(c); err != nil {
			return err
		}
		return tx.AppendChatEvent(started(c))
	})
	const workers, each = 6, 20
	send := func(key string, fail bool) error {
		return s.Update(bg, func(tx domain.WriteTx) error {
			if _, used, err := tx.MessageSeqByKey("chat_1", "vis_1", key); err != nil || used {
				return fmt.Errorf("key %s: used %v, %v", key, used, err)
			}
			last, err := tx.ChatEvents("chat_1", 0, 0)
			if err != nil {
				return err
			}
			if err := tx.AppendChatEvent(message("chat_1", uint32(len(last)+1), c.Visitor, key)); err != nil {
				return err
			}
			if fail {
				return errBoom
			}
			return nil
		})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed, failed := map[string]bool{}, map[string]bool{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key, fail := fmt.Sprintf("k%d-%d", w, i), (w+i)%3 == 0
				err := send(key, fail)
				mu.Lock()
				switch {
				case err == nil:
					committed[key] = true
				case err == errBoom:
					failed[key] = true
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mustView(t, s, func(tx domain.ReadTx) error {
		events, err := tx.ChatEvents("chat_1", 0, 0)
		if err != nil {
			return err
		}
		if len(events) != 1+len(committed) {
			t.Errorf("%d events, want %d", len(events), 1+len(committed))
		}
		for _, ev := range events[1:] {
			seq, found, err := tx.MessageSeqByKey("chat_1", "vis_1", ev.Message.IdempotencyKey)
			if err != nil || !found || seq != ev.Seq || !committed[ev.Message.IdempotencyKey] {
				t.Errorf("message %d with key %s: found at %d, %v, %v", ev.Seq, ev.Message.IdempotencyKey, seq, found, err)
			}
		}
		return nil
	})
	for key := range failed {
		if err := send(key, false); err != nil {
			t.Errorf("retry of the key of a failed Update: %v", err)
		}
	}
}

// snapshot is everything a ReadTx can list about the records the
// atomicity test writes.
func snapshot(t *testing.T, tx domain.ReadTx) map[string]any {
	t.Helper()
	out := map[string]any{}
	put := func(name string, v any, err error) {
		if err != nil {
			t.Errorf("snapshot %s: %v", name, err)
		}
		out[name] = v
	}
	v1, err := tx.Sites()
	put("sites", v1, err)
	v2, err := tx.Agents()
	put("agents", v2, err)
	v3, err := tx.Visitors("", 0)
	put("visitors", v3, err)
	for _, v := range v3 {
		chats, invs, reqs, err := tx.VisitorRecords(v.ID)
		put("records "+v.ID, [][]string{chats, invs, reqs}, err)
		for _, id := range chats {
			c, err := tx.Chat(id)
			put("chat "+id, c, err)
			evs, err := tx.ChatEvents(id, 0, 0)
			put("events "+id, evs, err)
			notes, err := tx.ChatNotes(id)
			put("notes "+id, notes, err)
			ws, err := tx.ChatWhispers(id)
			put("whispers "+id, ws, err)
		}
		for _, id := range invs {
			i, err := tx.Invitation(id)
			put("invitation "+id, i, err)
		}
		for _, id := range reqs {
			r, err := tx.ChatRequest(id)
			put("request "+id, r, err)
		}
		offs, err := tx.VisitorOfflineMessages(v.ID)
		put("offline "+v.ID, offs, err)
		tok, err := tx.VisitorByTokenHash(hashOf("token " + v.ID))
		if domain.ErrorCode(err) == domain.CodeNotFound {
			tok, err = nil, nil
		}
		put("token "+v.ID, tok, err)
	}
	tok, err := tx.VisitorByTokenHash(hashOf("token vis_new"))
	if domain.ErrorCode(err) == domain.CodeNotFound {
		tok, err = nil, nil
	}
	put("token vis_new", tok, err)
	v4, err := tx.OpenChatRequests("")
	put("open", v4, err)
	v5, err := tx.PendingInvitations()
	put("pending", v5, err)
	v6, err := tx.AlertCounts([]string{"agt_1", "agt_2"})
	put("alerts", v6, err)
	v7, err := tx.ActiveChatIDs()
	put("active", v7, err)
	v8, err := tx.SiteChats("site_1", domain.ChatPosition{}, 1000)
	put("site chats", v8, err)
	v9, err := tx.RoutingDecisions("site_1", 1000)
	put("decisions", v9, err)
	v10, err := tx.CannedReplies("site_1")
	put("canned", v10, err)
	v11, err := tx.SiteOfflineMessages("site_1")
	put("site offline", v11, err)
	v12, err := tx.APIKeys()
	put("api keys", v12, err)
	v13, err := tx.AgentSessions("agt_1")
	put("sessions", v13, err)
	pw, err := tx.AgentPasswordHash("agt_1")
	if domain.ErrorCode(err) == domain.CodeNotFound {
		pw, err = "", nil
	}
	put("password", pw, err)
	sec, err := tx.SiteIdentitySecret("site_1")
	if domain.ErrorCode(err) == domain.CodeNotFound {
		sec, err = "", nil
	}
	put("secret", sec, err)
	login, err := tx.AgentIDByLogin("new@example.com")
	if domain.ErrorCode(err) == domain.CodeNotFound {
		login, err = "", nil
	}
	put("login", login, err)
	v14, err := tx.RatingCounts("site_1", "", at(0).Add(-48*time.Hour), at(0).Add(48*time.Hour))
	put("ratings", v14, err)
	v15, err := tx.FunnelCounters("site_1", at(0).Add(-48*time.Hour), at(0).Add(48*time.Hour))
	put("funnel", v15, err)
	v16, err := tx.Events(0, 0)
	put("log", v16, err)
	out["last position"] = tx.LastEventPosition()
	v17, err := tx.Webhooks()
	put("webhooks", v17, err)
	v18, err := tx.WebhookDeliveries("wh_1", 1000)
	put("deliveries", v18, err)
	return out
}

// writes are one of each write, on top of newFixture and a visitor world.
func writes() map[string]func(domain.WriteTx) error {
	c := newChat("chat_vis_1", "site_1", "vis_1", "agt_1", 10)
	return map[string]func(domain.WriteTx) error{
		"PutSite": func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_2")) },
		"PutAgent": func(tx domain.WriteTx) error {
			a := newAgent("agt_1", "site_1")
			a.Login = "new@example.com"
			return tx.PutAgent(a)
		},
		"PutVisitor": func(tx domain.WriteTx) error {
			return tx.PutVisitor(newVisitor("vis_new", "site_1"))
		},
		"PutVisitorToken": func(tx domain.WriteTx) error { return tx.PutVisitorToken(hashOf("token vis_new"), "vis_1") },
		"PutAPIKey": func(tx domain.WriteTx) error {
			return tx.PutAPIKey(&domain.APIKey{ID: "k2", Hash: hashOf("k2"), CreateTime: at(1)})
		},
		"DeleteAPIKey": func(tx domain.WriteTx) error { return tx.DeleteAPIKey(hashOf("api key")) },
		"PutAgentSession": func(tx domain.WriteTx) error {
			return tx.PutAgentSession(&domain.AgentSession{ID: "s2", AgentID: "agt_1", CreateTime: at(1), ExpireTime: at(99), Hash: hashOf("s2")})
		},
		"DeleteAgentSession":    func(tx domain.WriteTx) error { return tx.DeleteAgentSession(hashOf("session")) },
		"PutAgentPasswordHash":  func(tx domain.WriteTx) error { return tx.PutAgentPasswordHash("agt_1", "other") },
		"PutSiteIdentitySecret": func(tx domain.WriteTx) error { return tx.PutSiteIdentitySecret("site_1", "other") },
		"CountRating":           func(tx domain.WriteTx) error { return tx.CountRating("site_1", "agt_1", at(1), 5) },
		"PutChat": func(tx domain.WriteTx) error {
			ended := *c
			ended.State = domain.ChatStateEnded
			return tx.PutChat(&ended)
		},
		"NewChat": func(tx domain.WriteTx) error { return tx.PutChat(newChat("chat_new", "site_1", "vis_1", "agt_1", 70)) },
		"AppendChatEvent": func(tx domain.WriteTx) error {
			return tx.AppendChatEvent(message(c.ID, 3, c.Visitor, "another key"))
		},
		"AppendWhisper": func(tx domain.WriteTx) error {
			return tx.AppendWhisper(domain.Whisper{ChatID: c.ID, Seq: 2, Time: at(3), FromID: "sup", Text: "w"})
		},
		"PutCannedReply": func(tx domain.WriteTx) error {
			return tx.PutCannedReply(&domain.CannedReply{ID: "c2", SiteID: "site_1", Shortcut: "x", Text: "x"})
		},
		"DeleteCannedReply": func(tx domain.WriteTx) error { return tx.DeleteCannedReply("site_1", "can_1") },
		"AppendChatNote": func(tx domain.WriteTx) error {
			return tx.AppendChatNote(domain.ChatNote{ChatID: c.ID, Seq: 2, Time: at(3), Author: c.Agent, Text: "n"})
		},
		"PutInvitation": func(tx domain.WriteTx) error {
			return tx.PutInvitation(newInvitation("inv_vis_1", "site_1", "vis_1", domain.InvitationExpired))
		},
		"PutChatRequest": func(tx domain.WriteTx) error {
			r := alerting(newRequest("req_vis_1_open", "site_1", "vis_1", 20), "agt_2", 40)
			return tx.PutChatRequest(r)
		},
		"PutOfflineMessage": func(tx domain.WriteTx) error { return tx.PutOfflineMessage(newOffline("off_2", "site_1", "vis_1", 2)) },
		"AppendRoutingDecision": func(tx domain.WriteTx) error {
			return tx.AppendRoutingDecision(&domain.RoutingDecision{ChatRequestID: "r", SiteID: "site_1", Time: at(1), Reason: "r"})
		},
		"EraseVisitor": func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_1") },
		"DeleteChat":   func(tx domain.WriteTx) error { return tx.DeleteChat(c.ID) },
		"AppendEvent": func(tx domain.WriteTx) error {
			return tx.AppendEvent(newEvent(domain.EventVisitorArrived, "site_1", "vis_1", 1))
		},
		"AddFunnel":          func(tx domain.WriteTx) error { return tx.AddFunnel("site_1", at(1), []int{0, 3}) },
		"DeleteEventsBefore": func(tx domain.WriteTx) error { _, err := tx.DeleteEventsBefore(at(1000), 0); return err },
		"PutWebhook": func(tx domain.WriteTx) error {
			return tx.PutWebhook(&domain.Webhook{ID: "wh_1", URL: "https://x.example", After: 9, CreateTime: at(1)})
		},
		"DeleteWebhook": func(tx domain.WriteTx) error { return tx.DeleteWebhook("wh_1") },
		"AppendWebhookDelivery": func(tx domain.WriteTx) error {
			return tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: "wh_1", EventID: "e", Time: at(1)})
		},
	}
}

// testAtomicity: an Update whose fn fails leaves nothing of what it wrote,
// whatever it wrote; the same write in an Update that succeeds changes what
// is read (so the comparison can see it).
func testAtomicity(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := newFixture().put(tx); err != nil {
			return err
		}
		if _, err := putVisitorWorld(tx, "vis_1", "site_1"); err != nil {
			return err
		}
		return tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: "wh_1", EventID: "e0", Time: at(1)})
	})
	before := read(t, s, func(tx domain.ReadTx) (map[string]any, error) { return snapshot(t, tx), nil })
	for name, write := range writes() {
		t.Run(name, func(t *testing.T) {
			err := s.Update(bg, func(tx domain.WriteTx) error {
				if err := write(tx); err != nil {
					return fmt.Errorf("the write itself failed: %w", err)
				}
				return errBoom
			})
			if err != errBoom {
				t.Fatalf("Update: %v", err)
			}
			after := read(t, s, func(tx domain.ReadTx) (map[string]any, error) { return snapshot(t, tx), nil })
			for k, v := range before {
				equal(t, "after a failed "+name+": "+k, after[k], v)
			}
		})
	}
	// Each write, committed, is seen: the snapshot is fine enough to tell.
	for name, write := range writes() {
		t.Run(name+"Commits", func(t *testing.T) {
			s := open(t)
			mustUpdate(t, s, func(tx domain.WriteTx) error {
				if err := newFixture().put(tx); err != nil {
					return err
				}
				if _, err := putVisitorWorld(tx, "vis_1", "site_1"); err != nil {
					return err
				}
				return tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: "wh_1", EventID: "e0", Time: at(1)})
			})
			mustUpdate(t, s, write)
			after := read(t, s, func(tx domain.ReadTx) (map[string]any, error) { return snapshot(t, tx), nil })
			changed := len(after) != len(before)
			for k, v := range before {
				if !changed && !equalValues(after[k], v) {
					changed = true
				}
			}
			if !changed {
				t.Errorf("committing %s changed nothing the atomicity test reads", name)
			}
		})
	}
}

// testSerializable: concurrent Updates behave as if run one at a time.
func testSerializable(t *testing.T, open func(*testing.T) domain.Store) {
	const workers, each = 8, 25
	t.Run("ReadModifyWrite", func(t *testing.T) {
		// Every worker increments one counter read-modify-write; some
		// Updates in between write and fail. No increment may be lost,
		// none doubled, and no failed write may be kept.
		s := open(t)
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutAgent(newAgent("agt_1")) })
		var hooks atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers*each*2)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- s.Update(bg, func(tx domain.WriteTx) error {
						a, err := tx.Agent("agt_1")
						if err != nil {
							return err
						}
						a.MaxConcurrentChats++
						if err := tx.PutAgent(a); err != nil {
							return err
						}
						tx.OnCommit(func() { hooks.Add(1) })
						return nil
					})
					if (w+i)%5 == 0 {
						err := s.Update(bg, func(tx domain.WriteTx) error {
							a, err := tx.Agent("agt_1")
							if err != nil {
								return err
							}
							a.MaxConcurrentChats += 1000
							if err := tx.PutAgent(a); err != nil {
								return err
							}
							tx.OnCommit(func() { hooks.Add(1000) })
							return errBoom
						})
						if err != errBoom {
							errs <- fmt.Errorf("failing Update returned %v", err)
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		a := read(t, s, func(tx domain.ReadTx) (*domain.Agent, error) { return tx.Agent("agt_1") })
		if want := uint32(3 + workers*each); a.MaxConcurrentChats != want {
			t.Errorf("counter = %d after %d increments from 3, want %d", a.MaxConcurrentChats, workers*each, want)
		}
		if got := hooks.Load(); got != workers*each {
			t.Errorf("OnCommit hooks ran %d times (failed ones count 1000), want %d: once per committed Update", got, workers*each)
		}
	})

	t.Run("ClaimRace", func(t *testing.T) {
		// Agents race to accept one request: exactly one wins, and only
		// the winner's chat exists.
		s := open(t)
		req := alerting(newRequest("req_1", "site_1", "vis_1", 1), "agt_0", 60)
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			for i := range workers {
				if err := tx.PutAgent(newAgent(fmt.Sprint("agt_", i), "site_1")); err != nil {
					return err
				}
			}
			return tx.PutChatRequest(req)
		})
		results := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				agentID, chatID := fmt.Sprint("agt_", i), fmt.Sprint("chat_", i)
				results[i] = s.Update(bg, func(tx domain.WriteTx) error {
					r, err := tx.ChatRequest("req_1")
					if err != nil {
						return err
					}
					a, err := tx.Agent(agentID)
					if err != nil {
						return err
					}
					if err := r.Accept(a, chatID, at(70)); err != nil {
						return err
					}
					a.ActiveChatIDs = append(a.ActiveChatIDs, chatID)
					if err := tx.PutChatRequest(r); err != nil {
						return err
					}
					if err := tx.PutAgent(a); err != nil {
						return err
					}
					return tx.PutChat(newChat(chatID, "site_1", "vis_1", agentID, 70))
				})
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("agents %d and %d both accepted the request", winner, i)
			case err == nil:
				winner = i
			default:
				wantCode(t, fmt.Sprintf("agent %d losing the race", i), err, domain.CodeFailedPrecondition)
			}
		}
		if winner < 0 {
			t.Fatal("nobody accepted the request")
		}
		mustView(t, s, func(tx domain.ReadTx) error {
			r, err := tx.ChatRequest("req_1")
			if err != nil {
				return err
			}
			equal(t, "accepted request's chat", r.ChatID, fmt.Sprint("chat_", winner))
			active, err := tx.ActiveChatIDs()
			equal(t, "chats after the race", active, []string{fmt.Sprint("chat_", winner)})
			counts, err2 := tx.AlertCounts([]string{"agt_0"})
			equal(t, "AlertCounts after the race", counts, map[string]int{})
			return errors.Join(err, err2)
		})
	})

	t.Run("LogPositionsInCommitOrder", func(t *testing.T) {
		// Each Update appends events and bumps a counter in one
		// transaction: read in position order, the log's counter values
		// must rise, and positions must be dense.
		s := open(t)
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutAgent(newAgent("agt_1")) })
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					err := s.Update(bg, func(tx domain.WriteTx) error {
						a, err := tx.Agent("agt_1")
						if err != nil {
							return err
						}
						a.MaxConcurrentChats++
						for range 2 {
							ev := newEvent(domain.EventRequestAlerted, "site_1", "vis_1", 1)
							ev.RequestID, ev.AgentID, ev.Reason = "req_1", "agt_1", fmt.Sprint(a.MaxConcurrentChats)
							if err := tx.AppendEvent(ev); err != nil {
								return err
							}
						}
						return tx.PutAgent(a)
					})
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		evs := read(t, s, func(tx domain.ReadTx) ([]*domain.Event, error) { return tx.Events(0, 0) })
		if len(evs) != 2*workers*each {
			t.Fatalf("%d events, want %d", len(evs), 2*workers*each)
		}
		for i, ev := range evs {
			if ev.Position != uint64(i+1) {
				t.Fatalf("event %d has position %d: positions are not dense", i, ev.Position)
			}
			if want := fmt.Sprint(3 + i/2 + 1); ev.Reason != want {
				t.Fatalf("event at position %d was written by the update that set the counter to %s, want %s: positions are not in commit order", ev.Position, ev.Reason, want)
			}
		}
	})
}

// testOnCommit: hooks run once the write is durable and readable, before
// Update returns, one at a time in commit order, and never for an attempt
// that did not commit.
func testOnCommit(t *testing.T, open func(*testing.T) domain.Store) {
	t.Run("AfterCommitBeforeReturn", func(t *testing.T) {
		s := open(t)
		var seen error
		ran := false
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			tx.OnCommit(func() {
				ran = true
				seen = s.View(bg, func(tx domain.ReadTx) error { _, err := tx.Site("site_1"); return err })
			})
			return tx.PutSite(newSite("site_1"))
		})
		if !ran {
			t.Fatal("the hook had not run when Update returned")
		}
		if seen != nil {
			t.Errorf("a View from the hook does not see the committed write: %v", seen)
		}
	})

	t.Run("InOrderOfRegistration", func(t *testing.T) {
		s := open(t)
		var got []int
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			got = got[:0]
			for i := range 5 {
				tx.OnCommit(func() { got = append(got, i) })
			}
			return nil
		})
		equal(t, "hooks of one Update", got, []int{0, 1, 2, 3, 4})
	})

	t.Run("NotForFailures", func(t *testing.T) {
		s := open(t)
		var ran atomic.Int32
		for _, write := range []bool{false, true} {
			err := s.Update(bg, func(tx domain.WriteTx) error {
				tx.OnCommit(func() { ran.Add(1) })
				if write {
					if err := tx.PutSite(newSite("site_1")); err != nil {
						return err
					}
				}
				return errBoom
			})
			if err != errBoom {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(bg)
		cancel()
		_ = s.Update(ctx, func(tx domain.WriteTx) error { tx.OnCommit(func() { ran.Add(1) }); return nil })
		if n := ran.Load(); n != 0 {
			t.Errorf("hooks of failed Updates ran %d times", n)
		}
	})

	t.Run("CommitOrder", func(t *testing.T) {
		// Concurrent Updates each append an event and register a hook
		// with its position: the hooks must run one at a time, each once,
		// in position order (the order of the commits).
		s := open(t)
		const workers, each = 8, 25
		var running atomic.Int32
		var mu sync.Mutex
		var order []uint64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					err := s.Update(bg, func(tx domain.WriteTx) error {
						ev := newEvent(domain.EventVisitorArrived, "site_1", "vis_1", 1)
						if err := tx.AppendEvent(ev); err != nil {
							return err
						}
						pos := ev.Position
						tx.OnCommit(func() {
							if running.Add(1) != 1 {
								t.Error("two hooks ran at once")
							}
							mu.Lock()
							order = append(order, pos)
							mu.Unlock()
							running.Add(-1)
						})
						return nil
					})
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if len(order) != workers*each {
			t.Fatalf("%d hooks ran, want %d", len(order), workers*each)
		}
		for i, pos := range order {
			if pos != uint64(i+1) {
				t.Fatalf("hook %d carried position %d: hooks did not run in commit order (%v…)", i, pos, order[:i+1])
			}
		}
	})
}

// testView: a View is a snapshot: a commit made while it is open is not
// seen by it; and a done ctx or fn's error is returned as is.
func testView(t *testing.T, open func(*testing.T) domain.Store) {
	t.Run("Snapshot", func(t *testing.T) {
		s := open(t)
		// Grow the store and free the room again first: a bbolt write that
		// must grow its memory map waits for open reads to end, which this
		// test would never let happen.
		for i := range 4 {
			mustUpdate(t, s, func(tx domain.WriteTx) error {
				for j := range 200 {
					v := newVisitor(fmt.Sprintf("filler_%d_%d", i, j), "site_1")
					v.CurrentPage.Title = string(make([]byte, 2000))
					if err := tx.PutVisitor(v); err != nil {
						return err
					}
				}
				return nil
			})
		}
		mustUpdate(t, s, func(tx domain.WriteTx) error {
			vs, err := tx.Visitors("", 0)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if err := tx.EraseVisitor(v.ID); err != nil {
					return err
				}
			}
			return nil
		})
		// Let the freed pages be released: no read was open meanwhile.
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_0")) })
		mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_1")) })
		mustView(t, s, func(tx domain.ReadTx) error {
			before, err := tx.Site("site_1")
			if err != nil {
				return err
			}
			renamed := *before
			renamed.Name = "renamed"
			if err := s.Update(bg, func(w domain.WriteTx) error {
				if err := w.PutSite(&renamed); err != nil {
					return err
				}
				return w.AppendEvent(newEvent(domain.EventVisitorArrived, "site_1", "v", 1))
			}); err != nil {
				return err
			}
			after, err := tx.Site("site_1")
			if err != nil {
				return err
			}
			equal(t, "site read again in the View after a commit", after, before)
			equal(t, "LastEventPosition in the View after a commit", tx.LastEventPosition(), uint64(0))
			return nil
		})
		got := read(t, s, func(tx domain.ReadTx) (*domain.Site, error) { return tx.Site("site_1") })
		equal(t, "site in a later View", got.Name, "renamed")
	})
	t.Run("DoneContext", func(t *testing.T) {
		s := open(t)
		ctx, cancel := context.WithCancel(bg)
		cancel()
		called := false
		err := s.View(ctx, func(domain.ReadTx) error { called = true; return nil })
		if !errors.Is(err, context.Canceled) || called {
			t.Errorf("View with a done ctx: %v, fn called %v", err, called)
		}
	})
	t.Run("ReturnsFnError", func(t *testing.T) {
		s := open(t)
		if err := s.View(bg, func(domain.ReadTx) error { return errBoom }); err != errBoom {
			t.Errorf("View returned %v, want fn's error", err)
		}
	})
}

// testClosed: a closed store refuses with CodeUnavailable, without running
// fn; closing twice is harmless.
func testClosed(t *testing.T, open func(*testing.T) domain.Store) {
	s := open(t)
	mustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutSite(newSite("site_1")) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	called := false
	err := s.Update(bg, func(domain.WriteTx) error { called = true; return nil })
	wantCode(t, "Update after Close", err, domain.CodeUnavailable)
	err = s.View(bg, func(domain.ReadTx) error { called = true; return nil })
	wantCode(t, "View after Close", err, domain.CodeUnavailable)
	if called {
		t.Error("fn ran on a closed store")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func equalValues(a, b any) bool { return reflect.DeepEqual(a, b) }
