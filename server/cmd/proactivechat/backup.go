package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/proactivechat/proactivechat/server/atomicfile"
	"github.com/proactivechat/proactivechat/server/bolt"
)

// BackupPath is the endpoint of a running server that streams a hot backup
// of its database (bbolt Tx.WriteTo) as application/octet-stream.
const BackupPath = "/admin/backup"

// defaultLockTimeout is how long backup and restore wait for the database
// file's lock before deciding that a server holds it.
const defaultLockTimeout = time.Second

// requiredBuckets are buckets every Proactive Chat database has (bolt.Open
// creates them all), so a bbolt file of another program is not restored.
var requiredBuckets = []string{"sites", "agents", "visitors", "chats", "chat_events", "message_keys"}

// Backup is `proactivechat backup`: a consistent copy of the database,
// written atomically to Out. With Server it is a hot backup streamed by the
// running server; otherwise the file at DBPath is opened, which works only
// while no server holds it.
type Backup struct {
	DBPath string
	Out    string
	Server string
	// APIKey is an admin API key, for hot backups.
	APIKey string
	// LockTimeout is how long to wait for the database's lock (offline backup).
	LockTimeout time.Duration
	// Client fetches hot backups; http.DefaultClient when nil.
	Client *http.Client
}

// ParseFlags reads the backup subcommand's flags.
func (b *Backup) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat backup", flag.ContinueOnError)
	fs.StringVar(&b.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "database file to back up when no server runs (env PROACTIVECHAT_DB)")
	fs.StringVar(&b.Out, "out", "", "file to write the backup to (replaced atomically)")
	fs.StringVar(&b.Server, "server", "", "URL of a running server to take a hot backup from, e.g. http://127.0.0.1:8080")
	fs.StringVar(&b.APIKey, "api-key", env("PROACTIVECHAT_API_KEY", ""), "admin API key for -server (env PROACTIVECHAT_API_KEY)")
	fs.DurationVar(&b.LockTimeout, "lock-timeout", defaultLockTimeout, "how long to wait for the database file's lock")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat backup -out FILE [-db FILE | -server URL]

Writes a consistent copy of the database to FILE. While a server runs it
holds the database file: take a hot backup from it with -server. Otherwise
the file named by -db is opened and copied.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if b.Out == "" {
		return errors.New("backup: -out is required")
	}
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	if b.Server != "" && dbSet {
		return errors.New("backup: give -db (offline) or -server (hot backup), not both")
	}
	return nil
}

// Run takes the backup and reports it on out.
func (b *Backup) Run(ctx context.Context, out io.Writer) error {
	var n int64
	var err error
	var from string
	write := b.offline
	if b.Server != "" {
		from = strings.TrimRight(b.Server, "/") + BackupPath
		write = func(f *os.File) (int64, error) { return b.fetch(ctx, from, f) }
	} else {
		from = b.DBPath
		if same, _ := sameFile(b.DBPath, b.Out); same {
			return fmt.Errorf("backup: -out %s is the database itself", b.Out)
		}
	}
	n, err = atomicfile.Write(b.Out, func(f *os.File) (int64, error) {
		n, err := write(f)
		if err != nil {
			return n, err
		}
		// Only a complete, consistent database is kept: a server that
		// failed halfway may still have ended its response cleanly.
		if err := f.Sync(); err != nil {
			return n, err
		}
		if err := checkDB(f.Name(), b.lockTimeout()); err != nil {
			return n, fmt.Errorf("the backup from %s is not a valid database: %w", from, err)
		}
		return n, nil
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(out, "backed up %s to %s (%d bytes)\n", from, b.Out, n)
	return nil
}

// offline copies the database file through the store, which fails at once
// when a running server holds the file.
func (b *Backup) offline(w *os.File) (int64, error) {
	if err := regularFile(b.DBPath); err != nil {
		return 0, err
	}
	s, err := bolt.Open(b.DBPath, bolt.WithLockTimeout(b.lockTimeout()))
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, fmt.Errorf("%s is in use, probably by a running server: take a hot backup from it with -server http://HOST:PORT (%w)", b.DBPath, err)
	}
	if err != nil {
		return 0, err
	}
	n, err := s.Backup(w)
	return n, errors.Join(err, s.Close())
}

// fetch streams a hot backup from a running server into f.
func (b *Backup) fetch(ctx context.Context, url string, f *os.File) (int64, error) {
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	if b.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+b.APIKey)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		hint := ""
		if res.StatusCode == http.StatusNotFound {
			hint = " (this server has no hot backup endpoint; stop it and back up with -db)"
		}
		return 0, fmt.Errorf("GET %s: %s%s: %s", url, res.Status, hint, strings.TrimSpace(string(msg)))
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
		return 0, fmt.Errorf("GET %s: got Content-Type %q, want application/octet-stream", url, ct)
	}
	n, err := io.Copy(f, res.Body)
	if err != nil {
		return n, fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
	}
	if res.ContentLength >= 0 && n != res.ContentLength {
		return n, fmt.Errorf("GET %s: got %d bytes, want %d", url, n, res.ContentLength)
	}
	return n, nil
}

