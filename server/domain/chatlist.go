package domain

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// Page sizes of ListChats.
const (
	DefaultChatPageSize = 50
	MaxChatPageSize     = 200
)

// chatScanLimit is how many chats one ListChats call reads at most, whatever
// its filters: a filter few chats match ends the call early with a page
// token rather than reading every chat of the site.
var chatScanLimit = 1000

// ChatPosition is where a chat stands in the list of chats, newest first:
// by CreateTime, latest first, then by ID.
type ChatPosition struct {
	CreateTime time.Time
	ID         string
}

// before reports whether p comes before q in the list (p is newer).
func (p ChatPosition) before(q ChatPosition) bool {
	if !p.CreateTime.Equal(q.CreateTime) {
		return p.CreateTime.After(q.CreateTime)
	}
	return p.ID < q.ID
}

// ChatFilter selects chats for ListChats; its zero fields select all.
type ChatFilter struct {
	SiteID    string
	AgentID   string
	VisitorID string
	State     ChatState
	EndReason ChatEndReason
	// StartFrom and StartTo bound the chats' CreateTime: at or after
	// StartFrom, before StartTo.
	StartFrom time.Time
	StartTo   time.Time
	// Query is text the visitor's name or e-mail contains, ignoring case.
	Query string
}

// ChatSummary is a chat in a list, with who the visitor said they are.
type ChatSummary struct {
	Chat *Chat
	// VisitorName and VisitorEmail are the "name" and "email" answers of
	// the form the visitor filled in before the chat, if any.
	VisitorName  string
	VisitorEmail string
}

