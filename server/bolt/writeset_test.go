package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// mirror is a Replicator that applies each write set, encoded and decoded
// again, to another store, numbering positions one by one, as a log would.
type mirror struct {
	dst *bolt.Store

	mu   sync.Mutex
	sets []*bolt.WriteSet
	fail error // when set, Replicate fails with it
}

func (m *mirror) Replicate(prev uint64, ws *bolt.WriteSet) (uint64, error) {
	m.mu.Lock()
	fail := m.fail
	m.mu.Unlock()
	if fail != nil {
		return 0, fail
	}
	got, err := bolt.UnmarshalWriteSet(ws.Marshal())
	if err != nil {
		return 0, err
	}
	if err := m.dst.Apply(context.Background(), prev, prev+1, got); err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.sets = append(m.sets, got)
	m.mu.Unlock()
	return prev + 1, nil
}

func (m *mirror) failWith(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// mirrored opens a store that replicates into a second one.
func mirrored(t *testing.T) (src, dst *bolt.Store, m *mirror) {
	t.Helper()
	dst = MustOpen(t)
	m = &mirror{dst: dst}
	src = MustOpen(t, bolt.WithReplicator(m))
	return src, dst, m
}

// sameContent fails unless a and b hold the same, naming the first
// difference.
func sameContent(t *testing.T, a, b *bolt.Store) {
	t.Helper()
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, err := b.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if da == db {
		return
	}
	ca, cb := contents(t, a), contents(t, b)
	for k, v := range ca {
		if w, ok := cb[k]; !ok || w != v {
			t.Fatalf("stores differ at %s: %q vs %q (present %v)", k, v, w, ok)
		}
	}
	for k := range cb {
		if _, ok := ca[k]; !ok {
			t.Fatalf("stores differ at %s: missing vs %q", k, cb[k])
		}
	}
	t.Fatalf("stores differ (digests %s, %s) but not in any key", da, db)
}

// contents lists everything a store holds, by a copy of its file.
func contents(t *testing.T, s *bolt.Store) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bbolt.Bucket) error
	walk = func(prefix string, b *bbolt.Bucket) error {
		out[prefix+"#sequence"] = fmt.Sprint(b.Sequence())
		return b.ForEach(func(k, v []byte) error {
			if v == nil && b.Bucket(k) != nil {
				return walk(fmt.Sprintf("%s/%q", prefix, k), b.Bucket(k))
			}
			out[fmt.Sprintf("%s/%q", prefix, k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return walk(fmt.Sprintf("%q", name), b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// workload writes through every write path of the store: records and
// their indexes put and deleted, sequences, cursor deletes (retention and
// the trimming of routing decisions and webhook deliveries), erasure, and
// concurrent Updates sharing commits, some of which fail after writing
// and are rolled back. It returns how many commits it made at least.
func workload(t *testing.T, s *bolt.Store) {
	t.Helper()
	ctx := context.Background()
	f := newFixture()
	f.agent.Login = "ada"
	MustUpdate(t, s, f.put)

	// The login index moves: a delete and a put.
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		a := *f.agent
		a.Login = "ada.l"
		return tx.PutAgent(&a)
	})
	// One decision more than a site keeps, and deliveries likewise: the
	// oldest go by cursor deletes.
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for i := 0; i < 1001; i++ {
			d := *f.decision
			d.Time = at(100 + i)
			if err := tx.AppendRoutingDecision(&d); err != nil {
				return err
			}
		}
		return nil
	})
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		if err := tx.PutWebhook(&domain.Webhook{ID: "wh_1", URL: "https://hooks.example/a", SiteID: "site_1", Enabled: true, Secret: "whsec_x"}); err != nil {
			return err
		}
		if err := tx.PutWebhook(&domain.Webhook{ID: "wh_2", URL: "https://hooks.example/b", SiteID: "site_1", Enabled: true, Secret: "whsec_y"}); err != nil {
			return err
		}
		for i := 0; i < 502; i++ {
			if err := tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: "wh_1", EventID: fmt.Sprint(i), Time: at(i), Attempt: 1, StatusCode: 200, Success: true}); err != nil {
				return err
			}
		}
		return tx.AppendWebhookDelivery(&domain.WebhookDelivery{WebhookID: "wh_2", EventID: "x", Time: at(1), Attempt: 1, StatusCode: 500})
	})
	MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.DeleteWebhook("wh_2") })
	// The event log: positions from the bucket's sequence, then retention.
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		for i := 0; i < 20; i++ {
			ev := &domain.Event{Type: domain.EventVisitorPageViewed, Time: at(i), SiteID: "site_1", VisitorID: "vis_1"}
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
		}
		if err := tx.CountRating("site_1", "agt_1", at(3), 5); err != nil {
			return err
		}
		return tx.AddFunnel("site_1", at(3), []int{0, 2})
	})
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		_, err := tx.DeleteEventsBefore(at(10), 0)
		return err
	})
	// A chat that starts and ends: the active index gets and loses it.
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		c := *f.chat
		c.ID, c.State, c.LastSeq = "chat_2", domain.ChatStateActive, 0
		return tx.PutChat(&c)
	})
	MustUpdate(t, s, func(tx domain.WriteTx) error {
		c := *f.chat
		c.ID = "chat_2"
		return tx.PutChat(&c)
	})

	// Concurrent Updates share commits; every fourth fails after writing,
	// which rolls its batch back and runs the rest again.
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx domain.WriteTx) error {
				site := *f.site
				site.ID = fmt.Sprintf("site_c%02d", i)
				if err := tx.PutSite(&site); err != nil {
					return err
				}
				if i%4 == 0 {
					return errors.New("fails after writing")
				}
				return nil
			})
			if (err != nil) != (i%4 == 0) {
				t.Errorf("update %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	// Buckets made and deleted within a transaction.
	if err := bolt.ChangeBuckets(ctx, s, [][]byte{[]byte("extra_a"), []byte("extra_b")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := bolt.ChangeBuckets(ctx, s, nil, [][]byte{[]byte("extra_a")}); err != nil {
		t.Fatal(err)
	}
	MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.EraseVisitor("vis_1") })
}

func TestWriteSet_ApplyMakesTheSameFile(t *testing.T) {
	src, dst, m := mirrored(t)
	workload(t, src)
	sameContent(t, src, dst)

	// Each commit is one write set at the next position, recorded by both.
	ps, err := src.Position()
	if err != nil {
		t.Fatal(err)
	}
	pd, err := dst.Position()
	if err != nil {
		t.Fatal(err)
	}
	if ps != uint64(len(m.sets)) || pd != ps {
		t.Errorf("positions %d and %d after %d write sets", ps, pd, len(m.sets))
	}
	// The failed Updates' sites were rolled back, and are in no write set.
	MustView(t, dst, func(tx domain.ReadTx) error {
		for i := 0; i < 40; i += 4 {
			if _, err := tx.Site(fmt.Sprintf("site_c%02d", i)); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Errorf("site_c%02d: %v, want not found", i, err)
			}
		}
		if _, err := tx.Site("site_c01"); err != nil {
			t.Error(err)
		}
		return nil
	})
}

