package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/cluster"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// converge bounds how long a test waits for the cluster to do something
// (form, elect, catch up). It only runs out when something is broken; no
// test asserts on how long anything took.
const converge = 60 * time.Second

// testCluster is three NATS servers in this process, on loopback, joined
// by their routes, each with JetStream on its own store directory and
// fsync on every write, as the product runs them.
type testCluster struct {
	servers []*server.Server
}

func startCluster(t testing.TB) *testCluster {
	t.Helper()
	// The route ports are chosen free, then listened on by the servers:
	// another test's listener may take one in between (tests run in
	// parallel), and that server never gets ready. Such a start is
	// tried again on other ports; a server that is slow to start gets
	// the whole converge on the last try.
	for try := 1; ; try++ {
		wait := 15 * time.Second
		if try == 3 {
			wait = converge
		}
		c, err := tryStartCluster(t, wait)
		if err == nil {
			return c
		}
		if try == 3 {
			t.Fatal(err)
		}
	}
}

func tryStartCluster(t testing.TB, wait time.Duration) (*testCluster, error) {
	const n = 3
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	c := &testCluster{}
	for i := 0; i < n; i++ {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   filepath.Join(t.TempDir(), "jetstream"),
			SyncAlways: true,
			Cluster:    server.ClusterOpts{Name: "proactivechat-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		if !s.ReadyForConnections(wait) {
			for _, started := range append(c.servers, s) {
				started.Shutdown()
			}
			return nil, fmt.Errorf("server n%d not ready", i)
		}
		c.servers = append(c.servers, s)
	}
	return c, nil
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connect connects to server i first, and to the others when it is gone.
func (c *testCluster) connect(t testing.TB, i int) jetstream.JetStream {
	t.Helper()
	urls := []string{c.servers[i].ClientURL()}
	for j, s := range c.servers {
		if j != i {
			urls = append(urls, s.ClientURL())
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.DontRandomize(),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Name(fmt.Sprintf("node%d", i)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// eventually polls cond until it holds, failing the test after converge.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(converge)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		<-tick.C
	}
}

// node is one member of a replicated store: its bolt file, the log as its
// connection sees it, its Writer (the store's Replicator) and Follower.
type node struct {
	name   string
	js     jetstream.JetStream
	log    *cluster.Log
	store  *bolt.Store
	path   string
	writer *cluster.Writer
	follow *cluster.Follower
}

func newNode(t testing.TB, c *testCluster, i int, name string) *node {
	t.Helper()
	n := &node{name: name, js: c.connect(t, i), path: filepath.Join(t.TempDir(), name+".db")}
	eventually(t, "open log", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		n.log, err = cluster.OpenLog(ctx, n.js, cluster.LogConfig{Replicas: 3})
		return err
	})
	n.writer = cluster.NewWriter(n.log, name)
	n.open(t)
	return n
}

// open opens the node's store and a Follower at its position.
func (n *node) open(t testing.TB) {
	t.Helper()
	s, err := bolt.Open(n.path, bolt.WithReplicator(n.writer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n.store = s
	n.follow, err = cluster.NewFollower(n.log, s)
	if err != nil {
		t.Fatal(err)
	}
}

// run applies the log in the background until the test ends.
func (n *node) run(t testing.TB) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.follow.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("%s: follower: %v", n.name, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (n *node) lease(t testing.TB, ttl time.Duration) *cluster.Lease {
	t.Helper()
	var l *cluster.Lease
	eventually(t, "open lease", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		l, err = cluster.OpenLease(ctx, n.js, cluster.LeaseConfig{Node: n.name, TTL: ttl, Replicas: 3})
		return err
	})
	return l
}

// watchBeats has n listen to l's heartbeats on a fake clock, until the
// test ends.
func (n *node) watchBeats(t testing.TB, l *cluster.Lease) (*cluster.Heartbeats, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(time.Unix(1000, 0))
	beats, err := l.WatchHeartbeats(n.js.Conn(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { beats.Close() })
	return beats, clk
}

// lead takes the lease, waiting for it, and takes over.
func (n *node) lead(t testing.TB, l *cluster.Lease) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cluster.TakeOver(ctx, l, n.follow, n.writer); err != nil {
		t.Fatal(err)
	}
}

func (n *node) position(t testing.TB) uint64 {
	t.Helper()
	pos, err := n.store.Position()
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func (n *node) digest(t testing.TB) string {
	t.Helper()
	d, err := n.store.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// putSite stores a site named id in one Update.
func putSite(ctx context.Context, s *bolt.Store, id string) error {
	return s.Update(ctx, func(tx domain.WriteTx) error {
		return tx.PutSite(&domain.Site{ID: id, Name: "Shop " + id, CreateTime: time.Unix(1, 0).UTC()})
	})
}

// waitSame waits until every node holds the leader's position, and checks
// that they then hold the same.
func waitSame(t testing.TB, leader *node, others ...*node) {
	t.Helper()
	pos := leader.position(t)
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	want := leader.digest(t)
	for _, n := range others {
		if err := n.follow.WaitFor(ctx, pos); err != nil {
			t.Fatalf("%s did not reach position %d (at %d): %v", n.name, pos, n.follow.Position(), err)
		}
		if got := n.position(t); got != pos {
			t.Errorf("%s holds position %d, leader %d", n.name, got, pos)
		}
		if got := n.digest(t); got != want {
			t.Errorf("%s holds other content than %s at position %d", n.name, leader.name, pos)
		}
	}
}

// entries reads the whole log.
func entries(t testing.TB, l *cluster.Log) []*cluster.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), converge)
	defer cancel()
	last, err := l.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*cluster.Entry
	stop := errors.New("stop")
	if last == 0 {
		return nil
	}
	err = l.Read(ctx, 0, func(e *cluster.Entry) error {
		out = append(out, e)
		if e.Position >= last {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	return out
}

// checkChain fails unless each entry follows the one before it.
func checkChain(t testing.TB, es []*cluster.Entry) {
	t.Helper()
	var prev uint64
	for _, e := range es {
		if e.Prev != prev {
			t.Errorf("entry %d follows %d, the entry before is %d", e.Position, e.Prev, prev)
		}
		prev = e.Position
	}
}

func TestReplication_EveryStoreHoldsTheSame(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	leader := newNode(t, c, 0, "a")
	f1, f2 := newNode(t, c, 1, "b"), newNode(t, c, 2, "c")
	leader.lead(t, leader.lease(t, 5*time.Second))
	f1.run(t)
	stop2 := f2.run(t)

	// Concurrent writers share commits: each batch is one entry.
	ctx := context.Background()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := leader.store.Update(ctx, func(tx domain.WriteTx) error {
					id := fmt.Sprintf("vis_%d_%d", w, i)
					if err := tx.PutVisitor(&domain.Visitor{ID: id, SiteID: "site_1", CreateTime: time.Unix(int64(i), 0).UTC()}); err != nil {
						return err
					}
					if err := tx.PutVisitorToken([]byte("token-"+id), id); err != nil {
						return err
					}
					return tx.AppendEvent(&domain.Event{Type: domain.EventVisitorArrived, Time: time.Unix(int64(i), 0).UTC(), SiteID: "site_1", VisitorID: id})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err := leader.store.Update(ctx, func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_0_0") })
	if err != nil {
		t.Fatal(err)
	}
	waitSame(t, leader, f1, f2)
	checkChain(t, entries(t, leader.log))

	// A follower that stops and opens its file again resumes where the
	// file is: nothing missed, nothing applied twice.
	stop2()
	if err := f2.store.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := putSite(ctx, leader.store, fmt.Sprintf("site_r%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	f2.open(t)
	f2.run(t)
	waitSame(t, leader, f1, f2)
}

func TestFencing_OnlyOneOfTwoLeadersWrites(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	a.lead(t, a.lease(t, 5*time.Second))
	ctx := context.Background()
	if err := putSite(ctx, a.store, "site_0"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.follow.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// b believes it leads as well, at the same position as a.
	cluster.Lead(b.writer, 1<<40)
	if a.position(t) != b.position(t) {
		t.Fatalf("positions %d and %d", a.position(t), b.position(t))
	}
	before := map[*node]string{a: a.digest(t), b: b.digest(t)}

	start := make(chan struct{})
	errs := map[*node]error{}
	hooked := map[*node]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range []*node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := n.store.Update(ctx, func(tx domain.WriteTx) error {
				tx.OnCommit(func() {
					mu.Lock()
					hooked[n] = true
					mu.Unlock()
				})
				return tx.PutSite(&domain.Site{ID: "site_" + n.name, Name: n.name})
			})
			mu.Lock()
			errs[n] = err
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()

	var winner, loser *node
	switch {
	case errs[a] == nil && errs[b] != nil:
		winner, loser = a, b
	case errs[b] == nil && errs[a] != nil:
		winner, loser = b, a
	default:
		t.Fatalf("a: %v; b: %v; want exactly one to succeed", errs[a], errs[b])
	}
	err := errs[loser]
	if !errors.Is(err, cluster.ErrFenced) || domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Errorf("loser: %v, want fenced, as unavailable", err)
	}
	if hooked[loser] || !hooked[winner] {
		t.Errorf("commit hooks ran: winner %v, loser %v", hooked[winner], hooked[loser])
	}
	if loser.digest(t) != before[loser] {
		t.Error("the loser's store changed")
	}
	select {
	case <-loser.writer.SteppedDown():
	default:
		t.Error("the loser's writer did not step down")
	}
	if !errors.Is(loser.writer.Err(), cluster.ErrFenced) {
		t.Errorf("loser stepped down for %v", loser.writer.Err())
	}
	// Stepped down, it refuses without trying the log.
	if err := putSite(ctx, loser.store, "site_again"); !errors.Is(err, cluster.ErrNotLeader) {
		t.Errorf("write after stepping down: %v, want not leader", err)
	}
	if _, ok := winner.writer.Leading(); !ok {
		t.Error("the winner stopped leading")
	}

	// As a follower the loser gets the winner's write.
	if _, err := loser.follow.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	waitSame(t, winner, loser)
	es := entries(t, winner.log)
	checkChain(t, es)
	if got := es[len(es)-1].Leader; got != winner.name {
		t.Errorf("last entry by %s, want %s", got, winner.name)
	}
}

func TestFailover_LeadersServerDies(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	probe := c.connect(t, 0)
	var info *jetstream.StreamInfo
	eventually(t, "stream leader", func() error {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		l, err := cluster.OpenLog(actx, probe, cluster.LogConfig{Replicas: 3})
		if err != nil {
			return err
		}
		_ = l
		s, err := probe.Stream(actx, "PROACTIVECHAT_LOG")
		if err != nil {
			return err
		}
		info, err = s.Info(actx)
		if err == nil && (info.Cluster == nil || info.Cluster.Leader == "") {
			err = errors.New("no leader yet")
		}
		return err
	})
	// The leader runs on the server that leads the stream too: its death
	// costs the log its leader and the writer its connection at once.
	li := int(info.Cluster.Leader[1] - '0')
	leader := newNode(t, c, li, "leader")
	f1, f2 := newNode(t, c, (li+1)%3, "f1"), newNode(t, c, (li+2)%3, "f2")
	// f3 reads through the server that dies, and must go on through
	// another.
	f3 := newNode(t, c, li, "f3")
	lease := leader.lease(t, 5*time.Second)
	leader.lead(t, lease)
	f1.run(t)
	f2.run(t)
	f3.run(t)

	const n = 60
	failed := map[int]int{} // writes that failed, by how often
	for i := 0; i < n; i++ {
		if i == n/3 {
			// While the write below is under way.
			go c.servers[li].Shutdown()
		}
		deadline := time.Now().Add(converge)
		for {
			err := putSite(ctx, leader.store, fmt.Sprintf("site_%03d", i))
			if err == nil {
				break
			}
			failed[i]++
			if time.Now().After(deadline) {
				t.Fatalf("write %d: %v", i, err)
			}
			// A publish whose fate is unknown may be in the log although
			// the store lacks it; the next one is then fenced, and the
			// leader takes over again from the log, as after a restart.
			if errors.Is(err, cluster.ErrFenced) || errors.Is(err, cluster.ErrNotLeader) {
				tctx, cancel := context.WithTimeout(ctx, converge)
				err := cluster.TakeOver(tctx, lease, leader.follow, leader.writer)
				cancel()
				if err != nil {
					t.Logf("take over again: %v", err)
				}
			}
		}
	}
	waitSame(t, leader, f1, f2, f3)

	// Every write is in the log; each that never failed exactly once.
	es := entries(t, f1.log)
	checkChain(t, es)
	seen := map[string]int{}
	for _, e := range es {
		for _, op := range e.WriteSet.Ops {
			if op.Kind == bolt.OpPut && string(op.Bucket[0]) == "sites" {
				seen[string(op.Key)]++
			}
		}
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("site_%03d", i)
		if got := seen[id]; got < 1 || (failed[i] == 0 && got != 1) {
			t.Errorf("%s is in the log %d times, its write failed %d times", id, got, failed[i])
		}
	}
	err := f2.store.View(ctx, func(tx domain.ReadTx) error {
		sites, err := tx.Sites()
		if len(sites) != n {
			t.Errorf("%d sites, want %d", len(sites), n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("writes that failed while the server died: %v", failed)
}

func TestLease_HandsOverAndFencesThePausedHolder(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	// A short TTL, so that the test need not wait long for it to run out;
	// nothing below depends on how long it takes.
	const ttl = time.Second
	la, lb := a.lease(t, ttl), b.lease(t, ttl)

	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	if ok, err := lb.TryAcquire(ctx); err != nil || ok {
		t.Fatalf("b acquires while a holds: %v, %v", ok, err)
	}
	if err := lb.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("b renews a lease it does not hold: %v", err)
	}
	if h, _, err := la.Holder(ctx); err != nil || h != "a" {
		t.Errorf("holder %q, %v", h, err)
	}
	aTerm := la.Term()
	if err := cluster.TakeOver(ctx, la, a.follow, a.writer); err != nil {
		t.Fatal(err)
	}
	if err := putSite(ctx, a.store, "site_a1"); err != nil {
		t.Fatal(err)
	}
	aBefore := a.digest(t)

	// a pauses: it renews no more, and still believes it leads. The lease
	// runs out on the servers and b takes it.
	eventually(t, "b acquires the expired lease", func() error {
		ok, err := lb.TryAcquire(ctx)
		if err == nil && !ok {
			err = errors.New("still held")
		}
		return err
	})
	if h, _, err := lb.Holder(ctx); err != nil || h != "b" {
		t.Errorf("holder %q, %v", h, err)
	}
	if lb.Term() <= aTerm {
		t.Errorf("b's term %d, a's %d", lb.Term(), aTerm)
	}
	if err := cluster.TakeOver(ctx, lb, b.follow, b.writer); err != nil {
		t.Fatal(err)
	}

	// a wakes up and writes, before b wrote anything but its barrier: the
	// log refuses it, whatever the time.
	if _, ok := a.writer.Leading(); !ok {
		t.Fatal("a's writer stopped leading by itself; the test needs it to believe it leads")
	}
	err := putSite(ctx, a.store, "site_a2")
	if !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("paused leader's write: %v, want fenced", err)
	}
	if err := putSite(ctx, b.store, "site_b1"); err != nil {
		t.Fatal(err)
	}
	if a.digest(t) != aBefore {
		t.Error("the paused leader's store changed")
	}
	if err := la.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("paused leader renews: %v, want lost", err)
	}
	select {
	case <-la.Lost():
	default:
		t.Error("a's lease is not lost")
	}
	es := entries(t, b.log)
	checkChain(t, es)
	var barrier uint64
	for _, e := range es {
		if e.Leader == "b" && barrier == 0 {
			barrier = e.Position
			if !e.WriteSet.Empty() {
				t.Error("b's first entry is not a barrier")
			}
		}
		if barrier != 0 && e.Leader != "b" {
			t.Errorf("entry %d by %s after b's barrier %d", e.Position, e.Leader, barrier)
		}
	}

	// Released, the lease is free at once.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Errorf("a acquires the released lease: %v, %v", ok, err)
	}
	// And a, a follower again, gets what b wrote.
	if _, err := a.follow.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	waitSame(t, b, a)
}

func TestLease_HoldRenews(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	// Renewed every 2/3 s, the lease has a whole TTL of room to spare
	// when b tries it right after a renewal.
	const ttl = 2 * time.Second
	la, lb := a.lease(t, ttl), b.lease(t, ttl)
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	term := la.Term()
	hctx, stopHolding := context.WithCancel(ctx)
	held := make(chan error, 1)
	go func() { held <- la.Hold(hctx) }()

	// Renewals move the revision on, past more than a TTL's worth of
	// them, and the lease stays a's.
	eventually(t, "renewals", func() error {
		_, rev, err := la.Holder(ctx)
		if err == nil && rev < term+4 {
			err = fmt.Errorf("revision %d", rev)
		}
		return err
	})
	if ok, err := lb.TryAcquire(ctx); err != nil || ok {
		t.Fatalf("b acquires a held lease: %v, %v", ok, err)
	}
	if la.Term() != term {
		t.Errorf("the term moved with renewals: %d, was %d", la.Term(), term)
	}

	// Stopped holding, a keeps the lease until it runs out; then b gets it.
	stopHolding()
	if err := <-held; !errors.Is(err, context.Canceled) {
		t.Errorf("Hold: %v", err)
	}
	eventually(t, "b acquires", func() error {
		ok, err := lb.TryAcquire(ctx)
		if err == nil && !ok {
			err = errors.New("still held")
		}
		return err
	})
	// Holding again, a learns it lost the lease.
	if err := la.Hold(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("Hold of a lost lease: %v", err)
	}
}

func TestLog_RetryStoredOnceAndFencing(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	n := newNode(t, c, 0, "a")
	ctx := context.Background()
	ws := &bolt.WriteSet{Ops: []bolt.Op{{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("sites")}, Key: []byte("k"), Value: []byte{}}}}
	e := &cluster.Entry{Prev: 0, Leader: "a", Term: 7, WriteSet: ws}
	pos, err := cluster.Append(ctx, n.log, e, "a/7/1")
	if err != nil {
		t.Fatal(err)
	}
	// A retry whose first attempt was stored gets its position back: the
	// stream checks the message id before the expected position.
	again, err := cluster.Append(ctx, n.log, e, "a/7/1")
	if err != nil || again != pos {
		t.Errorf("retry: %d, %v; want %d", again, err, pos)
	}
	// Another publish after the same position is fenced.
	if _, err := cluster.Append(ctx, n.log, &cluster.Entry{Prev: 0, Leader: "b"}, "b/8/1"); !errors.Is(err, cluster.ErrFenced) {
		t.Errorf("second publish after 0: %v, want fenced", err)
	}
	if _, err := cluster.Append(ctx, n.log, &cluster.Entry{Prev: pos + 1, Leader: "b"}, "b/8/2"); !errors.Is(err, cluster.ErrFenced) {
		t.Errorf("publish after a position not reached: %v, want fenced", err)
	}
	es := entries(t, n.log)
	if len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
	got := es[0]
	if got.Position != pos || got.Prev != 0 || got.Leader != "a" || got.Term != 7 || len(got.WriteSet.Ops) != 1 || string(got.WriteSet.Ops[0].Key) != "k" {
		t.Errorf("entry read back: %+v", got)
	}
}

// A retry that the stream refuses because the first attempt, whose answer
// was lost, was stored after all, gets that attempt's position: the
// Writer does not step down over its own write. Here the stream has
// forgotten the message id (a short duplicates window), as it has not yet
// learned it while the first attempt is still on its way through the
// replicas. An entry after the same position that is not the Writer's
// still fences it.
func TestWriter_ARetryRefusedForItsOwnStoredAttemptSucceeds(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	n := newNode(t, c, 0, "a")
	ctx := context.Background()
	var log *cluster.Log
	eventually(t, "open log", func() error {
		var err error
		log, err = cluster.OpenLog(ctx, n.js, cluster.LogConfig{Stream: "DUPS", Subject: "dups", Replicas: 3, Duplicates: 100 * time.Millisecond})
		return err
	})
	ws := &bolt.WriteSet{Ops: []bolt.Op{{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("sites")}, Key: []byte("k"), Value: []byte{}}}}
	// The first attempt of a's first publish under term 7 is stored.
	pos, err := cluster.Append(ctx, log, &cluster.Entry{Prev: 0, Leader: "a", Term: 7, WriteSet: ws}, "a/7/1")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stream forgets the id", func() error {
		_, err := cluster.Append(ctx, log, &cluster.Entry{Prev: 0, Leader: "a", Term: 7, WriteSet: ws}, "a/7/1")
		if errors.Is(err, cluster.ErrFenced) {
			return nil
		}
		return fmt.Errorf("retry: %v", err)
	})
	w := cluster.NewWriter(log, "a")
	cluster.Lead(w, 7)
	got, err := w.Replicate(0, ws)
	if err != nil || got != pos {
		t.Fatalf("a's publish whose attempt was stored: %d, %v; want %d", got, err, pos)
	}
	if _, ok := w.Leading(); !ok {
		t.Error("a stepped down over its own write")
	}
	other := cluster.NewWriter(log, "b")
	cluster.Lead(other, 8)
	if _, err := other.Replicate(0, ws); !errors.Is(err, cluster.ErrFenced) {
		t.Errorf("b's publish after a's entry: %v, want fenced", err)
	}
	if _, ok := other.Leading(); ok {
		t.Error("b leads on after being fenced")
	}
	if es := entries(t, log); len(es) != 1 {
		t.Errorf("%d entries, want 1", len(es))
	}
}

// A leader whose heartbeats are late but whose entries reach the log is
// heard through them: a follower that reads its writes does not count it
// silent (a saturated leader's heartbeat goroutine waits behind the work
// it is doing). A holder that neither beats nor writes stays silent.
func TestLease_ALeaderWritingIsNotSilent(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	const ttl = time.Hour
	la, lb := a.lease(t, ttl), b.lease(t, ttl)
	beats, clk := b.watchBeats(t, lb)
	b.follow.Heard = beats.Heard
	b.run(t)
	a.lead(t, la) // and never beats
	// b has read the barrier (and heard a) before the clock moves.
	if err := b.follow.WaitFor(ctx, a.position(t)); err != nil {
		t.Fatal(err)
	}

	beats.Silence("a")
	clk.Advance(5 * time.Second)
	if s := beats.Silence("a"); s != 5*time.Second {
		t.Fatalf("silence of a holder that neither beats nor writes: %s", s)
	}
	if err := putSite(ctx, a.store, "site_a1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b hears a through its entry", func() error {
		if s := beats.Silence("a"); s != 0 {
			return fmt.Errorf("silent for %s", s)
		}
		return nil
	})
}

// A node that finds its own name in the key, which it does not hold (its
// create was written but the answer lost, or it held the key before a
// restart), takes the lease at once instead of waiting for the TTL; a
// node whose name is not in the key takes nothing.
func TestLease_AKeyNamingThisNodeIsReclaimed(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	const ttl = time.Hour
	la := a.lease(t, ttl)
	// a's earlier life: the key written with a's name, by a Lease that
	// is gone.
	gone := a.lease(t, ttl)
	if ok, err := gone.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("the earlier a acquires: %v, %v", ok, err)
	}
	lb := b.lease(t, ttl)
	if ok, err := lb.TryAcquire(ctx); err != nil || ok {
		t.Fatalf("b acquires a key naming a: %v, %v", ok, err)
	}
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires the key naming it: %v, %v", ok, err)
	}
	if la.Term() <= gone.Term() {
		t.Errorf("a's term %d, not after the earlier holding's %d", la.Term(), gone.Term())
	}
	if err := gone.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("the earlier holding renews: %v, want lost", err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Errorf("a renews: %v", err)
	}
}

// A holder that hears the heartbeat of a later term lets the lease go at
// once, not at its next renewal (the TTL here is far longer than the
// test): the node that took it from a holder it found silent is beating
// already, and the old holder, alive after all, must stop writing before
// it moves the log past the new one's barrier. Heartbeats of its own or
// an earlier term change nothing.
func TestLease_AHolderHearingALaterTermLetsGo(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	const ttl = time.Hour
	la, lb := a.lease(t, ttl), b.lease(t, ttl)
	beats, clk := a.watchBeats(t, la)
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	term := la.Term()

	// Stale and equal terms, then a marker, from one connection: NATS
	// keeps their order, so once a heard the marker it heard them all.
	nc := b.js.Conn()
	subject := cluster.BeatSubject(la)
	beats.Silence("marker")
	clk.Advance(time.Second)
	for _, m := range [][]byte{cluster.Beat("old", term-1), cluster.Beat("same", term), []byte("untermed"), cluster.Beat("marker", 0)} {
		if err := nc.Publish(subject, m); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a hears the marker", func() error {
		if s := beats.Silence("marker"); s != 0 {
			return fmt.Errorf("silent for %s", s)
		}
		return nil
	})
	select {
	case <-la.Lost():
		t.Fatal("a let the lease go on a heartbeat of its own or an earlier term")
	default:
	}

	_, rev, err := lb.Holder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := lb.TakeFrom(ctx, rev); err != nil || !ok {
		t.Fatalf("b takes the lease: %v, %v", ok, err)
	}
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	go lb.Beat(bctx, nc, 10*time.Millisecond)
	eventually(t, "a lets go", func() error {
		select {
		case <-la.Lost():
			return nil
		default:
			return errors.New("a still holds the lease")
		}
	})
	if la.Term() != 0 {
		t.Errorf("a's term after letting go: %d", la.Term())
	}
	if lb.Term() <= term {
		t.Errorf("b's term %d, a's was %d", lb.Term(), term)
	}
}

// A holder whose heartbeats stop is taken over by compare-and-set on its
// revision, without waiting for its lease to run out (the TTL here is far
// longer than the test); a stale revision takes nothing; a holder that
// lost the lease while catching up publishes no barrier; and the holder
// that went silent is fenced by the barrier alone.
func TestLease_SilentHolderIsTakenOver(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b, d := newNode(t, c, 0, "a"), newNode(t, c, 1, "b"), newNode(t, c, 2, "d")
	const ttl = time.Hour
	la, lb, ld := a.lease(t, ttl), b.lease(t, ttl), d.lease(t, ttl)
	beats, clk := b.watchBeats(t, lb)

	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	if err := cluster.TakeOver(ctx, la, a.follow, a.writer); err != nil {
		t.Fatal(err)
	}
	if err := putSite(ctx, a.store, "site_a1"); err != nil {
		t.Fatal(err)
	}
	aBefore := a.digest(t)

	// A holder first asked about has a whole timeout before it counts as
	// silent, even if it was never heard.
	if s := beats.Silence("a"); s != 0 {
		t.Errorf("silence of a holder just seen: %s", s)
	}
	clk.Advance(5 * time.Second)
	if s := beats.Silence("a"); s != 5*time.Second {
		t.Errorf("silence of a holder never heard, 5 s after it was first seen: %s", s)
	}
	// a beats: b hears it.
	bctx, stopBeating := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); la.Beat(bctx, a.js.Conn(), 10*time.Millisecond) }()
	eventually(t, "b hears a", func() error {
		if s := beats.Silence("a"); s != 0 {
			return fmt.Errorf("silent for %s", s)
		}
		return nil
	})
	// a pauses: no more heartbeats, and b counts the silence.
	stopBeating()
	<-beating
	eventually(t, "a silent", func() error {
		clk.Advance(5 * time.Second)
		if s := beats.Silence("a"); s < 5*time.Second {
			return fmt.Errorf("silent for %s", s)
		}
		return nil
	})

	holder, stale, err := lb.Holder(ctx)
	if err != nil || holder != "a" {
		t.Fatalf("holder %q, %v", holder, err)
	}
	if err := la.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := lb.TakeFrom(ctx, stale); err != nil || ok {
		t.Fatalf("b takes the lease at a revision a renewed since: %v, %v", ok, err)
	}
	_, rev, err := lb.Holder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := lb.TakeFrom(ctx, rev); err != nil || !ok {
		t.Fatalf("b takes the lease from silent a: %v, %v", ok, err)
	}
	if h, _, err := lb.Holder(ctx); err != nil || h != "b" || lb.Term() <= la.Term() {
		t.Fatalf("holder %q (term %d, a's %d), %v", h, lb.Term(), la.Term(), err)
	}

	// b is slow to take over: d takes the lease from it first. b's
	// takeover then publishes no barrier.
	_, rev, err = ld.Holder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := ld.TakeFrom(ctx, rev); err != nil || !ok {
		t.Fatalf("d takes the lease from b: %v, %v", ok, err)
	}
	end, err := b.log.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.TakeOver(ctx, lb, b.follow, b.writer); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Fatalf("takeover by a holder whose lease was taken: %v, want lost", err)
	}
	if _, ok := b.writer.Leading(); ok {
		t.Error("b's writer leads without the lease")
	}
	if now, err := b.log.Last(ctx); err != nil || now != end {
		t.Errorf("the log moved from %d to %d (%v): b published a barrier", end, now, err)
	}

	// d takes over. a, still believing it leads, is fenced.
	if err := cluster.TakeOver(ctx, ld, d.follow, d.writer); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.writer.Leading(); !ok {
		t.Fatal("a's writer stopped leading by itself; the test needs it to believe it leads")
	}
	if err := putSite(ctx, a.store, "site_a2"); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("silent leader's write: %v, want fenced", err)
	}
	if a.digest(t) != aBefore {
		t.Error("the silent leader's store changed")
	}
	if err := la.Renew(ctx); !errors.Is(err, cluster.ErrLeaseLost) {
		t.Errorf("silent leader renews: %v, want lost", err)
	}
	if err := putSite(ctx, d.store, "site_d1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.follow.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	waitSame(t, d, b)
}

// TestFollower_CatchUpAppliesInGroups: a new leader catching up with the
// log applies what it lacks a few hundred entries per transaction, not
// one commit (and fsync) per entry, which made takeovers take seconds.
func TestFollower_CatchUpAppliesInGroups(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	a.lead(t, a.lease(t, 5*time.Second))
	ctx := context.Background()
	write := func(n int, prefix string) {
		t.Helper()
		for i := range n {
			if err := putSite(ctx, a.store, fmt.Sprintf("site_%s%d", prefix, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	catchUp := func(entries int) {
		t.Helper()
		before := b.store.CommitSeconds().Count()
		if _, err := b.follow.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		want := uint64((entries + 255) / 256)
		if got := b.store.CommitSeconds().Count() - before; got > want {
			t.Errorf("catching up %d entries took %d commits, want at most %d", entries, got, want)
		}
		waitSame(t, a, b)
	}
	write(300, "x") // through a consumer
	catchUp(300)
	write(100, "y") // entry by entry
	catchUp(100)
}

// staleKV answers Get, once replay is set, with the entry it kept from
// an earlier Get: what a replica behind the others answers a direct get.
type staleKV struct {
	cluster.KeyReader
	mu     sync.Mutex
	kept   *jetstream.RawStreamMsg
	replay bool
}

func (s *staleKV) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replay {
		return s.kept, nil
	}
	m, err := s.KeyReader.GetLastMsgForSubject(ctx, subject)
	if err == nil && s.kept == nil {
		s.kept = m
	}
	return m, err
}

// A read of the lease never goes back in time: once a node has read (or
// written) a revision, an older answer, such as a replica behind the
// others gives, reads as the newer one. Believed, it sent the followers
// to a deposed leader and back, ending their forwarded streams each time.
func TestLease_ReadsNeverGoBack(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b, d := newNode(t, c, 0, "a"), newNode(t, c, 1, "b"), newNode(t, c, 2, "d")
	const ttl = time.Hour
	la, lb, ld := a.lease(t, ttl), b.lease(t, ttl), d.lease(t, ttl)
	stale := &staleKV{}
	cluster.WrapReads(ld, func(r cluster.KeyReader) cluster.KeyReader { stale.KeyReader = r; return stale })

	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	holder, revA, err := ld.Holder(ctx)
	if err != nil || holder != "a" {
		t.Fatalf("d reads %q, %v; want a", holder, err)
	}
	// b takes the lease from a; d reads it.
	if ok, err := lb.TakeFrom(ctx, revA); err != nil || !ok {
		t.Fatalf("b takes the lease: %v, %v", ok, err)
	}
	holder, revB, err := ld.Holder(ctx)
	if err != nil || holder != "b" || revB <= revA {
		t.Fatalf("d reads %q at %d, %v; want b after %d", holder, revB, err, revA)
	}
	// A replica behind now answers with a's holding.
	stale.mu.Lock()
	stale.replay = true
	stale.mu.Unlock()
	for range 3 {
		if holder, rev, err := ld.Holder(ctx); err != nil || holder != "b" || rev != revB {
			t.Errorf("d reads %q at %d, %v after reading b at %d", holder, rev, err, revB)
		}
	}
	// b releases it: the delete's revision is newer still, and a stale
	// answer does not bring a back either.
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	stale.mu.Lock()
	stale.replay = false
	stale.mu.Unlock()
	holder, revDel, err := ld.Holder(ctx)
	if err != nil || holder != "" || revDel <= revB {
		t.Fatalf("d reads %q at %d, %v after the release; want nobody after %d", holder, revDel, err, revB)
	}
	stale.mu.Lock()
	stale.replay = true
	stale.mu.Unlock()
	if holder, _, err := ld.Holder(ctx); err != nil || holder != "" {
		t.Errorf("d reads %q, %v after reading the release", holder, err)
	}
	// A holder's own writes count as read: a, taking the lease again,
	// never reads the earlier holdings back.
	stale.mu.Lock()
	stale.replay = false
	stale.mu.Unlock()
	if ok, err := ld.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("d acquires: %v, %v", ok, err)
	}
	stale.mu.Lock()
	stale.replay = true
	stale.mu.Unlock()
	if holder, rev, err := ld.Holder(ctx); err != nil || holder != "d" || rev != ld.Term() {
		t.Errorf("d, holding at %d, reads %q at %d, %v", ld.Term(), holder, rev, err)
	}
}

// unansweredKV fails the first renewals (updates) it is asked for as
// servers that do not answer do, then passes them on.
type unansweredKV struct {
	jetstream.KeyValue
	mu    sync.Mutex
	fails int // renewals still to fail
	asked int
}

func (u *unansweredKV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	u.mu.Lock()
	u.asked++
	fail := u.fails > 0
	u.fails--
	u.mu.Unlock()
	if fail {
		return 0, context.DeadlineExceeded
	}
	return u.KeyValue.Update(ctx, key, value, last)
}

// A takeover whose renewal of the lease gets no answer (the lease
// bucket's group electing a leader after its leader's server died with the
// old leader) tries it again while the lease lasts, instead of ending:
// the node had to win the lease and catch up all over again.
func TestTakeOver_WaitsForTheLeasesServersToAnswer(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	a := newNode(t, c, 0, "a")
	la := a.lease(t, time.Hour)
	ctx := context.Background()
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	kv := &unansweredKV{fails: 2}
	cluster.WrapKV(la, func(inner jetstream.KeyValue) jetstream.KeyValue { kv.KeyValue = inner; return kv })
	if err := cluster.TakeOver(ctx, la, a.follow, a.writer); err != nil {
		t.Fatalf("take over with renewals unanswered twice: %v", err)
	}
	if kv.asked != 3 {
		t.Errorf("%d renewals asked, want 3", kv.asked)
	}
	if err := putSite(ctx, a.store, "site_after"); err != nil {
		t.Errorf("the new leader writes: %v", err)
	}
}

// A node whose own process is too busy to read its heartbeats does not
// take a holder's silence for death: CaughtUp says so while heartbeats
// wait for its handler, and once they are read the holder is not silent.
// A holder that stopped beating leaves nothing waiting.
func TestHeartbeats_ABusyNodeIsNotCaughtUp(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	const ttl = time.Hour
	la, lb := a.lease(t, ttl), b.lease(t, ttl)
	beats, clk := b.watchBeats(t, lb)
	if ok, err := la.TryAcquire(ctx); err != nil || !ok {
		t.Fatalf("a acquires: %v, %v", ok, err)
	}
	beats.Silence("a")
	clk.Advance(5 * time.Second)
	// a beats nothing: silent, and nothing waits.
	if !beats.CaughtUp(ctx) {
		t.Fatal("not caught up with no heartbeat sent")
	}
	if s := beats.Silence("a"); s != 5*time.Second {
		t.Fatalf("silence %s", s)
	}
	// b is too busy to read: a's heartbeats wait.
	release := beats.Hold()
	for range 2 {
		if err := a.js.Conn().Publish(cluster.BeatSubject(la), cluster.Beat("a", la.Term())); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if beats.CaughtUp(ctx) {
		t.Error("caught up with a's heartbeats waiting to be read")
	}
	if s := beats.Silence("a"); s < 5*time.Second {
		t.Fatalf("silence %s before the heartbeats are read", s)
	}
	release()
	eventually(t, "the heartbeats read", func() error {
		if !beats.CaughtUp(ctx) {
			return errors.New("not caught up")
		}
		return nil
	})
	if s := beats.Silence("a"); s != 0 {
		t.Errorf("silence %s once a's heartbeats are read", s)
	}
}

// A reader that waits for an entry the Follower has received does not
// wait out the window Run batches entries in: WaitFor has it apply what
// it has at once. Here the window is an hour; without the hurry, the
// wait would end on its deadline.
func TestFollower_AReaderWaitingCutsTheBatchingShort(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	a, b := newNode(t, c, 0, "a"), newNode(t, c, 1, "b")
	b.follow.Window = time.Hour
	b.run(t)
	a.lead(t, a.lease(t, time.Hour))
	for i := range 3 {
		if err := putSite(ctx, a.store, fmt.Sprintf("site_%d", i)); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, converge)
		err := b.follow.WaitFor(wctx, a.position(t))
		cancel()
		if err != nil {
			t.Fatalf("write %d: b at %d, a at %d: %v", i, b.follow.Position(), a.position(t), err)
		}
	}
	waitSame(t, a, b)
}

// refusingJS refuses the next publishes as the stream refuses one after a
// position that has moved on (wrong last sequence), without publishing:
// what a leader's publish meets when an attempt of its own is still on
// its way, or was not kept.
type refusingJS struct {
	jetstream.JetStream
	refuse atomic.Int32
}

func (r *refusingJS) Publish(ctx context.Context, subject string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if r.refuse.Add(-1) >= 0 {
		return nil, &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}
	}
	return r.JetStream.Publish(ctx, subject, data, opts...)
}

// A publish refused as fenced, with nothing after its position, is tried
// again: the Writer stores its entry there and leads on. Before, it
// stepped down, and a live leader was deposed over nothing. A publish
// that finds another's entry there still steps down (the fencing tests).
func TestWriter_AFenceWithNothingBehindItIsTriedAgain(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()
	js := &refusingJS{JetStream: c.connect(t, 0)}
	var log *cluster.Log
	eventually(t, "open log", func() error {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		log, err = cluster.OpenLog(octx, js, cluster.LogConfig{Replicas: 3})
		return err
	})
	w := cluster.NewWriter(log, "a")
	cluster.Lead(w, 7)
	ws := &bolt.WriteSet{}
	first, err := w.Replicate(0, ws)
	if err != nil {
		t.Fatal(err)
	}
	js.refuse.Store(3)
	pos, err := w.Replicate(first, ws)
	if err != nil || pos != first+1 {
		t.Fatalf("publish after %d refused three times with nothing there: %d, %v; want %d", first, pos, err, first+1)
	}
	if _, ok := w.Leading(); !ok {
		t.Errorf("the writer stepped down: %v", w.Err())
	}
	if es := entries(t, log); len(es) != 2 {
		t.Errorf("%d entries, want 2", len(es))
	}
}
