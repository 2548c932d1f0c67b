package panel

import (
	"errors"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHeaders(t *testing.T) {
	tests := []struct {
		name      string
		ancestors []string
		wantCSP   string
	}{
		{"default", nil, "frame-ancestors 'self'"},
		{"crm", []string{"https://crm.example.com", "https://*.example.org:8443"}, "frame-ancestors 'self' https://crm.example.com https://*.example.org:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(Options{FrameAncestors: tt.ancestors})
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/panel/", "/panel/panel.js", "/panel/panel.css"} {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path+"?call=c1", nil))
				if w.Code != 200 {
					t.Fatalf("%s: %d", path, w.Code)
				}
				csp := w.Header().Get("Content-Security-Policy")
				if !strings.HasPrefix(csp, "default-src 'self'") || !strings.HasSuffix(csp, tt.wantCSP) {
					t.Errorf("%s: CSP %q", path, csp)
				}
				for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
					if w.Header().Get(k) != v {
						t.Errorf("%s: %s = %q", path, k, w.Header().Get(k))
					}
				}
			}
		})
	}
}

func TestInvalidAncestors(t *testing.T) {
	for _, a := range []string{"", "*", "https://a.example; script-src *", "https://a.example https://b.example", "javascript:alert(1)", "'unsafe-inline'", "https://"} {
		if _, err := New(Options{FrameAncestors: []string{a}}); !errors.Is(err, ErrInvalidAncestor) {
			t.Errorf("New with ancestor %q: %v", a, err)
		}
	}
	w := httptest.NewRecorder()
	Handler(Options{FrameAncestors: []string{"x; script-src *"}}).ServeHTTP(w, httptest.NewRequest("GET", "/panel/", nil))
	if strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src") {
		t.Error("Handler let an invalid ancestor into the CSP")
	}
}

func TestMethods(t *testing.T) {
	w := httptest.NewRecorder()
	Handler(Options{}).ServeHTTP(w, httptest.NewRequest("POST", "/panel/", nil))
	if w.Code != 405 {
		t.Errorf("POST: %d", w.Code)
	}
}

// The page loads nothing from elsewhere, runs no inline script or style
// (the CSP would refuse it), and does not write to the console.
func TestStaticFilesSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	inline := regexp.MustCompile(`(?i)(<script>|<style|\son[a-z]+=|style=)`)
	n := 0
	err := fs.WalkDir(files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		s := strings.ReplaceAll(string(b), `xmlns="http://www.w3.org/2000/svg"`, "")
		if m := external.FindString(s); m != "" {
			t.Errorf("%s refers to %q", path, m)
		}
		if strings.HasSuffix(path, ".html") {
			if m := inline.FindString(s); m != "" {
				t.Errorf("%s has inline code or style: %q", path, m)
			}
		}
		if strings.HasSuffix(path, ".js") && strings.Contains(s, "console.") {
			t.Errorf("%s writes to the console", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("only %d files embedded", n)
	}
}

// The page has the accessibility hooks the panel promises.
func TestPageStructure(t *testing.T) {
	b, err := files.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`aria-live="polite"`, `<label for="amount">`, `<label for="currency">`, `<label for="reference">`,
		`name="viewport"`, `lang="en"`, `role="alert"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}
