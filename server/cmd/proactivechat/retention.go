package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// retentionFlags adds -retain-visitors, -retain-chats and -retain-events to
// fs, with
// their environment variables: the server's retention periods, which a
// site's settings may override.
func (m *Main) retentionFlags(fs *flag.FlagSet) error {
	m.Retention = domain.DefaultRetention
	for _, r := range []struct {
		name, env string
		d         *time.Duration
		usage     string
	}{
		{"retain-visitors", "PROACTIVECHAT_RETAIN_VISITORS", &m.Retention.Visitors,
			"delete visitors who own no chat this long after they were last seen, e.g. 30d or 720h; 0 keeps them (default 30d; env PROACTIVECHAT_RETAIN_VISITORS)"},
		{"retain-chats", "PROACTIVECHAT_RETAIN_CHATS", &m.Retention.Chats,
			"delete ended chats (events, form values) this long after they ended, e.g. 365d; 0 keeps them (default 0; env PROACTIVECHAT_RETAIN_CHATS)"},
		{"retain-events", "PROACTIVECHAT_RETAIN_EVENTS", &m.Retention.Events,
			"delete events of the event log (ListEvents, WatchEvents) this long after they happened, e.g. 7d; 0 keeps them (default 30d; env PROACTIVECHAT_RETAIN_EVENTS)"},
	} {
		if v, ok := os.LookupEnv(r.env); ok {
			d, err := parseRetention(v)
			if err != nil {
				return fmt.Errorf("%s: %w", r.env, err)
			}
			*r.d = d
		}
		fs.Func(r.name, r.usage, func(s string) (err error) {
			*r.d, err = parseRetention(s)
			return err
		})
	}
	return nil
}

// parseRetention reads a retention period: days ("30d"), a Go duration
// ("720h") or 0 (keep forever).
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days such as 30d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if s != "0" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a period such as 30d or 720h, or 0", s)
		}
	}
	if err := domain.CheckRetention(d); err != nil {
		return 0, fmt.Errorf("%s: %v", s, err)
	}
	return d, nil
}
