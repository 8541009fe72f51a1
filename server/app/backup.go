package app

import (
	"net/http"
	"strings"

	"github.com/proactivechat/proactivechat/server/domain"
)

// serveBackup streams a consistent copy of the database while the server
// keeps serving (bbolt Tx.WriteTo in one read transaction): what
// `proactivechat backup -server URL` fetches, with an admin API key.
// Browsers are refused, so that no page on an allowed origin can read the
// whole database.
func (a *App) serveBackup(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" {
		http.Error(w, "backups are not served to browsers", http.StatusForbidden)
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		token = ""
	}
	p, err := a.Service.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "an admin API key is required: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if p.Kind != domain.AdminPrincipal {
		http.Error(w, "backups need an admin API key", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="proactivechat.db"`)
	h.Set("Cache-Control", "no-store")
	n, err := a.Store.Backup(w)
	if err != nil {
		a.log.ErrorContext(r.Context(), "backup failed", "bytes", n, "err", err)
		if n == 0 {
			h.Del("Content-Disposition")
			http.Error(w, "backup failed", http.StatusInternalServerError)
			return
		}
		// Cut the response: the client sees an error, never a short file.
		panic(http.ErrAbortHandler)
	}
}
