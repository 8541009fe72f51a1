package domain_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

var (
	admin      = domain.Principal{Kind: domain.AdminPrincipal, ID: "key_1"}
	shopAgent  = domain.Principal{Kind: domain.AgentPrincipal, ID: "ann"}
	bothAgent  = domain.Principal{Kind: domain.AgentPrincipal, ID: "bob"}
	visitorOne = domain.Principal{Kind: domain.VisitorPrincipal, ID: "v1", SiteID: "shop"}
)

// chatSpec is a chat to store directly, as the flow would have left it.
type chatSpec struct {
	id, site, agent, visitor string
	start                    time.Duration // after t0
	ended                    domain.ChatEndReason
	form                     map[string]string
}

// listEnv has sites shop and blog, agent ann serving shop and bob serving
// both, and the given chats.
func listEnv(t *testing.T, chats ...chatSpec) *env {
	t.Helper()
	e := newEnv(t, 0)
	for _, id := range []string{"shop", "blog"} {
		if _, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: id, Name: "Site " + id, ProactiveChat: domain.ProactiveChatSettings{FormFields: contactForm()}}); err != nil {
			t.Fatal(err)
		}
	}
	for id, sites := range map[string][]string{"ann": {"shop"}, "bob": {"shop", "blog"}} {
		if _, err := e.svc.CreateAgent(ctx(t), domain.AgentSpec{ID: id, DisplayName: "Agent " + id, SiteIDs: sites, MaxConcurrentChats: 3}); err != nil {
			t.Fatal(err)
		}
	}
	putChats(t, e, chats...)
	return e
}