func (b *Backup) lockTimeout() time.Duration {
	if b.LockTimeout > 0 {
		return b.LockTimeout
	}
	return defaultLockTimeout
}

// Restore is `proactivechat restore`: it replaces the database with a
// backup, atomically, once the backup is known to be a valid database and no
// server holds the file. The database it replaces is kept as
// DBPath+".before-restore".
type Restore struct {
	DBPath string
	From   string
	// LockTimeout is how long to wait for the database's lock before
	// deciding that a server holds it.
	LockTimeout time.Duration
}

// BeforeRestoreSuffix names the copy of the replaced database.
const BeforeRestoreSuffix = ".before-restore"

// ParseFlags reads the restore subcommand's flags.
func (r *Restore) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat restore", flag.ContinueOnError)
	fs.StringVar(&r.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "database file to replace (env PROACTIVECHAT_DB)")
	fs.StringVar(&r.From, "from", "", "backup file to restore")
	fs.DurationVar(&r.LockTimeout, "lock-timeout", defaultLockTimeout, "how long to wait for the database file's lock")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat restore -from FILE [-db FILE]

Replaces the database with the backup FILE. Stop the server first: restore
refuses to run while the database file is in use. The backup is checked
before anything is replaced; the previous database is kept as
DB`+BeforeRestoreSuffix+`.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if r.From == "" {
		return errors.New("restore: -from is required")
	}
	return nil
}

