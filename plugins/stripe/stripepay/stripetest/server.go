// Package stripetest is a local Stripe-like server for tests of what
// stripe-mock cannot do: it keeps PaymentIntents, declines Stripe's
// documented decline test cards, honours Idempotency-Key the way Stripe does
// (a repeated key gets the stored response) and produces faults: amount 5001
// answers 500, 5002 charges and then drops the connection, 5003 charges but
// answers only after the client gave up. Paths under /slow are answered late
// whatever the request (see SlowSettings). Bodies follow the shapes in
// Stripe's API reference (https://docs.stripe.com/api).
package stripetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIKey is the secret key the server accepts.
const APIKey = "sk_test_stripetest"

// declines are Stripe's decline test cards (https://docs.stripe.com/testing#declined-payments).
var declines = map[string][2]string{ // number → code, decline_code
	"4000000000000002": {"card_declined", "generic_decline"},
	"4000000000009995": {"card_declined", "insufficient_funds"},
	"4000000000000069": {"expired_card", ""},
	"4000000000000127": {"incorrect_cvc", ""},
}

// Request is one request as received; Body may hold card data.
type Request struct {
	Method, Path, IdempotencyKey string
	Body                         []byte
}

// Server is the fake Stripe API.
type Server struct {
	*httptest.Server
	tb testing.TB

	mu         sync.Mutex
	seq        int
	requests   []Request
	violations []string
	byKey      map[string]stored
	pms        map[string]string         // pm id → card number class
	pis        map[string]map[string]any // pi id → PaymentIntent
	refunds    []map[string]any
	setups     map[string]map[string]any
}

type stored struct {
	status int
	body   []byte
}

// NewServer starts a server on 127.0.0.1, closed when the test ends.
func NewServer(tb testing.TB) *Server {
	s := &Server{tb: tb, byKey: map[string]stored{}, pms: map[string]string{}, pis: map[string]map[string]any{}, setups: map[string]map[string]any{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Server.Close)
	return s
}

// Settings points the plugin at the server.
func (s *Server) Settings() map[string]string {
	return map[string]string{"api_base": s.URL, "timeout": "2s"}
}

// SlowSettings makes every call slow.
func (s *Server) SlowSettings() map[string]string {
	return map[string]string{"api_base": s.URL + "/slow"}
}

// Secrets returns the key the server accepts.
func (s *Server) Secrets() map[string][]byte { return map[string][]byte{"api_key": []byte(APIKey)} }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations returns protocol problems seen so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) violate(msg string) {
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.tb.Errorf("stripetest: %s", msg)
}

func (s *Server) id(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_tw%08d", prefix, s.seq)
}

func stripeError(status int, typ, code, decline, msg string, pi map[string]any) stored {
	e := map[string]any{"type": typ, "code": code, "message": msg}
	if decline != "" {
		e["decline_code"] = decline
	}
	if pi != nil {
		e["payment_intent"] = pi
	}
	data, _ := json.Marshal(map[string]any{"error": e})
	return stored{status, data}
}

func ok(v any) stored {
	data, _ := json.Marshal(v)
	return stored{200, data}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	key := r.Header.Get("Idempotency-Key")
	path := r.URL.Path
	s.mu.Lock()
	s.requests = append(s.requests, Request{r.Method, path, key, body})
	s.mu.Unlock()
	if rest, slow := strings.CutPrefix(path, "/slow"); slow {
		<-r.Context().Done()
		path = rest
	}
	if r.Header.Get("Authorization") != "Bearer "+APIKey {
		send(w, stripeError(401, "invalid_request_error", "", "", "Invalid API Key provided", nil))
		return
	}
	if r.Method == http.MethodPost {
		if key == "" {
			s.violate("POST " + path + " without Idempotency-Key")
		}
		s.mu.Lock()
		st, seen := s.byKey[key]
		s.mu.Unlock()
		if seen {
			send(w, st)
			return
		}
	}
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	st, after := s.route(r.Method, path, r.URL.Query(), form)
	if r.Method == http.MethodPost && key != "" && st.status != 0 {
		s.byKey[key] = st
	}
	s.mu.Unlock()
	switch after {
	case "reset":
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	case "slow":
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
		}
	}
	send(w, st)
}

func send(w http.ResponseWriter, st stored) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_stripetest")
	w.WriteHeader(st.status)
	w.Write(st.body)
}

