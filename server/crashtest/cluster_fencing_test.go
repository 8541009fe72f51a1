package crashtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
)

// TestCluster_PausedLeaderNeverWritesAgain pauses the leader (SIGSTOP)
// while writes are in flight on it, waits until another node leads and
// acknowledges writes to every chat, then lets the old leader run again
// (SIGCONT) with those writes still pending. Its domain still believes it
// leads, on a file that lacks the new leader's writes: any write it got
// acknowledged would take a sequence number the new leader gave to another
// message. So every acknowledged message must be stored exactly once,
// where it was acknowledged; the old leader must end up following the new
// one; and all three files must hold the same content. What stops the old
// leader is the log's fencing (the new leader's barrier moved the log past
// the old leader's position), not a clock: docs/cluster.md.
func TestCluster_PausedLeaderNeverWritesAgain(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pauses a node with POSIX signals")
	}
	// Most of its time is spent waiting for a lease to run out: it runs
	// alongside the other cluster test.
	t.Parallel()
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c := startCluster(ctx, t, 3)
	cc := newClusterChats(ctx, t, c, clusterAgents)
	old, oldSt := c.leader(ctx)

	// Every call the old leader answers directly: when it began and ended,
	// and how.
	type outcome struct {
		began, ended time.Time
		err          error
	}
	var mu sync.Mutex
	var onOld []outcome
	c.observe = func(n *clusterNode, began, ended time.Time, err error) {
		if n == old {
			mu.Lock()
			onOld = append(onOld, outcome{began, ended, err})
			mu.Unlock()
		}
	}

	fail, failed := failer(ctx, t)
	streamCtx, stopStreams := context.WithCancel(ctx)
	var senders sync.WaitGroup
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { close(stop) }) }
	defer func() {
		// A test that failed while the old leader was paused lets it go.
		old.signal(syscall.SIGCONT)
		stopLoad()
		stopStreams()
		cancel()
		senders.Wait()
		cc.streams.Wait()
	}()
	// Six chats: each node has a visitor and an agent of two chats, so a
	// third of the writes go to the leader directly, and the others reach
	// it through the followers.
	for i := range 6 {
		run, err := cc.startChat(ctx, streamCtx, i, fail)
		if err != nil {
			t.Fatal(err)
		}
		cc.mu.Lock()
		cc.runs = append(cc.runs, run)
		cc.mu.Unlock()
		for _, agent := range []bool{false, true} {
			senders.Go(func() { fail(cc.send(ctx, run, agent, stop)) })
		}
	}
	if err := cc.waitAcks(ctx, 0, 100, failed); err != nil {
		t.Fatal(err)
	}

	// Pause the leader mid-load, with writes in flight on it. The clients
	// stop choosing it (the calls already on it stay pending), and each
	// chat gets one more message sent to it directly while it is paused.
	runs := cc.getRuns()
	pausedAt := time.Now()
	old.signal(syscall.SIGSTOP)
	old.setUp(false)
	oldAPI := c.apis[indexOf(c, old)]
	var stale sync.WaitGroup
	staleCodes := make([]connect.Code, len(runs)) // how each ended on the old leader (0: acknowledged)
	for i, run := range runs {
		stale.Go(func() {
			key, text := fmt.Sprintf("c%02d-stale", run.idx), "sent to the paused leader"
			req := &pb.SendMessageRequest{ChatId: run.id, SenderId: run.visitorID, Text: text, IdempotencyKey: key}
			callCtx, cancel := context.WithTimeout(ctx, 2*converge)
			res, err := oldAPI.chat.SendMessage(callCtx, as(run.visitorToken, req))
			cancel()
			attempts := 1
			var ev *pb.ChatEvent
			if err == nil {
				ev = res.Msg.GetEvent()
			} else {
				staleCodes[i] = connect.CodeOf(err)
				if definite(err) {
					fail(fmt.Errorf("%s on the old leader: %w", key, err))
					return
				}
				// Retried with its key, as any client does.
				var n int
				ev, n, _, err = ccall(ctx, c, agentNode(run.idx), "resend "+key, func(ctx context.Context, api *clients) (*pb.ChatEvent, error) {
					res, err := api.chat.SendMessage(ctx, as(run.visitorToken, req))
					if err != nil {
						return nil, err
					}
					return res.Msg.GetEvent(), nil
				})
				if err != nil {
					fail(err)
					return
				}
				attempts += n
			}
			if m := ev.GetMessage(); ev.GetChatId() != run.id || m.GetIdempotencyKey() != key || m.GetText() != text || ev.GetSeq() == 0 {
				fail(fmt.Errorf("%s was acknowledged with %v", key, ev))
				return
			}
			run.record(ack{chat: run.idx, sender: run.visitorID, key: key, text: text, seq: ev.GetSeq(), attempts: attempts, lane: "stale"})
		})
	}

	// Another node takes over once the paused leader's lease runs out, and
	// writes to every chat: any write the old leader got acknowledged on
	// its stale file would now take a sequence number that is taken.
	others := c.others(old)
	leader, st := c.leader(ctx, others...)
	if st.Term <= oldSt.Term {
		t.Fatalf("new leader %s has term %d, the paused leader had %d", leader.name, st.Term, oldSt.Term)
	}
	// The new leader writes to every chat (its agent, through the new
	// leader's own node).
	for _, run := range runs {
		key, text := fmt.Sprintf("c%02d-new-leader", run.idx), "sent to the new leader"
		req := &pb.SendMessageRequest{ChatId: run.id, SenderId: run.agentID, Text: text, IdempotencyKey: key}
		ev, attempts, _, err := ccall(ctx, c, indexOf(c, leader), "send "+key, func(ctx context.Context, api *clients) (*pb.ChatEvent, error) {
			res, err := api.chat.SendMessage(ctx, as(run.agentToken, req))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetEvent(), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		run.record(ack{chat: run.idx, sender: run.agentID, key: key, text: text, seq: ev.GetSeq(), attempts: attempts, lane: "new-leader"})
	}

	// Let the old leader run again, with the writes pending on it: it must
	// step down and follow the new leader, and the cluster carries on
	// through all three nodes.
	resumedAt := time.Now()
	old.signal(syscall.SIGCONT)
	old.setUp(true)
	stale.Wait()
	c.leader(ctx)
	if err := cc.waitAcks(ctx, cc.acked(), 200, failed); err != nil {
		t.Fatalf("after %s resumed: %v", old.name, err)
	}
	stopLoad()
	senders.Wait()
	if t.Failed() {
		return
	}

	// The calls pending on the old leader when it resumed: each failed
	// (and was retried elsewhere) or was acknowledged; either way the
	// transcripts below hold each acknowledged message once, where it was
	// acknowledged.
	var pending, pendingFailed int
	codes := map[connect.Code]int{}
	mu.Lock()
	for _, o := range onOld {
		if o.began.Before(resumedAt) && o.ended.After(resumedAt) {
			pending++
			if o.err != nil {
				pendingFailed++
				codes[connect.CodeOf(o.err)]++
			}
		}
	}
	mu.Unlock()
	for _, code := range staleCodes {
		pending++
		if code != 0 {
			pendingFailed++
			codes[code]++
		}
	}
	ts := checkTranscripts(ctx, t, c.apis[indexOf(c, old)], runs)
	cc.checkOneActiveChat(ctx, t)
	resent := checkResends(ctx, t, runs, rand.New(rand.NewPCG(1, 2)), func(w int) *clients { return c.apis[w%len(c.apis)] })
	stopStreams()
	cc.streams.Wait()
	pos := c.converged(ctx)

	// How the old leader stopped leading, as its log says (for the
	// report: the fencing or its lease's expiry, whichever it met first).
	why := "?"
	if m := regexp.MustCompile(`msg="leadership ended".*`).Find(readAll(old.logs)); m != nil {
		why = string(m)
	}
	t.Logf("paused leader %s (term %d) for %v; new leader %s (term %d)",
		old.name, oldSt.Term, resumedAt.Sub(pausedAt).Round(time.Millisecond), leader.name, st.Term)
	t.Logf("calls pending on the old leader when it resumed: %d, of which failed %d %v and acknowledged %d; it logged: %s", pending, pendingFailed, codes, pending-pendingFailed, why)
	t.Logf("messages acknowledged: %d, found: %d; acknowledged after a retry: %d; resent: %d; the files converged at log position %d; the test took %v",
		ts.acked, ts.found, ts.retried, resent, pos, time.Since(began).Round(time.Millisecond))
}

func indexOf(c *testCluster, n *clusterNode) int {
	for i, m := range c.nodes {
		if m == n {
			return i
		}
	}
	panic(fmt.Sprintf("node %s is not in the cluster", n.name))
}

func readAll(paths []string) []byte {
	var b []byte
	for _, p := range paths {
		d, _ := os.ReadFile(p)
		b = append(b, d...)
	}
	return b
}
