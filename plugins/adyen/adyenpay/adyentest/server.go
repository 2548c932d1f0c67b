// Package adyentest is a local stand-in for Adyen's Checkout API v71, for
// tests. It checks every request against the documented schema and headers,
// answers with the documented response bodies kept in plugins/adyen/testdata
// (each names the documentation page it comes from), and behaves like Adyen
// where the plugin depends on it: a repeated Idempotency-Key gets the stored
// response of the first request.
//
// Outcomes are chosen the way Adyen's test environment chooses them, by the
// card holder name (DECLINED, NOT_ENOUGH_BALANCE, CARD_EXPIRED, CVC_DECLINED,
// BLOCK_CARD, INVALID_CARD, ISSUER_UNAVAILABLE, FRAUD, ERROR, RECEIVED), plus
// names for transport faults no test environment offers: TW_HTTP_500,
// TW_HTTP_401, TW_SLOW (authorises at once, then answers only after
// the client gave up) and TW_RESET (authorises, then drops the
// connection without answering). Paths under /slow/ are answered late, the
// same way, whatever the card (see SlowSettings).
package adyentest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials the server accepts.
const (
	APIKey          = "test_api_key_adyentest"
	MerchantAccount = "TonewallMOTO"
)

// Request is one request as received. Body is the raw body and holds card
// data for /payments: tests inspect it, nothing prints it.
type Request struct {
	Method         string
	Path           string
	IdempotencyKey string
	Body           []byte
}

type stored struct {
	status int
	body   []byte
}

type payment struct {
	currency string
	value    int64
}

// Server is the fake Checkout API.
type Server struct {
	*httptest.Server

	tb       testing.TB
	fixtures map[string]fixture

	mu         sync.Mutex
	requests   []Request
	violations []string
	byKey      map[string]stored
	payments   map[string]payment
	seq        int
}

