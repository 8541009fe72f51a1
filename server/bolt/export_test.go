package bolt

// QueueLen returns how many Updates wait for the writer, so tests can line
// up a batch before letting the writer take it.
func QueueLen(s *Store) int { return len(s.queue) }

// PagesWritten is how many pages the store's commits have written so far.
func PagesWritten(s *Store) int64 {
	st := s.db.Stats()
	return st.TxStats.GetWrite()
}
