package domain_test

// Fuzz tests of request validation and of everything decoded from outside
// input: form values, page URLs, session tokens, messages, site settings.
// Each target checks properties, not only the absence of panics. `make
// fuzz` runs each for a bounded time; `go test` runs their seed corpora.
//
// The targets that go through the Service share one env per fuzzing
// process (opening a bolt file costs more than most iterations, which
// mostly end in validation) and start a fresh one after a number of stored
// changes, so iterations do not slow down as records pile up. Their
// properties compare the store before and after each call, so a failing
// input reproduces on a fresh env too.

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// fuzzEnv is an env, as newEnv makes it, shared by the iterations of one
// fuzz target, with the fixture X its setup built on it.
type fuzzEnv[X any] struct {
	dir       string
	maxWrites int
	setup     func(tb testing.TB, e *env, onClose func(func())) X

	e       *env
	fixture X
	writes  int
	closers []func()
}

// newFuzzEnv returns a fuzzEnv that is replaced after maxWrites stored
// changes (counted by wrote).
func newFuzzEnv[X any](f *testing.F, maxWrites int, setup func(tb testing.TB, e *env, onClose func(func())) X) *fuzzEnv[X] {
	p := &fuzzEnv[X]{dir: f.TempDir(), maxWrites: maxWrites, setup: setup}
	f.Cleanup(p.shut)
	return p
}

// get returns the env and its fixture, opening a fresh env first when there
// is none or the current one has seen maxWrites changes.
func (p *fuzzEnv[X]) get(t *testing.T) (*env, X) {
	t.Helper()
	if p.e != nil && p.writes < p.maxWrites {
		return p.e, p.fixture
	}
	p.shut()
	dir, err := os.MkdirTemp(p.dir, "env")
	if err != nil {
		t.Fatal(err)
	}
	p.closers = append(p.closers, func() { os.RemoveAll(dir) })
	store, err := bolt.Open(filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(t0)
	svc := domain.NewService(domain.Config{
		Store:             store,
		Broker:            inmem.NewBroker(0),
		Clock:             clock,
		PresenceGrace:     grace,
		KeepAliveInterval: keepAlive,
	})
	p.closers = append(p.closers, func() {
		svc.Close()
		store.Close()
	})
	e := &env{svc: svc, clock: clock, store: store}
	p.fixture = p.setup(t, e, func(f func()) { p.closers = append(p.closers, f) })
	p.e, p.writes = e, 0
	return p.e, p.fixture
}

// wrote counts a stored change.
func (p *fuzzEnv[X]) wrote() { p.writes++ }

func (p *fuzzEnv[X]) shut() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers, p.e = nil, nil
}

// openWidget keeps a widget stream of the visitor open until onClose, so
// the visitor is on the site (as e.visit does for one test).
func openWidget(tb testing.TB, e *env, onClose func(func()), visitorID, pageURL string) {
	tb.Helper()
	c, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var once sync.Once
		err := e.svc.WatchVisitor(c, domain.VisitorWatch{VisitorID: visitorID, PageURL: pageURL}, func(u domain.VisitorUpdate) error {
			if u.State != nil {
				once.Do(func() { first <- nil })
			}
			return nil
		})
		once.Do(func() { first <- fmt.Errorf("WatchVisitor ended before its first state: %v", err) })
	}()
	onClose(func() {
		cancel()
		<-done
	})
	select {
	case err := <-first:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(waitTimeout):
		tb.Fatalf("no state within %v", waitTimeout)
	}
}

// lines splits a fuzzed string into a list: "" is no list, else one
// element per line.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// hasControl reports whether s has an ASCII control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// ---------------------------------------------------------------------------
// CheckForm

// formLimit is the documented length limit of a field, in characters.
func formLimit(f domain.FormField) int {
	if f.MaxLength > 0 {
		return int(f.MaxLength)
	}
	return map[domain.FormFieldType]int{domain.FieldText: 200, domain.FieldTextarea: 2000, domain.FieldEmail: 254, domain.FieldPhone: 32}[f.Type]
}

// emailShaped is what an accepted e-mail address looks like:
// local@domain.tld, one @, no white space or control characters.
func emailShaped(s string) bool {
	at := strings.IndexByte(s, '@')
	return utf8.ValidString(s) && strings.Count(s, "@") == 1 && at > 0 &&
		strings.Contains(s[at+1:], ".") && !strings.ContainsFunc(s, unicode.IsSpace) && !hasControl(s)
}

// phoneShaped is what an accepted phone number looks like: digits, spaces,
// ( ) - . and a leading +, with 5 to 20 digits.
func phoneShaped(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, strings.ContainsRune(" ().-", r):
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20
}

