package domain_test

import (
	"context"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestStreamsPerVisitor: a visitor may have MaxStreamsPerVisitor widget
// streams open (tabs); the next is refused with ResourceExhausted and counts
// for nothing, and once one closes another may open. Other visitors are
// unaffected.
func TestStreamsPerVisitor(t *testing.T) {
	e := newEnv(t, 0)
	site, _ := e.siteWithAgent(t, 1)
	v := e.newVisitor(t, site.ID)
	var tabs []*stream[domain.VisitorUpdate]
	for range domain.MaxStreamsPerVisitor {
		tabs = append(tabs, e.visit(t, v.ID, "https://shop.example/"))
	}

	watch := func(visitorID string) error {
		return e.svc.WatchVisitor(ctx(t), domain.VisitorWatch{VisitorID: visitorID}, func(domain.VisitorUpdate) error {
			return context.Canceled // not reached when refused; ends the stream at once otherwise
		})
	}
	err := watch(v.ID)
	wantCode(t, err, domain.CodeResourceExhausted)
	t.Logf("refused: %v", err)

	online, err := e.svc.ListOnlineVisitors(ctx(t), site.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(online) != 1 || online[0].OpenStreams != domain.MaxStreamsPerVisitor {
		t.Fatalf("online = %+v, want the visitor with %d streams", online, domain.MaxStreamsPerVisitor)
	}

	other := e.newVisitor(t, site.ID)
	e.visit(t, other.ID, "https://shop.example/").stop()

	tabs[0].stop()
	e.visit(t, v.ID, "https://shop.example/pricing") // room again
	wantCode(t, watch(v.ID), domain.CodeResourceExhausted)
}
