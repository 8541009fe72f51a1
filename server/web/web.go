// Package web serves the browser side of Proactive Chat from files built
// into the binary: the visitor widget (/widget.js), the agent console
// (/agent/, a single-page app) and a demo shop with the widget installed
// (/demo/).
//
// dist/ is built from clients/ (npm run build) and committed, so a plain
// `go build` needs no Node.js.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist holds widget/widget.js and agent/ (index.html and assets/). all:
// keeps dist/agent/.gitkeep, so this compiles before the console is built.
//
//go:embed all:dist
var dist embed.FS

//go:embed demo
var demo embed.FS

// Mount adds the widget, the agent console and the demo site to mux:
//
//	GET /widget.js   the visitor widget
//	GET /agent/…     the agent console; unknown paths get its index.html
//	GET /demo/…      the demo shop (site_demo; /demo/invite/ for site_demo_invite)
func Mount(mux *http.ServeMux) {
	distFS, _ := fs.Sub(dist, "dist")
	demoFS, _ := fs.Sub(demo, "demo")
	MountFS(mux, distFS, demoFS)
}

// MountFS is Mount with other files: dist has widget/widget.js and
// agent/…, demo the demo site.
func MountFS(mux *http.ServeMux, dist, demo fs.FS) {
	d := load(dist)
	site := load(demo)
	mux.HandleFunc("GET /widget.js", func(w http.ResponseWriter, r *http.Request) {
		f := d["widget/widget.js"]
		if f == nil {
			http.Error(w, "the widget is not built: run `npm run build` in clients/", http.StatusNotFound)
			return
		}
		// Any site may load the widget, also one with Cross-Origin-Embedder-Policy.
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		f.serve(w, r, "no-cache")
	})
	mux.HandleFunc("GET /demo/{path...}", func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("path")
		if p == "" || strings.HasSuffix(p, "/") {
			p += "index.html"
		} else if site[p+"/index.html"] != nil {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		f := site[p]
		if f == nil {
			http.NotFound(w, r)
			return
		}
		f.serve(w, r, "no-cache")
	})
	mux.HandleFunc("GET /agent/{path...}", func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("path")
		if f := d["agent/"+p]; f != nil && p != "index.html" {
			cache := "no-cache"
			if strings.HasPrefix(p, "assets/") {
				// Built with content hashes in the names: never changes.
				cache = "public, max-age=31536000, immutable"
			}
			f.serve(w, r, cache)
			return
		}
		if strings.HasPrefix(p, "assets/") {
			// A missing script or style must not be answered with HTML.
			http.NotFound(w, r)
			return
		}
		index := d["agent/index.html"]
		if index == nil {
			http.Error(w, "the agent console is not built: run `npm run build` in clients/", http.StatusNotFound)
			return
		}
		// The console routes in the browser: every other path is the app.
		index.serve(w, r, "no-cache")
	})
}

// file is one file to serve, with its gzip form when that is smaller.
type file struct {
	data, gz    []byte
	etag, ctype string
}

// load reads every file of fsys, keyed by slash path.
func load(fsys fs.FS) map[string]*file {
	files := map[string]*file{}
	fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		f := &file{data: data, etag: base64.RawURLEncoding.EncodeToString(sum[:12]), ctype: contentType(p)}
		if compressible(f.ctype) && len(data) > 1024 {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(data)
			zw.Close()
			if b.Len() < len(data) {
				f.gz = b.Bytes()
			}
		}
		files[p] = f
		return nil
	})
	return files
}

func (f *file) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	body, etag := f.data, `"`+f.etag+`"`
	if f.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gz, `"`+f.etag+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	// ServeContent answers If-None-Match (304), HEAD and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Content types by extension, not from the system's mime.types, so every
// machine serves the same.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
}

func contentType(p string) string {
	ext := path.Ext(p)
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}
