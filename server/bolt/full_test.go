package bolt_test

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
)

func TestIsNoSpace(t *testing.T) {
	enospc := &fs.PathError{Op: "write", Path: "/data/proactivechat.db", Err: syscall.ENOSPC}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"ENOSPC", enospc, true},
		{"Wrapped", fmt.Errorf("commit write transaction: %w", enospc), true},
		// bbolt's grow and mmap errors keep only the text.
		{"FormattedByBbolt", fmt.Errorf("commit write transaction: %w", fmt.Errorf("file resize error: %s", enospc)), true},
		{"EDQUOT", &fs.PathError{Op: "write", Path: "/data/proactivechat.db", Err: syscall.EDQUOT}, true},
		{"EIO", &fs.PathError{Op: "write", Path: "/data/proactivechat.db", Err: syscall.EIO}, false},
		{"Other", errors.New("commit write transaction: boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bolt.IsNoSpace(tc.err); got != tc.want {
				t.Fatalf("IsNoSpace(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
