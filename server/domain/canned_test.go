package domain_test

import (
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestCannedReplies(t *testing.T) {
	e := newEnv(t, 0)
	site, _ := e.siteWithAgent(t, 1)
	mk := func(shortcut string) (*domain.CannedReply, error) {
		return e.svc.CreateCannedReply(ctx(t), domain.CannedReply{SiteID: site.ID, Shortcut: shortcut, Title: "T " + shortcut, Text: "Hi {visitor.name}"})
	}
	b, err := mk("/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk("/a_1-x"); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrShortcutTaken", func(t *testing.T) {
		_, err := mk("/b")
		wantCode(t, err, domain.CodeAlreadyExists)
	})
	t.Run("ErrShortcut", func(t *testing.T) {
		for _, s := range []string{"", "b", "/", "/B", "/a.b", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
			_, err := mk(s)
			wantCode(t, err, domain.CodeInvalid)
		}
	})
	t.Run("ErrSiteNotFound", func(t *testing.T) {
		_, err := e.svc.CreateCannedReply(ctx(t), domain.CannedReply{SiteID: "site_none", Shortcut: "/x", Title: "T", Text: "x"})
		wantCode(t, err, domain.CodeNotFound)
	})
	got, err := e.svc.ListCannedReplies(ctx(t), site.ID)
	if err != nil || len(got) != 2 || got[0].Shortcut != "/a_1-x" || got[1].ID != b.ID {
		t.Fatalf("ListCannedReplies = %+v, %v", got, err)
	}
	if err := e.svc.DeleteCannedReply(ctx(t), site.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.svc.DeleteCannedReply(ctx(t), site.ID, b.ID), domain.CodeNotFound)
	// Deleted, the shortcut is free again.
	if _, err := mk("/b"); err != nil {
		t.Fatal(err)
	}
}
