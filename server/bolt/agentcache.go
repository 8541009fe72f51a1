package bolt

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// agentCache keeps each agent's last decoded record with the bytes it was
// decoded from. Routing passes and invitations read every agent, and an
// agent's record lists its active chats, so at a few hundred chat requests
// a second decoding the agents again and again was most of a pass; an
// agent's record changes far less often than it is read. A hit is checked
// against the stored bytes, so the cache can never serve a stale agent,
// and each reader gets its own copy to change.
type agentCache struct {
	mu   sync.Mutex
	byID map[string]cachedAgent
}

type cachedAgent struct {
	raw   []byte
	agent domain.Agent
}

func newAgentCache() *agentCache { return &agentCache{byID: map[string]cachedAgent{}} }

// decode returns the agent stored as raw under id.
func (c *agentCache) decode(id string, raw []byte) (*domain.Agent, error) {
	if c == nil {
		return decode(raw, protoconv.AgentFromProto)
	}
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return copyAgent(&e.agent), nil
	}
	a, err := decode(raw, protoconv.AgentFromProto)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byID[id] = cachedAgent{raw: bytes.Clone(raw), agent: *copyAgent(a)}
	c.mu.Unlock()
	return a, nil
}

func copyAgent(a *domain.Agent) *domain.Agent {
	out := *a
	out.SiteIDs = slices.Clone(a.SiteIDs)
	out.SupervisedSiteIDs = slices.Clone(a.SupervisedSiteIDs)
	out.ActiveChatIDs = slices.Clone(a.ActiveChatIDs)
	return &out
}

func (r *readTx) Agent(id string) (*domain.Agent, error) {
	v := r.tx.Bucket(agentsBucket).Get([]byte(id))
	if v == nil {
		return nil, domain.Errorf(domain.CodeNotFound, "agent %q not found", id)
	}
	a, err := r.agents.decode(id, v)
	if err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", agentsBucket, id, err)
	}
	return a, nil
}

func (r *readTx) Agents() ([]*domain.Agent, error) {
	var out []*domain.Agent
	err := r.tx.Bucket(agentsBucket).ForEach(func(k, v []byte) error {
		a, err := r.agents.decode(string(k), v)
		if err != nil {
			return fmt.Errorf("decode %s %q: %w", agentsBucket, k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}