func TestWriteSet_EncodingRoundTrip(t *testing.T) {
	ws := &bolt.WriteSet{Ops: []bolt.Op{
		{Kind: bolt.OpCreateBucket, Key: []byte("top")},
		{Kind: bolt.OpCreateBucket, Bucket: [][]byte{[]byte("top")}, Key: []byte("nested")},
		{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("top"), []byte("nested")}, Key: []byte("k"), Value: []byte{}},
		{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("top")}, Key: []byte("k\x00"), Value: []byte("v")},
		{Kind: bolt.OpSetSequence, Bucket: [][]byte{[]byte("top")}, Sequence: 1 << 40},
		{Kind: bolt.OpDelete, Bucket: [][]byte{[]byte("top")}, Key: []byte("k\x00")},
		{Kind: bolt.OpDeleteBucket, Bucket: [][]byte{[]byte("top")}, Key: []byte("nested")},
	}}
	got, err := bolt.UnmarshalWriteSet(ws.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ws) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, ws)
	}

	t.Run("ErrUnknownKind", func(t *testing.T) {
		b := (&bolt.WriteSet{Ops: []bolt.Op{{Kind: 99, Bucket: [][]byte{[]byte("x")}, Key: []byte("k")}}}).Marshal()
		if _, err := bolt.UnmarshalWriteSet(b); err == nil {
			t.Error("decoded an op of unknown kind")
		}
	})
	t.Run("ErrTruncated", func(t *testing.T) {
		b := ws.Marshal()
		if _, err := bolt.UnmarshalWriteSet(b[:len(b)-1]); err == nil {
			t.Error("decoded a truncated write set")
		}
	})
}

