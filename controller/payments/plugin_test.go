package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// pspPlugin is the provider the test binary serves when the host launches it
// as a plugin. It charges the fake PSP that runs in the test process, over
// HTTP, so a charge outlives the plugin process. It never sends or logs the
// card: only its last four digits.
type pspPlugin struct {
	log  *slog.Logger
	http *http.Client

	mu     sync.Mutex
	url    string
	apiKey string
	delay  time.Duration // before each charge, ignoring the context (a wedged PSP client)
}

func (p *pspPlugin) Describe(context.Context, *pluginsdk.DescribeRequest) (*pluginsdk.DescribeResponse, error) {
	return &pluginsdk.DescribeResponse{
		Name: "testpsp", Version: "0.1.0", Brands: []string{"visa", "mastercard"},
		Operations: []pluginsdk.Operation{
			pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpCapture,
			pluginsdk.OpVoid, pluginsdk.OpRefund, pluginsdk.OpStatus,
		},
	}, nil
}

func (p *pspPlugin) Configure(_ context.Context, req *pluginsdk.ConfigureRequest) (*pluginsdk.ConfigureResponse, error) {
	delay, _ := time.ParseDuration(req.Settings["delay"])
	p.mu.Lock()
	p.url, p.apiKey, p.delay = req.Settings["psp_url"], string(req.Secrets["api_key"]), delay
	p.mu.Unlock()
	p.log.Info("configured", "secrets", len(req.Secrets))
	return &pluginsdk.ConfigureResponse{}, nil
}

func (p *pspPlugin) settings() (string, string, time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.url == "" {
		return "", "", 0, pluginsdk.ErrNotConfigured
	}
	return p.url, p.apiKey, p.delay, nil
}

// pspCharge is the fake PSP's wire form.
type pspCharge struct {
	ID       string `json:"id"`
	Tx       string `json:"tx"`
	Op       string `json:"op"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Last4    string `json:"last4"`
	Status   string `json:"status"`
}

func (p *pspPlugin) do(ctx context.Context, method, path, key string, body any) (*pspCharge, int, error) {
	base, apiKey, _, err := p.settings()
	if err != nil {
		return nil, 0, err
	}
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	var c pspCharge
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, resp.StatusCode, err
	}
	return &c, resp.StatusCode, nil
}

func result(tx string, c *pspCharge) *pluginsdk.Result {
	r := &pluginsdk.Result{TransactionID: tx, ProviderReference: c.ID, Last4: c.Last4, ProviderCode: c.Status}
	switch c.Status {
	case "approved":
		r.Outcome = pluginsdk.OutcomeApproved
	case "declined":
		r.Outcome, r.Reason = pluginsdk.OutcomeDeclined, pluginsdk.ReasonCardDeclined
	default:
		r.Outcome = pluginsdk.OutcomeUnknown
	}
	return r
}

func (p *pspPlugin) charge(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	_, _, delay, err := p.settings()
	if err != nil {
		return nil, err
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	n := req.Card.Number
	body := pspCharge{Tx: req.TransactionID, Op: string(op), Amount: req.Amount.Minor, Currency: req.Amount.Currency}
	if len(n) >= 4 {
		body.Last4 = string(n[len(n)-4:])
	}
	c, code, err := p.do(ctx, http.MethodPost, "/charges", req.IdempotencyKey, body)
	switch {
	case err != nil:
		// The request may have reached the PSP: say so.
		p.log.Warn("charge failed", "transaction_id", req.TransactionID, "error", err.Error())
		return &pluginsdk.Result{TransactionID: req.TransactionID, Outcome: pluginsdk.OutcomeUnknown}, nil
	case code != http.StatusOK:
		return &pluginsdk.Result{TransactionID: req.TransactionID, Outcome: pluginsdk.OutcomeUnknown, ProviderCode: strconv.Itoa(code)}, nil
	}
	p.log.Info("charged", "transaction_id", req.TransactionID, "last4", c.Last4, "status", c.Status)
	return result(req.TransactionID, c), nil
}

func (p *pspPlugin) Authorize(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.charge(ctx, pluginsdk.OpAuthorize, req)
}

func (p *pspPlugin) Sale(ctx context.Context, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return p.charge(ctx, pluginsdk.OpSale, req)
}

func (p *pspPlugin) Tokenize(context.Context, *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	return nil, pluginsdk.ErrUnsupported
}

func (p *pspPlugin) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	body := pspCharge{Tx: req.TransactionID, Op: string(op), ID: req.ProviderReference, Amount: req.Amount.Minor}
	c, code, err := p.do(ctx, http.MethodPost, "/modify", req.IdempotencyKey, body)
	if err != nil || code != http.StatusOK {
		return &pluginsdk.Result{TransactionID: req.TransactionID, Outcome: pluginsdk.OutcomeUnknown}, nil
	}
	return result(req.TransactionID, c), nil
}

func (p *pspPlugin) Capture(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpCapture, req)
}

func (p *pspPlugin) Void(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpVoid, req)
}

func (p *pspPlugin) Refund(ctx context.Context, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	return p.modify(ctx, pluginsdk.OpRefund, req)
}

// Status asks the PSP for the transaction: found is final, not found means
// it never arrived.
func (p *pspPlugin) Status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	c, code, err := p.do(ctx, http.MethodGet, "/charges?tx="+url.QueryEscape(req.TransactionID), "", nil)
	switch {
	case err != nil:
		return nil, pluginsdk.Errorf(pluginsdk.KindProviderUnavailable, "status: %v", err)
	case code == http.StatusNotFound:
		return &pluginsdk.Result{TransactionID: req.TransactionID, Outcome: pluginsdk.OutcomeFailedBefore, ProviderCode: "not_found"}, nil
	case code != http.StatusOK:
		return &pluginsdk.Result{TransactionID: req.TransactionID, Outcome: pluginsdk.OutcomeUnknown}, nil
	}
	return result(req.TransactionID, c), nil
}

// servePlugin runs the test binary as a plugin. args[0] picks the behaviour:
//
//	psp [--crash-file F --crash-on 2,3]  the PSP plugin; with a crash file it
//	                                      counts its launches there and exits
//	                                      before the handshake on the listed ones
//	noisy                                 writes to stdout before the handshake
func servePlugin(args []string) {
	role := ""
	if len(args) > 0 {
		role = args[0]
	}
	if role == "noisy" {
		fmt.Println("hello from the plugin")
	}
	var crashFile, crashOn string
	for i := 1; i+1 < len(args); i += 2 {
		switch args[i] {
		case "--crash-file":
			crashFile = args[i+1]
		case "--crash-on":
			crashOn = args[i+1]
		}
	}
	if crashFile != "" {
		n := 0
		if b, err := os.ReadFile(crashFile); err == nil {
			n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		n++
		if err := os.WriteFile(crashFile, []byte(strconv.Itoa(n)), 0o600); err != nil {
			os.Exit(4)
		}
		for _, s := range strings.Split(crashOn, ",") {
			if s == strconv.Itoa(n) {
				fmt.Fprintf(os.Stderr, "crashing on launch %d\n", n)
				os.Exit(3)
			}
		}
	}
	p := &pspPlugin{log: pluginsdk.NewLogger(nil, slog.LevelInfo), http: &http.Client{}}
	pluginsdk.Serve(p, pluginsdk.WithParentCheckInterval(100*time.Millisecond))
}
