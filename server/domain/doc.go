// Package domain is Proactive Chat's core: sites and their proactive chat
// settings, agents, visitors and their presence, chats and their events, and
// the rules that tie them together.
//
// It knows nothing of HTTP, gRPC, Connect or bbolt. Storage implements
// [Store], the live fan-out implements [Broker], and transports call
// [Service]. Time comes from an injectable [Clock].
package domain