func TestWriteSet_ApplyNested(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ws := &bolt.WriteSet{Ops: []bolt.Op{
		{Kind: bolt.OpCreateBucket, Key: []byte("top")},
		{Kind: bolt.OpCreateBucket, Bucket: [][]byte{[]byte("top")}, Key: []byte("nested")},
		{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("top"), []byte("nested")}, Key: []byte("k"), Value: []byte("v")},
		{Kind: bolt.OpSetSequence, Bucket: [][]byte{[]byte("top"), []byte("nested")}, Sequence: 7},
		{Kind: bolt.OpCreateBucket, Bucket: [][]byte{[]byte("top")}, Key: []byte("gone")},
		{Kind: bolt.OpDeleteBucket, Bucket: [][]byte{[]byte("top")}, Key: []byte("gone")},
	}}
	err = db.Update(func(tx *bbolt.Tx) error { return ws.Apply(tx) })
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		top := tx.Bucket([]byte("top"))
		n := top.Bucket([]byte("nested"))
		if got := string(n.Get([]byte("k"))); got != "v" {
			t.Errorf("nested k = %q", got)
		}
		if n.Sequence() != 7 {
			t.Errorf("sequence %d", n.Sequence())
		}
		if top.Bucket([]byte("gone")) != nil {
			t.Error("deleted bucket still there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrNoBucket", func(t *testing.T) {
		bad := &bolt.WriteSet{Ops: []bolt.Op{{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("absent")}, Key: []byte("k"), Value: []byte("v")}}}
		if err := db.Update(func(tx *bbolt.Tx) error { return bad.Apply(tx) }); err == nil {
			t.Error("applied a put into a bucket that does not exist")
		}
	})
}

func TestReplicator_FailureAcknowledgesNothing(t *testing.T) {
	src, dst, m := mirrored(t)
	MustUpdate(t, src, func(tx domain.WriteTx) error { return tx.PutSite(newFixture().site) })
	before, err := src.Digest()
	if err != nil {
		t.Fatal(err)
	}

	cause := errors.New("publish refused")
	m.failWith(cause)
	release, blocked := blockWriter(t, src)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	hooked := make(chan int, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = src.Update(context.Background(), func(tx domain.WriteTx) error {
				tx.OnCommit(func() { hooked <- i })
				site := *newFixture().site
				site.ID = fmt.Sprintf("site_f%d", i)
				return tx.PutSite(&site)
			})
		}()
	}
	waitQueued(src, len(errs))
	release()
	if err := <-blocked; err != nil {
		t.Errorf("an update that wrote nothing: %v", err) // nothing to replicate
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, cause) || domain.ErrorCode(err) != domain.CodeUnavailable {
			t.Errorf("update %d: %v, want the cause as unavailable", i, err)
		}
	}
	if len(hooked) != 0 {
		t.Errorf("%d OnCommit hooks ran for a batch that was not replicated", len(hooked))
	}
	after, err := src.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Error("the store changed although replication failed")
	}

	// Once the log accepts again, so does the store.
	m.failWith(nil)
	MustUpdate(t, src, func(tx domain.WriteTx) error {
		site := *newFixture().site
		site.ID = "site_ok"
		return tx.PutSite(&site)
	})
	sameContent(t, src, dst)
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	put := func(k string) *bolt.WriteSet {
		return &bolt.WriteSet{Ops: []bolt.Op{{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("sites")}, Key: []byte(k), Value: []byte{}}}}
	}
	if err := s.Apply(ctx, 0, 3, put("a")); err != nil {
		t.Fatal(err)
	}
	d1, _ := s.Digest()

	t.Run("AppliedAlready", func(t *testing.T) {
		if err := s.Apply(ctx, 0, 3, put("b")); err != nil {
			t.Fatal(err)
		}
		if d, _ := s.Digest(); d != d1 {
			t.Error("an entry applied already changed the store")
		}
	})
	t.Run("ErrGap", func(t *testing.T) {
		err := s.Apply(ctx, 4, 5, put("c"))
		if domain.ErrorCode(err) != domain.CodeFailedPrecondition {
			t.Errorf("entry after a gap: %v, want failed precondition", err)
		}
		if d, _ := s.Digest(); d != d1 {
			t.Error("an entry after a gap changed the store")
		}
	})
	t.Run("Barrier", func(t *testing.T) {
		if err := s.Apply(ctx, 3, 4, nil); err != nil {
			t.Fatal(err)
		}
		if pos, err := s.Position(); err != nil || pos != 4 {
			t.Errorf("position %d, %v; want 4", pos, err)
		}
	})
	t.Run("ErrBadPositions", func(t *testing.T) {
		if err := s.Apply(ctx, 4, 4, put("d")); domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("entry at its own prev: %v, want invalid", err)
		}
	})
}

