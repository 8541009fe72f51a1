package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Who may do what. Every call but StartVisitorSession and SignIn carries a
// bearer token, and the token says who is calling:
//
//   - an admin API key ("pca_…") is an integrator, allowed the AdminService;
//   - an agent session ("pcs_…") is one agent, acting only as itself and only
//     on the sites it serves; sessions expire and can be revoked;
//   - a visitor token ("pcv_…", from StartVisitorSession) is one visitor on
//     one site, and the only key to that visitor's streams and chats.
//
// Only the SHA-256 of a token is stored: the tokens are 256-bit random
// secrets, so a fast hash is enough (passwords, which people choose, get
// Argon2id through PasswordHasher).
//
// The transports enforce which principal may make which call (package rpc);
// Authenticate and the Can* checks here are what they enforce it with.

// PrincipalKind is what kind of caller a Principal is.
type PrincipalKind int

const (
	// Anonymous is a call without credentials.
	Anonymous PrincipalKind = iota
	AdminPrincipal
	AgentPrincipal
	VisitorPrincipal
)

func (k PrincipalKind) String() string {
	switch k {
	case AdminPrincipal:
		return "admin"
	case AgentPrincipal:
		return "agent"
	case VisitorPrincipal:
		return "visitor"
	default:
		return "anonymous"
	}
}

// Principal is who a call is made by.
type Principal struct {
	Kind PrincipalKind
	// ID is the API key's, the agent's or the visitor's id.
	ID string
	// SiteID is a visitor's site.
	SiteID string
	// SiteIDs are the sites an admin API key is scoped to (keyscope.go);
	// empty for a key that may act on every site.
	SiteIDs []string
	// SessionID is an agent session's id.
	SessionID string
	// ExpireTime is when an agent session ends; zero for credentials that
	// do not expire.
	ExpireTime time.Time

	// tokenHash names the credential for revocation.
	tokenHash [sha256.Size]byte
	// gen is the count of revocations when the credential was last found
	// valid.
	gen uint64
}

// APIKey is an integrator's credential. Hash is the SHA-256 of the secret,
// which is never stored.
type APIKey struct {
	ID         string
	Name       string
	CreateTime time.Time
	Hash       []byte
	// SiteIDs scope the key to these sites (keyscope.go); empty is every
	// site.
	SiteIDs []string
}

// AgentSession is a signed-in agent. Hash is the SHA-256 of its token.
type AgentSession struct {
	ID         string
	AgentID    string
	CreateTime time.Time
	ExpireTime time.Time
	Hash       []byte
}

// PasswordHasher hashes agents' passwords with a slow, salted function.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(encoded, password string) (bool, error)
}

// Token prefixes say which kind of credential a token is, so it is looked
// up in one place only (and a leaked one is easy to recognise in a scan).
const (
	apiKeyPrefix       = "pca_"
	agentSessionPrefix = "pcs_"
	visitorTokenPrefix = "pcv_"
)

// Limits and defaults of credentials.
const (
	MinPasswordBytes       = 8
	MaxPasswordBytes       = 200
	DefaultAgentSessionTTL = 12 * time.Hour
	MinAgentSessionTTL     = time.Minute
	MaxAgentSessionTTL     = 30 * 24 * time.Hour
	// maxCachedPrincipals bounds the memory of the token cache.
	maxCachedPrincipals = 100_000
)

func newSecret(prefix string) (token string, hash [sha256.Size]byte) {
	var b [32]byte
	rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, sha256.Sum256([]byte(token))
}

func unauthenticated() error {
	return Errorf(CodeUnauthenticated, "the token is unknown, expired or revoked")
}

