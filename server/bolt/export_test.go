package bolt

import "time"

// QueueLen returns how many Updates wait for the writer, so tests can line
// up a batch before letting the writer take it.
func QueueLen(s *Store) int { return len(s.queue) }

// PagesWritten is how many pages the store's commits have written so far.
func PagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}

// SetMessageKeyHash replaces the hash of the idempotency key index, so
// tests can make keys collide. Call it before the first Update.
func SetMessageKeyHash(s *Store, hash func(senderID, key string) uint64) { s.keys.hash = hash }

// IndexedChats lists the chats the idempotency key index holds, with the
// number of keys of each. Call it only while no Update runs.
func IndexedChats(s *Store) map[string]int {
	out := map[string]int{}
	for id, keys := range s.keys.chats {
		out[id] = len(keys)
	}
	return out
}

// IsNoSpace is isNoSpace, for tests of what counts as a full disk.
var IsNoSpace = isNoSpace

// SetSpaceCheckInterval sets how often a full store looks at the free
// space, so tests need not wait for the default. Call it before the disk
// fills.
func SetSpaceCheckInterval(s *Store, d time.Duration) {
	s.space.mu.Lock()
	s.space.checkEvery = d
	s.space.mu.Unlock()
}
