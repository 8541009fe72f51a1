package domain

import (
	"net/mail"
	"regexp"
	"strings"
)

// MaxLoginBytes is the longest login: the longest e-mail address.
const MaxLoginBytes = 254

// loginName is a login that is not an e-mail address.
var loginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{2,}$`)

// LoginKey is how logins are compared and indexed: without case, so that
// "Dana@Example.com" and "dana@example.com" are one login.
func LoginKey(login string) string {
	return strings.ToLower(strings.TrimSpace(login))
}

// validateLogin checks a login an admin sets: empty (none), an e-mail
// address, or a login name.
func validateLogin(v *Violations, login string) {
	switch {
	case login == "":
	case len(login) > MaxLoginBytes:
		v.Add("login", "must be at most %d bytes", MaxLoginBytes)
	case strings.Contains(login, "@"):
		if a, err := mail.ParseAddress(login); err != nil || a.Address != login || a.Name != "" {
			v.Add("login", "must be an e-mail address (name@example.com) or a login name")
		}
	case !loginName.MatchString(login):
		v.Add("login", "must be an e-mail address, or a login name of at least 3 letters, digits and . _ + -")
	}
}

// claimLogin checks in tx that no other agent has login.
func claimLogin(tx ReadTx, agentID, login string) error {
	if login == "" {
		return nil
	}
	id, err := tx.AgentIDByLogin(LoginKey(login))
	switch {
	case ErrorCode(err) == CodeNotFound:
		return nil
	case err != nil:
		return err
	case id != agentID:
		return Errorf(CodeAlreadyExists, "login %q is another agent's", login)
	}
	return nil
}
