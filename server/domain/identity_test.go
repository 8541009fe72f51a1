package domain_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/proactivechat/proactivechat/server/domain"
)

// sign is what a site's backend computes for its page.
func sign(secret, externalID string) string {
	return hex.EncodeToString(domain.IdentityHash(secret, externalID))
}

func TestVisitorIdentity(t *testing.T) {
	t.Run("ErrBounds", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		tooMany := map[string]string{}
		for i := range domain.MaxIdentityAttributes + 1 {
			tooMany[fmt.Sprintf("k%d", i)] = "v"
		}
		for _, tc := range []struct {
			name  string
			claim domain.IdentityClaim
			want  []string
		}{
			{"NameTooLong", domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: strings.Repeat("n", 201)}}, []string{"identity.name"}},
			{"EmailTooLong", domain.IdentityClaim{Identity: domain.VisitorIdentity{Email: strings.Repeat("e", 250) + "@x.io"}}, []string{"identity.email"}},
			{"EmailNotAnAddress", domain.IdentityClaim{Identity: domain.VisitorIdentity{Email: "jane at example"}}, []string{"identity.email"}},
			{"ExternalIDTooLong", domain.IdentityClaim{Identity: domain.VisitorIdentity{ExternalID: strings.Repeat("x", 129)}}, []string{"identity.external_id"}},
			{"TooManyAttributes", domain.IdentityClaim{Identity: domain.VisitorIdentity{Attributes: tooMany}}, []string{"identity.attributes"}},
			{"AttributeKey", domain.IdentityClaim{Identity: domain.VisitorIdentity{Attributes: map[string]string{"Plan": "pro", "": "x"}}},
				[]string{`identity.attributes[""]`, `identity.attributes["Plan"]`}},
			{"AttributeValueTooLong", domain.IdentityClaim{Identity: domain.VisitorIdentity{Attributes: map[string]string{"plan": strings.Repeat("p", 501)}}},
				[]string{`identity.attributes["plan"]`}},
			{"HashWithoutExternalID", domain.IdentityClaim{Hash: "00"}, []string{"identity.identity_hash"}},
			{"NameNotText", domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Jane\x00"}}, []string{"identity.name"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &tc.claim)
				if got := violationFields(t, err); !slices.Equal(got, tc.want) {
					t.Fatalf("violations %v, want %v (%v)", got, tc.want, err)
				}
			})
		}
		// Never half stored: nothing of a refused claim made a visitor.
		var n int
		if err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
			vs, err := tx.Visitors("", 0)
			n = len(vs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d visitors stored by refused sessions, want none", n)
		}
		// The bounds themselves are allowed.
		attrs := map[string]string{}
		for i := range domain.MaxIdentityAttributes {
			attrs[fmt.Sprintf("k_%d", i)] = strings.Repeat("v", 500)
		}
		attrs[strings.Repeat("k", 64)] = "x"
		delete(attrs, "k_0")
		ok := domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: strings.Repeat("n", 200), Email: "jane@example.com",
			ExternalID: strings.Repeat("x", 128), Attributes: attrs}}
		if _, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &ok); err != nil {
			t.Fatalf("an identity at every bound: %v", err)
		}
	})

	t.Run("WithoutSecret_UnverifiedAndShownAsSuch", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		claim := domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: " Jane Doe ", Email: "jane@example.com", ExternalID: "u-42",
			Attributes: map[string]string{"plan": "pro"}}}
		v, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &claim)
		if err != nil {
			t.Fatal(err)
		}
		want := domain.VisitorIdentity{Name: "Jane Doe", Email: "jane@example.com", ExternalID: "u-42", Attributes: map[string]string{"plan": "pro"}}
		if !v.Identity.Equal(want) {
			t.Fatalf("identity = %+v, want %+v (unverified)", v.Identity, want)
		}
		// A hash cannot be checked without a secret: refused, not ignored.
		claim.Hash = sign("whatever", "u-42")
		_, _, _, err = e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &claim)
		if got := violationFields(t, err); !slices.Equal(got, []string{"identity.identity_hash"}) {
			t.Fatalf("violations %v, want identity.identity_hash", got)
		}
	})

	t.Run("WithSecret_Verification", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		secret, err := e.svc.RotateSiteIdentitySecret(ctx(t), "shop")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.GetSiteIdentitySecret(ctx(t), "shop"); err != nil || got != secret || len(secret) != 64 {
			t.Fatalf("GetSiteIdentitySecret = %q, %v; want the rotated %q (64 hex digits)", got, err, secret)
		}
		id := domain.VisitorIdentity{Name: "Jane Doe", ExternalID: "u-42"}

		t.Run("OK", func(t *testing.T) {
			v, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{Identity: id, Hash: strings.ToUpper(sign(secret, "u-42"))})
			if err != nil {
				t.Fatal(err)
			}
			if !v.Identity.Verified || v.Identity.ExternalID != "u-42" {
				t.Fatalf("identity = %+v, want u-42 verified", v.Identity)
			}
		})
		for _, tc := range []struct{ name, hash string }{
			{"Wrong", sign(secret, "u-43")},
			{"OtherSecret", sign("not the secret", "u-42")},
			{"NotHex", "zz"},
			{"Missing", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{Identity: id, Hash: tc.hash})
				if got := violationFields(t, err); !slices.Equal(got, []string{"identity.identity_hash"}) {
					t.Fatalf("violations %v, want identity.identity_hash", got)
				}
			})
		}
		t.Run("NameOnlyNeedsNoHash", func(t *testing.T) {
			v, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Jane"}})
			if err != nil || v.Identity.Name != "Jane" || v.Identity.Verified {
				t.Fatalf("identity = %+v, %v; want Jane, unverified", v.Identity, err)
			}
		})
		t.Run("RotationRefusesOldHashes", func(t *testing.T) {
			next, err := e.svc.RotateSiteIdentitySecret(ctx(t), "shop")
			if err != nil || next == secret {
				t.Fatalf("rotate = %q, %v; want a new secret", next, err)
			}
			_, _, _, err = e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{Identity: id, Hash: sign(secret, "u-42")})
			wantCode(t, err, domain.CodeInvalid)
			_, _, _, err = e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{Identity: id, Hash: sign(next, "u-42")})
			if err != nil {
				t.Fatal(err)
			}
		})
	})

	t.Run("ErrSecretOfUnknownSite", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		_, err := e.svc.GetSiteIdentitySecret(ctx(t), "shop")
		wantCode(t, err, domain.CodeNotFound)
		_, err = e.svc.RotateSiteIdentitySecret(ctx(t), "nope")
		wantCode(t, err, domain.CodeNotFound)
	})

	t.Run("IdentifyLater_ShownInPresenceAtOnce", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		svc := e.svc
		presence := startStream(t, func(c context.Context, send func(domain.PresenceUpdate) error) error {
			return svc.WatchPresence(c, "agent-a", send)
		})
		presence.next(t, func(u domain.PresenceUpdate) bool { return u.Snapshot != nil })
		_, err := e.svc.IdentifyVisitor(ctx(t), vid, domain.IdentityClaim{Identity: domain.VisitorIdentity{Email: "jane@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		presence.next(t, func(u domain.PresenceUpdate) bool {
			return u.Event != nil && u.Event.Change == domain.PresenceChanged && u.Event.Presence.Identity.Email == "jane@example.com"
		})
		online, err := e.svc.ListOnlineVisitors(ctx(t), "shop")
		if err != nil || len(online) != 1 || online[0].Identity.Email != "jane@example.com" {
			t.Fatalf("online = %+v, %v; want the visitor with their e-mail", online, err)
		}
		// A resumed session with an identity replaces it.
		_, err = e.svc.IdentifyVisitor(ctx(t), vid, domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Jane"}})
		if err != nil {
			t.Fatal(err)
		}
		online, _ = e.svc.ListOnlineVisitors(ctx(t), "shop")
		if got := online[0].Identity; got.Name != "Jane" || got.Email != "" {
			t.Fatalf("identity = %+v, want replaced by Jane", got)
		}
	})

	t.Run("FormAnswersNameTheVisitor", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, true)
		st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Visitor.Identity; got.Name != "Ann" || got.Email != "ann@example.com" || st.Visitor.DisplayName() != "Ann" {
			t.Fatalf("identity after the form = %+v, want Ann, ann@example.com", got)
		}
		alert := e.alerted(t, console, st.Queue.RequestID)
		if alert.Visitor.Identity.Name != "Ann" || alert.Request.VisitorIdentity.Name != "Ann" {
			t.Fatalf("alert shows %+v / request %+v, want Ann", alert.Visitor.Identity, alert.Request.VisitorIdentity)
		}
		chat := e.accept(t, "agent-a", st.Queue.RequestID)
		if chat.Visitor.DisplayName != "Ann" {
			t.Fatalf("chat's visitor is %q, want Ann", chat.Visitor.DisplayName)
		}
	})

	t.Run("ResumedSession", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		jane := &domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Jane"}}
		v, token, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", jane)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			claim *domain.IdentityClaim
			want  string
		}{
			{"SameAgain", jane, "Jane"},
			{"NoneKeepsIt", nil, "Jane"},
			{"AnotherReplacesIt", &domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Joan"}}, "Joan"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, _, resumed, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", token, tc.claim)
				if err != nil || !resumed || got.ID != v.ID || got.Identity.Name != tc.want {
					t.Fatalf("resumed %v as %s named %q, %v; want %s named %q", resumed, got.ID, got.Identity.Name, err, v.ID, tc.want)
				}
				x, err := e.svc.ExportVisitor(ctx(t), v.ID)
				if err != nil || x.Visitor.Identity.Name != tc.want {
					t.Fatalf("stored name %q, %v; want %q", x.Visitor.Identity.Name, err, tc.want)
				}
			})
		}
	})

	t.Run("IdentifyWhileQueued_TheQueueFollows", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.setStatus(t, "agent-a", domain.StatusAway) // the request waits in the queue
		e.respond(t, vid, inv.ID, true)
		if q := e.queue(t, "shop"); len(q) != 1 || !q[0].VisitorIdentity.IsZero() {
			t.Fatalf("queue = %+v, want one request of nobody known", q)
		}
		if _, err := e.svc.IdentifyVisitor(ctx(t), vid, domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: "Jane"}}); err != nil {
			t.Fatal(err)
		}
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].VisitorIdentity.Name != "Jane" {
			t.Fatalf("queue = %+v, want Jane's request", q)
		}
	})

	t.Run("FormAnswersDoNotOverrideVerified", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		secret, err := e.svc.RotateSiteIdentitySecret(ctx(t), "shop")
		if err != nil {
			t.Fatal(err)
		}
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		v, _, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{
			Identity: domain.VisitorIdentity{Name: "Jane Doe", ExternalID: "u-42"}, Hash: sign(secret, "u-42")})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.page(t, v.ID, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, v.ID, inv.ID, true)
		st, err := e.svc.SubmitForm(ctx(t), v.ID, validForm())
		if err != nil {
			t.Fatal(err)
		}
		want := domain.VisitorIdentity{Name: "Jane Doe", Email: "ann@example.com", ExternalID: "u-42", Verified: true}
		if got := st.Visitor.Identity; !got.Equal(want) {
			t.Fatalf("identity = %+v, want %+v: the verified name kept, the missing e-mail from the form", got, want)
		}
	})

	t.Run("ErasedWithTheVisitor", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		v, token, _, err := e.svc.StartVisitorSessionWithIdentity(ctx(t), "shop", "", &domain.IdentityClaim{
			Identity: domain.VisitorIdentity{Name: "Jane Doe", Attributes: map[string]string{"plan": "pro"}}})
		if err != nil {
			t.Fatal(err)
		}
		x, err := e.svc.ExportVisitor(ctx(t), v.ID)
		if err != nil || x.Visitor.Identity.Name != "Jane Doe" || x.Visitor.Identity.Attributes["plan"] != "pro" {
			t.Fatalf("export = %+v, %v; want the identity", x, err)
		}
		if err := e.svc.EraseVisitor(ctx(t), v.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.ExportVisitor(ctx(t), v.ID)
		wantCode(t, err, domain.CodeNotFound)
		again, _, resumed, err := e.svc.StartVisitorSession(ctx(t), "shop", token)
		if err != nil || resumed || !again.Identity.IsZero() {
			t.Fatalf("after erasure: resumed %v, identity %+v, %v; want a new visitor knowing nothing", resumed, again.Identity, err)
		}
	})
}