// Authenticate returns who token belongs to, or an Unauthenticated error.
// Tokens seen before are answered from memory; revocation clears them.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, Errorf(CodeUnauthenticated, "credentials are required: send Authorization: Bearer <token>")
	}
	hash := sha256.Sum256([]byte(token))
	now := s.clock.Now()
	p, found, gen := s.creds.cached(hash)
	if found {
		if !p.ExpireTime.IsZero() && !now.Before(p.ExpireTime) {
			return Principal{}, unauthenticated()
		}
		p.gen = gen
		return p, nil
	}
	err := s.store.View(ctx, func(tx ReadTx) error {
		switch {
		case strings.HasPrefix(token, apiKeyPrefix):
			key, err := tx.APIKeyByHash(hash[:])
			if err != nil {
				return err
			}
			p = Principal{Kind: AdminPrincipal, ID: key.ID, SiteIDs: key.SiteIDs}
		case strings.HasPrefix(token, agentSessionPrefix):
			sess, err := tx.AgentSessionByHash(hash[:])
			if err != nil {
				return err
			}
			if _, err := tx.Agent(sess.AgentID); err != nil {
				return err
			}
			p = Principal{Kind: AgentPrincipal, ID: sess.AgentID, SessionID: sess.ID, ExpireTime: sess.ExpireTime}
		default:
			// Visitor tokens, including those made before tokens had
			// prefixes.
			v, err := tx.VisitorByTokenHash(hash[:])
			if err != nil {
				return err
			}
			p = Principal{Kind: VisitorPrincipal, ID: v.ID, SiteID: v.SiteID}
		}
		return nil
	})
	if ErrorCode(err) == CodeNotFound {
		return Principal{}, unauthenticated()
	}
	if err != nil {
		return Principal{}, err
	}
	if !p.ExpireTime.IsZero() && !now.Before(p.ExpireTime) {
		return Principal{}, unauthenticated()
	}
	p.tokenHash, p.gen = hash, gen
	if !s.replica || p.Kind != VisitorPrincipal {
		// A replica reads visitors' tokens from its file every time:
		// they go without an event to tell it (an erasure, the
		// retention sweep), where API keys and agent sessions go with
		// theirs (FollowWrites).
		s.creds.remember(hash, p, gen)
	}
	return p, nil
}

// AuthenticateStream authenticates token for a stream and returns its
// grant, whose context is cancelled, with an Unauthenticated cause, when the
// credential is revoked or expires, so the stream does not outlive it. The
// grant also re-checks the stream's scope whenever its principal's rights
// change (see StreamGrant). Call Release when the stream ends.
func (s *Service) AuthenticateStream(ctx context.Context, token string) (*StreamGrant, error) {
	for {
		p, err := s.Authenticate(ctx, token)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithCancelCause(ctx)
		b := &binding{p: p, ctx: ctx, cancel: cancel}
		if !s.creds.bind(b) {
			// A revocation ran since p was looked up: look again.
			cancel(nil)
			continue
		}
		g := &StreamGrant{Principal: p, b: b, creds: s.creds}
		if !p.ExpireTime.IsZero() {
			g.timer = s.clock.AfterFunc(p.ExpireTime.Sub(s.clock.Now()), func() {
				cancel(Errorf(CodeUnauthenticated, "the session expired: sign in again"))
			})
		}
		return g, nil
	}
}

// CanReadSite reports whether p may see a site's visitors, queue and
// settings: admins, and agents serving or supervising the site.
func (s *Service) CanReadSite(ctx context.Context, p Principal, siteID string) error {
	return s.siteRule(ctx, p, siteID, "read", "serve or supervise", func(a *Agent) bool { return a.SeesSite(siteID) })
}

// siteRule is the shape of the per-site rules: admins may, within their
// key's scope (Principal.InScope); agents when ok says so of their record
// (refused as not doing agentVerb; never when ok is nil); nobody else
// (refused as not allowed to verb).
func (s *Service) siteRule(ctx context.Context, p Principal, siteID, verb, agentVerb string, ok func(*Agent) bool) error {
	switch p.Kind {
	case AdminPrincipal:
		return p.checkScope(siteID)
	case AgentPrincipal:
		if ok == nil {
			break
		}
		agent, err := s.GetAgent(ctx, p.ID)
		if err != nil {
			return err
		}
		if !ok(agent) {
			return Errorf(CodePermissionDenied, "agent %q does not %s site %q", p.ID, agentVerb, siteID)
		}
		return nil
	}
	return Errorf(CodePermissionDenied, "a %s may not %s site %q", p.Kind, verb, siteID)
}

// CanReadChat reports whether p may read a chat's transcript and follow it:
// admins, its participants, and the agents serving or supervising its site
// (a colleague taking over, a supervisor; CanReadSite). Reading a chat
// does not join it: its participants are not told.
func (s *Service) CanReadChat(ctx context.Context, p Principal, chatID string) error {
	if p.Kind == AdminPrincipal && !p.Scoped() {
		return nil
	}
	if chatID == "" {
		return invalid("chat_id", "is required")
	}
	chat, err := s.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if part, ok := chat.Participant(p.ID); ok && (part.Role == RoleVisitor) == (p.Kind == VisitorPrincipal) {
		return nil
	}
	if p.Kind == AdminPrincipal {
		return p.checkScope(chat.SiteID)
	}
	if p.Kind == AgentPrincipal && s.CanReadSite(ctx, p, chat.SiteID) == nil {
		return nil
	}
	return Errorf(CodePermissionDenied, "%s %q may not read chat %q", p.Kind, p.ID, chatID)
}

