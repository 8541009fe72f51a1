// Package protoconv converts between the domain types and the generated
// proactivechat.v1 messages. The storage and the RPC transports share it so
// that a record on disk and a message on the wire are the same shape.
//
// Conversions are nil-safe: a nil message becomes the zero domain value (or a
// nil pointer) and back. A zero time.Time is a nil Timestamp; times read
// back are in UTC. Enum values the other side does not know become the
// UNSPECIFIED value, which the domain rejects where it matters.
package protoconv
