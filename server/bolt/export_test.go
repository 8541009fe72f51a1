package bolt

// QueueLen returns how many Updates wait for the writer, so tests can line
// up a batch before letting the writer take it.
func QueueLen(s *Store) int { return len(s.queue) }
