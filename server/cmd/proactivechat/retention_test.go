package main

import (
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestRetentionFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    domain.Retention
		wantErr string
	}{
		{nil, domain.DefaultRetention, ""},
		{[]string{"-retain-visitors", "7d", "-retain-chats", "365d"}, domain.Retention{Visitors: 7 * 24 * time.Hour, Chats: 365 * 24 * time.Hour, Events: 30 * 24 * time.Hour}, ""},
		{[]string{"-retain-visitors", "0", "-retain-chats", "36h", "-retain-events", "0"}, domain.Retention{Chats: 36 * time.Hour}, ""},
		{[]string{"-retain-events", "7d"}, domain.Retention{Visitors: 30 * 24 * time.Hour, Events: 7 * 24 * time.Hour}, ""},
		{[]string{"-retain-events", "5m"}, domain.Retention{}, "retain-events"},
		{[]string{"-retain-visitors", "10m"}, domain.Retention{}, "retain-visitors"},
		{[]string{"-retain-chats", "3651d"}, domain.Retention{}, "retain-chats"},
		{[]string{"-retain-chats", "forever"}, domain.Retention{}, "such as 30d"},
	} {
		var m Main
		err := m.ParseFlags(tc.args)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseFlags(%q) = %v, want an error about %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseFlags(%q) = %v", tc.args, err)
		case tc.wantErr == "" && m.Retention != tc.want:
			t.Errorf("ParseFlags(%q): retention %+v, want %+v", tc.args, m.Retention, tc.want)
		}
	}
	t.Setenv("PROACTIVECHAT_RETAIN_VISITORS", "90d")
	var m Main
	if err := m.ParseFlags(nil); err != nil || m.Retention.Visitors != 90*24*time.Hour {
		t.Errorf("from the environment: %+v, %v; want 90 days", m.Retention, err)
	}
	t.Setenv("PROACTIVECHAT_RETAIN_VISITORS", "soon")
	if err := m.ParseFlags(nil); err == nil || !strings.Contains(err.Error(), "PROACTIVECHAT_RETAIN_VISITORS") {
		t.Errorf("a bad environment value: %v, want an error naming it", err)
	}
}