// ListChats returns a page of the chats p may read that match f, newest
// first, and the token of the next page ("" when there is none). Admins
// read every site's chats (a scoped key its sites', keyscope.go); an agent
// reads the chats of the sites it serves (naming another site is
// PermissionDenied, for a scoped key too). A call reads at most
// chatScanLimit chats, so a page may be short, even empty, and still have a
// next page.
func (s *Service) ListChats(ctx context.Context, p Principal, f ChatFilter, pageSize int, pageToken string) ([]ChatSummary, string, error) {
	var v Violations
	if pageSize < 0 || pageSize > MaxChatPageSize {
		v.Add("page_size", "must be between 1 and %d", MaxChatPageSize)
	}
	after, err := parseChatPageToken(pageToken)
	if err != nil {
		v.Add("page_token", "is not a token this call returned")
	}
	if f.State < ChatStateUnspecified || f.State > ChatStateEnded {
		v.Add("state", "is not a chat state")
	}
	if f.EndReason < EndUnspecified || f.EndReason > EndInactive {
		v.Add("end_reason", "is not a chat end reason")
	}
	if !f.StartFrom.IsZero() && !f.StartTo.IsZero() && !f.StartTo.After(f.StartFrom) {
		v.Add("start_time_to", "must be after start_time_from")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if pageSize == 0 {
		pageSize = DefaultChatPageSize
	}
	if after.ID == "" && !f.StartTo.IsZero() {
		// Chats at StartTo itself are left out: start just after them.
		after = ChatPosition{CreateTime: f.StartTo.Add(-time.Nanosecond)}
	}
	query := strings.ToLower(strings.TrimSpace(f.Query))
	var out []ChatSummary
	var next ChatPosition
	err = s.store.View(ctx, func(tx ReadTx) error {
		out, next = nil, ChatPosition{}
		sites, err := s.listedSites(tx, p, f)
		if err != nil {
			return err
		}
		m := newChatMerge(tx, sites, after)
		for examined := 0; ; examined++ {
			pos, ok, err := m.next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if len(out) == pageSize || examined == chatScanLimit {
				// Stop before pos: the next page starts with it.
				next = m.last
				return nil
			}
			m.last = pos
			if !f.StartFrom.IsZero() && pos.CreateTime.Before(f.StartFrom) {
				// The rest of this site is older still.
				m.drop()
				continue
			}
			if !f.StartTo.IsZero() && !pos.CreateTime.Before(f.StartTo) {
				continue
			}
			chat, err := tx.Chat(pos.ID)
			if ErrorCode(err) == CodeNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if !f.matches(chat) {
				continue
			}
			sum, err := summarize(tx, chat)
			if err != nil {
				return err
			}
			if query != "" && !strings.Contains(strings.ToLower(sum.VisitorName), query) &&
				!strings.Contains(strings.ToLower(sum.VisitorEmail), query) {
				continue
			}
			out = append(out, sum)
		}
	})
	if err != nil {
		return nil, "", err
	}
	return out, chatPageToken(next), nil
}

// matches applies the filters that need the chat record.
func (f ChatFilter) matches(c *Chat) bool {
	return (f.AgentID == "" || c.Agent.ID == f.AgentID) &&
		(f.VisitorID == "" || c.Visitor.ID == f.VisitorID) &&
		(f.State == ChatStateUnspecified || c.State == f.State) &&
		(f.EndReason == EndUnspecified || c.EndReason == f.EndReason)
}

// listedSites returns the sites whose chats a ListChats by p with f reads.
func (s *Service) listedSites(tx ReadTx, p Principal, f ChatFilter) ([]string, error) {
	var allowed []string
	switch p.Kind {
	case AdminPrincipal:
		if f.SiteID != "" {
			if err := p.checkScope(f.SiteID); err != nil {
				return nil, err
			}
		}
		sites, err := tx.Sites()
		if err != nil {
			return nil, err
		}
		for _, site := range sites {
			if p.InScope(site.ID) {
				allowed = append(allowed, site.ID)
			}
		}
	case AgentPrincipal:
		agent, err := tx.Agent(p.ID)
		if err != nil {
			return nil, err
		}
		if f.SiteID != "" && !agent.SeesSite(f.SiteID) {
			return nil, Errorf(CodePermissionDenied, "agent %q does not serve or supervise site %q", agent.ID, f.SiteID)
		}
		allowed = agent.VisibleSiteIDs()
	default:
		return nil, Errorf(CodePermissionDenied, "a %s may not list chats", p.Kind)
	}
	want := f.SiteID
	if f.VisitorID != "" {
		// A visitor belongs to one site; an erased one has no chats left.
		visitor, err := tx.Visitor(f.VisitorID)
		if ErrorCode(err) == CodeNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if want != "" && want != visitor.SiteID {
			return nil, nil
		}
		want = visitor.SiteID
	}
	if want == "" {
		return allowed, nil
	}
	if slices.Contains(allowed, want) {
		return []string{want}, nil
	}
	// An unknown site, or the site of a visitor the agent may not read:
	// nothing to show.
	return nil, nil
}

// summarize adds to a chat what the visitor said about themselves.
func summarize(tx ReadTx, chat *Chat) (ChatSummary, error) {
	sum := ChatSummary{Chat: chat}
	// Who the visitor is now (the page's identity, or the form folded into
	// it) comes first; the chat's own form answers fill what it lacks.
	v, err := tx.Visitor(chat.Visitor.ID)
	switch {
	case err == nil:
		sum.VisitorName, sum.VisitorEmail = v.Identity.Name, v.Identity.Email
	case ErrorCode(err) != CodeNotFound:
		return sum, err
	}
	form, err := chatForm(tx, chat)
	if err != nil {
		return sum, err
	}
	for k, v := range form {
		switch strings.ToLower(k) {
		case "name":
			if sum.VisitorName == "" {
				sum.VisitorName = v
			}
		case "email":
			if sum.VisitorEmail == "" {
				sum.VisitorEmail = v
			}
		}
	}
	return sum, nil
}

// chatForm returns the form values of the chat request a chat answered,
// nil when it answered none.
func chatForm(tx ReadTx, chat *Chat) (map[string]string, error) {
	if chat.ChatRequestID == "" {
		return nil, nil
	}
	req, err := tx.ChatRequest(chat.ChatRequestID)
	if ErrorCode(err) == CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return req.FormValues, nil
}

// chatBatch is how many positions chatMerge reads from a site at a time.
const chatBatch = 64

// chatMerge reads the chats of several sites in one newest-first order,
// a batch of each site at a time.
type chatMerge struct {
	tx    ReadTx
	sites []*siteChats
	// last is the position the caller last examined: the next page
	// starts after it.
	last ChatPosition
	// cur is the site next returned from.
	cur *siteChats
}

// siteChats is one site's chats from a position on, read a batch at a time.
type siteChats struct {
	id    string
	after ChatPosition
	buf   []ChatPosition
	done  bool
}

func newChatMerge(tx ReadTx, sites []string, after ChatPosition) *chatMerge {
	m := &chatMerge{tx: tx}
	for _, id := range sites {
		m.sites = append(m.sites, &siteChats{id: id, after: after})
	}
	return m
}

// next returns the newest position not yet taken, of any site; false when
// there is none.
func (m *chatMerge) next() (ChatPosition, bool, error) {
	m.cur = nil
	for _, sc := range m.sites {
		if len(sc.buf) == 0 && !sc.done {
			ps, err := m.tx.SiteChats(sc.id, sc.after, chatBatch)
			if err != nil {
				return ChatPosition{}, false, err
			}
			sc.buf = ps
			sc.done = len(ps) < chatBatch
		}
		if len(sc.buf) > 0 && (m.cur == nil || sc.buf[0].before(m.cur.buf[0])) {
			m.cur = sc
		}
	}
	if m.cur == nil {
		return ChatPosition{}, false, nil
	}
	pos := m.cur.buf[0]
	m.cur.buf = m.cur.buf[1:]
	m.cur.after = pos
	return pos, true, nil
}

// drop stops reading the site the last position came from.
func (m *chatMerge) drop() {
	if m.cur != nil {
		m.cur.buf, m.cur.done = nil, true
	}
}

// chatPageToken encodes a position as an opaque page token; "" for none.
func chatPageToken(p ChatPosition) string {
	if p.ID == "" {
		return ""
	}
	b := []byte{1}
	b = binary.BigEndian.AppendUint64(b, uint64(p.CreateTime.UnixNano()))
	b = append(b, p.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseChatPageToken decodes a chatPageToken; "" is the first page.
func parseChatPageToken(token string) (ChatPosition, error) {
	if token == "" {
		return ChatPosition{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 1+8+1 || b[0] != 1 {
		return ChatPosition{}, Errorf(CodeInvalid, "bad page token")
	}
	return ChatPosition{
		CreateTime: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		ID:         string(b[9:]),
	}, nil
}