// Run restores and reports it on out.
func (r *Restore) Run(ctx context.Context, out io.Writer) error {
	if err := r.run(ctx, out); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func (r *Restore) run(ctx context.Context, out io.Writer) error {
	if err := regularFile(r.From); err != nil {
		return err
	}
	if same, _ := sameFile(r.DBPath, r.From); same {
		return fmt.Errorf("-from %s is the database itself", r.From)
	}
	if err := r.checkNotInUse(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.DBPath), 0o700); err != nil {
		return err
	}
	// The backup is copied next to the database and checked there, so the
	// bytes checked are the ones that become the database, and the backup
	// itself is never changed.
	src, err := os.Open(r.From)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(r.DBPath), "."+filepath.Base(r.DBPath)+".restore-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmpName)
		}
	}()
	n, err := io.Copy(tmp, readerWithContext(ctx, src))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", r.From, err)
	}
	if err := checkDB(tmpName, r.lockTimeout()); err != nil {
		return fmt.Errorf("%s is not a valid Proactive Chat database, nothing was changed: %w", r.From, err)
	}
	// The server's own Open must accept it too.
	s, err := bolt.Open(tmpName, bolt.WithLockTimeout(r.lockTimeout()))
	if err != nil {
		return fmt.Errorf("%s cannot be opened, nothing was changed: %w", r.From, err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	// A server may have started while the backup was copied and checked.
	if err := r.checkNotInUse(); err != nil {
		return err
	}
	previous := ""
	if _, err := os.Lstat(r.DBPath); err == nil {
		// A hard link keeps the previous database while the rename below
		// swaps the new one in: the path never names a missing or partial file.
		previous = r.DBPath + BeforeRestoreSuffix
		if err := os.Remove(previous); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Link(r.DBPath, previous); err != nil {
			if _, err := atomicfile.Write(previous, func(f *os.File) (int64, error) { return copyFile(f, r.DBPath) }); err != nil {
				return fmt.Errorf("keep the previous database: %w", err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmpName, r.DBPath); err != nil {
		return err
	}
	keep = true
	if err := atomicfile.SyncDir(filepath.Dir(r.DBPath)); err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s from %s (%d bytes)\n", r.DBPath, r.From, n)
	if previous != "" {
		fmt.Fprintf(out, "the previous database is kept as %s\n", previous)
	}
	return nil
}

// checkNotInUse fails when another process (a running server) holds the
// database file's lock. A database that exists but cannot be read is no
// reason to refuse: replacing it may be the point of the restore.
func (r *Restore) checkNotInUse() error {
	if _, err := os.Stat(r.DBPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := bbolt.Open(r.DBPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: r.lockTimeout()})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("%s is in use, probably by a running server: stop it before restoring (%w)", r.DBPath, err)
	}
	if err == nil {
		return db.Close()
	}
	return nil
}

func (r *Restore) lockTimeout() time.Duration {
	if r.LockTimeout > 0 {
		return r.LockTimeout
	}
	return defaultLockTimeout
}

// checkDB checks that path is a complete, consistent bbolt file with the
// buckets of a Proactive Chat database, without changing it. The check runs
// in a child process (`proactivechat check`): bbolt follows the page numbers
// it reads straight into its memory map, so a corrupt file can make it read
// outside the mapping, and that fault ends the process whatever recovers.
func checkDB(path string, lockTimeout time.Duration) error {
	cmd, err := selfCommand("check", "-db", path, "-lock-timeout", lockTimeout.String())
	if err != nil {
		return fmt.Errorf("cannot run the check: %w", err)
	}
	stderr := &headWriter{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		// The check ran to its end and found the file invalid.
		return errors.New(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "check: "))
	case errors.As(err, &exit):
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return fmt.Errorf("corrupt pages crashed the check (%v: %s)", exit, first)
	default:
		return fmt.Errorf("cannot run the check: %w", err)
	}
}

// selfCommand returns a command that runs this program with args; the
// tests replace it, as their program is the test binary.
var selfCommand = func(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(exe, args...), nil
}

// headWriter keeps the first max bytes written to it: a crashed check's
// goroutine dump is long, and only its first line says anything.
type headWriter struct {
	max int
	buf bytes.Buffer
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *headWriter) String() string { return w.buf.String() }

// Check is `proactivechat check`: it checks that a database or backup file
// is complete and consistent, without changing it.
type Check struct {
	DBPath      string
	LockTimeout time.Duration
}

// ParseFlags reads the check subcommand's flags.
func (c *Check) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("proactivechat check", flag.ContinueOnError)
	fs.StringVar(&c.DBPath, "db", env("PROACTIVECHAT_DB", "data/proactivechat.db"), "database or backup file to check (env PROACTIVECHAT_DB)")
	fs.DurationVar(&c.LockTimeout, "lock-timeout", defaultLockTimeout, "how long to wait for the database file's lock")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: proactivechat check [-db FILE]

Checks that FILE is a complete, consistent Proactive Chat database, without
changing it. Exits 0 when it is, 1 with the reason when it is not. A running
server holds its database: check a backup of it instead.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// Run checks the file in this process.
func (c *Check) Run(_ context.Context, out io.Writer) error {
	if err := checkDBHere(c.DBPath, c.LockTimeout); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	_, err := fmt.Fprintf(out, "%s is a valid Proactive Chat database\n", c.DBPath)
	return err
}

// checkDBHere is checkDB in this process.
func checkDBHere(path string, lockTimeout time.Duration) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		// bbolt would initialise an empty file as a new database.
		return errors.New("file is empty")
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		// Pages past the end of a truncated file would fault when read.
		if info.Size() < tx.Size() {
			return fmt.Errorf("file is truncated: %d bytes, the database needs %d", info.Size(), tx.Size())
		}
		var errs []error
		for err := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("inconsistent database: %w", errors.Join(errs...))
		}
		for _, name := range requiredBuckets {
			if tx.Bucket([]byte(name)) == nil {
				return fmt.Errorf("bucket %q is missing", name)
			}
		}
		return nil
	})
}

func copyFile(w io.Writer, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(w, f)
}

// regularFile fails unless path is an existing regular file, so that a
// mistyped path is not opened, and thereby created, as an empty database.
func regularFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// sameFile reports whether a and b are the same existing file.
func sameFile(a, b string) (bool, error) {
	ia, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	ib, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(ia, ib), nil
}

// readerWithContext stops a long copy once ctx is done (Ctrl-C).
func readerWithContext(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
