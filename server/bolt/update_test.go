package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// queueInOrder starts one Update per fn while the writer is blocked, each
// only once the previous one is queued, then lets the writer go: the fns
// form one batch in the given order. It returns each Update's result.
func queueInOrder(t *testing.T, s *bolt.Store, fns []func(domain.WriteTx) error) []error {
	t.Helper()
	release, blocked := blockWriter(t, s)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					errs[i] = recovered{v}
				}
			}()
			errs[i] = s.Update(context.Background(), fn)
		})
		waitQueued(s, i+1)
	}
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return errs
}

// recovered is a panic that an Update raised in its caller.
type recovered struct{ value any }

func (r recovered) Error() string { return fmt.Sprint("panic: ", r.value) }

func TestUpdateBatch(t *testing.T) {
	t.Run("FailedFnLeavesNoWrites", func(t *testing.T) {
		s := MustOpen(t)
		const n = 40
		type outcome int
		const (
			succeed outcome = iota
			failAfterWrite
			failBeforeWrite
			succeedTwice // two puts and two hooks
		)
		var (
			runs  [n]int
			hooks []int
			fns   []func(domain.WriteTx) error
		)
		kind := func(i int) outcome { return outcome(i % 4) }
		errOf := func(i int) error { return fmt.Errorf("fn %d failed", i) }
		for i := range n {
			fns = append(fns, func(tx domain.WriteTx) error {
				runs[i]++
				if kind(i) == failBeforeWrite {
					return errOf(i)
				}
				if err := tx.PutSite(&domain.Site{ID: siteID(i)}); err != nil {
					return err
				}
				tx.OnCommit(func() { hooks = append(hooks, i) })
				switch kind(i) {
				case failAfterWrite:
					return errOf(i)
				case succeedTwice:
					if err := tx.PutAgent(&domain.Agent{ID: siteID(i)}); err != nil {
						return err
					}
					tx.OnCommit(func() { hooks = append(hooks, i) })
				}
				return nil
			})
		}

		errs := queueInOrder(t, s, fns)

		var wantHooks []int
		for i, err := range errs {
			switch kind(i) {
			case succeed, succeedTwice:
				if err != nil {
					t.Errorf("fn %d: %v", i, err)
				}
				wantHooks = append(wantHooks, i)
				if kind(i) == succeedTwice {
					wantHooks = append(wantHooks, i)
				}
			default:
				if err == nil || err.Error() != errOf(i).Error() {
					t.Errorf("fn %d: got %v, want %v", i, err, errOf(i))
				}
			}
		}
		if !reflect.DeepEqual(hooks, wantHooks) {
			t.Errorf("hooks ran for\n%v\nwant\n%v", hooks, wantHooks)
		}
		// Fn 0 ran before each of the ten failures after writing, so it ran
		// eleven times: proof that they all shared one transaction.
		if got, want := runs[0], 1+n/4; got != want {
			t.Errorf("fn 0 ran %d times, want %d", got, want)
		}
		// A fn that failed without writing runs again after each rollback
		// (its failure may have rested on a rolled-back write); one that
		// failed after writing is left out for good.
		// Fn 1 failed after writing; fn 2 failed before writing and ran
		// again after each of the later rollbacks.
		if runs[1] != 1 || runs[2] != n/4 {
			t.Errorf("failed fns ran %d and %d times, want once and %d", runs[1], runs[2], n/4)
		}

		MustView(t, s, func(tx domain.ReadTx) error {
			for i := range n {
				_, err := tx.Site(siteID(i))
				switch {
				case (kind(i) == succeed || kind(i) == succeedTwice) && err != nil:
					t.Errorf("site of fn %d: %v", i, err)
				case (kind(i) == failAfterWrite || kind(i) == failBeforeWrite) && domain.ErrorCode(err) != domain.CodeNotFound:
					t.Errorf("site of failed fn %d: got %v, want not found", i, err)
				}
			}
			return nil
		})
	})

	t.Run("ReadsEarlierFnsOfBatch", func(t *testing.T) {
		s := MustOpen(t)
		var seen error
		errs := queueInOrder(t, s, []func(domain.WriteTx) error{
			func(tx domain.WriteTx) error { return tx.PutSite(&domain.Site{ID: "a"}) },
			func(tx domain.WriteTx) error { _, seen = tx.Site("a"); return seen },
		})
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("errs %v; second fn did not see the first's write: %v", errs, seen)
		}
	})

	t.Run("PanicReachesCaller", func(t *testing.T) {
		s := MustOpen(t)
		errs := queueInOrder(t, s, []func(domain.WriteTx) error{
			func(tx domain.WriteTx) error { return tx.PutSite(&domain.Site{ID: "a"}) },
			func(tx domain.WriteTx) error {
				if err := tx.PutSite(&domain.Site{ID: "b"}); err != nil {
					return err
				}
				panic("boom")
			},
			func(tx domain.WriteTx) error { return tx.PutSite(&domain.Site{ID: "c"}) },
		})
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("other fns failed: %v, %v", errs[0], errs[2])
		}
		var p recovered
		if !errors.As(errs[1], &p) || !strings.Contains(p.Error(), "boom") {
			t.Fatalf("caller of panicking fn got %v, want its panic", errs[1])
		}
		MustView(t, s, func(tx domain.ReadTx) error {
			if _, err := tx.Site("b"); domain.ErrorCode(err) != domain.CodeNotFound {
				t.Errorf("site of panicking fn: %v", err)
			}
			for _, id := range []string{"a", "c"} {
				if _, err := tx.Site(id); err != nil {
					t.Errorf("site of fn in same batch: %v", err)
				}
			}
			return nil
		})
	})
}