// EnsureAPIKey creates an API key named name when there is none, and
// returns its key; it returns "" when keys exist. A new installation calls
// it on first start, so an integrator has a first key to create others with.
func (s *Service) EnsureAPIKey(ctx context.Context, name string) (token string, err error) {
	tok, hash := newSecret(apiKeyPrefix)
	key := &APIKey{ID: newID("key"), Name: name, CreateTime: s.clock.Now(), Hash: hash[:]}
	err = s.update(ctx, func(tx WriteTx) error {
		token = ""
		keys, err := tx.APIKeys()
		if err != nil || len(keys) > 0 {
			return err
		}
		token = tok
		if err := tx.PutAPIKey(key); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventAPIKeyCreated, APIKeyID: key.ID})
	})
	return token, err
}

// CreateAPIKey issues an admin API key and returns it with its secret token,
// which is not stored. With siteIDs, the key is scoped to those sites
// (keyscope.go); they must exist.
func (s *Service) CreateAPIKey(ctx context.Context, name string, siteIDs []string) (*APIKey, string, error) {
	if err := checkCredentialName(name); err != nil {
		return nil, "", err
	}
	var v Violations
	checkKeySites(&v, siteIDs)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	token, hash := newSecret(apiKeyPrefix)
	key := &APIKey{ID: newID("key"), Name: name, CreateTime: s.clock.Now(), Hash: hash[:], SiteIDs: slices.Clone(siteIDs)}
	err := s.update(ctx, func(tx WriteTx) error {
		for i, id := range siteIDs {
			if _, err := tx.Site(id); ErrorCode(err) == CodeNotFound {
				return invalid(fmt.Sprintf("site_ids[%d]", i), "site %q does not exist", id)
			} else if err != nil {
				return err
			}
		}
		if err := tx.PutAPIKey(key); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventAPIKeyCreated, APIKeyID: key.ID})
	})
	if err != nil {
		return nil, "", err
	}
	return key, token, nil
}

func checkCredentialName(name string) error {
	var v Violations
	if required(&v, "name", name) {
		if len(name) > MaxNameBytes || !utf8.ValidString(name) {
			v.Add("name", "must be valid UTF-8 of at most %d bytes", MaxNameBytes)
		}
	}
	return v.Err()
}

// ListAPIKeys lists the API keys, oldest first.
func (s *Service) ListAPIKeys(ctx context.Context) (keys []*APIKey, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		keys, err = tx.APIKeys()
		return err
	})
	slices.SortFunc(keys, func(a, b *APIKey) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys, err
}

// RevokeAPIKey deletes an API key. The last one stays, so the API is never
// locked out.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	if id == "" {
		return invalid("api_key_id", "is required")
	}
	return s.update(ctx, func(tx WriteTx) error {
		keys, err := tx.APIKeys()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.ID != id {
				continue
			}
			if len(keys) == 1 {
				return Errorf(CodeFailedPrecondition, "API key %q is the last one: create its successor first", id)
			}
			if err := tx.DeleteAPIKey(k.Hash); err != nil {
				return err
			}
			return s.record(tx, Event{Type: EventAPIKeyRevoked, APIKeyID: k.ID})
		}
		return Errorf(CodeNotFound, "API key %q not found", id)
	})
}

// SetAgentPassword sets the password an agent signs in with and ends the
// agent's sessions.
func (s *Service) SetAgentPassword(ctx context.Context, agentID, password string) error {
	var v Violations
	required(&v, "agent_id", agentID)
	if len(password) < MinPasswordBytes || len(password) > MaxPasswordBytes || !utf8.ValidString(password) {
		v.Add("password", "must be valid UTF-8 of %d to %d bytes", MinPasswordBytes, MaxPasswordBytes)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if s.passwords == nil {
		return Errorf(CodeFailedPrecondition, "this server has no password hasher")
	}
	if _, err := s.GetAgent(ctx, agentID); err != nil {
		return err // before the slow hash
	}
	encoded, err := s.passwords.Hash(password)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Agent(agentID); err != nil {
			return err
		}
		if err := tx.PutAgentPasswordHash(agentID, encoded); err != nil {
			return err
		}
		if err := s.record(tx, Event{Type: EventAgentUpdated, AgentID: agentID, Fields: []string{"password"}}); err != nil {
			return err
		}
		_, err := s.deleteAgentSessions(tx, agentID, func(*AgentSession) bool { return true })
		return err
	})
}

