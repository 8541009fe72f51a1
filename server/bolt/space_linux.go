package bolt

import (
	"os"
	"path/filepath"
	"syscall"
)

// allocatedBytes is the disk space the file takes: unlike its size, it
// grows only when the file system hands out new space.
func allocatedBytes(path string) (n int64, known bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true // st_blocks counts 512-byte units whatever the block size
}

// freeBytes is the space an unprivileged user may still take on the file
// system that holds path.
func freeBytes(path string) (free uint64, known bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
