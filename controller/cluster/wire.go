package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Header names used between controllers and towards clients.
const (
	// HeaderForwarded marks a request forwarded by another controller; it
	// holds that controller's node id. A request carrying it is always served
	// locally, so a request is never forwarded twice.
	HeaderForwarded = "Tonewall-Forwarded-By"
	// HeaderController names the controller that holds the call: on a
	// forwarded answer, and on a 421 answer to a streaming request.
	HeaderController = "Tonewall-Controller"
)

// MaxBody is the largest request body forwarded to another controller. It
// matches the API's own limit.
const MaxBody = 64 << 10

// minDigitRun is the shortest run of digits refused in a forwarded body:
// the shortest card number.
const minDigitRun = 12

// Errors of request encoding.
var (
	// ErrCardLike refuses a body holding a run of 12 or more digits (spaces
	// and dashes inside the run do not end it; canonical UUIDs are not
	// counted): it could be a card number, and card data never crosses NATS.
	// The error never includes the body.
	ErrCardLike = errors.New("cluster: body holds a run of 12 or more digits and is not forwarded")
	// ErrTooLarge refuses a body larger than MaxBody.
	ErrTooLarge = errors.New("cluster: body larger than 64 KiB")
	// ErrMalformed is returned for a forwarded request or reply that does not decode.
	ErrMalformed = errors.New("cluster: malformed forwarded message")
)

// kind is what a path names.
type kind int

const (
	kindCall kind = iota + 1
	kindCapture
)

func (k kind) String() string {
	switch k {
	case kindCall:
		return "call"
	case kindCapture:
		return "capture"
	}
	return "none"
}

// target is the call or capture a request path names.
type target struct {
	kind kind
	id   string
	// rest is the path after the id: "", "/captures", "/cancel", ...
	rest string
	// stream is true for streaming endpoints (SSE), which are not forwarded.
	stream bool
}

// idRE is what a call or capture id may be: it becomes a token of a
// key-value key, so no dots.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// parseTarget reports the call or capture that an API path names
// (/v1/calls/{call_id}[/...] or /v1/captures/{id}[/...]). ok is false for
// every other path, and for malformed ones (empty or invalid id, empty
// segments, dot segments), which the local handler answers.
func parseTarget(p string) (t target, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(p, "/v1/calls/"):
		t.kind, rest = kindCall, p[len("/v1/calls/"):]
	case strings.HasPrefix(p, "/v1/captures/"):
		t.kind, rest = kindCapture, p[len("/v1/captures/"):]
	default:
		return target{}, false
	}
	if path.Clean(p) != strings.TrimSuffix(p, "/") {
		return target{}, false
	}
	id, tail, _ := strings.Cut(rest, "/")
	if !idRE.MatchString(id) {
		return target{}, false
	}
	t.id = id
	if tail != "" {
		t.rest = "/" + tail
	}
	segs := strings.Split(strings.TrimSuffix(tail, "/"), "/")
	t.stream = segs[len(segs)-1] == "events"
	return t, true
}

// createsCapture reports whether a request may create a capture whose
// directory entry must exist before the answer leaves.
func (t target) createsCapture(method string) bool {
	return method == http.MethodPost && t.kind == kindCall && strings.TrimSuffix(t.rest, "/") == "/captures"
}

// isStream reports a streaming request: an events path, or an Accept
// header asking for Server-Sent Events.
func isStream(t target, r *http.Request) bool {
	return t.stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// uuidRE matches a UUID in canonical form, such as a call id or an
// idempotency key. It is 32 hex digits, longer than any card number, and
// one in a few hundred random UUIDs ends in twelve decimal digits.
var uuidRE = regexp.MustCompile(`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}`)

// looksLikeCard reports whether b holds a run of minDigitRun or more digits
// outside canonical UUIDs.
func looksLikeCard(b []byte) bool {
	if !hasDigitRun(b) {
		return false
	}
	masked := bytes.Clone(b)
	for _, loc := range uuidRE.FindAllIndex(b, -1) {
		if (loc[0] > 0 && isAlnum(b[loc[0]-1])) || (loc[1] < len(b) && isAlnum(b[loc[1]])) {
			continue // part of something longer: scan it as it is
		}
		for i := loc[0]; i < loc[1]; i++ {
			masked[i] = 'x'
		}
	}
	return hasDigitRun(masked)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// hasDigitRun reports a run of minDigitRun or more digits; spaces and dashes
// inside the run do not end it, as card numbers are often written with them.
func hasDigitRun(b []byte) bool {
	run := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			run++
			if run >= minDigitRun {
				return true
			}
		case c == ' ' || c == '-':
		default:
			run = 0
		}
	}
	return false
}

