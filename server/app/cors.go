package app

import (
	"net/http"
	"strings"

	"github.com/proactivechat/proactivechat/gen/proactivechat/v1/proactivechatv1connect"
)

// CORS headers of the Connect, gRPC-Web and REST protocols a browser on
// another origin needs to send and to read.
var (
	corsAllowHeaders = strings.Join([]string{"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms",
		"Connect-Accept-Encoding", "Connect-Content-Encoding", "Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "Authorization"}, ", ")
	corsExposeHeaders = strings.Join([]string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
		"Connect-Content-Encoding", "Content-Encoding"}, ", ")
)

// openSession is the one procedure every origin may call from a browser: it
// checks the page's origin against the site itself (CheckWidgetOrigin), so
// a widget on a page that may not embed it reads why (403, permission
// denied) and stops, instead of a CORS failure it cannot tell from the
// network's and would retry.
const openSession = proactivechatv1connect.VisitorServiceStartVisitorSessionProcedure

// withCORS lets the widget call the API from the websites it is installed
// on: a request whose Origin is one of some site's allowed origins gets the
// CORS headers (preflights are answered here); any other origin gets none,
// so the browser refuses it, except for openSession. Same-origin requests
// carry no Origin to check.
func (a *App) withCORS(next http.Handler) http.Handler {
	// The work is in cors, so that this frame stays small: it sits under
	// every stream's handler for as long as the stream is open (see
	// domain.openVisitorStream).
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.cors(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// cors sets the CORS headers of r's response, and reports whether it
// answered r (a preflight).
func (a *App) cors(w http.ResponseWriter, r *http.Request) (answered bool) {
	origin := r.Header.Get("Origin")
	if origin != "" && !crossOrigin(origin, r.Host) {
		// Same origin: no CORS, and handlers treat it like any
		// non-browser caller.
		r.Header.Del("Origin")
		origin = ""
	}
	if origin == "" || !(a.Service.OriginAllowed(origin) || r.URL.Path == openSession) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", "7200")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
