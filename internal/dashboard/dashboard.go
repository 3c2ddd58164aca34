// Package dashboard is the ledger's browser page (CONTRACT.md "HTTP": GET /):
// a partner's tier timeline, its tier and benefits documents, the attention
// report and a what-if view, all read from the HTTP API with a role's bearer
// token. The page is static — HTML, a script and a style sheet embedded in
// the binary — and holds no data itself, so it is served without a token;
// it needs no network beyond the ledger (no CDN, no remote fonts, no
// library: the chart is hand-written SVG).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// AssetPrefix is the path under which the page's script and style sheet
// are served (GET /ui/app.js, /ui/app.css).
const AssetPrefix = "/ui/"

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every file of the page: scripts,
// styles, images and API calls from the ledger's own origin only, no
// inline script, no frames, no form posts elsewhere. A stolen token can
// therefore not be sent to another origin by injected markup.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// types are the media types of the files the page is made of.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Handler serves the page: "/" is index.html, AssetPrefix+NAME a file of
// the page; anything else is 404.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "index.html"
		if r.URL.Path != "/" {
			rest, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
			if !ok || rest == "" || strings.Contains(rest, "/") || rest == "index.html" {
				http.NotFound(w, r)
				return
			}
			name = rest
		}
		ctype, ok := types[path.Ext(name)]
		b, err := fs.ReadFile(sub, name)
		if !ok || err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		w.Write(b)
	})
}
