package domain

// OpenStreamGrants is how many streams are registered for revocations and
// changes of rights.
func (s *Service) OpenStreamGrants() int {
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	return len(s.creds.streams)
}