func TestUpdate(t *testing.T) {
	t.Run("HookRunsBeforeUpdateReturns", func(t *testing.T) {
		s := MustOpen(t)
		ran := false
		MustUpdate(t, s, func(tx domain.WriteTx) error {
			tx.OnCommit(func() { ran = true })
			return tx.PutSite(&domain.Site{ID: "a"})
		})
		if !ran {
			t.Fatal("hook had not run when Update returned")
		}
	})

	t.Run("HooksInCommitOrder", func(t *testing.T) {
		s := MustOpen(t)
		var got []int
		for i := range 5 {
			MustUpdate(t, s, func(tx domain.WriteTx) error {
				tx.OnCommit(func() { got = append(got, i) })
				return nil
			})
		}
		if want := []int{0, 1, 2, 3, 4}; !reflect.DeepEqual(got, want) {
			t.Fatalf("hooks ran in order %v, want %v", got, want)
		}
	})

	t.Run("NoHookForFailedFn", func(t *testing.T) {
		s := MustOpen(t)
		ran := false
		err := s.Update(context.Background(), func(tx domain.WriteTx) error {
			tx.OnCommit(func() { ran = true })
			return errors.New("no")
		})
		if err == nil || ran {
			t.Fatalf("err %v, hook ran %v", err, ran)
		}
	})

	t.Run("ErrCanceledBeforeQueued", func(t *testing.T) {
		s := MustOpen(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		err := s.Update(ctx, func(domain.WriteTx) error { called = true; return nil })
		if !errors.Is(err, context.Canceled) || called {
			t.Fatalf("err %v, fn called %v", err, called)
		}
	})

	t.Run("ErrCanceledWhileQueued", func(t *testing.T) {
		s := MustOpen(t)
		release, blocked := blockWriter(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		called := false
		errc := make(chan error)
		go func() {
			errc <- s.Update(ctx, func(domain.WriteTx) error { called = true; return nil })
		}()
		waitQueued(s, 1)
		cancel()
		release()
		<-blocked
		if err := <-errc; !errors.Is(err, context.Canceled) || called {
			t.Fatalf("err %v, fn called %v", err, called)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := MustOpen(t)
		const goroutines, each = 64, 20
		MustUpdate(t, s, func(tx domain.WriteTx) error { return tx.PutChat(&domain.Chat{ID: "c"}) })
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					errs <- s.Update(context.Background(), func(tx domain.WriteTx) error {
						chat, err := tx.Chat("c")
						if err != nil {
							return err
						}
						chat.LastSeq++
						ev := domain.ChatEvent{ChatID: "c", Seq: chat.LastSeq, Message: &domain.ChatMessage{Text: "x"}}
						if err := tx.AppendChatEvent(ev); err != nil {
							return err
						}
						if err := tx.PutChat(chat); err != nil {
							return err
						}
						return tx.PutSite(&domain.Site{ID: siteID(g*each + i)})
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		MustView(t, s, func(tx domain.ReadTx) error {
			sites, err := tx.Sites()
			if err != nil {
				return err
			}
			events, err := tx.ChatEvents("c", 0, 0)
			if err != nil {
				return err
			}
			if len(sites) != goroutines*each || !reflect.DeepEqual(seqs(events), seqRange(1, goroutines*each)) {
				t.Errorf("%d sites and %d events, want %d of each without gaps", len(sites), len(events), goroutines*each)
			}
			return nil
		})
	})
}
