// Package proactivechat is a small Go client for integrators of the
// Proactive Chat server.
//
// It wraps the generated code of gen/proactivechat/v1 with what every
// integration needs and would otherwise write itself:
//
//   - DialConnect and DialGRPC: clients of the four services (Admin, Agent,
//     Chat, Visitor) that send a bearer credential (an admin API key
//     "pca_…", an agent session or a visitor token) on every call, over
//     the Connect protocol (net/http) or grpc-go. Client and GRPCClient are
//     two small types because the generated clients of the two transports
//     have different method signatures; each exposes its generated
//     service clients as fields.
//   - AsError: the server's error as an *Error with its code, message,
//     field violations (google.rpc.BadRequest) and how long to wait before
//     retrying (google.rpc.RetryInfo), from either transport.
//   - Client.Events and GRPCClient.Events: the durable event log
//     (AdminService.WatchEvents) as a Go iterator that reconnects with a
//     jittered, capped backoff and resumes after the last event it
//     yielded, so no event is missed or repeated across disconnects and
//     server restarts.
//   - VerifyWebhook and ParseWebhook: Standard Webhooks v1 signature and
//     timestamp checks of a webhook request, and its event decoded.
//
// A typical integration:
//
//	c := proactivechat.DialConnect("https://chat.example.com", os.Getenv("PCA_KEY"))
//	for ev, err := range c.Events(ctx, lastPosition) {
//		if err != nil {
//			return err // ctx ended, or the server refused the watch
//		}
//		handle(ev)
//		lastPosition = ev.GetPosition() // persist it to resume later
//	}
package proactivechat