// checkFormResult checks CheckForm's answer err for fields and values
// against the documented rules: a required value is not blank (white space
// is trimmed); one that is not blank is UTF-8 text of at most its field's
// max_length characters (or its type's default), and an e-mail address or
// phone number as its type says; no key is not a field. Accepted, the
// values follow them; rejected, the error names values.<key> for every key
// that breaks them and for none that certainly follows them.
func checkFormResult(t *testing.T, fields []domain.FormField, values map[string]string, err error) {
	t.Helper()
	isField := func(k string) bool {
		return slices.ContainsFunc(fields, func(f domain.FormField) bool { return f.Key == k })
	}
	// wrong and maybeWrong are the keys the rules certainly, and possibly
	// (an e-mail or phone value of the right length), reject.
	wrong, maybeWrong := map[string]bool{}, map[string]bool{}
	for k := range values {
		if !isField(k) {
			wrong[k] = true
		}
	}
	for _, f := range fields {
		val := strings.TrimSpace(values[f.Key])
		switch {
		case val == "":
			if f.Required {
				wrong[f.Key] = true
			}
		case !utf8.ValidString(val), utf8.RuneCountInString(val) > formLimit(f):
			wrong[f.Key] = true
		case f.Type == domain.FieldEmail && !emailShaped(val), f.Type == domain.FieldPhone && !phoneShaped(val):
			wrong[f.Key] = true
		case f.Type == domain.FieldEmail, f.Type == domain.FieldPhone:
			maybeWrong[f.Key] = true
		}
	}
	if err == nil {
		if len(wrong) > 0 {
			t.Fatalf("CheckForm accepted %q for %+v; against the rules: %v", values, fields, slices.Sorted(maps.Keys(wrong)))
		}
		return
	}
	named := map[string]bool{}
	for _, field := range violationFields(t, err) {
		k, ok := strings.CutPrefix(field, "values.")
		if !ok || !(isField(k) || hasKey(values, k)) {
			t.Fatalf("CheckForm names %q, not values.<key of the form or of the values>: %v", field, err)
		}
		if !wrong[k] && !maybeWrong[k] {
			t.Fatalf("CheckForm rejects %s = %q, which follows the rules: %v", field, values[k], err)
		}
		named[k] = true
	}
	for k := range wrong {
		if !named[k] {
			t.Fatalf("CheckForm does not name values.%s (%q), which breaks the rules: %v", k, values[k], err)
		}
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func FuzzCheckForm(f *testing.F) {
	// required and present are bit sets over the fields name, question,
	// email, phone and the fuzzed one (bit 4); present bit 5 adds the
	// extra key.
	type seed struct {
		required, present                uint8
		maxName, fuzzMax                 uint16
		fuzzKey                          string
		fuzzType                         uint8
		name, question, email            string
		phone, other, extraKey, extraVal string
	}
	for _, s := range []seed{
		{required: 0b0101, present: 0b1111, name: " Ann ", question: "Do you ship to Norway?", email: "ann@example.com", phone: "+44 20 7946 0958"},
		{required: 0b0101, present: 0b0000},
		{required: 0b1111, present: 0b1111, name: "  ", question: "\t\n", email: " ", phone: "\u00a0"},
		{present: 0b0100, email: "ann@localhost"},
		{present: 0b0100, email: "Ann <ann@example.com>"},
		{present: 0b0100, email: `"a b"@example.com`},
		{present: 0b0100, email: "a@b@example.com"},
		{present: 0b0100, email: "ann@exa\xffmple.com"},
		{present: 0b1000, phone: "1234"},
		{present: 0b1000, phone: "123456789012345678901"},
		{present: 0b1000, phone: "12+345678"},
		{present: 0b1000, phone: "(0) 12-34.56"},
		{present: 0b1000, phone: "１２３４５６"},
		{present: 0b0001, maxName: 3, name: "abcd"},
		{present: 0b0001, maxName: 3, name: "żółw"[:5]},
		{present: 0b0001, name: strings.Repeat("é", 200)},
		{present: 0b0001, name: strings.Repeat("é", 201)},
		{present: 0b0010, question: strings.Repeat("x", 2001)},
		{present: 0b0001, name: "bad \xff utf-8"},
		{present: 0b10000, fuzzKey: "extra", fuzzType: 0, other: "x"},
		{present: 0b10000, fuzzKey: "extra", fuzzType: 5, fuzzMax: 10, other: "x"},
		{required: 0b10000, fuzzKey: "name", fuzzType: 3, present: 0b00001, name: "ann@example.com"},
		{present: 0b100000, extraKey: "unknown", extraVal: "x"},
		{present: 0b100000, extraKey: "", extraVal: ""},
		{present: 0b100000, extraKey: "name", extraVal: "override"},
	} {
		f.Add(s.required, s.present, s.maxName, s.fuzzMax, s.fuzzKey, s.fuzzType, s.name, s.question, s.email, s.phone, s.other, s.extraKey, s.extraVal)
	}
	f.Fuzz(func(t *testing.T, required, present uint8, maxName, fuzzMax uint16, fuzzKey string, fuzzType uint8,
		name, question, email, phone, other, extraKey, extraVal string) {
		fields := []domain.FormField{
			{Key: "name", Label: "Name", Type: domain.FieldText, Required: required&1 != 0, MaxLength: uint32(maxName)},
			{Key: "question", Label: "Question", Type: domain.FieldTextarea, Required: required&2 != 0},
			{Key: "email", Label: "E-mail", Type: domain.FieldEmail, Required: required&4 != 0},
			{Key: "phone", Label: "Phone", Type: domain.FieldPhone, Required: required&8 != 0},
		}
		if fuzzKey != "" {
			// Any type, even one validateSite refuses: CheckForm is exported.
			fields = append(fields, domain.FormField{Key: fuzzKey, Label: "Other", Type: domain.FormFieldType(fuzzType % 6), Required: required&16 != 0, MaxLength: uint32(fuzzMax)})
		}
		values := map[string]string{}
		for i, kv := range [][2]string{{"name", name}, {"question", question}, {"email", email}, {"phone", phone}, {fuzzKey, other}, {extraKey, extraVal}} {
			if present&(1<<i) != 0 {
				values[kv[0]] = kv[1]
			}
		}
		checkFormResult(t, fields, values, domain.CheckForm(fields, values))
	})
}

// ---------------------------------------------------------------------------
// PageAllowed

// globRef is the reference matcher: * is any characters (slashes included)
// and ? one character; \c is c, and everything else matches itself (a
// trailing \ makes the pattern malformed: it matches nothing). Characters
// are decoded as utf8.DecodeRuneInString does, an invalid byte being one.
func globRef(pattern, s string) bool {
	var p []string // terms: "*", "?", or "=" and a character to match
	for cs := chars(pattern); len(cs) > 0; cs = cs[1:] {
		switch cs[0] {
		case `\`:
			if len(cs) == 1 {
				return false
			}
			cs = cs[1:]
			p = append(p, "="+cs[0])
		case "*", "?":
			p = append(p, cs[0])
		default:
			p = append(p, "="+cs[0])
		}
	}
	n := chars(s)
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && p[pi] == "*":
			star, mark = pi, ni
			pi++
		case pi < len(p) && (p[pi] == "?" || p[pi] == "="+n[ni]):
			pi++
			ni++
		case star >= 0:
			// Let the last * take one more character.
			pi, mark = star+1, mark+1
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == "*" {
		pi++
	}
	return pi == len(p)
}

func isASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf })
}

func chars(s string) []string {
	var out []string
	for len(s) > 0 {
		_, n := utf8.DecodeRuneInString(s)
		out, s = append(out, s[:n]), s[n:]
	}
	return out
}

func FuzzPageAllowed(f *testing.F) {
	for _, s := range []struct{ pattern, url string }{
		{"https://shop.example/*", "https://shop.example/products/shoes"},
		{"https://shop.example/*", "https://other.example/"},
		{"*/checkout*", "https://shop.example/checkout/pay"},
		{"*/login", "https://shop.example/login?next=/"},
		{"https://shop.example/products/?ats", "https://shop.example/products/hats"},
		{"https://shop.example/products/??", "https://shop.example/products/é"},
		{"*??", "https://shop.example/€"},
		{"*??", "€"},
		{"https://shop.example/*??", "https://shop.example/€"},
		{"*[^a]?", "€"},
		{"[a-c]?[^x]*", "b/yz"},
		{`*\?`, "a?"},
		{`\`, `\`},
		{`[\]]`, "]"},
		{"*?", ""},
		{"", ""},
		{"*", ""},
		{"a/b", "a\x00b"},
		{"a\x00b", "a/b"},
		{"*\xa9", "é"},
		{"[a-z]*", "https://x"},
		{`\*`, "*"},
		{"[", "x"},
		{"**?**", "ab"},
	} {
		f.Add(s.pattern, s.url)
	}
	f.Fuzz(func(t *testing.T, pattern, url string) {
		include := domain.ProactiveChatSettings{IncludePages: []string{pattern}}
		excl := domain.ProactiveChatSettings{ExcludePages: []string{pattern}}
		both := domain.ProactiveChatSettings{IncludePages: []string{pattern, url}, ExcludePages: []string{url, pattern}}
		in, out := include.PageAllowed(url), excl.PageAllowed(url)
		both.PageAllowed(url) // must not panic
		if !(domain.ProactiveChatSettings{}).PageAllowed(url) {
			t.Fatalf("no page conditions, yet %q is not allowed", url)
		}
		if in == out {
			t.Fatalf("pattern %q, URL %q: allowed %v both when included and when excluded", pattern, url, in)
		}
		if !strings.Contains(pattern, "[") {
			if want := globRef(pattern, url); in != want {
				t.Fatalf("pattern %q, URL %q: matches %v; the reference says %v", pattern, url, in, want)
			}
		}
		// Character classes are path.Match's, whose * and ? agree with
		// the reference on ASCII without '/'.
		if isASCII(pattern) && isASCII(url) && !strings.Contains(url, "/") {
			want, _ := path.Match(pattern, url)
			if in != want {
				t.Fatalf("pattern %q, URL %q: matches %v; path.Match says %v", pattern, url, in, want)
			}
		}
	})
}

// globWellFormed reports whether pattern is a well-formed path.Match pattern.
func globWellFormed(pattern string) bool {
	_, err := path.Match(pattern, "")
	return err == nil
}

// ---------------------------------------------------------------------------
// CreateSite and UpdateSite

var (
	chosenIDShape = regexp.MustCompile(`^[a-z][a-z0-9_-]{2,63}$`)
	formKeyShape  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	siteFields    = regexp.MustCompile(`^(id|site\.id|update_mask|name|allowed_origins(\[\d+\])?|proactive_chat\.(mode|launch_after_seconds|invite_text|form_fields(\[\d+\]\.(key|label|type|max_length))?|(invite_timeout|reinvite_cooldown|alert_timeout|queue_hold|inactivity_timeout|inactivity_warning)_seconds|(include|exclude)_pages(\[\d+\])?))$`)
)

// originShaped is the documented origin: scheme://host[:port], http or https.
func originShaped(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery && !hasControl(o)
}

// checkSiteRules fails unless an accepted site follows the documented rules.
func checkSiteRules(t *testing.T, s *domain.Site) {
	t.Helper()
	pc := s.ProactiveChat
	bad := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("accepted site %+v: "+format, append([]any{s}, args...)...)
	}
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > domain.MaxNameBytes || !utf8.ValidString(s.Name) {
		bad("name %q", s.Name)
	}
	if len(s.AllowedOrigins) > domain.MaxOrigins {
		bad("%d origins", len(s.AllowedOrigins))
	}
	for _, o := range s.AllowedOrigins {
		if !originShaped(o) || !utf8.ValidString(o) {
			bad("origin %q", o)
		}
	}
	if pc.Mode < domain.ModeUnspecified || pc.Mode > domain.ModeWithoutInvite || pc.Enabled && pc.Mode == domain.ModeUnspecified {
		bad("mode %d", pc.Mode)
	}
	if pc.LaunchAfterSeconds > domain.MaxLaunchAfterSeconds {
		bad("launch after %d s", pc.LaunchAfterSeconds)
	}
	if len(pc.InviteText) > domain.MaxInviteTextBytes || !utf8.ValidString(pc.InviteText) {
		bad("invite text %q", pc.InviteText)
	}
	for _, secs := range []uint32{pc.InviteTimeoutSeconds, pc.ReinviteCooldownSeconds, pc.AlertTimeoutSeconds, pc.QueueHoldSeconds, pc.InactivityTimeoutSeconds, pc.InactivityWarningSeconds} {
		if secs > 7*domain.MaxLaunchAfterSeconds {
			bad("%d s", secs)
		}
	}
	if pc.InactivityWarningSeconds != 0 && pc.InactivityWarning() != time.Duration(pc.InactivityWarningSeconds)*time.Second {
		bad("warning %d s, not less than the inactivity timeout %v", pc.InactivityWarningSeconds, pc.InactivityTimeout())
	}
	for _, globs := range [][]string{pc.IncludePages, pc.ExcludePages} {
		if len(globs) > domain.MaxPagePatterns {
			bad("%d patterns", len(globs))
		}
		for _, g := range globs {
			if g == "" || len(g) > domain.MaxURLBytes || !utf8.ValidString(g) || !globWellFormed(g) {
				bad("pattern %q", g)
			}
		}
	}
	if len(pc.FormFields) > domain.MaxFormFields {
		bad("%d fields", len(pc.FormFields))
	}
	keys := map[string]bool{}
	for _, f := range pc.FormFields {
		if !formKeyShape.MatchString(f.Key) || keys[f.Key] {
			bad("field key %q", f.Key)
		}
		keys[f.Key] = true
		if strings.TrimSpace(f.Label) == "" || len(f.Label) > domain.MaxNameBytes || !utf8.ValidString(f.Label) {
			bad("label %q", f.Label)
		}
		if f.Type < domain.FieldText || f.Type > domain.FieldPhone || f.MaxLength > 10000 {
			bad("field %+v", f)
		}
	}
}

// siteSpec builds site settings from fuzzed values; lists are one element
// a line.
func siteSpec(name, origins, include, exclude, inviteText, keys, label string, ftype uint8, required bool, maxLen uint32,
	enabled bool, mode int8, launch, timeout, warning, inactivity uint32) domain.SiteSpec {
	pc := domain.ProactiveChatSettings{
		Enabled: enabled, Mode: domain.ProactiveChatMode(mode), LaunchAfterSeconds: launch, InviteText: inviteText,
		IncludePages: lines(include), ExcludePages: lines(exclude),
		InviteTimeoutSeconds: timeout, ReinviteCooldownSeconds: timeout / 2, AlertTimeoutSeconds: timeout / 3, QueueHoldSeconds: timeout / 4,
		InactivityTimeoutSeconds: inactivity, InactivityWarningSeconds: warning,
	}
	for i, k := range lines(keys) {
		pc.FormFields = append(pc.FormFields, domain.FormField{Key: k, Label: label, Type: domain.FormFieldType(int(ftype) + i), Required: required, MaxLength: maxLen})
	}
	return domain.SiteSpec{Name: name, AllowedOrigins: lines(origins), ProactiveChat: pc}
}

const baseSiteID = "site_base"

func FuzzCreateSite(f *testing.F) {
	type seed struct {
		id, name, origins, include, exclude, inviteText, keys, label string
		ftype                                                        uint8
		required                                                     bool
		maxLen                                                       uint32
		enabled                                                      bool
		mode                                                         int8
		launch, timeout, warning, inactivity                         uint32
		paths                                                        string
	}
	for _, s := range []seed{
		{name: "Shop"},
		{id: "site_shop", name: "Shop", origins: "https://shop.example\nhttp://localhost:8080", enabled: true, mode: 1, launch: 30,
			inviteText: "Can we help?", keys: "name\nemail\nphone\nquestion", label: "Your details", ftype: 1, required: true, maxLen: 80,
			include: "https://shop.example/*", exclude: "*/checkout*\n*/login", timeout: 60, warning: 60, inactivity: 900,
			paths: "name,allowed_origins,proactive_chat.enabled,proactive_chat.mode"},
		{name: "Shop", enabled: true, mode: 2, launch: 86400, timeout: 604800, warning: 599, inactivity: 0, paths: "proactive_chat"},
		{name: "  ", paths: "name"},
		{name: "Shop", id: "Bad ID", paths: "id,create_time"},
		{name: "Shop", origins: "https://shop.example/path\nftp://x\nhttps://u@x\nhttps://x?q\nhttps://x#f\nhttps://x/\n//x"},
		{name: "Shop", enabled: true, paths: "proactive_chat.enabled"},
		{name: "Shop", mode: 3, paths: "proactive_chat.mode"},
		{name: "Shop", mode: -1},
		{name: "Shop", launch: 86401, timeout: 604801, paths: "proactive_chat.launch_after_seconds,proactive_chat.invite_timeout_seconds"},
		{name: "Shop", warning: 600, paths: "proactive_chat.inactivity_warning_seconds"},
		{name: "Shop", warning: 10, inactivity: 10},
		{name: "Shop", include: "[", exclude: "\n", paths: "proactive_chat.include_pages,proactive_chat.exclude_pages"},
		{name: "Shop", keys: "Bad Key\na\na", label: "L", ftype: 0, paths: "proactive_chat.form_fields"},
		{name: "Shop", keys: "a", label: " ", ftype: 4, maxLen: 10001},
		{name: "Shop", inviteText: strings.Repeat("x", 501), paths: "proactive_chat.invite_text"},
		{name: strings.Repeat("x", 201)},
		{name: "Sh\xffop", paths: "name"},
		{name: "Shop", origins: "https://sh\xffop.example", paths: "allowed_origins"},
		{name: "Shop", inviteText: "\xff", paths: "proactive_chat.invite_text"},
		{name: "Shop", keys: "a", label: "\xff", ftype: 1, paths: "proactive_chat.form_fields"},
		{name: "Shop", include: "https://x/\xff*", paths: "proactive_chat.include_pages"},
		{name: "Shop", paths: "nope"},
		{name: "Shop", paths: ",,"},
	} {
		f.Add(s.id, s.name, s.origins, s.include, s.exclude, s.inviteText, s.keys, s.label, s.ftype, s.required, s.maxLen,
			s.enabled, s.mode, s.launch, s.timeout, s.warning, s.inactivity, s.paths)
	}
	envs := newFuzzEnv(f, 100, func(tb testing.TB, e *env, _ func(func())) struct{} {
		if _, err := e.svc.CreateSite(context.Background(), domain.SiteSpec{ID: baseSiteID, Name: "Base"}); err != nil {
			tb.Fatal(err)
		}
		return struct{}{}
	})
	f.Fuzz(func(t *testing.T, id, name, origins, include, exclude, inviteText, keys, label string, ftype uint8, required bool, maxLen uint32,
		enabled bool, mode int8, launch, timeout, warning, inactivity uint32, paths string) {
		e, _ := envs.get(t)
		spec := siteSpec(name, origins, include, exclude, inviteText, keys, label, ftype, required, maxLen, enabled, mode, launch, timeout, warning, inactivity)
		spec.ID = id

		// CreateSite: an accepted site follows the rules and is stored as
		// returned; a rejected one leaves the sites as they were.
		before, err := e.svc.ListSites(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		site, err := e.svc.CreateSite(ctx(t), spec)
		after, lerr := e.svc.ListSites(ctx(t))
		if lerr != nil {
			t.Fatal(lerr)
		}
		if err != nil {
			if domain.ErrorCode(err) == domain.CodeAlreadyExists && slices.ContainsFunc(before, func(s *domain.Site) bool { return s.ID == id }) {
				// A chosen id taken by an earlier input.
			} else {
				for _, field := range violationFields(t, err) {
					if !siteFields.MatchString(field) {
						t.Fatalf("CreateSite names %q, not a field of the site: %v", field, err)
					}
				}
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("rejected CreateSite (%v) changed the sites:\nbefore %+v\n after %+v", err, before, after)
			}
		} else {
			envs.wrote()
			checkSiteRules(t, site)
			checkFirstRuleMirrored(t, site)
			if id != "" && (site.ID != id || !chosenIDShape.MatchString(id)) {
				t.Fatalf("chosen id %q gave site %q", id, site.ID)
			}
			stored, err := e.svc.GetSite(ctx(t), site.ID)
			if err != nil || !reflect.DeepEqual(stored, site) {
				t.Fatalf("stored site %+v (%v), returned %+v", stored, err, site)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%d sites after creating one, %d before", len(after), len(before))
			}
		}

		// UpdateSite of the base site with the same settings and the fuzzed
		// mask: accepted, the result follows the rules, has the masked
		// fields of the update and the others of the stored site;
		// rejected, the stored site is unchanged.
		old, err := e.svc.GetSite(ctx(t), baseSiteID)
		if err != nil {
			t.Fatal(err)
		}
		update := &domain.Site{ID: baseSiteID, Name: spec.Name, AllowedOrigins: spec.AllowedOrigins, ProactiveChat: spec.ProactiveChat}
		mask := lines(strings.ReplaceAll(paths, ",", "\n"))
		got, err := e.svc.UpdateSite(ctx(t), update, mask)
		now, gerr := e.svc.GetSite(ctx(t), baseSiteID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if err != nil {
			for _, field := range violationFields(t, err) {
				if !siteFields.MatchString(field) {
					t.Fatalf("UpdateSite names %q, not a field of the site: %v", field, err)
				}
			}
			if !reflect.DeepEqual(now, old) {
				t.Fatalf("rejected UpdateSite (%v) changed the site:\nbefore %+v\n after %+v", err, old, now)
			}
			return
		}
		envs.wrote()
		checkSiteRules(t, got)
		if !reflect.DeepEqual(now, got) {
			t.Fatalf("stored site %+v, returned %+v", now, got)
		}
		want := *old
		want.UpdateTime = got.UpdateTime
		if len(mask) == 0 {
			mask = []string{"name", "allowed_origins", "proactive_chat"}
		}
		for _, p := range mask {
			applyPath(&want, update, p)
		}
		// A client written before trigger rules edits the first rule
		// through the settings that mirror it: the rules are checked
		// against those, the rest as before rules.
		checkFirstRuleMirrored(t, got)
		want.ProactiveChat.Rules, want.ProactiveChat.Caps = got.ProactiveChat.Rules, got.ProactiveChat.Caps
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("UpdateSite with mask %q:\n got %+v\nwant %+v", mask, got, &want)
		}
	})
}

// checkFirstRuleMirrored fails unless the site has a first rule exactly
// when it has a mode, with the values of the settings that mirror it.
func checkFirstRuleMirrored(t *testing.T, s *domain.Site) {
	t.Helper()
	pc := s.ProactiveChat
	if (pc.Mode != domain.ModeUnspecified) != (len(pc.Rules) > 0) {
		t.Fatalf("site with mode %d has %d rules", pc.Mode, len(pc.Rules))
	}
	if len(pc.Rules) == 0 {
		return
	}
	r := pc.Rules[0]
	if r.ID == "" || r.Mode != pc.Mode || r.InviteText != pc.InviteText || r.Conditions.MinSecondsOnSite != pc.LaunchAfterSeconds ||
		!slices.Equal(r.FormFields, pc.FormFields) || !slices.Equal(r.Conditions.IncludePages, pc.IncludePages) ||
		!slices.Equal(r.Conditions.ExcludePages, pc.ExcludePages) {
		t.Fatalf("first rule %+v does not mirror the settings %+v", r, pc)
	}
}

// applyPath is UpdateSite's field mask, written out independently.
func applyPath(site, update *domain.Site, path string) {
	pc, upc := &site.ProactiveChat, update.ProactiveChat
	switch path {
	case "name":
		site.Name = update.Name
	case "allowed_origins":
		site.AllowedOrigins = update.AllowedOrigins
	case "proactive_chat":
		*pc = upc
	case "proactive_chat.enabled":
		pc.Enabled = upc.Enabled
	case "proactive_chat.mode":
		pc.Mode = upc.Mode
	case "proactive_chat.launch_after_seconds":
		pc.LaunchAfterSeconds = upc.LaunchAfterSeconds
	case "proactive_chat.invite_text":
		pc.InviteText = upc.InviteText
	case "proactive_chat.form_fields":
		pc.FormFields = upc.FormFields
	case "proactive_chat.invite_timeout_seconds":
		pc.InviteTimeoutSeconds = upc.InviteTimeoutSeconds
	case "proactive_chat.reinvite_cooldown_seconds":
		pc.ReinviteCooldownSeconds = upc.ReinviteCooldownSeconds
	case "proactive_chat.alert_timeout_seconds":
		pc.AlertTimeoutSeconds = upc.AlertTimeoutSeconds
	case "proactive_chat.include_pages":
		pc.IncludePages = upc.IncludePages
	case "proactive_chat.exclude_pages":
		pc.ExcludePages = upc.ExcludePages
	case "proactive_chat.queue_hold_seconds":
		pc.QueueHoldSeconds = upc.QueueHoldSeconds
	case "proactive_chat.inactivity_timeout_seconds":
		pc.InactivityTimeoutSeconds = upc.InactivityTimeoutSeconds
	case "proactive_chat.inactivity_warning_seconds":
		pc.InactivityWarningSeconds = upc.InactivityWarningSeconds
	}
}

// ---------------------------------------------------------------------------
// RecordPageView

// pageURLShaped is the documented page URL: absolute http(s), at most
// MaxURLBytes, and (stored as a protobuf string) UTF-8.
func pageURLShaped(s string) bool {
	u, err := url.Parse(s)
	lower := strings.ToLower(s)
	return len(s) <= domain.MaxURLBytes && err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://")) && !hasControl(s) && utf8.ValidString(s)
}

type visitorFixture struct {
	site    *domain.Site
	visitor *domain.Visitor
}

func FuzzRecordPageView(f *testing.F) {
	for _, s := range [][2]string{
		{"https://shop.example/", "Shop"},
		{"http://localhost:8080/demo/?q=1#top", ""},
		{"HTTPS://SHOP.EXAMPLE/Cart", "Cart"},
		{"https://[::1]:8443/x", "IPv6"},
		{"https://shop.example/caf\u00e9", "Café"},
		{"https://shop.example/" + strings.Repeat("a", domain.MaxURLBytes-len("https://shop.example/")), "max"},
		{"https://shop.example/" + strings.Repeat("a", domain.MaxURLBytes), "too long"},
		{"https://shop.example/", strings.Repeat("t", domain.MaxTitleBytes+1)},
		{"https://shop.example/", "bad \xff title"},
		{"https://shop.example/\xff", "bad URL"},
		{"https:///path", ""},
		{"https:shop.example", ""},
		{"//shop.example/", ""},
		{"/relative", ""},
		{"ftp://shop.example/", ""},
		{"javascript:alert(1)", ""},
		{"https://shop.example/\x00", ""},
		{" https://shop.example/", ""},
		{"https://user:pw@shop.example/", ""},
		{"https://shop.example:port/", ""},
		{"https://%zz/", ""},
		{"", "no URL"},
	} {
		f.Add(s[0], s[1])
	}
	envs := newFuzzEnv(f, 1000, func(tb testing.TB, e *env, _ func(func())) visitorFixture {
		site, err := e.svc.CreateSite(context.Background(), domain.SiteSpec{Name: "Shop"})
		if err != nil {
			tb.Fatal(err)
		}
		v, _, _, err := e.svc.StartVisitorSession(context.Background(), site.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		return visitorFixture{site, v}
	})
	f.Fuzz(func(t *testing.T, pageURL, title string) {
		e, fx := envs.get(t)
		before, err := e.svc.VisitorState(ctx(t), fx.visitor.ID)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.svc.RecordPageView(ctx(t), fx.visitor.ID, pageURL, title)
		after, serr := e.svc.VisitorState(ctx(t), fx.visitor.ID)
		if serr != nil {
			t.Fatal(serr)
		}
		titleOK := len(title) <= domain.MaxTitleBytes && utf8.ValidString(title)
		if err != nil {
			for _, field := range violationFields(t, err) {
				if field != "url" && field != "title" {
					t.Fatalf("RecordPageView names %q: %v", field, err)
				}
			}
			if pageURLShaped(pageURL) && titleOK {
				t.Fatalf("RecordPageView rejected URL %q, title %q: %v", pageURL, title, err)
			}
			if !reflect.DeepEqual(after.Visitor.CurrentPage, before.Visitor.CurrentPage) {
				t.Fatalf("rejected page view stored: %+v", after.Visitor.CurrentPage)
			}
			return
		}
		envs.wrote()
		if !pageURLShaped(pageURL) || !titleOK {
			t.Fatalf("RecordPageView accepted URL %q (%d bytes), title %q", pageURL, len(pageURL), title)
		}
		want := domain.PageView{URL: pageURL, Title: title, ViewTime: e.clock.Now()}
		if v.CurrentPage != want || after.Visitor.CurrentPage != want {
			t.Fatalf("page view returned %+v, stored %+v, want %+v", v.CurrentPage, after.Visitor.CurrentPage, want)
		}
	})
}

// ---------------------------------------------------------------------------
// StartVisitorSession

type sessionFixture struct {
	siteA, siteB string
	// tokens are the fixture's visitors' tokens: a1, a2 on site A, b1 on B.
	tokens []string
	// owner maps every token handed out to its visitor.
	owner map[string]*domain.Visitor
}

func FuzzStartVisitorSession(f *testing.F) {
	// site: 0 A, 1 B, else the fuzzed siteID. tokenMode: 0 the fuzzed
	// token; 1 a fixture token; 2 one with the fuzzed token appended; 3
	// one cut to the fuzzed token's length. tokenIdx picks the token.
	type seed struct {
		site           uint8
		siteID         string
		tokenMode, idx uint8
		token          string
	}
	for _, s := range []seed{
		{site: 0},
		{site: 0, tokenMode: 1, idx: 0},
		{site: 0, tokenMode: 1, idx: 1},
		{site: 1, tokenMode: 1, idx: 0},
		{site: 0, tokenMode: 1, idx: 2},
		{site: 1, tokenMode: 1, idx: 2},
		{site: 0, tokenMode: 2, idx: 0, token: "x"},
		{site: 0, tokenMode: 3, idx: 0, token: "short"},
		{site: 0, token: "not-a-token"},
		{site: 0, token: "\xff\x00"},
		{site: 2, siteID: "", token: "x"},
		{site: 2, siteID: "site_nope", tokenMode: 1},
		{site: 2, siteID: "site_aaa", tokenMode: 1, idx: 1},
		{site: 2, siteID: "\xff", token: "\xff"},
	} {
		f.Add(s.site, s.siteID, s.tokenMode, s.idx, s.token)
	}
	envs := newFuzzEnv(f, 2000, func(tb testing.TB, e *env, _ func(func())) *sessionFixture {
		fx := &sessionFixture{siteA: "site_aaa", siteB: "site_bbb", owner: map[string]*domain.Visitor{}}
		for _, id := range []string{fx.siteA, fx.siteB} {
			if _, err := e.svc.CreateSite(context.Background(), domain.SiteSpec{ID: id, Name: id}); err != nil {
				tb.Fatal(err)
			}
		}
		for _, site := range []string{fx.siteA, fx.siteA, fx.siteB} {
			v, token, _, err := e.svc.StartVisitorSession(context.Background(), site, "")
			if err != nil {
				tb.Fatal(err)
			}
			fx.tokens = append(fx.tokens, token)
			fx.owner[token] = v
		}
		return fx
	})
	f.Fuzz(func(t *testing.T, site uint8, siteID string, tokenMode, idx uint8, token string) {
		e, fx := envs.get(t)
		switch site {
		case 0:
			siteID = fx.siteA
		case 1:
			siteID = fx.siteB
		}
		known := fx.tokens[int(idx)%len(fx.tokens)]
		switch tokenMode % 4 {
		case 1:
			token = known
		case 2:
			token = known + token
		case 3:
			token = known[:len(token)%len(known)]
		}
		_, siteErr := e.svc.GetSite(ctx(t), siteID)
		v, got, resumed, err := e.svc.StartVisitorSession(ctx(t), siteID, token)
		switch {
		case siteID == "":
			if fields := violationFields(t, err); !slices.Equal(fields, []string{"site_id"}) {
				t.Fatalf("error %v names %q, want site_id", err, fields)
			}
			return
		case siteErr != nil:
			wantCode(t, err, domain.CodeNotFound)
			return
		case err != nil:
			t.Fatalf("StartVisitorSession(%q, %q): %v", siteID, token, err)
		}
		if owner := fx.owner[token]; owner != nil && owner.SiteID == siteID {
			// The token's own visitor, and nobody else's.
			if !resumed || v.ID != owner.ID || got != token {
				t.Fatalf("token of %s on %s: got visitor %s, token %q, resumed %v", owner.ID, siteID, v.ID, got, resumed)
			}
			return
		}
		// Anything else starts a new visitor with a new token.
		if resumed || got == token || got == "" || fx.owner[got] != nil || v.SiteID != siteID {
			t.Fatalf("token %q on %s: got visitor %+v, token %q, resumed %v", token, siteID, v, got, resumed)
		}
		for _, o := range fx.owner {
			if o.ID == v.ID {
				t.Fatalf("token %q on %s gave visitor %s of another token", token, siteID, v.ID)
			}
		}
		envs.wrote()
		fx.owner[got] = v
		again, _, resumed, err := e.svc.StartVisitorSession(ctx(t), siteID, got)
		if err != nil || !resumed || again.ID != v.ID {
			t.Fatalf("new token does not resume its visitor %s: %+v, %v, %v", v.ID, again, resumed, err)
		}
	})
}

// ---------------------------------------------------------------------------
// SendMessage

type chatFixture struct {
	chat *domain.Chat
}

// messageOK is the documented message: UTF-8, not blank, at most
// MaxMessageBytes; an idempotency key of at most MaxIdempotencyKeyBytes
// (UTF-8, as it is stored as a protobuf string).
func messageOK(text, key string) (textOK, keyOK bool) {
	return strings.TrimSpace(text) != "" && len(text) <= domain.MaxMessageBytes && utf8.ValidString(text),
		len(key) <= domain.MaxIdempotencyKeyBytes && utf8.ValidString(key)
}

func FuzzSendMessage(f *testing.F) {
	for _, s := range []struct {
		asAgent    bool
		text, key  string
		twice      bool
		keyedFirst bool
	}{
		{false, "Hello!", "", false, false},
		{true, "Hi, how can I help?", "k1", true, false},
		{false, "Hi again", "k1", false, false},
		{false, "  ", "", false, false},
		{false, "", "", false, false},
		{false, "\u00a0\u2003", "", false, false},
		{false, "<b>not markup</b>", "", false, false},
		{false, strings.Repeat("x", domain.MaxMessageBytes), "", false, false},
		{false, strings.Repeat("x", domain.MaxMessageBytes+1), "", false, false},
		{false, strings.Repeat("é", domain.MaxMessageBytes/2), "", false, false},
		{false, "bad \xff", "", false, false},
		{false, "ok", strings.Repeat("k", domain.MaxIdempotencyKeyBytes+1), false, false},
		{false, "ok", "k\xff", true, false},
		{true, "ok", "\x00", true, false},
	} {
		f.Add(s.asAgent, s.text, s.key, s.twice)
	}
	envs := newFuzzEnv(f, 2000, func(tb testing.TB, e *env, onClose func(func())) chatFixture {
		c := context.Background()
		site, err := e.svc.CreateSite(c, domain.SiteSpec{Name: "Shop", ProactiveChat: domain.ProactiveChatSettings{
			Enabled: true, Mode: domain.ModeWithoutInvite, LaunchAfterSeconds: 3600,
		}})
		if err != nil {
			tb.Fatal(err)
		}
		agent, err := e.svc.CreateAgent(c, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := e.svc.SetAgentStatus(c, agent.ID, domain.StatusAvailable); err != nil {
			tb.Fatal(err)
		}
		v, _, _, err := e.svc.StartVisitorSession(c, site.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		openWidget(tb, e, onClose, v.ID, "https://shop.example/")
		chat, err := e.svc.StartChat(c, agent.ID, v.ID)
		if err != nil {
			tb.Fatal(err)
		}
		return chatFixture{chat}
	})
	f.Fuzz(func(t *testing.T, asAgent bool, text, key string, twice bool) {
		e, fx := envs.get(t)
		sender := fx.chat.Visitor
		if asAgent {
			sender = fx.chat.Agent
		}
		before, err := e.svc.GetChat(ctx(t), fx.chat.ID)
		if err != nil {
			t.Fatal(err)
		}
		// A key already used by the sender answers with its message.
		var original *domain.ChatEvent
		if key != "" && len(key) <= domain.MaxIdempotencyKeyBytes {
			err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
				seq, found, err := tx.MessageSeqByKey(fx.chat.ID, sender.ID, key)
				if err != nil || !found {
					return err
				}
				evs, err := tx.ChatEvents(fx.chat.ID, seq-1, 1)
				if err == nil && len(evs) == 1 {
					original = &evs[0]
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		ev, err := e.svc.SendMessage(ctx(t), fx.chat.ID, sender.ID, text, key)
		after, cerr := e.svc.GetChat(ctx(t), fx.chat.ID)
		if cerr != nil {
			t.Fatal(cerr)
		}
		textOK, keyOK := messageOK(text, key)
		if err != nil {
			fields := violationFields(t, err)
			for _, field := range fields {
				if field == "text" && textOK || field == "idempotency_key" && keyOK || field != "text" && field != "idempotency_key" {
					t.Fatalf("SendMessage(%q, key %q) names %q: %v", text, key, field, err)
				}
			}
			if textOK && keyOK {
				t.Fatalf("SendMessage rejected %q, key %q: %v", text, key, err)
			}
			if after.LastSeq != before.LastSeq {
				t.Fatalf("rejected message stored: last seq %d, was %d", after.LastSeq, before.LastSeq)
			}
			return
		}
		if !textOK || !keyOK {
			t.Fatalf("SendMessage accepted %q (%d bytes), key %q", text, len(text), key)
		}
		if original != nil {
			if !reflect.DeepEqual(ev, *original) || after.LastSeq != before.LastSeq {
				t.Fatalf("retry with key %q: got %+v (last seq %d → %d), want the original %+v", key, ev, before.LastSeq, after.LastSeq, *original)
			}
			return
		}
		envs.wrote()
		want := domain.ChatEvent{ChatID: fx.chat.ID, Seq: before.LastSeq + 1, Time: e.clock.Now(),
			Message: &domain.ChatMessage{Sender: sender, Text: text, IdempotencyKey: key}}
		if ev.LogPosition == 0 {
			t.Fatalf("SendMessage returned %+v, without its position in the event log", ev)
		}
		want.LogPosition = ev.LogPosition
		if !reflect.DeepEqual(ev, want) || after.LastSeq != want.Seq {
			t.Fatalf("SendMessage returned %+v (last seq %d), want %+v", ev, after.LastSeq, want)
		}
		stored, _, err := e.svc.ListChatEvents(ctx(t), fx.chat.ID, want.Seq-1, 1)
		if err != nil || len(stored) != 1 || !reflect.DeepEqual(stored[0], want) {
			t.Fatalf("stored %+v (%v), want %+v", stored, err, want)
		}
		if twice && key != "" {
			again, err := e.svc.SendMessage(ctx(t), fx.chat.ID, sender.ID, text, key)
			if err != nil || !reflect.DeepEqual(again, want) {
				t.Fatalf("retry returned %+v, %v; want %+v", again, err, want)
			}
			if c, _ := e.svc.GetChat(ctx(t), fx.chat.ID); c.LastSeq != want.Seq {
				t.Fatalf("retry stored another message: last seq %d", c.LastSeq)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// SubmitForm

type formFixture struct {
	site    *domain.Site
	agent   *domain.Agent
	visitor *domain.Visitor
}

func FuzzSubmitForm(f *testing.F) {
	// present is a bit set over name, email, phone, question and the
	// extra key.
	for _, s := range []struct {
		present                                          uint8
		name, email, phone, question, extraKey, extraVal string
	}{
		{0b01111, " Ann ", "ann@example.com", "+44 20 7946 0958", "Do you ship to Norway?", "", ""},
		{0b00011, "Ann", "ann@example.com", "", "", "", ""},
		{0b00000, "", "", "", "", "", ""},
		{0b00011, "Ann", "not an address", "", "", "", ""},
		{0b00111, "Ann", "ann@example.com", "12", "", "", ""},
		{0b10011, "Ann", "ann@example.com", "", "", "unknown", "x"},
		{0b01011, "Ann", "ann@example.com", "", "   ", "", ""},
		{0b00011, strings.Repeat("n", 41), "ann@example.com", "", "", "", ""},
		{0b00011, "Ann \xff", "ann@example.com", "", "", "", ""},
		{0b01011, "Ann", "ann@example.com", "", "Bad \xc3", "", ""},
	} {
		f.Add(s.present, s.name, s.email, s.phone, s.question, s.extraKey, s.extraVal)
	}
	envs := newFuzzEnv(f, 2000, func(tb testing.TB, e *env, onClose func(func())) formFixture {
		c := context.Background()
		pc := withInvite()
		pc.LaunchAfterSeconds = 3600
		pc.FormFields = contactForm()
		site, err := e.svc.CreateSite(c, domain.SiteSpec{Name: "Shop", ProactiveChat: pc})
		if err != nil {
			tb.Fatal(err)
		}
		// Offline: nobody is alerted, so a queued visitor stays queued.
		agent, err := e.svc.CreateAgent(c, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}})
		if err != nil {
			tb.Fatal(err)
		}
		v, _, _, err := e.svc.StartVisitorSession(c, site.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		openWidget(tb, e, onClose, v.ID, "https://shop.example/")
		return formFixture{site, agent, v}
	})
	f.Fuzz(func(t *testing.T, present uint8, name, email, phone, question, extraKey, extraVal string) {
		e, fx := envs.get(t)
		// Bring the visitor to the form: out of the queue, invited, Yes.
		st, err := e.svc.VisitorState(ctx(t), fx.visitor.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Engagement == domain.EngagementQueued {
			if st, err = e.svc.LeaveQueue(ctx(t), fx.visitor.ID); err != nil {
				t.Fatal(err)
			}
			envs.wrote()
		}
		if st.Engagement != domain.EngagementFillingForm {
			inv, err := e.svc.InviteVisitor(ctx(t), fx.agent.ID, fx.visitor.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st, err = e.svc.RespondToInvitation(ctx(t), fx.visitor.ID, inv.ID, true); err != nil {
				t.Fatal(err)
			}
			envs.wrote()
			if st.Engagement != domain.EngagementFillingForm {
				t.Fatalf("visitor is %s after accepting, want filling the form", st.Engagement)
			}
		}

		values := map[string]string{}
		for i, kv := range [][2]string{{"name", name}, {"email", email}, {"phone", phone}, {"question", question}, {extraKey, extraVal}} {
			if present&(1<<i) != 0 {
				values[kv[0]] = kv[1]
			}
		}
		fields := fx.site.ProactiveChat.FormFields
		checked := domain.CheckForm(fields, values)
		st, err = e.svc.SubmitForm(ctx(t), fx.visitor.ID, values)
		queue, qerr := e.svc.ListQueue(ctx(t), fx.site.ID)
		if qerr != nil {
			t.Fatal(qerr)
		}
		if checked != nil {
			// Rejected as CheckForm rejects it, and nothing queued.
			if !reflect.DeepEqual(err, checked) {
				t.Fatalf("SubmitForm(%q) = %v; CheckForm says %v", values, err, checked)
			}
			if len(queue) != 0 {
				t.Fatalf("rejected form queued %+v", queue[0])
			}
			return
		}
		if err != nil {
			t.Fatalf("SubmitForm(%q), which CheckForm accepts: %v", values, err)
		}
		envs.wrote()
		checkFormResult(t, fields, values, nil)
		want := map[string]string{}
		for k, v := range values {
			if v = strings.TrimSpace(v); v != "" {
				want[k] = v
			}
		}
		if len(want) == 0 {
			want = nil // stored as a protobuf map: empty is nil
		}
		if st.Engagement != domain.EngagementQueued || len(queue) != 1 || queue[0].VisitorID != fx.visitor.ID || !reflect.DeepEqual(queue[0].FormValues, want) {
			t.Fatalf("after SubmitForm(%q): visitor %s, queue %+v; want the visitor queued with %q", values, st.Engagement, queue, want)
		}
	})
}

// ---------------------------------------------------------------------------
// CreateAgent and UpdateAgent

var agentFields = regexp.MustCompile(`^(id|agent\.id|update_mask|display_name|max_concurrent_chats|site_ids\[\d+\])$`)

const baseAgentID = "agent_base"

// checkAgentRules fails unless an accepted agent follows the documented
// rules: a display name that is not blank, of at most MaxNameBytes of
// UTF-8; 1 to MaxConcurrentChatsCap chats; distinct sites that exist.
func checkAgentRules(t *testing.T, a *domain.Agent, sites []string) {
	t.Helper()
	if strings.TrimSpace(a.DisplayName) == "" || len(a.DisplayName) > domain.MaxNameBytes || !utf8.ValidString(a.DisplayName) ||
		a.MaxConcurrentChats < 1 || a.MaxConcurrentChats > domain.MaxConcurrentChatsCap {
		t.Fatalf("accepted agent %+v", a)
	}
	seen := map[string]bool{}
	for _, id := range a.SiteIDs {
		if seen[id] || !slices.Contains(sites, id) {
			t.Fatalf("accepted agent %+v: site %q", a, id)
		}
		seen[id] = true
	}
}

func FuzzCreateAgent(f *testing.F) {
	sites := []string{"site_aaa", "site_bbb"}
	for _, s := range []struct {
		id, name, siteIDs string
		maxChats          uint32
		paths             string
	}{
		{"", "Dana", "site_aaa", 0, ""},
		{"agent_dana", "Dana", "site_aaa\nsite_bbb", 3, "display_name,site_ids,max_concurrent_chats"},
		{"", "Dana", "", 100, "max_concurrent_chats"},
		{"", "Dana", "", 101, "max_concurrent_chats"},
		{"", " ", "", 1, "display_name"},
		{"", strings.Repeat("d", domain.MaxNameBytes+1), "", 1, "display_name"},
		{"", "Da\xffna", "", 1, "display_name"},
		{"", "Dana", "site_aaa\nsite_aaa", 1, "site_ids"},
		{"", "Dana", "site_nope", 1, "site_ids"},
		{"", "Dana", "\n", 1, "site_ids"},
		{"", "Dana", "site_\xff", 1, "site_ids"},
		{"Bad ID", "Dana", "", 1, "id,status,create_time"},
		{"", "Dana", "", 1, "nope"},
	} {
		f.Add(s.id, s.name, s.siteIDs, s.maxChats, s.paths)
	}
	envs := newFuzzEnv(f, 100, func(tb testing.TB, e *env, _ func(func())) struct{} {
		c := context.Background()
		for _, id := range sites {
			if _, err := e.svc.CreateSite(c, domain.SiteSpec{ID: id, Name: id}); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := e.svc.CreateAgent(c, domain.AgentSpec{ID: baseAgentID, DisplayName: "Base", SiteIDs: sites[:1]}); err != nil {
			tb.Fatal(err)
		}
		return struct{}{}
	})
	f.Fuzz(func(t *testing.T, id, name, siteIDs string, maxChats uint32, paths string) {
		e, _ := envs.get(t)
		spec := domain.AgentSpec{ID: id, DisplayName: name, SiteIDs: lines(siteIDs), MaxConcurrentChats: maxChats}
		missingSite := slices.ContainsFunc(spec.SiteIDs, func(id string) bool { return !slices.Contains(sites, id) })
		checkFields := func(op string, err error) {
			t.Helper()
			if domain.ErrorCode(err) == domain.CodeNotFound && missingSite {
				return
			}
			for _, field := range violationFields(t, err) {
				if !agentFields.MatchString(field) {
					t.Fatalf("%s names %q, not a field of the agent: %v", op, field, err)
				}
			}
		}

		before, err := e.svc.ListAgents(ctx(t), "")
		if err != nil {
			t.Fatal(err)
		}
		agent, err := e.svc.CreateAgent(ctx(t), spec)
		after, lerr := e.svc.ListAgents(ctx(t), "")
		if lerr != nil {
			t.Fatal(lerr)
		}
		switch {
		case domain.ErrorCode(err) == domain.CodeAlreadyExists && slices.ContainsFunc(before, func(a *domain.Agent) bool { return a.ID == id }):
		case err != nil:
			checkFields("CreateAgent", err)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("rejected CreateAgent (%v) changed the agents:\nbefore %+v\n after %+v", err, before, after)
			}
		default:
			envs.wrote()
			checkAgentRules(t, agent, sites)
			if id != "" && (agent.ID != id || !chosenIDShape.MatchString(id)) || maxChats != 0 && agent.MaxConcurrentChats != maxChats {
				t.Fatalf("CreateAgent(%+v) = %+v", spec, agent)
			}
			stored, err := e.svc.GetAgent(ctx(t), agent.ID)
			if err != nil || !reflect.DeepEqual(stored, agent) || len(after) != len(before)+1 {
				t.Fatalf("stored agent %+v (%v), returned %+v; %d agents, %d before", stored, err, agent, len(after), len(before))
			}
		}

		old, err := e.svc.GetAgent(ctx(t), baseAgentID)
		if err != nil {
			t.Fatal(err)
		}
		update := &domain.Agent{ID: baseAgentID, DisplayName: name, SiteIDs: spec.SiteIDs, MaxConcurrentChats: maxChats}
		mask := lines(strings.ReplaceAll(paths, ",", "\n"))
		got, err := e.svc.UpdateAgent(ctx(t), update, mask)
		now, gerr := e.svc.GetAgent(ctx(t), baseAgentID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if err != nil {
			checkFields("UpdateAgent", err)
			if !reflect.DeepEqual(now, old) {
				t.Fatalf("rejected UpdateAgent (%v) changed the agent:\nbefore %+v\n after %+v", err, old, now)
			}
			return
		}
		envs.wrote()
		checkAgentRules(t, got, sites)
		if !reflect.DeepEqual(now, got) {
			t.Fatalf("stored agent %+v, returned %+v", now, got)
		}
		want := *old
		if len(mask) == 0 {
			mask = []string{"display_name", "site_ids", "max_concurrent_chats"}
		}
		for _, p := range mask {
			switch p {
			case "display_name":
				want.DisplayName = update.DisplayName
			case "site_ids":
				want.SiteIDs = update.SiteIDs
			case "max_concurrent_chats":
				want.MaxConcurrentChats = update.MaxConcurrentChats
			}
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("UpdateAgent with mask %q:\n got %+v\nwant %+v", mask, got, &want)
		}
	})
}

// ---------------------------------------------------------------------------
// Authenticate

type authFixture struct {
	tokens []string
	// who each token authenticates as.
	kinds map[string]domain.PrincipalKind
	ids   map[string]string
}

// FuzzAuthenticate: a bearer token authenticates exactly when it is one
// the server issued (an API key, an agent session, a visitor token), as
// its owner and nobody else; anything else, however close, is
// Unauthenticated and nothing but.
func FuzzAuthenticate(f *testing.F) {
	// mode: 0 the fuzzed token; 1 a fixture token; 2 one with the fuzzed
	// token appended; 3 one cut to the fuzzed token's length; 4 one with a
	// byte flipped at the fuzzed token's length. idx picks the token.
	for _, s := range []struct {
		mode, idx uint8
		token     string
	}{
		{0, 0, ""}, {1, 0, ""}, {1, 1, ""}, {1, 2, ""}, {2, 0, " "}, {3, 1, "pcs_"}, {4, 2, "abc"},
		{0, 0, "pca_"}, {0, 0, "pcs_\x00"}, {0, 0, "pcv_\xff"}, {0, 0, "Bearer x"},
	} {
		f.Add(s.mode, s.idx, s.token)
	}
	envs := newFuzzEnv(f, 1<<30, func(tb testing.TB, e *env, _ func(func())) *authFixture {
		bg := context.Background()
		fx := &authFixture{kinds: map[string]domain.PrincipalKind{}, ids: map[string]string{}}
		key, keyToken, err := e.svc.CreateAPIKey(bg, "fuzz")
		if err != nil {
			tb.Fatal(err)
		}
		site, err := e.svc.CreateSite(bg, domain.SiteSpec{Name: "Shop"})
		if err != nil {
			tb.Fatal(err)
		}
		agent, err := e.svc.CreateAgent(bg, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}})
		if err != nil {
			tb.Fatal(err)
		}
		_, sessionToken, err := e.svc.CreateAgentSession(bg, agent.ID, time.Hour)
		if err != nil {
			tb.Fatal(err)
		}
		v, visitorToken, _, err := e.svc.StartVisitorSession(bg, site.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		for tok, p := range map[string]struct {
			kind domain.PrincipalKind
			id   string
		}{keyToken: {domain.AdminPrincipal, key.ID}, sessionToken: {domain.AgentPrincipal, agent.ID}, visitorToken: {domain.VisitorPrincipal, v.ID}} {
			fx.tokens = append(fx.tokens, tok)
			fx.kinds[tok], fx.ids[tok] = p.kind, p.id
		}
		slices.Sort(fx.tokens)
		return fx
	})
	f.Fuzz(func(t *testing.T, mode, idx uint8, token string) {
		e, fx := envs.get(t)
		known := fx.tokens[int(idx)%len(fx.tokens)]
		switch mode % 5 {
		case 1:
			token = known
		case 2:
			token = known + token
		case 3:
			token = known[:len(token)%len(known)]
		case 4:
			b := []byte(known)
			b[len(token)%len(b)] ^= 1
			token = string(b)
		}
		p, err := e.svc.Authenticate(ctx(t), token)
		if kind, ok := fx.kinds[token]; ok {
			if err != nil || p.Kind != kind || p.ID != fx.ids[token] {
				t.Fatalf("issued token %q: %+v, %v; want %v %s", token, p, err, kind, fx.ids[token])
			}
			return
		}
		wantCode(t, err, domain.CodeUnauthenticated)
		if p.Kind != domain.Anonymous || p.ID != "" {
			t.Fatalf("token %q was refused but named %+v", token, p)
		}
	})
}
