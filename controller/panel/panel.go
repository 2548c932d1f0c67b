// Package panel is the agent panel: one static page, embedded in the
// controller, that a CRM opens on a call (/panel/?call=<id>#token=<agent
// token>) or embeds in an iframe. The page talks only to the controller's
// API, from the same origin; it never receives a card digit beyond the
// last four.
package panel

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Options configures the panel.
type Options struct {
	// FrameAncestors are the origins allowed to embed the panel in a frame,
	// as CSP source expressions (e.g. https://crm.example.com); 'self' is
	// always allowed.
	FrameAncestors []string
}

// ErrInvalidAncestor is returned by New for a frame ancestor that is not a
// plain CSP source expression.
var ErrInvalidAncestor = errors.New("panel: invalid frame ancestor")

// New returns the panel's handler, to be mounted at /panel/.
func New(opts Options) (http.Handler, error) {
	for _, a := range opts.FrameAncestors {
		if !validAncestor(a) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidAncestor, a)
		}
	}
	return Handler(opts), nil
}

// Handler is New for options known to be valid; invalid frame ancestors
// are left out.
func Handler(opts Options) http.Handler {
	anc := []string{"'self'"}
	for _, a := range opts.FrameAncestors {
		if validAncestor(a) && a != "'self'" {
			anc = append(anc, a)
		}
	}
	csp := "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors " + strings.Join(anc, " ")
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.StripPrefix("/panel/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		fileServer.ServeHTTP(w, r)
	})
}

// validAncestor accepts a scheme+host source ("https://crm.example.com",
// "https://*.example.com:8443") or a keyword ('self', 'none').
func validAncestor(a string) bool {
	if a == "'self'" || a == "'none'" {
		return true
	}
	if a == "" || len(a) > 200 || strings.ContainsAny(a, " \t\r\n;,'\"") {
		return false
	}
	scheme, rest, ok := strings.Cut(a, "://")
	if !ok || (scheme != "https" && scheme != "http") || rest == "" {
		return false
	}
	for _, c := range rest {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == ':', c == '*', c == '/':
		default:
			return false
		}
	}
	return true
}