type identityFixture struct {
	visitorID, secret string
}

// FuzzIdentifyVisitor: whatever the page says, IdentifyVisitor either
// refuses it naming identity fields and storing nothing, or stores exactly
// what it returns, verified only with the right hash; never an internal
// error (a string a protobuf record cannot hold, say).
func FuzzIdentifyVisitor(f *testing.F) {
	for _, s := range []struct {
		name, email, externalID, key, value string
		rightHash                           bool
		hash                                string
	}{
		{"Jane Doe", "jane@example.com", "u-42", "plan", "pro", true, ""},
		{"Jane", "", "u-42", "plan", "", false, "00"},
		{"", "", "u-42", "", "", false, ""},
		{" ", "jane@localhost", "", "Plan", "x", false, ""},
		{"J\xffane", "jane@exa\xffmple.com", "u\xff", "pl\xffan", "p\xffro", false, ""},
		{"Ja\nne", "", "u\x00", "", "", false, ""},
		{strings.Repeat("n", 201), strings.Repeat("e", 250) + "@x.io", strings.Repeat("x", 129), strings.Repeat("k", 65), strings.Repeat("v", 501), false, ""},
		{"", "", "", "", "", false, "ab"},
		{"", "\"a b\"@example.com", "u-1", "a_1", "", true, ""},
	} {
		f.Add(s.name, s.email, s.externalID, s.key, s.value, s.rightHash, s.hash)
	}
	envs := newFuzzEnv(f, 1000, func(tb testing.TB, e *env, onClose func(func())) identityFixture {
		site, err := e.svc.CreateSite(context.Background(), domain.SiteSpec{Name: "Shop"})
		if err != nil {
			tb.Fatal(err)
		}
		secret, err := e.svc.RotateSiteIdentitySecret(context.Background(), site.ID)
		if err != nil {
			tb.Fatal(err)
		}
		v, _, _, err := e.svc.StartVisitorSession(context.Background(), site.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		return identityFixture{v.ID, secret}
	})
	f.Fuzz(func(t *testing.T, name, email, externalID, key, value string, rightHash bool, hash string) {
		e, fx := envs.get(t)
		claim := domain.IdentityClaim{Identity: domain.VisitorIdentity{Name: name, Email: email, ExternalID: externalID}, Hash: hash}
		if key != "" || value != "" {
			claim.Identity.Attributes = map[string]string{key: value}
		}
		if rightHash {
			claim.Hash = sign(fx.secret, externalID)
		}
		stored := func() domain.VisitorIdentity {
			x, err := e.svc.ExportVisitor(ctx(t), fx.visitorID)
			if err != nil {
				t.Fatal(err)
			}
			return x.Visitor.Identity
		}
		before := stored()
		v, err := e.svc.IdentifyVisitor(ctx(t), fx.visitorID, claim)
		if err != nil {
			for _, field := range violationFields(t, err) {
				if !strings.HasPrefix(field, "identity.") {
					t.Fatalf("IdentifyVisitor names %q: %v", field, err)
				}
			}
			if after := stored(); !after.Equal(before) {
				t.Fatalf("refused identity stored: %+v, was %+v", after, before)
			}
			return
		}
		envs.wrote()
		got := stored()
		if !got.Equal(v.Identity) {
			t.Fatalf("IdentifyVisitor returned %+v, stored %+v", v.Identity, got)
		}
		if got.Verified != (externalID != "") || (got.Verified && !rightHash && !strings.EqualFold(hash, sign(fx.secret, externalID))) {
			t.Fatalf("verified = %v for external id %q with hash %q (right: %v)", got.Verified, externalID, claim.Hash, rightHash)
		}
		if got.Name != strings.TrimSpace(name) || len(got.Name) > domain.MaxIdentityNameBytes || !utf8.ValidString(got.Name+got.Email+got.ExternalID) {
			t.Fatalf("stored %+v from name %q", got, name)
		}
	})
}
