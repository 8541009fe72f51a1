package domain_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestVisitorLeavesTokenCache: a visitor's authenticated token is
// remembered while the visitor is on the site and forgotten when the
// visitor leaves, so the cache follows who is online; the token still
// works when the visitor comes back.
func TestVisitorLeavesTokenCache(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	var tokens []string
	var pages []*stream[domain.VisitorUpdate]
	for range 3 {
		v, token, _, err := e.svc.StartVisitorSession(ctx(t), "shop", "")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.svc.Authenticate(ctx(t), token); err != nil || p.ID != v.ID {
			t.Fatalf("Authenticate = %+v, %v; want visitor %s", p, err, v.ID)
		}
		page, _ := e.page(t, v.ID, home)
		tokens, pages = append(tokens, token), append(pages, page)
	}
	if n := e.svc.CachedPrincipals(); n != 3 {
		t.Fatalf("%d tokens cached with three visitors online, want 3", n)
	}
	for _, p := range pages[:2] {
		p.stop()
	}
	e.clock.Advance(grace) // two leave the site
	e.settle(t)
	if n := e.svc.CachedPrincipals(); n != 1 {
		t.Fatalf("%d tokens cached after two of three visitors left, want 1", n)
	}
	if _, err := e.svc.Authenticate(ctx(t), tokens[0]); err != nil {
		t.Fatalf("a visitor coming back: %v", err)
	}
	if n := e.svc.CachedPrincipals(); n != 2 {
		t.Fatalf("%d tokens cached after one came back, want 2", n)
	}
}
