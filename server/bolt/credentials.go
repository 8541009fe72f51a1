package bolt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/protoconv"
)

// Credentials are keyed by the SHA-256 of their secret, so authenticating a
// call is one lookup. Listing scans, which is fine: there are few API keys,
// and an agent's sessions are only listed on sign-in and revocation.

func (r *readTx) APIKeyByHash(hash []byte) (*domain.APIKey, error) {
	k, found, err := get(r, apiKeysBucket, string(hash), protoconv.APIKeyFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "API key not found")
	}
	if k != nil {
		k.Hash = bytes.Clone(hash)
	}
	return k, err
}

func (r *readTx) APIKeys() ([]*domain.APIKey, error) {
	var out []*domain.APIKey
	err := r.tx.Bucket(apiKeysBucket).ForEach(func(k, v []byte) error {
		key, err := decode(v, protoconv.APIKeyFromProto)
		if err != nil {
			return fmt.Errorf("decode %s: %w", apiKeysBucket, err)
		}
		key.Hash = bytes.Clone(k)
		out = append(out, key)
		return nil
	})
	return out, err
}

func (r *readTx) AgentSessionByHash(hash []byte) (*domain.AgentSession, error) {
	s, found, err := get(r, agentSessionsBucket, string(hash), protoconv.AgentSessionFromProto)
	if err == nil && !found {
		err = domain.Errorf(domain.CodeNotFound, "agent session not found")
	}
	if s != nil {
		s.Hash = bytes.Clone(hash)
	}
	return s, err
}

func (r *readTx) AgentSessions(agentID string) ([]*domain.AgentSession, error) {
	var out []*domain.AgentSession
	err := r.tx.Bucket(agentSessionsBucket).ForEach(func(k, v []byte) error {
		s, err := decode(v, protoconv.AgentSessionFromProto)
		if err != nil {
			return fmt.Errorf("decode %s: %w", agentSessionsBucket, err)
		}
		if s.AgentID == agentID {
			s.Hash = bytes.Clone(k)
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

func (r *readTx) AgentPasswordHash(agentID string) (string, error) {
	v := r.tx.Bucket(agentPasswordsBucket).Get([]byte(agentID))
	if v == nil {
		return "", domain.Errorf(domain.CodeNotFound, "agent %q has no password", agentID)
	}
	return string(v), nil
}

func (w *writeTx) PutAPIKey(k *domain.APIKey) error {
	if k == nil || len(k.Hash) == 0 {
		return errors.New("put API key: a key with its hash is required")
	}
	if err := requireID("API key id", k.ID); err != nil {
		return err
	}
	return w.put(apiKeysBucket, bytes.Clone(k.Hash), protoconv.APIKeyToProto(k))
}

func (w *writeTx) DeleteAPIKey(hash []byte) error {
	return w.delete(apiKeysBucket, bytes.Clone(hash))
}

func (w *writeTx) PutAgentSession(s *domain.AgentSession) error {
	if s == nil || len(s.Hash) == 0 {
		return errors.New("put agent session: a session with its hash is required")
	}
	if err := requireID("agent session id", s.ID); err != nil {
		return err
	}
	return w.put(agentSessionsBucket, bytes.Clone(s.Hash), protoconv.AgentSessionToProto(s))
}

func (w *writeTx) DeleteAgentSession(hash []byte) error {
	return w.delete(agentSessionsBucket, bytes.Clone(hash))
}

func (w *writeTx) PutAgentPasswordHash(agentID, encoded string) error {
	if err := requireID("agent id", agentID); err != nil {
		return err
	}
	if encoded == "" {
		return errors.New("put agent password: hash is required")
	}
	return w.putRaw(agentPasswordsBucket, []byte(agentID), []byte(encoded))
}

func (r *readTx) SiteIdentitySecret(siteID string) (string, error) {
	v := r.tx.Bucket(siteIdentitySecretsBucket).Get([]byte(siteID))
	if v == nil {
		return "", domain.Errorf(domain.CodeNotFound, "site %q has no identity secret", siteID)
	}
	return string(v), nil
}

func (w *writeTx) PutSiteIdentitySecret(siteID, secret string) error {
	if err := requireID("site id", siteID); err != nil {
		return err
	}
	if secret == "" {
		return errors.New("put site identity secret: a secret is required")
	}
	return w.putRaw(siteIdentitySecretsBucket, []byte(siteID), []byte(secret))
}