func metadata(form url.Values) map[string]string {
	m := map[string]string{}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok {
			m[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	return m
}

// route handles one request with s.mu held.
func (s *Server) route(method, path string, q, form url.Values) (stored, string) {
	notFound := stripeError(404, "invalid_request_error", "resource_missing", "", "No such object", nil)
	switch {
	case method == "POST" && path == "/v1/payment_methods":
		num := form.Get("card[number]")
		if form.Get("type") != "card" || len(num) < 12 || form.Get("card[exp_month]") == "" || form.Get("card[exp_year]") == "" {
			s.violations = append(s.violations, "payment_methods: type, card[number], card[exp_month], card[exp_year] required")
			return stripeError(400, "invalid_request_error", "parameter_missing", "", "Missing required param", nil), ""
		}
		id := s.id("pm")
		s.pms[id] = num
		m, _ := strconv.Atoi(form.Get("card[exp_month]"))
		y, _ := strconv.Atoi(form.Get("card[exp_year]"))
		return ok(map[string]any{"id": id, "object": "payment_method", "type": "card",
			"card": map[string]any{"last4": num[len(num)-4:], "exp_month": m, "exp_year": y}, "metadata": metadata(form)}), ""
	case method == "POST" && path == "/v1/payment_intents":
		if form.Get("confirm") != "true" || form.Get("payment_method_options[card][moto]") != "true" {
			s.violations = append(s.violations, "payment_intents: confirm=true and payment_method_options[card][moto]=true required")
		}
		num, known := s.pms[form.Get("payment_method")]
		amount, _ := strconv.ParseInt(form.Get("amount"), 10, 64)
		if !known || amount <= 0 || len(form.Get("currency")) != 3 {
			return stripeError(400, "invalid_request_error", "parameter_invalid", "", "Invalid payment_method, amount or currency", nil), ""
		}
		if amount == 5001 {
			return stripeError(500, "api_error", "", "", "An unknown error occurred", nil), ""
		}
		pi := map[string]any{"id": s.id("pi"), "object": "payment_intent", "amount": amount, "currency": form.Get("currency"),
			"capture_method": form.Get("capture_method"), "payment_method": form.Get("payment_method"), "metadata": metadata(form)}
		s.pis[pi["id"].(string)] = pi
		if d, declined := declines[num]; declined {
			pi["status"] = "requires_payment_method"
			pi["last_payment_error"] = map[string]any{"type": "card_error", "code": d[0], "decline_code": d[1]}
			return stripeError(402, "card_error", d[0], d[1], "Your card was declined.", pi), ""
		}
		pi["status"] = "succeeded"
		if form.Get("capture_method") == "manual" {
			pi["status"] = "requires_capture"
		}
		switch amount {
		case 5002:
			return ok(pi), "reset"
		case 5003:
			return ok(pi), "slow"
		}
		return ok(pi), ""
	case method == "GET" && path == "/v1/payment_intents/search":
		var data []any
		for _, pi := range s.pis {
			md := pi["metadata"].(map[string]string)
			if strings.Contains(q.Get("query"), "'"+md["tonewall_txn"]+"'") {
				data = append(data, pi)
			}
		}
		return ok(map[string]any{"object": "search_result", "data": data, "has_more": false, "url": "/v1/payment_intents/search"}), ""
	case strings.HasPrefix(path, "/v1/payment_intents/"):
		parts := strings.Split(strings.TrimPrefix(path, "/v1/payment_intents/"), "/")
		pi, found := s.pis[parts[0]]
		if !found {
			return notFound, ""
		}
		if method == "GET" && len(parts) == 1 {
			return ok(pi), ""
		}
		unexpected := stripeError(400, "invalid_request_error", "payment_intent_unexpected_state", "", "This PaymentIntent's state does not allow this action", pi)
		switch {
		case method == "POST" && len(parts) == 2 && parts[1] == "capture":
			if pi["status"] != "requires_capture" {
				return unexpected, ""
			}
			pi["status"] = "succeeded"
		case method == "POST" && len(parts) == 2 && parts[1] == "cancel":
			if pi["status"] != "requires_capture" && pi["status"] != "requires_payment_method" {
				return unexpected, ""
			}
			pi["status"] = "canceled"
		default:
			return notFound, ""
		}
		return ok(pi), ""
	case method == "POST" && path == "/v1/refunds":
		pi, found := s.pis[form.Get("payment_intent")]
		if !found || pi["status"] != "succeeded" {
			return stripeError(400, "invalid_request_error", "charge_not_refundable", "", "This charge cannot be refunded", nil), ""
		}
		amount := pi["amount"]
		if a := form.Get("amount"); a != "" {
			amount, _ = strconv.ParseInt(a, 10, 64)
		}
		re := map[string]any{"id": s.id("re"), "object": "refund", "status": "succeeded", "amount": amount, "payment_intent": pi["id"], "metadata": metadata(form)}
		s.refunds = append(s.refunds, re)
		return ok(re), ""
	case method == "GET" && path == "/v1/refunds":
		var data []any
		for _, re := range s.refunds {
			if re["payment_intent"] == q.Get("payment_intent") {
				data = append(data, re)
			}
		}
		return ok(map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/refunds"}), ""
	case method == "POST" && path == "/v1/setup_intents":
		if _, known := s.pms[form.Get("payment_method")]; !known || form.Get("payment_method_options[card][moto]") != "true" {
			return stripeError(400, "invalid_request_error", "parameter_invalid", "", "Invalid payment_method", nil), ""
		}
		si := map[string]any{"id": s.id("seti"), "object": "setup_intent", "status": "succeeded", "usage": form.Get("usage"),
			"payment_method": form.Get("payment_method"), "metadata": metadata(form)}
		s.setups[si["id"].(string)] = si
		return ok(si), ""
	case method == "GET" && strings.HasPrefix(path, "/v1/setup_intents/"):
		if si, found := s.setups[strings.TrimPrefix(path, "/v1/setup_intents/")]; found {
			return ok(si), ""
		}
		return notFound, ""
	}
	s.violations = append(s.violations, method+" "+path+": unknown endpoint")
	return notFound, ""
}
