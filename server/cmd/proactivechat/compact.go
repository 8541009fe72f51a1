package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/proactivechat/proactivechat/server/atomicfile"
)

// compactTxMaxSize is how many bytes bbolt.Compact copies per write
// transaction of the new file, so that compacting a large database does not
// hold it all in memory at once.
const compactTxMaxSize = 64 << 20

// Compact is `proactivechat compact`: it copies the database into a new,
// smaller file. bbolt never gives back to the file system the pages that
// deletions (retention, erasure) freed; it reuses them, so the file stays as
// large as it ever was. Compacting rewrites only the live data. It is
// offline: the database must not be in use, and the result is a separate
// file, which `proactivechat restore` then swaps in.
type Compact struct {
	DBPath string
	Out    string
	// LockTimeout is how long to wait for the database's lock before
	// deciding that a server holds it.
	LockTimeout time.Duration
}

// ParseFlags reads the compact subcommand's flags.
func (c *Compact) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat compact", flag.ContinueOnError)
	fs.StringVar(&c.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "database file to compact (env PROACTIVECHAT_DB)")
	fs.StringVar(&c.Out, "out", "", "file to write the compacted copy to (replaced atomically)")
	fs.DurationVar(&c.LockTimeout, "lock-timeout", defaultLockTimeout, "how long to wait for the database file's lock")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat compact -out FILE [-db FILE]

Writes a compacted copy of the database to FILE: the same records in a file
without the free pages deletions left behind (bbolt reuses them but never
shrinks the file). Stop the server first: compact refuses to run while the
database is in use. Then swap the copy in with
  proactivechat restore -from FILE -db DB
which keeps the previous database as DB`+BeforeRestoreSuffix+`.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.Out == "" {
		return errors.New("compact: -out is required")
	}
	return nil
}

// Run compacts and reports the sizes on out.
func (c *Compact) Run(ctx context.Context, out io.Writer) error {
	if err := c.run(ctx, out); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}

func (c *Compact) run(ctx context.Context, out io.Writer) error {
	if err := regularFile(c.DBPath); err != nil {
		return err
	}
	if same, _ := sameFile(c.DBPath, c.Out); same {
		return fmt.Errorf("-out %s is the database itself: compact into a new file, then restore from it", c.Out)
	}
	// Read-only takes a shared lock: a running server holds an exclusive
	// one, and a server starting meanwhile waits, so the copy is of a
	// database nobody writes.
	src, err := bbolt.Open(c.DBPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: c.lockTimeout()})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("%s is in use, probably by a running server: stop it before compacting (%w)", c.DBPath, err)
	}
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkDB(c.DBPath, c.lockTimeout()); err != nil {
		return fmt.Errorf("%s is not a valid Proactive Chat database: %w", c.DBPath, err)
	}
	before, err := fileSize(c.DBPath)
	if err != nil {
		return err
	}
	dir := filepath.Dir(c.Out)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(c.Out)+".compact-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	tmp.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmpName)
		}
	}()
	// The copy syncs once, at the end, rather than at every transaction:
	// until it is renamed into place, a crash leaves only a temporary file.
	dst, err := bbolt.Open(tmpName, 0o600, &bbolt.Options{NoSync: true, Timeout: c.lockTimeout()})
	if err != nil {
		return err
	}
	err = ctx.Err()
	if err == nil {
		err = bbolt.Compact(dst, src, compactTxMaxSize)
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", c.DBPath, err)
	}
	if err := checkDB(tmpName, c.lockTimeout()); err != nil {
		return fmt.Errorf("the compacted copy is not valid, nothing was written to %s: %w", c.Out, err)
	}
	if err := os.Rename(tmpName, c.Out); err != nil {
		return err
	}
	keep = true
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	after, err := fileSize(c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "compacted %s (%d bytes) to %s (%d bytes)\n", c.DBPath, before, c.Out, after)
	fmt.Fprintf(out, "with the server stopped, swap it in: proactivechat restore -from %s -db %s\n", c.Out, c.DBPath)
	return nil
}

func (c *Compact) lockTimeout() time.Duration {
	if c.LockTimeout > 0 {
		return c.LockTimeout
	}
	return defaultLockTimeout
}

func fileSize(path string) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}