// deleteAgentSessions deletes the sessions of an agent that match, each
// with its agent_session.revoked, which ends its calls once committed.
func (s *Service) deleteAgentSessions(tx WriteTx, agentID string, match func(*AgentSession) bool) (int, error) {
	sessions, err := tx.AgentSessions(agentID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sess := range sessions {
		if !match(sess) {
			continue
		}
		if err := tx.DeleteAgentSession(sess.Hash); err != nil {
			return 0, err
		}
		id := sess.ID
		if err := s.record(tx, Event{Type: EventAgentSessionRevoked, AgentID: agentID, SessionID: id}); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// dummyPasswordHash is verified against when an agent does not exist or has
// no password, so a wrong agent id takes as long as a wrong password.
var (
	dummyPasswordOnce sync.Once
	dummyPassword     string
)

// SignInCredentials name the agent signing in, by id or by login, and
// carry its password.
type SignInCredentials struct {
	AgentID  string
	Login    string
	Password string
}

// SignIn checks an agent's password and starts a session. An unknown id or
// login fails the same way, and takes as long, as a wrong password.
func (s *Service) SignIn(ctx context.Context, c SignInCredentials) (*Agent, *AgentSession, string, error) {
	agentID, password := c.AgentID, c.Password
	var v Violations
	switch {
	case agentID != "" && c.Login != "":
		v.Add("login", "give agent_id or login, not both")
	case agentID == "":
		required(&v, "login", c.Login)
		if len(c.Login) > MaxLoginBytes {
			v.Add("login", "must be at most %d bytes", MaxLoginBytes)
		}
	}
	required(&v, "password", password)
	if len(password) > MaxPasswordBytes {
		v.Add("password", "must be at most %d bytes", MaxPasswordBytes)
	}
	if err := v.Err(); err != nil {
		return nil, nil, "", err
	}
	if s.passwords == nil {
		return nil, nil, "", Errorf(CodeFailedPrecondition, "this server has no password hasher")
	}
	var encoded string
	err := s.store.View(ctx, func(tx ReadTx) error {
		if agentID == "" {
			var err error
			if agentID, err = tx.AgentIDByLogin(LoginKey(c.Login)); err != nil {
				return err
			}
		}
		if _, err := tx.Agent(agentID); err != nil {
			return err
		}
		var err error
		encoded, err = tx.AgentPasswordHash(agentID)
		return err
	})
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, nil, "", err
	}
	if encoded == "" {
		dummyPasswordOnce.Do(func() { dummyPassword, _ = s.passwords.Hash("not a password") })
		encoded = dummyPassword
	}
	ok, verr := s.passwords.Verify(encoded, password)
	if err != nil || verr != nil || !ok {
		if c.AgentID != "" {
			return nil, nil, "", Errorf(CodeUnauthenticated, "wrong agent id or password")
		}
		return nil, nil, "", Errorf(CodeUnauthenticated, "wrong login or password")
	}
	return s.startAgentSession(ctx, agentID, s.sessionTTL)
}

// CreateAgentSession starts a session for an agent without its password,
// for an integrator's software working as that agent.
func (s *Service) CreateAgentSession(ctx context.Context, agentID string, ttl time.Duration) (*AgentSession, string, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	if ttl == 0 {
		ttl = DefaultAgentSessionTTL
	} else if ttl < MinAgentSessionTTL || ttl > MaxAgentSessionTTL {
		v.Add("ttl", "must be between %s and %s", MinAgentSessionTTL, MaxAgentSessionTTL)
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	_, sess, token, err := s.startAgentSession(ctx, agentID, ttl)
	return sess, token, err
}

func (s *Service) startAgentSession(ctx context.Context, agentID string, ttl time.Duration) (*Agent, *AgentSession, string, error) {
	now := s.clock.Now()
	token, hash := newSecret(agentSessionPrefix)
	sess := &AgentSession{ID: newID("session"), AgentID: agentID, CreateTime: now, ExpireTime: now.Add(ttl), Hash: hash[:]}
	var agent *Agent
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if agent, err = tx.Agent(agentID); err != nil {
			return err
		}
		// Expired sessions go when their agent next signs in.
		if _, err := s.deleteAgentSessions(tx, agentID, func(o *AgentSession) bool {
			return !o.ExpireTime.IsZero() && !now.Before(o.ExpireTime)
		}); err != nil {
			return err
		}
		if err := tx.PutAgentSession(sess); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventAgentSessionCreated, AgentID: agentID, SessionID: sess.ID})
	})
	if err != nil {
		return nil, nil, "", err
	}
	return agent, sess, token, nil
}