func TestWithoutReplicator_NoPosition(t *testing.T) {
	s := MustOpen(t)
	workload(t, s)
	if pos, err := s.Position(); err != nil || pos != 0 {
		t.Errorf("position %d, %v; want 0 without replication", pos, err)
	}
	for k := range contents(t, s) {
		if bytes.HasPrefix([]byte(k), []byte(`"replication"`)) {
			t.Fatalf("a store that does not replicate has %s", k)
		}
	}
}

// recording is a Replicator that keeps the write sets and numbers them.
type recording struct {
	mu   sync.Mutex
	sets []*bolt.WriteSet
}

func (r *recording) Replicate(prev uint64, ws *bolt.WriteSet) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, ws)
	return prev + 1, nil
}

func TestApply_NeverSharesACommitWithUpdates(t *testing.T) {
	r := &recording{}
	s := MustOpen(t, bolt.WithReplicator(r))
	ctx := context.Background()
	release, blocked := blockWriter(t, s)
	errs := make(chan error, 2)
	go func() {
		errs <- s.Update(ctx, func(tx domain.WriteTx) error { return tx.PutSite(&domain.Site{ID: "site_local"}) })
	}()
	waitQueued(s, 1)
	// A stale entry of the log, at the position the Update is given: it
	// must find it taken, not slip into the Update's transaction.
	go func() {
		errs <- s.Apply(ctx, 0, 1, &bolt.WriteSet{Ops: []bolt.Op{{Kind: bolt.OpPut, Bucket: [][]byte{[]byte("sites")}, Key: []byte("site_log"), Value: []byte{}}}})
	}()
	waitQueued(s, 2)
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	MustView(t, s, func(tx domain.ReadTx) error {
		if _, err := tx.Site("site_log"); domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("the log's entry at a position taken was applied: %v", err)
		}
		return nil
	})
	if pos, _ := s.Position(); pos != 1 {
		t.Errorf("position %d, want 1", pos)
	}
	if len(r.sets) != 1 || len(r.sets[0].Ops) != 1 || string(r.sets[0].Ops[0].Key) != "site_local" {
		t.Errorf("replicated %+v, want the local site alone", r.sets)
	}
}

func TestApply_IdempotencyKeysFromTheLog(t *testing.T) {
	alice := domain.Participant{Role: domain.RoleVisitor, ID: "alice"}
	msg := func(seq uint32, key string) domain.ChatEvent {
		return domain.ChatEvent{ChatID: "c1", Seq: seq, Message: &domain.ChatMessage{Sender: alice, Text: "x", IdempotencyKey: key}}
	}
	leader, follower, _ := mirrored(t)
	MustUpdate(t, leader, func(tx domain.WriteTx) error {
		if err := tx.PutChat(&domain.Chat{ID: "c1", SiteID: "site_1", Visitor: alice, State: domain.ChatStateActive, CreateTime: at(1)}); err != nil {
			return err
		}
		return tx.AppendChatEvent(msg(1, "k1"))
	})
	lookUp := func(key string) (uint32, bool) {
		var seq uint32
		var found bool
		MustUpdate(t, follower, func(tx domain.WriteTx) error {
			var err error
			seq, found, err = tx.MessageSeqByKey("c1", "alice", key)
			return err
		})
		return seq, found
	}
	// The follower's writer indexes the chat's keys...
	if seq, found := lookUp("k1"); !found || seq != 1 {
		t.Fatalf("k1: %d, %v", seq, found)
	}
	// ...then applies a message from the log: were it to answer from that
	// index, a leader it became would take the key again.
	MustUpdate(t, leader, func(tx domain.WriteTx) error { return tx.AppendChatEvent(msg(2, "k2")) })
	if seq, found := lookUp("k2"); !found || seq != 2 {
		t.Errorf("k2 applied from the log: %d, %v; want 2, true", seq, found)
	}
}
