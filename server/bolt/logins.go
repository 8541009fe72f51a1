package bolt

import (
	"bytes"

	"github.com/proactivechat/proactivechat/server/domain"
)

// The login index maps each agent's login (domain.LoginKey) to its id. It
// is kept by PutAgent, in the transaction that changes the agent, so it
// never disagrees with the agents bucket.

// AgentIDByLogin looks login up in the index.
func (r *readTx) AgentIDByLogin(login string) (string, error) {
	var v []byte
	if key := domain.LoginKey(login); key != "" {
		v = r.tx.Bucket(agentLoginsBucket).Get([]byte(key))
	}
	if v == nil {
		return "", domain.Errorf(domain.CodeNotFound, "no agent has this login")
	}
	return string(v), nil
}

// indexLogin moves the index entry of agent a from its stored login (old
// record raw, nil for a new agent) to its new one.
func (w *writeTx) indexLogin(a *domain.Agent, raw []byte) error {
	b := w.bucket(agentLoginsBucket)
	newKey := domain.LoginKey(a.Login)
	if raw != nil {
		old, err := w.agents.decode(a.ID, raw)
		if err != nil {
			return err
		}
		oldKey := domain.LoginKey(old.Login)
		if oldKey == newKey {
			return nil
		}
		if oldKey != "" && bytes.Equal(b.Get([]byte(oldKey)), []byte(a.ID)) {
			w.wrote = true
			if err := b.Delete([]byte(oldKey)); err != nil {
				return err
			}
		}
	}
	if newKey == "" {
		return nil
	}
	return w.putIndex(agentLoginsBucket, []byte(newKey), []byte(a.ID))
}
