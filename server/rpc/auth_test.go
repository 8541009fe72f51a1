package rpc

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestEveryProcedureHasARule: a new RPC without an access rule would be
// refused to everyone; this says so before anyone finds out.
func TestEveryProcedureHasARule(t *testing.T) {
	procs := Procedures()
	for _, p := range procs {
		if _, ok := rules[p]; !ok {
			t.Errorf("%s has no access rule", p)
		}
	}
	for p := range rules {
		if !slices.Contains(procs, p) {
			t.Errorf("rule for %s, which is not served", p)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{
		"":                   "",
		"Bearer abc":         "abc",
		"bearer abc":         "abc",
		"BEARER  abc ":       "abc",
		"Basic dXNlcjpwdw==": "!",
		"Bearer":             "!",
		"Bearer   ":          "!",
		"abc":                "!",
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		got, err := bearerToken(h)
		if err != nil {
			if want != "!" || domain.ErrorCode(err) != domain.CodeUnauthenticated {
				t.Errorf("%q: error %v, want token %q", header, err, want)
			}
			continue
		}
		if got != want {
			t.Errorf("%q: token %q, want %q", header, got, want)
		}
	}
}

// FuzzBearerToken: whatever the header, the result is an Unauthenticated
// error or the trimmed credential of a Bearer header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer\tabc", "Basic x", "Bearer ", " Bearer x", "Bearer a b", "Bearer \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		h := http.Header{}
		h["Authorization"] = []string{header}
		tok, err := bearerToken(h)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeUnauthenticated {
				t.Fatalf("%q: error %v is not Unauthenticated", header, err)
			}
			return
		}
		if header == "" {
			if tok != "" {
				t.Fatalf("no header gave token %q", tok)
			}
			return
		}
		scheme, rest, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" || tok != strings.TrimSpace(rest) {
			t.Fatalf("%q: token %q", header, tok)
		}
	})
}
