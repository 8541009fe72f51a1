package domain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"unicode/utf8"
)

// AgentSpec is what an integrator sets when creating an agent.
type AgentSpec struct {
	// ID is the identifier to use; empty means a generated one.
	ID                 string
	DisplayName        string
	SiteIDs            []string
	MaxConcurrentChats uint32
	// Login is what the agent signs in with (Agent.Login); optional.
	Login string
	// SupervisedSiteIDs are the sites the agent supervises; optional.
	SupervisedSiteIDs []string
}

// CreateAgent adds an agent, offline until it sets its status.
func (s *Service) CreateAgent(ctx context.Context, spec AgentSpec) (*Agent, error) {
	if spec.MaxConcurrentChats == 0 {
		spec.MaxConcurrentChats = DefaultConcurrentChats
	}
	if err := validateAgent(spec.DisplayName, spec.SiteIDs, spec.MaxConcurrentChats, spec.Login); err != nil {
		return nil, err
	}
	if err := validateSiteList("supervised_site_ids", spec.SupervisedSiteIDs); err != nil {
		return nil, err
	}
	if err := checkChosenID("id", spec.ID); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	agent := &Agent{
		ID:                 cmp.Or(spec.ID, newID("agent")),
		DisplayName:        spec.DisplayName,
		SiteIDs:            spec.SiteIDs,
		MaxConcurrentChats: spec.MaxConcurrentChats,
		Status:             StatusOffline,
		StatusChangeTime:   now,
		CreateTime:         now,
		Login:              spec.Login,
		SupervisedSiteIDs:  spec.SupervisedSiteIDs,
	}
	err := s.update(ctx, func(tx WriteTx) error {
		if _, err := tx.Agent(agent.ID); ErrorCode(err) != CodeNotFound {
			return cmp.Or(err, error(Errorf(CodeAlreadyExists, "agent %q already exists", agent.ID)))
		}
		if err := sitesExist(tx, agent.SiteIDs); err != nil {
			return err
		}
		if err := supervisedSitesExist(tx, agent.SupervisedSiteIDs); err != nil {
			return err
		}
		if err := claimLogin(tx, agent.ID, agent.Login); err != nil {
			return err
		}
		if err := tx.PutAgent(agent); err != nil {
			return err
		}
		return s.record(tx, Event{Type: EventAgentCreated, AgentID: agent.ID})
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// GetAgent returns the agent with the given id.
func (s *Service) GetAgent(ctx context.Context, id string) (agent *Agent, err error) {
	if id == "" {
		return nil, invalid("agent_id", "is required")
	}
	err = s.store.View(ctx, func(tx ReadTx) error {
		agent, err = tx.Agent(id)
		return err
	})
	return agent, err
}

// ListAgents returns every agent, or those serving siteID when it is set.
func (s *Service) ListAgents(ctx context.Context, siteID string) ([]*Agent, error) {
	var all []*Agent
	err := s.store.View(ctx, func(tx ReadTx) error {
		if siteID != "" {
			if _, err := tx.Site(siteID); err != nil {
				return err
			}
		}
		var err error
		all, err = tx.Agents()
		return err
	})
	if err != nil || siteID == "" {
		return all, err
	}
	return slices.DeleteFunc(all, func(a *Agent) bool { return !a.Serves(siteID) }), nil
}

// UpdateAgent copies the fields named by paths (display_name, site_ids,
// max_concurrent_chats, login, supervised_site_ids; none means all) from update onto the stored agent.
// Lowering the capacity below the chats in progress ends none of them; the
// agent just gets no new ones until under it.
func (s *Service) UpdateAgent(ctx context.Context, update *Agent, paths []string) (*Agent, error) {
	if update == nil || update.ID == "" {
		return nil, invalid("agent.id", "is required")
	}
	if len(paths) == 0 {
		paths = []string{"display_name", "site_ids", "max_concurrent_chats", "login", "supervised_site_ids"}
	}
	var agent *Agent
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if agent, err = tx.Agent(update.ID); err != nil {
			return err
		}
		old := *agent
		oldSites, oldSupervised := agent.SiteIDs, agent.SupervisedSiteIDs
		for _, p := range paths {
			switch p {
			case "id", "status", "status_change_time", "active_chat_ids", "create_time", "last_chat_end_time":
				// Output only, or changed by SetAgentStatus: ignored, so a
				// client can send back the agent it read.
			case "display_name":
				agent.DisplayName = update.DisplayName
			case "site_ids":
				agent.SiteIDs = update.SiteIDs
			case "max_concurrent_chats":
				agent.MaxConcurrentChats = update.MaxConcurrentChats
			case "login":
				agent.Login = update.Login
			case "supervised_site_ids":
				agent.SupervisedSiteIDs = update.SupervisedSiteIDs
			default:
				return invalid("update_mask", "unknown path %q; allowed: display_name, site_ids, max_concurrent_chats, login, supervised_site_ids", p)
			}
		}
		if err := validateAgent(agent.DisplayName, agent.SiteIDs, agent.MaxConcurrentChats, agent.Login); err != nil {
			return err
		}
		if err := validateSiteList("supervised_site_ids", agent.SupervisedSiteIDs); err != nil {
			return err
		}
		if err := sitesExist(tx, agent.SiteIDs); err != nil {
			return err
		}
		if err := supervisedSitesExist(tx, agent.SupervisedSiteIDs); err != nil {
			return err
		}
		if err := claimLogin(tx, agent.ID, agent.Login); err != nil {
			return err
		}
		if err := tx.PutAgent(agent); err != nil {
			return err
		}
		// Alerts from sites the agent no longer serves go to someone who
		// does, now rather than at their deadline.
		var removed []string
		for _, id := range oldSites {
			if !agent.Serves(id) {
				removed = append(removed, id)
				if err := s.withdrawSiteAlerts(tx, agent.ID, id); err != nil {
					return err
				}
			}
		}
		// Supervised sites are rights too: a supervisor's streams of a site
		// it no longer supervises must end or narrow.
		sitesChanged := !slices.Equal(oldSites, agent.SiteIDs) || !slices.Equal(oldSupervised, agent.SupervisedSiteIDs)
		return s.record(tx, Event{Type: EventAgentUpdated, AgentID: agent.ID, Fields: agentChangedFields(&old, agent),
			eventEffects: eventEffects{agent: agent, rightsChanged: sitesChanged,
				routeSites: append(removed, agent.SiteIDs...)}}) // more capacity, new sites, or withdrawn alerts
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// SetAgentStatus makes an agent available, away or offline.
func (s *Service) SetAgentStatus(ctx context.Context, agentID string, status AgentStatus) (*Agent, error) {
	var v Violations
	required(&v, "agent_id", agentID)
	if status <= StatusUnspecified || status > StatusOffline {
		v.Add("status", "must be available, away or offline")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.setAgentStatus(ctx, agentID, status, nil)
}

// setAgentStatus changes an agent's status unless skip, checked inside the
// transaction, says the change no longer applies.
func (s *Service) setAgentStatus(ctx context.Context, agentID string, status AgentStatus, skip func() bool) (*Agent, error) {
	var agent *Agent
	err := s.update(ctx, func(tx WriteTx) error {
		var err error
		if agent, err = tx.Agent(agentID); err != nil {
			return err
		}
		if agent.Status == status || (skip != nil && skip()) {
			return nil
		}
		agent.Status = status
		agent.StatusChangeTime = s.clock.Now()
		if err := tx.PutAgent(agent); err != nil {
			return err
		}
		// No site: an agent may serve several.
		if err := s.record(tx, Event{Type: EventAgentStatusChanged, AgentID: agent.ID, Status: status, eventEffects: eventEffects{agent: agent}}); err != nil {
			return err
		}
		if status != StatusAvailable {
			if err := s.withdrawAlerts(tx, agent.ID, "agent is "+status.String()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return agent, nil
}

// agentChangedFields names the fields an admin may set that differ
// between two versions of an agent, for agent.updated.
func agentChangedFields(old, agent *Agent) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("display_name", old.DisplayName != agent.DisplayName)
	add("site_ids", !slices.Equal(old.SiteIDs, agent.SiteIDs))
	add("max_concurrent_chats", old.MaxConcurrentChats != agent.MaxConcurrentChats)
	add("login", old.Login != agent.Login)
	add("supervised_site_ids", !slices.Equal(old.SupervisedSiteIDs, agent.SupervisedSiteIDs))
	return out
}

func validateAgent(name string, siteIDs []string, maxChats uint32, login string) error {
	var v Violations
	validateLogin(&v, login)
	if required(&v, "display_name", name) && len(name) > MaxNameBytes {
		v.Add("display_name", "must be at most %d bytes", MaxNameBytes)
	}
	if !utf8.ValidString(name) {
		// Stored in a protobuf string, which must be UTF-8: the write
		// failed as an internal error (found by FuzzCreateAgent).
		v.Add("display_name", "must be UTF-8")
	}
	if maxChats < 1 || maxChats > MaxConcurrentChatsCap {
		v.Add("max_concurrent_chats", "must be between 1 and %d", MaxConcurrentChatsCap)
	}
	addSiteListViolations(&v, "site_ids", siteIDs)
	return v.Err()
}

// validateSiteList checks a list of site ids named field: none empty, no
// duplicates.
func validateSiteList(field string, siteIDs []string) error {
	var v Violations
	addSiteListViolations(&v, field, siteIDs)
	return v.Err()
}

func addSiteListViolations(v *Violations, field string, siteIDs []string) {
	for i, id := range siteIDs {
		if id == "" {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "is empty")
		}
		if slices.Index(siteIDs, id) != i {
			v.Add(fmt.Sprintf("%s[%d]", field, i), "duplicate site %q", id)
		}
	}
}

// supervisedSitesExist checks that every supervised site exists; one that
// does not is an invalid argument naming its place in the list.
func supervisedSitesExist(tx ReadTx, ids []string) error {
	var v Violations
	for i, id := range ids {
		if _, err := tx.Site(id); ErrorCode(err) == CodeNotFound {
			v.Add(fmt.Sprintf("supervised_site_ids[%d]", i), "site %q does not exist", id)
		} else if err != nil {
			return err
		}
	}
	return v.Err()
}

func sitesExist(tx ReadTx, ids []string) error {
	for _, id := range ids {
		if _, err := tx.Site(id); err != nil {
			return err
		}
	}
	return nil
}