type fixture struct {
	Source string          `json:"source"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// NewServer starts a server on 127.0.0.1 and closes it when the test ends.
// Schema violations are reported with tb.Errorf as they happen.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		tb:       tb,
		fixtures: loadFixtures(tb),
		byKey:    make(map[string]stored),
		payments: make(map[string]payment),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Server.Close)
	return s
}

func loadFixtures(tb testing.TB) map[string]fixture {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("adyentest: cannot locate fixtures")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("adyentest: no fixtures in %s", dir)
	}
	out := make(map[string]fixture, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatalf("adyentest: %v", err)
		}
		var f fixture
		if err := json.Unmarshal(data, &f); err != nil || f.Source == "" || f.Status == 0 {
			tb.Fatalf("adyentest: fixture %s needs source, status and body", filepath.Base(p))
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = f
	}
	return out
}

// Settings returns the plugin settings that point at this server.
func (s *Server) Settings() map[string]string {
	return map[string]string{
		"base_url":         s.URL,
		"merchant_account": MerchantAccount,
		"timeout":          "2s",
	}
}

// SlowSettings returns settings under which every call is answered only
// after the client has given up (or after ten seconds); the server still
// processes the request, as a PSP whose response was lost would.
func (s *Server) SlowSettings() map[string]string {
	return map[string]string{"base_url": s.URL + "/slow"}
}

// Secrets returns the plugin secrets this server accepts.
func (s *Server) Secrets() map[string][]byte {
	return map[string][]byte{"api_key": []byte(APIKey)}
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations returns the schema and header problems seen so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) violate(problems ...string) {
	if len(problems) == 0 {
		return
	}
	s.mu.Lock()
	s.violations = append(s.violations, problems...)
	s.mu.Unlock()
	for _, p := range problems {
		s.tb.Errorf("adyentest: request violates the Checkout API schema: %s", p)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	key := r.Header.Get("Idempotency-Key")
	if rest, slow := strings.CutPrefix(r.URL.Path, "/slow"); slow {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		r.URL.Path = rest
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: key, Body: body})
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		s.violate(fmt.Sprintf("%s %s: want POST", r.Method, r.URL.Path))
		s.write(w, "error-400", nil)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violate("header Content-Type: want application/json")
	}
	if key == "" || len(key) > 64 {
		s.violate("header Idempotency-Key: required, at most 64 characters")
	}
	if r.Header.Get("X-API-Key") != APIKey {
		s.write(w, "error-401", nil)
		return
	}
	if key != "" {
		s.mu.Lock()
		st, seen := s.byKey[key]
		s.mu.Unlock()
		if seen {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotency-Key", key)
			w.WriteHeader(st.status)
			_, _ = w.Write(st.body)
			return
		}
	}

	switch path := strings.TrimPrefix(r.URL.Path, "/v71"); {
	case path == "/payments":
		s.payments1(w, r, key, body)
	case strings.HasPrefix(path, "/payments/"):
		parts := strings.Split(strings.TrimPrefix(path, "/payments/"), "/")
		if len(parts) != 2 {
			s.violate("path " + r.URL.Path + ": unknown endpoint")
			s.write(w, "error-400", nil)
			return
		}
		s.modification(w, key, parts[0], parts[1], body)
	default:
		s.violate("path " + r.URL.Path + ": unknown endpoint")
		s.write(w, "error-400", nil)
	}
}

// refusals maps test holder names to Adyen's refusal code and reason.
var refusals = map[string][2]string{
	"DECLINED":           {"2", "Refused"},
	"BLOCK_CARD":         {"5", "Blocked Card"},
	"CARD_EXPIRED":       {"6", "Expired Card"},
	"INVALID_CARD":       {"8", "Invalid Card Number"},
	"ISSUER_UNAVAILABLE": {"9", "Issuer Unavailable"},
	"NOT_ENOUGH_BALANCE": {"12", "Not enough balance"},
	"FRAUD":              {"20", "FRAUD"},
	"CVC_DECLINED":       {"24", "CVC Declined"},
}

func (s *Server) payments1(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	f, problems := checkPayment(body)
	s.violate(problems...)
	if len(problems) > 0 {
		s.write(w, "error-422", map[string]any{"errorCode": "702", "message": "Request does not match the schema"})
		return
	}
	if !f.hasCard {
		s.write(w, "error-422", map[string]any{"errorCode": "101", "message": "Invalid card number"})
		return
	}
	psp := s.nextPSP()
	authorised := map[string]any{"pspReference": psp, "merchantReference": f.reference}
	name := strings.ToUpper(f.holderName)
	switch name {
	case "TW_HTTP_500":
		s.write(w, "error-500", nil)
		return
	case "TW_HTTP_401":
		s.write(w, "error-401", nil)
		return
	case "TW_SLOW":
		// The payment is made at once; only the answer is late, so a status
		// query sent the moment the client gives up finds it.
		s.remember(key, "payments-authorised", authorised, f, psp)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case "TW_RESET":
		s.remember(key, "payments-authorised", authorised, f, psp)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		w.WriteHeader(http.StatusBadGateway)
		return
	case "ERROR":
		s.respond(w, key, "payments-error", map[string]any{"pspReference": psp}, f, "")
		return
	case "RECEIVED":
		s.respond(w, key, "payments-received", map[string]any{"pspReference": psp}, f, "")
		return
	}
	if ref, ok := refusals[name]; ok {
		s.respond(w, key, "payments-refused", map[string]any{
			"pspReference": psp, "refusalReasonCode": ref[0], "refusalReason": ref[1],
		}, f, "")
		return
	}
	if f.store {
		s.respond(w, key, "payments-tokenized", map[string]any{"pspReference": psp, "merchantReference": f.reference}, f, psp)
		return
	}
	s.respond(w, key, "payments-authorised", authorised, f, psp)
}

func (s *Server) modification(w http.ResponseWriter, key, psp, kind string, body []byte) {
	needAmount := kind == "captures" || kind == "refunds"
	if kind != "captures" && kind != "cancels" && kind != "refunds" {
		s.violate("path /payments/{pspReference}/" + kind + ": unknown endpoint")
		s.write(w, "error-400", nil)
		return
	}
	f, problems := checkModification(body, needAmount)
	s.violate(problems...)
	if len(problems) > 0 {
		s.write(w, "error-422", map[string]any{"errorCode": "702", "message": "Request does not match the schema"})
		return
	}
	if f.merchantAccount == "" {
		s.write(w, "error-422", map[string]any{"errorCode": "14_005", "message": "Required field 'merchantAccount' is not provided."})
		return
	}
	if f.merchantAccount != MerchantAccount {
		s.write(w, "error-403", nil)
		return
	}
	s.mu.Lock()
	p, known := s.payments[psp]
	s.mu.Unlock()
	if !known {
		s.write(w, "error-422", map[string]any{"errorCode": "167", "message": "Original pspReference required for this operation"})
		return
	}
	if needAmount && (f.currency != p.currency || f.value > p.value) {
		s.write(w, "error-422", map[string]any{"errorCode": "137", "message": "Invalid amount specified"})
		return
	}
	over := map[string]any{
		"merchantAccount":     f.merchantAccount,
		"paymentPspReference": psp,
		"reference":           f.reference,
		"pspReference":        s.nextPSP(),
	}
	if needAmount {
		over["amount"] = map[string]any{"currency": f.currency, "value": f.value}
	}
	st := s.render(kind+"-201", over)
	s.store(key, st)
	s.send(w, key, st)
}

// respond renders a fixture, remembers it under key and sends it. A
// non-empty psp records an authorised payment for later modifications.
func (s *Server) respond(w http.ResponseWriter, key, name string, over map[string]any, f paymentFields, psp string) {
	st := s.remember(key, name, over, f, psp)
	s.send(w, key, st)
}

func (s *Server) remember(key, name string, over map[string]any, f paymentFields, psp string) stored {
	st := s.render(name, over)
	s.store(key, st)
	if psp != "" {
		s.mu.Lock()
		s.payments[psp] = payment{currency: f.currency, value: f.value}
		s.mu.Unlock()
	}
	return st
}

func (s *Server) store(key string, st stored) {
	if key == "" {
		return
	}
	s.mu.Lock()
	s.byKey[key] = st
	s.mu.Unlock()
}

func (s *Server) send(w http.ResponseWriter, key string, st stored) {
	w.Header().Set("Content-Type", "application/json")
	if key != "" {
		w.Header().Set("Idempotency-Key", key)
	}
	w.WriteHeader(st.status)
	_, _ = w.Write(st.body)
}

// write sends a fixture without remembering it (errors before processing).
func (s *Server) write(w http.ResponseWriter, name string, over map[string]any) {
	s.send(w, "", s.render(name, over))
}

// render returns fixture name with top-level fields replaced by over.
func (s *Server) render(name string, over map[string]any) stored {
	f, ok := s.fixtures[name]
	if !ok {
		s.tb.Errorf("adyentest: missing fixture %s", name)
		return stored{status: 500, body: []byte(`{}`)}
	}
	var body map[string]any
	if err := json.Unmarshal(f.Body, &body); err != nil {
		s.tb.Errorf("adyentest: fixture %s: %v", name, err)
		return stored{status: 500, body: []byte(`{}`)}
	}
	for k, v := range over {
		body[k] = v
	}
	data, _ := json.Marshal(body)
	return stored{status: f.Status, body: data}
}

func (s *Server) nextPSP() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("TW%014d", s.seq)
}