// SignOut ends the agent session p is signed in with.
func (s *Service) SignOut(ctx context.Context, p Principal) error {
	if p.Kind != AgentPrincipal || p.SessionID == "" {
		return Errorf(CodePermissionDenied, "only an agent session can sign out")
	}
	return s.update(ctx, func(tx WriteTx) error {
		_, err := s.deleteAgentSessions(tx, p.ID, func(o *AgentSession) bool { return o.ID == p.SessionID })
		return err
	})
}

// RevokeAgentSessions ends every session of an agent.
func (s *Service) RevokeAgentSessions(ctx context.Context, agentID string) (n int, err error) {
	if agentID == "" {
		return 0, invalid("agent_id", "is required")
	}
	err = s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Agent(agentID); err != nil {
			return err
		}
		n, err = s.deleteAgentSessions(tx, agentID, func(*AgentSession) bool { return true })
		return err
	})
	return n, err
}

// credentials remembers authenticated tokens and the streams opened with
// them, so a revocation takes effect at once everywhere.
type credentials struct {
	mu sync.Mutex
	// gen counts revocations: a lookup that raced one is not cached.
	gen     uint64
	cache   map[[sha256.Size]byte]Principal
	streams map[*binding]struct{}
	// byVisitor is each cached visitor's token, so that a visitor leaving
	// the site takes its entry along: visitors come and go by the hundred
	// thousand, and the cache would otherwise keep them all until full.
	byVisitor map[string][sha256.Size]byte
	// peaks are the most entries the maps held since they were last
	// copied (see shrunk).
	cachePeak, byVisitorPeak int
}

// binding is one open stream, registered under its principal so that a
// revocation or a change of rights reaches it (see rights.go).
type binding struct {
	p      Principal
	ctx    context.Context // the stream's
	cancel context.CancelCauseFunc

	// noticed counts the changes of p's rights since the stream opened;
	// checked is the count the last passing check covered. They differ
	// while a check is due.
	noticed, checked atomic.Uint64
	mu               sync.Mutex   // serialises checks
	check            func() error // the stream's scope; nil until authorized
}

func newCredentials() *credentials {
	return &credentials{cache: map[[sha256.Size]byte]Principal{}, streams: map[*binding]struct{}{}, byVisitor: map[string][sha256.Size]byte{}}
}

func (c *credentials) cached(hash [sha256.Size]byte) (Principal, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.cache[hash]
	return p, ok, c.gen
}

func (c *credentials) remember(hash [sha256.Size]byte, p Principal, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.cache) >= maxCachedPrincipals {
		c.cache = map[[sha256.Size]byte]Principal{}
		c.byVisitor = map[string][sha256.Size]byte{}
		c.cachePeak, c.byVisitorPeak = 0, 0
	}
	c.cache[hash] = p
	c.cachePeak = max(c.cachePeak, len(c.cache))
	if p.Kind == VisitorPrincipal {
		if old, ok := c.byVisitor[p.ID]; ok && old != hash {
			delete(c.cache, old) // one token per visitor is kept; others are read again
		}
		c.byVisitor[p.ID] = hash
		c.byVisitorPeak = max(c.byVisitorPeak, len(c.byVisitor))
	}
}

// forgetVisitor drops the visitor's cached token: the visitor left.
func (c *credentials) forgetVisitor(visitorID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.byVisitor[visitorID]
	if !ok {
		return
	}
	delete(c.byVisitor, visitorID)
	delete(c.cache, h)
	c.byVisitor = shrunk(c.byVisitor, &c.byVisitorPeak)
	c.cache = shrunk(c.cache, &c.cachePeak)
}

// forgetVisitors drops the cached tokens of visitors that were deleted,
// and makes a lookup that raced the deletion not cache what it read.
func (c *credentials) forgetVisitors(visitorIDs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range visitorIDs {
		if h, ok := c.byVisitor[id]; ok {
			delete(c.byVisitor, id)
			delete(c.cache, h)
		}
	}
}

// bind registers a stream; false when a revocation ran since its principal
// was found valid (it may have been this one's).
func (c *credentials) bind(b *binding) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.p.gen != c.gen {
		return false
	}
	c.streams[b] = struct{}{}
	return true
}

func (c *credentials) unbind(b *binding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.streams, b)
}

// revoke forgets the principals that match and ends their streams.
func (c *credentials) revoke(match func(Principal) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, p := range c.cache {
		if match(p) {
			delete(c.cache, h)
			if p.Kind == VisitorPrincipal && c.byVisitor[p.ID] == h {
				delete(c.byVisitor, p.ID)
			}
		}
	}
	for b := range c.streams {
		if match(b.p) {
			b.cancel(Errorf(CodeUnauthenticated, "the credential was revoked"))
			delete(c.streams, b)
		}
	}
}
