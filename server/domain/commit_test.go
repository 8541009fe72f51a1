package domain_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestNoChangeWithoutEvent: an Update of the domain that writes and
// records no event fails as internal and writes nothing; with its event,
// or with its writes declared mechanism-only (quiet), it commits.
func TestNoChangeWithoutEvent(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	rename := func(tx domain.WriteTx, name string) error {
		site, err := tx.Site("shop")
		if err != nil {
			return err
		}
		site.Name = name
		return tx.PutSite(site)
	}
	name := func() string {
		t.Helper()
		site, err := e.svc.GetSite(ctx(t), "shop")
		if err != nil {
			t.Fatal(err)
		}
		return site.Name
	}
	before := len(e.eventLog(t))

	t.Run("ErrNoEvent", func(t *testing.T) {
		err := e.svc.Update(ctx(t), func(tx domain.WriteTx) error { return rename(tx, "Unrecorded") })
		if domain.ErrorCode(err) != domain.CodeInternal {
			t.Fatalf("a write without its event: %v, want an internal error", err)
		}
		if got := name(); got == "Unrecorded" {
			t.Fatal("the write without its event was kept")
		}
	})
	t.Run("ReadOnly", func(t *testing.T) {
		err := e.svc.Update(ctx(t), func(tx domain.WriteTx) error {
			_, err := tx.Site("shop")
			return err
		})
		if err != nil {
			t.Fatalf("an Update that writes nothing: %v", err)
		}
	})
	t.Run("WithEvent", func(t *testing.T) {
		err := e.svc.Update(ctx(t), func(tx domain.WriteTx) error {
			if err := rename(tx, "Recorded"); err != nil {
				return err
			}
			return e.svc.Record(tx, domain.Event{Type: domain.EventSiteUpdated, SiteID: "shop", Fields: []string{"name"}})
		})
		if err != nil || name() != "Recorded" {
			t.Fatalf("a write with its event: %v, name %q", err, name())
		}
	})
	t.Run("Quiet", func(t *testing.T) {
		err := e.svc.Update(ctx(t), func(tx domain.WriteTx) error {
			return domain.Quiet(tx, "a test's mechanism", func() error { return rename(tx, "Quiet") })
		})
		if err != nil || name() != "Quiet" {
			t.Fatalf("a write declared quiet: %v, name %q", err, name())
		}
		// Quiet covers what it runs, not the rest of the Update.
		err = e.svc.Update(ctx(t), func(tx domain.WriteTx) error {
			if err := domain.Quiet(tx, "a test's mechanism", func() error { return nil }); err != nil {
				return err
			}
			return rename(tx, "Loud")
		})
		if domain.ErrorCode(err) != domain.CodeInternal || name() != "Quiet" {
			t.Fatalf("a write after quiet returned: %v, name %q; want an internal error and no change", err, name())
		}
	})
	if got := len(e.eventLog(t)); got != before+1 {
		t.Fatalf("the log grew by %d, want 1 (the recorded rename)", got-before)
	}
}
