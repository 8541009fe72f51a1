package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proactivechat/proactivechat/server/atomicfile"
	"github.com/proactivechat/proactivechat/server/bolt"
)

// SnapshotConfig names the object store that keeps the snapshots.
type SnapshotConfig struct {
	// Bucket is the JetStream object store's name (default
	// "proactivechat-snapshots").
	Bucket string
	// Replicas is how many servers hold it (default 3, as the log).
	Replicas int
	// Keep is how many snapshots are kept (default 2). The log is trimmed
	// behind the oldest one kept, so a node whose file is between the two
	// still catches up from the log alone.
	Keep int
}

func (c SnapshotConfig) withDefaults() SnapshotConfig {
	if c.Bucket == "" {
		c.Bucket = "proactivechat-snapshots"
	}
	if c.Replicas == 0 {
		c.Replicas = 3
	}
	if c.Keep <= 0 {
		c.Keep = 2
	}
	return c
}

// Snapshots keeps copies of the store's file, each at the log position it
// holds, in a JetStream object store. They bound the log: once a snapshot
// is stored, the entries before the oldest one kept are purged, so the log
// does not grow for as long as the cluster runs. A node whose file is
// behind the log's first entry (new, or back after a long absence) starts
// from the latest snapshot, then reads the log after it.
type Snapshots struct {
	obs jetstream.ObjectStore
	log *Log
	cfg SnapshotConfig
}

// ErrNoSnapshot is Install's error when the object store holds none.
var ErrNoSnapshot = errors.New("no snapshot")

// positionKey is the object metadata naming a snapshot's log position.
const positionKey = "position"

// OpenSnapshots creates the object store, or opens it, for log's
// snapshots.
func OpenSnapshots(ctx context.Context, js jetstream.JetStream, log *Log, cfg SnapshotConfig) (*Snapshots, error) {
	cfg = cfg.withDefaults()
	var err error
	if cfg.Replicas, err = KeepReplicas(ctx, js, "OBJ_"+cfg.Bucket, cfg.Replicas); err != nil {
		return nil, fmt.Errorf("open snapshots %s: %w", cfg.Bucket, err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      cfg.Bucket,
		Description: "Proactive Chat replicated store: copies of the file at known log positions",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open snapshots %s: %w", cfg.Bucket, err)
	}
	return &Snapshots{obs: obs, log: log, cfg: cfg}, nil
}

// snapshotName names the snapshot at pos; names sort by position.
func snapshotName(pos uint64) string { return fmt.Sprintf("snapshot-%020d", pos) }

// Take stores a copy of store's file, at the position the file holds,
// then deletes the snapshots beyond Keep and purges the log before the
// oldest one left. It returns the new snapshot's position. The copy is
// written to a temporary file next to the store's first, so that the read
// transaction it needs ends before the upload (a long read transaction
// holds up bbolt's writer when the file grows).
func (s *Snapshots) Take(ctx context.Context, store *bolt.Store) (uint64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(store.Path()), "."+filepath.Base(store.Path())+".snapshot-*")
	if err != nil {
		return 0, fmt.Errorf("take snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	pos, _, err := store.Snapshot(tmp)
	if err != nil {
		return 0, fmt.Errorf("take snapshot: %w", err)
	}
	if pos == 0 {
		return 0, errors.New("take snapshot: the store holds no log position")
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return 0, fmt.Errorf("take snapshot: %w", err)
	}
	_, err = s.obs.Put(ctx, jetstream.ObjectMeta{
		Name:     snapshotName(pos),
		Metadata: map[string]string{positionKey: strconv.FormatUint(pos, 10)},
	}, tmp)
	if err != nil {
		return 0, fmt.Errorf("store snapshot at %d: %w", pos, err)
	}
	return pos, s.prune(ctx)
}

// prune deletes the snapshots beyond Keep, oldest first, and purges the
// log's entries before the oldest one left.
func (s *Snapshots) prune(ctx context.Context) error {
	kept, err := s.list(ctx)
	if err != nil {
		return err
	}
	for len(kept) > s.cfg.Keep {
		if err := s.obs.Delete(ctx, snapshotName(kept[0])); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete snapshot at %d: %w", kept[0], err)
		}
		kept = kept[1:]
	}
	if len(kept) == 0 {
		return nil
	}
	return s.log.trimBefore(ctx, kept[0])
}

// listAttempt bounds one attempt of list.
const listAttempt = 5 * time.Second

// list returns the positions of the snapshots stored, oldest first.
func (s *Snapshots) list(ctx context.Context) ([]uint64, error) {
	var infos []*jetstream.ObjectInfo
	var err error
	for {
		// The object store lists through a consumer of its own; one that
		// a busy server was slow to set up can wait for ever, and a new
		// one is made in time (an attempt each listAttempt).
		actx, cancel := context.WithTimeout(ctx, listAttempt)
		infos, err = s.obs.List(actx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			break
		}
	}
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []uint64
	for _, info := range infos {
		if !strings.HasPrefix(info.Name, "snapshot-") {
			continue
		}
		pos, err := strconv.ParseUint(info.Metadata[positionKey], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: position %q: %w", info.Name, info.Metadata[positionKey], err)
		}
		out = append(out, pos)
	}
	slices.Sort(out)
	return out, nil
}

// Latest returns the position of the newest snapshot, 0 when there is none.
func (s *Snapshots) Latest(ctx context.Context) (uint64, error) {
	kept, err := s.list(ctx)
	if err != nil || len(kept) == 0 {
		return 0, err
	}
	return kept[len(kept)-1], nil
}

// Install replaces the file at path with the newest snapshot, atomically
// (a temporary file, synced, renamed over path, the directory synced), and
// returns its position. The file must not be open. The object store checks
// the copy's digest as it is read, so a damaged copy fails here and path
// is left as it was.
func (s *Snapshots) Install(ctx context.Context, path string) (uint64, error) {
	pos, err := s.Latest(ctx)
	if err != nil {
		return 0, err
	}
	if pos == 0 {
		return 0, ErrNoSnapshot
	}
	obj, err := s.obs.Get(ctx, snapshotName(pos))
	if err != nil {
		return 0, fmt.Errorf("fetch snapshot at %d: %w", pos, err)
	}
	defer obj.Close()
	if _, err := atomicfile.Write(path, func(f *os.File) (int64, error) { return f.ReadFrom(obj) }); err != nil {
		return 0, fmt.Errorf("install snapshot at %d: %w", pos, err)
	}
	return pos, nil
}

// Behind reports whether a file at position pos can no longer catch up
// from the log alone: the log's entries after pos have been purged.
func (l *Log) Behind(ctx context.Context, pos uint64) (bool, error) {
	first, err := l.First(ctx)
	if err != nil {
		return false, err
	}
	return first > pos+1, nil
}

// First returns the position of the log's first entry; with no entry, the
// position the next one will take.
func (l *Log) First(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read log start: %w", err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	return info.State.FirstSeq, nil
}

// trimBefore purges the entries before pos. The entry at pos stays: the
// log's last entry is what fencing compares with, so it is never purged.
func (l *Log) trimBefore(ctx context.Context, pos uint64) error {
	if pos <= 1 {
		return nil
	}
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSequence(pos)); err != nil {
		return fmt.Errorf("trim log before %d: %w", pos, err)
	}
	return nil
}
