// Package worldpaytest is a local stand-in for the Access Worldpay Payments
// API (2024-06-01) and the Payment Queries API, for tests. It checks every
// request against the documented schema and headers, answers with the
// documented response bodies kept in plugins/worldpay/testdata (each names
// the documentation page it comes from), and keeps each payment's state so
// the action links it hands out (settle, cancel, refund, query) work.
//
// Outcomes follow Worldpay's test convention of magic card holder names:
// REFUSED (refusal code 5) and, an extension of this server, REFUSED<code>
// for any refusal code (REFUSED51, REFUSED54, REFUSED82, ...) and
// FRAUD_HIGH_RISK. Transport faults: TW_HTTP_500, TW_HTTP_401, TW_SLOW
// (answers only after the client gave up, then keeps the authorisation) and
// TW_RESET (authorises, then drops the connection). Paths under /slow are
// answered late whatever the card (see SlowSettings).
package worldpaytest

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

// Credentials and merchant the server accepts.
const (
	Username = "tonewall-test"
	Password = "worldpaytest-password"
	Entity   = "default"
)

// Request is one request as received; Body holds card data for payments.
type Request struct {
	Method        string
	Path          string
	CorrelationID string
	Body          []byte
}

type payment struct {
	link     string
	id       string
	txnRef   string
	currency string
	amount   int64
	stage    string // authorized, sentForSettlement, sentForCancellation, sentForRefund, refused
}

