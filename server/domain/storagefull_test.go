package domain_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// fullDisk is a store whose writes fail as the bolt store's do while its
// disk is full, for as long as full is set.
type fullDisk struct {
	domain.Store
	full    atomic.Bool
	refused atomic.Int64
}

func (d *fullDisk) Update(ctx context.Context, fn func(domain.WriteTx) error) error {
	if d.full.Load() {
		d.refused.Add(1)
		return domain.Errorf(domain.CodeUnavailable, "storage full: try again later")
	}
	return d.Store.Update(ctx, fn)
}

// withFullDisk puts d in front of the engine's store.
func withFullDisk(d *fullDisk) func(*domain.Config) {
	return func(c *domain.Config) {
		d.Store = c.Store
		c.Store = d
	}
}

// TestDeadlineOnFullDisk: a deadline whose write fails because the disk is
// full is tried again every 10 s (no busy loop, and not lost until a
// restart), and takes effect once writes work again.
func TestDeadlineOnFullDisk(t *testing.T) {
	disk := &fullDisk{}
	e := newEngine(t, withFullDisk(disk))
	pc := withoutInvite()
	pc.AlertTimeoutSeconds = 20
	e.site(t, "shop", pc)
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.agent(t, "agent-b", "Ben", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	consoleA, _ := e.console(t, "agent-a")
	consoleB, _ := e.console(t, "agent-b")
	e.clock.Advance(time.Second)
	e.setStatus(t, "agent-b", domain.StatusAvailable)
	e.page(t, e.visitor(t, "shop"), home)
	e.clock.Advance(30 * time.Second)
	req := e.alerted(t, consoleA, "").Request.ID

	disk.full.Store(true)
	e.clock.Advance(20 * time.Second) // the alert's deadline: its write fails
	if r := e.request(t, req); r.State != domain.RequestAlerting || r.AlertedAgentID != "agent-a" {
		t.Fatalf("request after a deadline that could not be written = %+v, want still alerting agent-a", r)
	}
	refused := disk.refused.Load()
	if refused == 0 {
		t.Fatal("the deadline wrote nothing")
	}
	// A minute of full disk: one try each 10 s, not a loop.
	e.clock.Advance(time.Minute)
	if n := disk.refused.Load() - refused; n != 6 {
		t.Fatalf("%d writes refused in a minute of full disk, want the deadline's 6 tries", n)
	}

	disk.full.Store(false)
	e.clock.Advance(10 * time.Second)
	if w := consoleA.next(t, isWithdrawn(req)).AlertWithdrawn; w.Reason != "expired" {
		t.Fatalf("withdrawn with %q, want expired", w.Reason)
	}
	e.alerted(t, consoleB, req)
}
