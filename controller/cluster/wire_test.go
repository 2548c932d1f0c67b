package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
		want target
	}{
		{"/v1/calls/abc-123", true, target{kind: kindCall, id: "abc-123"}},
		{"/v1/calls/abc-123/", true, target{kind: kindCall, id: "abc-123"}},
		{"/v1/calls/abc/captures", true, target{kind: kindCall, id: "abc", rest: "/captures"}},
		{"/v1/calls/abc/agent-tokens", true, target{kind: kindCall, id: "abc", rest: "/agent-tokens"}},
		{"/v1/calls/abc/events", true, target{kind: kindCall, id: "abc", rest: "/events", stream: true}},
		{"/v1/captures/cap_1", true, target{kind: kindCapture, id: "cap_1"}},
		{"/v1/captures/cap_1/cancel", true, target{kind: kindCapture, id: "cap_1", rest: "/cancel"}},
		{"/v1/captures/cap_1/fields/pan/restart", true, target{kind: kindCapture, id: "cap_1", rest: "/fields/pan/restart"}},
		{"/v1/captures/cap_1/events", true, target{kind: kindCapture, id: "cap_1", rest: "/events", stream: true}},
		{"/v1/captures/cap_1/events/", true, target{kind: kindCapture, id: "cap_1", rest: "/events/", stream: true}},
		{"/v1/captures/cap_1/fields/events", true, target{kind: kindCapture, id: "cap_1", rest: "/fields/events", stream: true}},

		// Not a call or capture.
		{"/v1/calls", false, target{}},
		{"/v1/calls/", false, target{}},
		{"/v1/captures", false, target{}},
		{"/v1/webhooks/deliveries", false, target{}},
		{"/healthz", false, target{}},
		{"/", false, target{}},
		{"", false, target{}},
		{"/V1/calls/abc", false, target{}},
		{"/v2/calls/abc", false, target{}},
		{"v1/calls/abc", false, target{}},
		// Malformed.
		{"/v1/calls//captures", false, target{}},
		{"/v1/calls/abc//captures", false, target{}},
		{"/v1/calls/abc/./captures", false, target{}},
		{"/v1/calls/abc/../x/captures", false, target{}},
		{"/v1/calls/../captures/x", false, target{}},
		{"/v1/calls/a.b", false, target{}},
		{"/v1/calls/a b", false, target{}},
		{"/v1/calls/a%2Fb", false, target{}},
		{"/v1/calls/" + strings.Repeat("x", 129), false, target{}},
		{"/v1/captures/ünicode", false, target{}},
		{"/v1/captures/cap*", false, target{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := parseTarget(tt.path)
			if ok != tt.ok || got != tt.want {
				t.Errorf("parseTarget(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCreatesCapture(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v1/calls/abc/captures", true},
		{"POST", "/v1/calls/abc/captures/", true},
		{"GET", "/v1/calls/abc/captures", false},
		{"POST", "/v1/calls/abc", false},
		{"POST", "/v1/captures/abc/cancel", false},
		{"POST", "/v1/calls/abc/agent-tokens", false},
	}
	for _, tt := range tests {
		tg, _ := parseTarget(tt.path)
		if got := tg.createsCapture(tt.method); got != tt.want {
			t.Errorf("%s %s: createsCapture = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestLooksLikeCard(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{`{"amount":1250,"currency":"GBP","reference":"order-1001"}`, false},
		{"12345678901", false},
		{"123456789012", true},
		{"4242 4242 4242 4242", true},
		{"4242-4242-4242-4242", true},
		{`{"reference":"x4242424242424242"}`, true},
		{"424242,424242", false},
		{"42424242.4242", false},
		{`{"idempotency_key":"550e8400-e29b-41d4-a716-446655440000"}`, false},
		{`{"idempotency_key":"1700000000000"}`, true},
		{"550E8400-E29B-41D4-A716-446655440000", false},
		{`{"k":"550e8400-e29b-41d4-a716-446655440000","r":"4242424242424242"}`, true},
		{`["12345678-1234-4234-8234-123456789012","12345678-1234-4234-8234-123456789012"]`, false},
		{"4242424242424242-1234-4234-8234-123456789012", true},
		{"x12345678-1234-4234-8234-123456789012", true},
		{"12345678-1234-4234-8234-1234567890123", true},
		{"2026-08-17T12:34:56.123456789Z", false},
	}
	for _, tt := range tests {
		if got := looksLikeCard([]byte(tt.in)); got != tt.want {
			t.Errorf("looksLikeCard(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	body := []byte(`{"amount":1250,"currency":"GBP","reference":"order-1001"}`)
	r := httptest.NewRequest("POST", "http://api.example/v1/calls/abc-1/captures?x=1&y=two", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer tok")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", "k-1")
	r.Header.Set("Connection", "keep-alive, X-Hop")
	r.Header.Set("X-Hop", "drop me")
	r.Header.Set("Transfer-Encoding", "chunked")
	r.Header.Set(HeaderForwarded, "spoofed")
	r.RemoteAddr = "192.0.2.7:5555"

	data, err := encodeRequest(r, body, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRequest(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.URL.Path != "/v1/calls/abc-1/captures" || got.URL.RawQuery != "x=1&y=two" {
		t.Errorf("request line: %s %s ? %s", got.Method, got.URL.Path, got.URL.RawQuery)
	}
	if got.RequestURI != "/v1/calls/abc-1/captures?x=1&y=two" {
		t.Errorf("RequestURI = %q", got.RequestURI)
	}
	if got.Host != "api.example" || got.RemoteAddr != "192.0.2.7:5555" {
		t.Errorf("host %q remote %q", got.Host, got.RemoteAddr)
	}
	for k, want := range map[string]string{
		"Authorization":     "Bearer tok",
		"Content-Type":      "application/json",
		"Idempotency-Key":   "k-1",
		HeaderForwarded:     "node-a",
		"Connection":        "",
		"X-Hop":             "",
		"Transfer-Encoding": "",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if got.ContentLength != int64(len(body)) {
		t.Errorf("ContentLength = %d", got.ContentLength)
	}
	b, _ := io.ReadAll(got.Body)
	if !bytes.Equal(b, body) {
		t.Errorf("body = %q", b)
	}
	// The mux routes it like the original.
	mux := http.NewServeMux()
	var id string
	mux.HandleFunc("POST /v1/calls/{call_id}/captures", func(w http.ResponseWriter, r *http.Request) { id = r.PathValue("call_id") })
	mux.ServeHTTP(httptest.NewRecorder(), got)
	if id != "abc-1" {
		t.Errorf("routed call_id = %q", id)
	}
}

func TestEncodeRequestRefuses(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"card number", []byte(`{"reference":"4242424242424242"}`), ErrCardLike},
		{"spaced card number", []byte(`{"reference":"4242 4242 4242 4242"}`), ErrCardLike},
		{"too large", bytes.Repeat([]byte("a"), MaxBody+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/calls/abc/captures", nil)
			data, err := encodeRequest(r, tt.body, "node-a")
			if !errors.Is(err, tt.want) || data != nil {
				t.Fatalf("err = %v, data %d bytes; want %v", err, len(data), tt.want)
			}
			if strings.Contains(err.Error(), "4242") {
				t.Errorf("error repeats the body: %v", err)
			}
		})
	}
}

func TestDecodeRequestMalformed(t *testing.T) {
	big := `"` + strings.Repeat("QUFB", MaxBody/3+1) + `"`
	tests := []struct {
		name string
		data string
		want error
	}{
		{"not json", `{`, ErrMalformed},
		{"empty", ``, ErrMalformed},
		{"no method", `{"path":"/v1/calls/a","from":"n"}`, ErrMalformed},
		{"method with space", `{"method":"GET X","path":"/v1/calls/a","from":"n"}`, ErrMalformed},
		{"not a call path", `{"method":"GET","path":"/v1/webhooks/deliveries","from":"n"}`, ErrMalformed},
		{"dot segments", `{"method":"GET","path":"/v1/calls/a/../../healthz","from":"n"}`, ErrMalformed},
		{"no sender", `{"method":"GET","path":"/v1/calls/a"}`, ErrMalformed},
		{"bad sender", `{"method":"GET","path":"/v1/calls/a","from":"a.b"}`, ErrMalformed},
		{"raw path mismatch", `{"method":"GET","path":"/v1/calls/a","raw_path":"/v1/calls/b","from":"n"}`, ErrMalformed},
		{"body not base64", `{"method":"GET","path":"/v1/calls/a","from":"n","body":"!!"}`, ErrMalformed},
		{"body too large", `{"method":"POST","path":"/v1/calls/a/captures","from":"n","body":` + big + `}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decodeRequest(context.Background(), []byte(tt.data))
			if !errors.Is(err, tt.want) || r != nil {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "Location": {"/v1/captures/cap_1"}, "Connection": {"close"}}
	data, err := encodeResponse(201, h, []byte(`{"id":"cap_1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := decodeResponse(data)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	resp.write(w)
	if w.Code != 201 || w.Body.String() != `{"id":"cap_1"}` {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
	if w.Header().Get("Location") != "/v1/captures/cap_1" || w.Header().Get("Connection") != "" {
		t.Errorf("headers %v", w.Header())
	}

	for _, bad := range []string{`{`, `{"status":0}`, `{"status":1000}`, `{"status":"200"}`} {
		if _, err := decodeResponse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeResponse(%s) err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestRecorder(t *testing.T) {
	rec := newRecorder(8)
	if _, err := rec.Write([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	rec.WriteHeader(500) // too late: the first status stands
	if _, err := rec.Write([]byte("6789")); err == nil || !rec.overflow {
		t.Fatalf("write past the limit: err %v overflow %v", err, rec.overflow)
	}
	status, body := rec.result()
	if status != 200 || string(body) != "12345" {
		t.Errorf("got %d %q", status, body)
	}
	if s, _ := newRecorder(8).result(); s != 200 {
		t.Errorf("empty answer status %d, want 200", s)
	}
}