// wireRequest is an HTTP request as it crosses NATS.
type wireRequest struct {
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawPath    string      `json:"raw_path,omitempty"`
	Query      string      `json:"query,omitempty"`
	Host       string      `json:"host,omitempty"`
	RemoteAddr string      `json:"remote_addr,omitempty"`
	Header     http.Header `json:"header,omitempty"`
	Body       []byte      `json:"body,omitempty"`
	From       string      `json:"from"`
}

// wireResponse is an HTTP answer as it crosses NATS.
type wireResponse struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// hopHeaders are not forwarded: they describe one connection, or are set
// again on the other side.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Content-Length", HeaderForwarded,
}

func cleanHeader(h http.Header) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, f := range h.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	return h
}

// encodeRequest turns r, whose body has been read into body, into a NATS
// payload. It refuses a body over MaxBody or one that looks like it holds a
// card number.
func encodeRequest(r *http.Request, body []byte, from string) ([]byte, error) {
	if len(body) > MaxBody {
		return nil, ErrTooLarge
	}
	if looksLikeCard(body) {
		return nil, ErrCardLike
	}
	w := wireRequest{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawPath:    r.URL.RawPath,
		Query:      r.URL.RawQuery,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Header:     cleanHeader(r.Header),
		Body:       body,
		From:       from,
	}
	return json.Marshal(w)
}

// decodeRequest turns a NATS payload back into a request for the local
// handler, marked as forwarded. Only call and capture paths are accepted.
func decodeRequest(ctx context.Context, data []byte) (*http.Request, error) {
	var w wireRequest
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if w.Method == "" || strings.ContainsAny(w.Method, " \t\r\n/") {
		return nil, fmt.Errorf("%w: bad method", ErrMalformed)
	}
	if _, ok := parseTarget(w.Path); !ok {
		return nil, fmt.Errorf("%w: path names no call or capture", ErrMalformed)
	}
	if !idRE.MatchString(w.From) {
		return nil, fmt.Errorf("%w: bad sender", ErrMalformed)
	}
	if len(w.Body) > MaxBody {
		return nil, ErrTooLarge
	}
	u := &url.URL{Path: w.Path, RawPath: w.RawPath, RawQuery: w.Query}
	if u.RawPath != "" && u.EscapedPath() != u.RawPath {
		return nil, fmt.Errorf("%w: raw path does not match path", ErrMalformed)
	}
	r, err := http.NewRequestWithContext(ctx, w.Method, "/", bytes.NewReader(w.Body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.Host = w.Host
	r.RemoteAddr = w.RemoteAddr
	r.Header = cleanHeader(w.Header)
	r.Header.Set(HeaderForwarded, w.From)
	r.ContentLength = int64(len(w.Body))
	return r, nil
}

// encodeResponse turns a recorded answer into a NATS payload.
func encodeResponse(status int, h http.Header, body []byte) ([]byte, error) {
	return json.Marshal(wireResponse{Status: status, Header: cleanHeader(h), Body: body})
}

// decodeResponse reads a NATS reply.
func decodeResponse(data []byte) (wireResponse, error) {
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return w, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if w.Status < 100 || w.Status > 999 {
		return w, fmt.Errorf("%w: status %d", ErrMalformed, w.Status)
	}
	return w, nil
}

// write sends a decoded reply to the client.
func (w wireResponse) write(rw http.ResponseWriter) {
	h := rw.Header()
	for k, vs := range cleanHeader(w.Header) {
		h[k] = vs
	}
	rw.WriteHeader(w.Status)
	_, _ = rw.Write(w.Body)
}

// recorder is the ResponseWriter a forwarded request is served with. It
// keeps at most limit bytes of body.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	limit    int
	overflow bool
}

func newRecorder(limit int) *recorder {
	return &recorder{header: http.Header{}, limit: limit}
}

// Header returns the answer's header map.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader records the first status written.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Write records body bytes up to the limit.
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(p) > r.limit {
		r.overflow = true
		return 0, errors.New("cluster: forwarded answer too large")
	}
	return r.body.Write(p)
}

// Flush does nothing: the answer is sent whole.
func (r *recorder) Flush() {}

func (r *recorder) result() (int, []byte) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.status, r.body.Bytes()
}
