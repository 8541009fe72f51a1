// Package rpc serves the domain Service over Connect, gRPC and gRPC-Web
// with connect-go handlers: the only RPC server of the binary. The REST
// gateway reaches the same handlers over gRPC. Handlers only translate
// between protobuf messages and domain calls; the rules live in the domain.
package rpc
