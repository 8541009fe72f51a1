package domain

// OpenStreamGrants is how many streams are registered for revocations and
// changes of rights.
func (s *Service) OpenStreamGrants() int {
	c := s.creds.(*credentials)
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}
