package cluster

// Lead makes w publish under term without a lease or a barrier, as a
// leader that has not noticed it was deposed believes it may.
func Lead(w *Writer, term uint64) { w.lead(term) }