type fixture struct {
	Source string          `json:"source"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Server is the fake Worldpay.
type Server struct {
	*httptest.Server

	tb       testing.TB
	fixtures map[string]fixture

	mu         sync.Mutex
	requests   []Request
	violations []string
	byLink     map[string]*payment
	byTxnRef   map[string]*payment
	seq        int
}

// NewServer starts a server on 127.0.0.1 and closes it when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, fixtures: loadFixtures(tb), byLink: map[string]*payment{}, byTxnRef: map[string]*payment{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Server.Close)
	return s
}

func loadFixtures(tb testing.TB) map[string]fixture {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("worldpaytest: cannot locate fixtures")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(paths) == 0 {
		tb.Fatalf("worldpaytest: no fixtures in %s", dir)
	}
	out := map[string]fixture{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatalf("worldpaytest: %v", err)
		}
		var f fixture
		if err := json.Unmarshal(data, &f); err != nil || f.Source == "" || f.Status == 0 {
			tb.Fatalf("worldpaytest: fixture %s needs source, status and body", filepath.Base(p))
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = f
	}
	return out
}

// Settings returns plugin settings that point at this server.
func (s *Server) Settings() map[string]string {
	return map[string]string{"base_url": s.URL, "entity": Entity, "narrative": "Tonewall Test", "timeout": "2s"}
}

// SlowSettings returns settings under which every payment is answered late.
func (s *Server) SlowSettings() map[string]string {
	return map[string]string{"base_url": s.URL + "/slow"}
}

// Secrets returns the plugin secrets this server accepts.
func (s *Server) Secrets() map[string][]byte {
	return map[string][]byte{"username": []byte(Username), "password": []byte(Password)}
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
		s.tb.Errorf("worldpaytest: request violates the Payments API schema: %s", p)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, CorrelationID: r.Header.Get("WP-CorrelationId"), Body: body})
	s.mu.Unlock()
	path := r.URL.Path
	if rest, slow := strings.CutPrefix(path, "/slow"); slow {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		path = rest
	}
	if u, p, ok := r.BasicAuth(); !ok || u != Username || p != Password {
		s.write(w, "error-401", nil)
		return
	}
	if strings.HasPrefix(path, "/paymentQueries/") {
		s.query(w, r)
		return
	}
	if v := r.Header.Get("WP-Api-Version"); v != "2024-06-01" {
		s.violate("header WP-Api-Version: want 2024-06-01")
	}
	if r.Method == http.MethodPost && len(body) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.violate("header Content-Type: want application/json")
	}
	switch {
	case path == "/api/payments" && r.Method == http.MethodPost:
		s.pay(w, r, body)
	case strings.HasPrefix(path, "/api/payments/"):
		parts := strings.Split(strings.TrimPrefix(path, "/api/payments/"), "/")
		s.action(w, r.Method, parts, body)
	default:
		s.violate(r.Method + " " + path + ": unknown endpoint")
		s.write(w, "error-401", map[string]any{"errorName": "notFound", "message": "not found"})
	}
}

func (s *Server) pay(w http.ResponseWriter, r *http.Request, body []byte) {
	f, problems := checkPayment(body)
	s.violate(problems...)
	if len(problems) > 0 {
		var ve []map[string]string
		for _, p := range problems {
			path, _, _ := strings.Cut(p, ":")
			ve = append(ve, map[string]string{"errorName": "fieldHasInvalidValue", "message": "Field is invalid", "jsonPath": path})
		}
		s.write(w, "error-400", map[string]any{"validationErrors": ve})
		return
	}
	name := strings.ToUpper(f.holderName)
	switch {
	case name == "TW_HTTP_500":
		s.write(w, "error-500", nil)
		return
	case name == "TW_HTTP_401":
		s.write(w, "error-401", nil)
		return
	case name == "FRAUD_HIGH_RISK":
		s.send(w, 201, map[string]any{"outcome": "fraudHighRisk", "transactionReference": f.txnRef, "score": 98.5, "reason": []string{"high risk email"}})
		return
	case strings.HasPrefix(name, "REFUSED"):
		code := strings.TrimPrefix(name, "REFUSED")
		if code == "" {
			code = "5"
		}
		s.record(f, "refused")
		s.render(w, "payment-refused", map[string]any{"transactionReference": f.txnRef, "refusalCode": code, "refusalDescription": "REFUSED " + code})
		return
	}
	stage, fix := "authorized", "payment-authorized"
	if f.token {
		fix = "payment-tokenized"
	}
	if f.auto {
		stage, fix = "sentForSettlement", "payment-sent-for-settlement"
	}
	p := s.record(f, stage)
	over := map[string]any{"transactionReference": f.txnRef, "paymentId": p.id, "_links": s.links(p), "_actions": s.actions(p)}
	switch name {
	case "TW_SLOW":
		<-r.Context().Done()
		return
	case "TW_RESET":
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	s.render(w, fix, over)
}

func (s *Server) record(f paymentFields, stage string) *payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	p := &payment{link: fmt.Sprintf("lnk%06d", s.seq), id: fmt.Sprintf("pay%06d", s.seq), txnRef: f.txnRef, currency: f.currency, amount: f.amount, stage: stage}
	s.byLink[p.link] = p
	s.byTxnRef[f.txnRef] = p
	return p
}

func (s *Server) links(p *payment) map[string]any {
	return map[string]any{"self": map[string]string{"href": s.URL + "/api/payments/" + p.link}}
}

// actions lists what the payment's state allows, as the API does.
func (s *Server) actions(p *payment) map[string]any {
	a := func(name string) map[string]string {
		return map[string]string{"href": s.URL + "/api/payments/" + p.link + "/" + name, "method": "POST"}
	}
	switch p.stage {
	case "authorized":
		return map[string]any{"cancelPayment": a("cancellations"), "settlePayment": a("settlements"), "partiallySettlePayment": a("partialSettlements")}
	case "sentForSettlement":
		return map[string]any{"refundPayment": a("refunds"), "partiallyRefundPayment": a("partialRefunds")}
	}
	return map[string]any{}
}

func (s *Server) action(w http.ResponseWriter, method string, parts []string, body []byte) {
	s.mu.Lock()
	p, ok := s.byLink[parts[0]]
	s.mu.Unlock()
	if !ok {
		s.send(w, 404, map[string]any{"errorName": "notFound", "message": "The payment was not found"})
		return
	}
	if len(parts) == 1 && method == http.MethodGet {
		s.mu.Lock()
		over := map[string]any{"lastEvent": p.stage, "_actions": s.actions(p)}
		s.mu.Unlock()
		s.render(w, "query-events-200", over)
		return
	}
	if len(parts) != 2 || method != http.MethodPost {
		s.violate(method + " /api/payments/{linkData}/...: unknown endpoint")
		s.send(w, 404, map[string]any{"errorName": "notFound", "message": "not found"})
		return
	}
	var need, next, fix string
	partial := false
	switch parts[1] {
	case "settlements":
		need, next, fix = "authorized", "sentForSettlement", "action-settle-202"
	case "partialSettlements":
		need, next, fix, partial = "authorized", "sentForSettlement", "action-settle-202", true
	case "cancellations":
		need, next, fix = "authorized", "sentForCancellation", "action-cancel-202"
	case "refunds":
		need, next, fix = "sentForSettlement", "sentForRefund", "action-refund-202"
	case "partialRefunds":
		need, next, fix, partial = "sentForSettlement", "sentForRefund", "action-refund-202", true
	default:
		s.violate("POST /api/payments/{linkData}/" + parts[1] + ": unknown action")
		s.send(w, 404, map[string]any{"errorName": "notFound", "message": "not found"})
		return
	}
	if partial {
		cur, amt, problems := checkPartial(body)
		s.violate(problems...)
		if len(problems) > 0 || cur != p.currency || amt > p.amount {
			s.write(w, "error-400", map[string]any{"validationErrors": []map[string]string{{"errorName": "fieldHasInvalidValue", "message": "Amount is invalid", "jsonPath": "$.value.amount"}}})
			return
		}
	} else if len(body) > 0 && strings.TrimSpace(string(body)) != "{}" {
		s.violate("POST " + parts[1] + ": no request body is needed")
	}
	s.mu.Lock()
	if p.stage != need {
		s.mu.Unlock()
		s.send(w, 409, map[string]any{"errorName": "stateConflict", "message": "The payment is not in a state that allows this action"})
		return
	}
	p.stage = next
	over := map[string]any{"outcome": next, "_links": s.links(p), "_actions": s.actions(p)}
	if next == "sentForRefund" && partial {
		over["outcome"] = "sentForPartialRefund"
	}
	s.mu.Unlock()
	s.render(w, fix, over)
}

// queryEvents names the state the way Payment Queries does.
var queryEvents = map[string]string{
	"authorized":          "authorizationSucceeded",
	"sentForSettlement":   "settlementRequested",
	"sentForCancellation": "cancellationRequested",
	"sentForRefund":       "refundRequested",
	"refused":             "authorizationRefused",
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("Accept"); a != "application/vnd.worldpay.payment-queries-v1.hal+json" {
		s.violate("header Accept: want application/vnd.worldpay.payment-queries-v1.hal+json")
	}
	ref := r.URL.Query().Get("transactionReference")
	if r.URL.Path != "/paymentQueries/payments" || ref == "" {
		s.violate("GET " + r.URL.Path + ": want /paymentQueries/payments?transactionReference=")
	}
	s.mu.Lock()
	p, ok := s.byTxnRef[ref]
	var payments []map[string]any
	if ok {
		payments = append(payments, map[string]any{
			"paymentId": p.id, "transactionReference": p.txnRef, "entity": Entity, "lastEvent": queryEvents[p.stage],
			"value": map[string]any{"currency": p.currency, "amount": p.amount},
		})
	}
	s.mu.Unlock()
	s.render(w, "payment-queries-200", map[string]any{"_embedded": map[string]any{"payments": payments}})
}

func (s *Server) send(w http.ResponseWriter, status int, body any) {
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (s *Server) write(w http.ResponseWriter, name string, over map[string]any) {
	s.render(w, name, over)
}

// render sends fixture name with top-level fields replaced by over.
func (s *Server) render(w http.ResponseWriter, name string, over map[string]any) {
	f, ok := s.fixtures[name]
	if !ok {
		s.tb.Errorf("worldpaytest: missing fixture %s", name)
		s.send(w, 500, map[string]any{})
		return
	}
	var body map[string]any
	if err := json.Unmarshal(f.Body, &body); err != nil {
		s.tb.Errorf("worldpaytest: fixture %s: %v", name, err)
	}
	for k, v := range over {
		body[k] = v
	}
	s.send(w, f.Status, body)
}
