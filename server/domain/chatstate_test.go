package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

var (
	chatStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	chatNow   = chatStart.Add(time.Minute)
	chatVis   = domain.Participant{Role: domain.RoleVisitor, ID: "vis1", DisplayName: "Jane"}
	chatAg    = domain.Participant{Role: domain.RoleAgent, ID: "ag1", DisplayName: "Ann"}
	chatAg2   = domain.Participant{Role: domain.RoleAgent, ID: "ag2", DisplayName: "Bob"}
)

// chatIn returns a chat in one of the states a chat goes through: "active",
// "visitorLeft", "agentLeft", "bothLeft" (still active) and "ended".
func chatIn(t *testing.T, state string) *domain.Chat {
	t.Helper()
	c := &domain.Chat{ID: "chat1", Visitor: chatVis, Agent: chatAg, State: domain.ChatStateActive, CreateTime: chatStart, LastActivityTime: chatStart}
	left := chatStart.Add(time.Second)
	switch state {
	case "active":
	case "visitorLeft":
		c.VisitorLeftTime = left
	case "agentLeft":
		c.AgentLeftTime = left
	case "bothLeft":
		c.VisitorLeftTime, c.AgentLeftTime = left, left
	case "ended":
		c.VisitorLeftTime, c.AgentLeftTime = left, left
		c.State, c.EndReason, c.EndTime = domain.ChatStateEnded, domain.EndBothLeft, left
	default:
		t.Fatalf("no chat state %q", state)
	}
	return c
}

var chatStates = []string{"active", "visitorLeft", "agentLeft", "bothLeft", "ended"}

// TestChatSteps: each step of a chat from each state it can be in; allowed
// steps change what they say, refused ones are FailedPrecondition and leave
// the chat as it was.
func TestChatSteps(t *testing.T) {
	steps := []struct {
		name    string
		step    func(*domain.Chat) error
		allowed []string
		check   func(t *testing.T, c *domain.Chat)
	}{{
		name:    "VisitorWrote",
		step:    func(c *domain.Chat) error { return c.Wrote(chatVis, chatNow) },
		allowed: []string{"active", "agentLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if !c.LastActivityTime.Equal(chatNow) || c.VisitorMessageCount != 1 {
				t.Fatalf("last activity %v, visitor messages %d; want %v, 1", c.LastActivityTime, c.VisitorMessageCount, chatNow)
			}
		},
	}, {
		name:    "AgentWrote",
		step:    func(c *domain.Chat) error { return c.Wrote(chatAg, chatNow) },
		allowed: []string{"active", "visitorLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if !c.LastActivityTime.Equal(chatNow) || c.VisitorMessageCount != 0 {
				t.Fatalf("last activity %v, visitor messages %d; want %v, 0", c.LastActivityTime, c.VisitorMessageCount, chatNow)
			}
		},
	}, {
		name:    "Transfer",
		step:    func(c *domain.Chat) error { return c.Transfer(chatAg2, chatNow) },
		allowed: []string{"active", "visitorLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if c.Agent != chatAg2 || c.Visitor != chatVis || !c.LastActivityTime.Equal(chatNow) || !c.Active() {
				t.Fatalf("after the transfer: agent %+v, visitor %+v, last activity %v", c.Agent, c.Visitor, c.LastActivityTime)
			}
		},
	}, {
		name: "TransferToSameAgent",
		step: func(c *domain.Chat) error { return c.Transfer(chatAg, chatNow) },
	}, {
		name: "TransferToVisitor",
		step: func(c *domain.Chat) error {
			return c.Transfer(domain.Participant{Role: domain.RoleVisitor, ID: "vis2"}, chatNow)
		},
	}, {
		name:    "VisitorLeaves",
		step:    func(c *domain.Chat) error { return c.Leave(domain.RoleVisitor, chatNow) },
		allowed: []string{"active", "agentLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if !c.VisitorLeftTime.Equal(chatNow) || !c.Active() {
				t.Fatalf("visitor left at %v, active %v; want %v, true", c.VisitorLeftTime, c.Active(), chatNow)
			}
		},
	}, {
		name:    "AgentLeaves",
		step:    func(c *domain.Chat) error { return c.Leave(domain.RoleAgent, chatNow) },
		allowed: []string{"active", "visitorLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if !c.AgentLeftTime.Equal(chatNow) || !c.Active() {
				t.Fatalf("agent left at %v, active %v; want %v, true", c.AgentLeftTime, c.Active(), chatNow)
			}
		},
	}, {
		name: "NobodyLeaves",
		step: func(c *domain.Chat) error { return c.Leave(domain.RoleUnspecified, chatNow) },
	}, {
		name:    "EndInactive",
		step:    func(c *domain.Chat) error { return c.End(domain.EndInactive, chatNow) },
		allowed: []string{"bothLeft"},
		check: func(t *testing.T, c *domain.Chat) {
			if c.Active() || c.State != domain.ChatStateEnded || c.EndReason != domain.EndInactive || !c.EndTime.Equal(chatNow) {
				t.Fatalf("after the end: state %d, reason %s, end time %v", c.State, c.EndReason, c.EndTime)
			}
		},
	}, {
		name: "EndWithoutReason",
		step: func(c *domain.Chat) error { return c.End(domain.EndUnspecified, chatNow) },
	}}
	for _, st := range steps {
		for _, state := range chatStates {
			t.Run(st.name+"/From_"+state, func(t *testing.T) {
				c := chatIn(t, state)
				err := st.step(c)
				for _, a := range st.allowed {
					if a == state {
						if err != nil {
							t.Fatalf("step: %v", err)
						}
						st.check(t, c)
						return
					}
				}
				if got := domain.ErrorCode(err); got != domain.CodeFailedPrecondition {
					t.Fatalf("code %q (%v), want %q", got, err, domain.CodeFailedPrecondition)
				}
				if want := chatIn(t, state); *c != *want {
					t.Fatalf("a refused step changed the chat:\n got %+v\nwant %+v", c, want)
				}
			})
		}
	}
}
