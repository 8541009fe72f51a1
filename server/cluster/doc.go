// Package cluster replicates a bolt store over NATS JetStream, so that
// several nodes hold the same data and another takes over writing when the
// writer dies. It is stage 1 of running several nodes (docs/cluster.md):
// the building blocks, not yet wired into the product.
//
//   - Log is a JetStream stream (file storage, replicated, fsync on every
//     write) carrying the write sets of the leader's commits, one entry per
//     commit, on one subject.
//   - Writer is the leader's end of the Log and the bolt.Replicator of its
//     store: a commit is published, with the log position the store holds
//     as the expected last sequence of the subject, and committed and
//     acknowledged only after the PubAck. A leader that lost its authority
//     publishes at a position someone else has published at already: the
//     stream refuses it (fencing), and the Writer steps down for good.
//   - Follower applies the Log to a store in order, recording the position
//     in the same transaction, so a restart resumes exactly.
//   - Lease is leadership: one JetStream KV key, taken by create and kept
//     by compare-and-set on its revision before the bucket's TTL removes
//     it. TakeOver turns a lease into a Writer that may publish: it
//     applies the Log to the end and publishes a barrier entry, which
//     fences every earlier leader before the new one acknowledges anything.
//
// Safety rests on the Log alone: whatever a lease holder believes about
// time, an entry is accepted only where the log is at the position the
// writer's store holds. Liveness rests on the lease TTL.
package cluster