func putChats(t *testing.T, e *env, chats ...chatSpec) {
	t.Helper()
	err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
		for _, c := range chats {
			chat := &domain.Chat{
				ID: c.id, SiteID: c.site, State: domain.ChatStateActive, CreateTime: t0.Add(c.start),
				Visitor: domain.Participant{Role: domain.RoleVisitor, ID: c.visitor, DisplayName: "Visitor"},
				Agent:   domain.Participant{Role: domain.RoleAgent, ID: c.agent, DisplayName: "Agent " + c.agent},
			}
			if c.ended != domain.EndUnspecified {
				chat.State, chat.EndReason, chat.EndTime = domain.ChatStateEnded, c.ended, chat.CreateTime.Add(time.Minute)
			}
			if c.form != nil {
				chat.ChatRequestID = "req_" + c.id
				req := &domain.ChatRequest{ID: chat.ChatRequestID, SiteID: c.site, VisitorID: c.visitor,
					State: domain.RequestAccepted, FormValues: c.form, ChatID: c.id, EnqueueTime: chat.CreateTime}
				if err := tx.PutChatRequest(req); err != nil {
					return err
				}
			}
			if _, err := tx.Visitor(c.visitor); domain.ErrorCode(err) == domain.CodeNotFound {
				if err := tx.PutVisitor(&domain.Visitor{ID: c.visitor, SiteID: c.site, CreateTime: t0}); err != nil {
					return err
				}
			}
			if err := tx.PutChat(chat); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listAll follows the page tokens to the end and returns the chat ids and
// how many calls it took.
func listAll(t *testing.T, e *env, p domain.Principal, f domain.ChatFilter, pageSize int) (ids []string, calls int) {
	t.Helper()
	token := ""
	for {
		page, next, err := e.svc.ListChats(ctx(t), p, f, pageSize, token)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if pageSize > 0 && len(page) > pageSize {
			t.Fatalf("page of %d chats, more than page size %d", len(page), pageSize)
		}
		for _, c := range page {
			ids = append(ids, c.Chat.ID)
		}
		if next == "" {
			return ids, calls
		}
		if calls > 100 {
			t.Fatal("no end to the pages")
		}
		token = next
	}
}

func TestListChats(t *testing.T) {
	chats := []chatSpec{
		{id: "c1", site: "shop", agent: "ann", visitor: "v1", start: 1 * time.Minute, ended: domain.EndBothLeft},
		{id: "c2", site: "blog", agent: "bob", visitor: "v2", start: 2 * time.Minute, ended: domain.EndInactive},
		{id: "c3", site: "shop", agent: "bob", visitor: "v3", start: 3 * time.Minute,
			form: map[string]string{"name": "Zoë Quist", "email": "zoe@example.com"}},
		{id: "c4b", site: "shop", agent: "ann", visitor: "v1", start: 4 * time.Minute, ended: domain.EndVisitorDeclined},
		{id: "c4a", site: "blog", agent: "bob", visitor: "v2", start: 4 * time.Minute},
		{id: "c5", site: "shop", agent: "ann", visitor: "v4", start: 5 * time.Minute, ended: domain.EndBothLeft,
			form: map[string]string{"name": "Ann", "email": "ann@shop.example"}},
	}

	t.Run("NewestFirstOverEverySite", func(t *testing.T) {
		e := listEnv(t, chats...)
		for _, size := range []int{0, 1, 2, 4} {
			got, _ := listAll(t, e, admin, domain.ChatFilter{}, size)
			if want := []string{"c5", "c4a", "c4b", "c3", "c2", "c1"}; !slices.Equal(got, want) {
				t.Fatalf("page size %d: got %v, want %v", size, got, want)
			}
		}
	})

	t.Run("DefaultPageSize", func(t *testing.T) {
		e := listEnv(t)
		var many []chatSpec
		for i := range domain.DefaultChatPageSize + 1 {
			many = append(many, chatSpec{id: fmt.Sprintf("m%03d", i), site: "shop", agent: "ann", visitor: "v1", start: time.Duration(i) * time.Second})
		}
		putChats(t, e, many...)
		page, next, err := e.svc.ListChats(ctx(t), admin, domain.ChatFilter{}, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != domain.DefaultChatPageSize || next == "" || page[0].Chat.ID != "m050" {
			t.Fatalf("got %d chats from %s, next %q", len(page), page[0].Chat.ID, next)
		}
		page, next, err = e.svc.ListChats(ctx(t), admin, domain.ChatFilter{}, 0, next)
		if err != nil || len(page) != 1 || page[0].Chat.ID != "m000" || next != "" {
			t.Fatalf("last page: %d chats, next %q, err %v", len(page), next, err)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		e := listEnv(t, chats...)
		for name, tc := range map[string]struct {
			f    domain.ChatFilter
			want []string
		}{
			"Site":      {domain.ChatFilter{SiteID: "blog"}, []string{"c4a", "c2"}},
			"Agent":     {domain.ChatFilter{AgentID: "ann"}, []string{"c5", "c4b", "c1"}},
			"Visitor":   {domain.ChatFilter{VisitorID: "v1"}, []string{"c4b", "c1"}},
			"Active":    {domain.ChatFilter{State: domain.ChatStateActive}, []string{"c4a", "c3"}},
			"Ended":     {domain.ChatFilter{State: domain.ChatStateEnded}, []string{"c5", "c4b", "c2", "c1"}},
			"EndReason": {domain.ChatFilter{EndReason: domain.EndBothLeft}, []string{"c5", "c1"}},
			"From":      {domain.ChatFilter{StartFrom: t0.Add(4 * time.Minute)}, []string{"c5", "c4a", "c4b"}},
			"To":        {domain.ChatFilter{StartTo: t0.Add(4 * time.Minute)}, []string{"c3", "c2", "c1"}},
			"Range":     {domain.ChatFilter{StartFrom: t0.Add(2 * time.Minute), StartTo: t0.Add(5 * time.Minute)}, []string{"c4a", "c4b", "c3", "c2"}},
			"Name":      {domain.ChatFilter{Query: "zoË"}, []string{"c3"}},
			"Email":     {domain.ChatFilter{Query: "@SHOP.example"}, []string{"c5"}},
			"Combined":  {domain.ChatFilter{SiteID: "shop", AgentID: "ann", State: domain.ChatStateEnded, StartTo: t0.Add(5 * time.Minute)}, []string{"c4b", "c1"}},
			"None":      {domain.ChatFilter{VisitorID: "v1", SiteID: "blog"}, nil},
			"Unknown":   {domain.ChatFilter{VisitorID: "nobody"}, nil},
		} {
			t.Run(name, func(t *testing.T) {
				for _, size := range []int{1, 50} {
					if got, _ := listAll(t, e, admin, tc.f, size); !slices.Equal(got, tc.want) {
						t.Fatalf("page size %d: got %v, want %v", size, got, tc.want)
					}
				}
			})
		}
	})

	t.Run("Summary", func(t *testing.T) {
		e := listEnv(t, chats...)
		page, _, err := e.svc.ListChats(ctx(t), admin, domain.ChatFilter{SiteID: "shop", StartFrom: t0.Add(3 * time.Minute), StartTo: t0.Add(4 * time.Minute)}, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].VisitorName != "Zoë Quist" || page[0].VisitorEmail != "zoe@example.com" || page[0].Chat.Agent.ID != "bob" {
			t.Fatalf("got %+v", page)
		}
	})

	t.Run("SummaryPrefersTheVisitorsIdentity", func(t *testing.T) {
		e := listEnv(t, chatSpec{id: "c9", site: "shop", agent: "ann", visitor: "v9", form: map[string]string{"name": "From the form", "email": "form@example.com"}})
		err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
			v, err := tx.Visitor("v9")
			if err != nil {
				return err
			}
			v.Identity = domain.VisitorIdentity{Name: "Jane Doe"}
			return tx.PutVisitor(v)
		})
		if err != nil {
			t.Fatal(err)
		}
		page, _, err := e.svc.ListChats(ctx(t), admin, domain.ChatFilter{SiteID: "shop"}, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		// The page's identity names the visitor; the form fills the e-mail it lacks.
		if len(page) != 1 || page[0].VisitorName != "Jane Doe" || page[0].VisitorEmail != "form@example.com" {
			t.Fatalf("got %+v", page)
		}
	})

	t.Run("Authorization", func(t *testing.T) {
		e := listEnv(t, chats...)
		if got, _ := listAll(t, e, shopAgent, domain.ChatFilter{}, 2); !slices.Equal(got, []string{"c5", "c4b", "c3", "c1"}) {
			t.Fatalf("ann (shop) got %v", got)
		}
		if got, _ := listAll(t, e, bothAgent, domain.ChatFilter{}, 2); len(got) != len(chats) {
			t.Fatalf("bob (both sites) got %v", got)
		}
		if got, _ := listAll(t, e, shopAgent, domain.ChatFilter{VisitorID: "v2"}, 2); got != nil {
			t.Fatalf("ann got the chats of a blog visitor: %v", got)
		}
		_, _, err := e.svc.ListChats(ctx(t), shopAgent, domain.ChatFilter{SiteID: "blog"}, 0, "")
		wantCode(t, err, domain.CodePermissionDenied)
		_, _, err = e.svc.ListChats(ctx(t), visitorOne, domain.ChatFilter{}, 0, "")
		wantCode(t, err, domain.CodePermissionDenied)
	})

	t.Run("BoundedScan", func(t *testing.T) {
		domain.SetChatScanLimit(t, 4)
		var many []chatSpec
		for i := range 10 {
			many = append(many, chatSpec{id: fmt.Sprintf("b%02d", i), site: "shop", agent: "ann", visitor: "v1", start: time.Duration(10+i) * time.Minute})
		}
		e := listEnv(t, append(many, chats...)...)
		// Only c3 and c4a are bob's and active; 12 chats come before c3.
		page, next, err := e.svc.ListChats(ctx(t), admin, domain.ChatFilter{AgentID: "bob", State: domain.ChatStateActive}, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 0 || next == "" {
			t.Fatalf("first call: %d chats, next %q; want none and a token after 4 chats read", len(page), next)
		}
		got, calls := listAll(t, e, admin, domain.ChatFilter{AgentID: "bob", State: domain.ChatStateActive}, 10)
		if !slices.Equal(got, []string{"c4a", "c3"}) || calls != 4 {
			t.Fatalf("got %v in %d calls, want [c4a c3] in 4 (16 chats, 4 a call)", got, calls)
		}
	})

	t.Run("DeletedChatsAreGone", func(t *testing.T) {
		e := listEnv(t, chats...)
		err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
			if err := tx.DeleteChat("c3"); err != nil {
				return err
			}
			return tx.EraseVisitor("v1")
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := listAll(t, e, admin, domain.ChatFilter{}, 2); !slices.Equal(got, []string{"c5", "c4a", "c2"}) {
			t.Fatalf("got %v", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		e := listEnv(t, chats...)
		for name, tc := range map[string]struct {
			f         domain.ChatFilter
			size      int
			token     string
			wantField string
		}{
			"PageSize":      {size: domain.MaxChatPageSize + 1, wantField: "page_size"},
			"PageToken":     {token: "not-a-token", wantField: "page_token"},
			"TimesReversed": {f: domain.ChatFilter{StartFrom: t0.Add(time.Hour), StartTo: t0}, wantField: "start_time_to"},
			"TimesEqual":    {f: domain.ChatFilter{StartFrom: t0, StartTo: t0}, wantField: "start_time_to"},
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := e.svc.ListChats(ctx(t), admin, tc.f, tc.size, tc.token)
				if got := violationFields(t, err); !slices.Equal(got, []string{tc.wantField}) {
					t.Fatalf("fields %v, want %s", got, tc.wantField)
				}
			})
		}
		if _, _, err := e.svc.ListChats(ctx(t), admin, domain.ChatFilter{}, domain.MaxChatPageSize, ""); err != nil {
			t.Fatalf("page size %d: %v", domain.MaxChatPageSize, err)
		}
	})
}
