// Package conformance is the test kit a payment team runs against its own
// plugin binary, as testing/slogtest is for a slog.Handler:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Config{
//			PluginPath:   bin, // built by the test, e.g. in TestMain
//			Settings:     map[string]string{"base_url": fakePSP.URL},
//			Secrets:      map[string][]byte{"api_key": []byte("sk_test_x")},
//			SlowSettings: map[string]string{"base_url": slowPSP.URL},
//			Approve:      conformance.ApproveCards(),
//			Decline:      conformance.DeclineCards(),
//		})
//	}
//
// Run launches the plugin for real through go-plugin, exactly as the
// controller does, and checks the contract in pluginsdk/README.md: Describe,
// every declared operation with the test cards, normalised outcomes and
// reasons, idempotency, deadlines, and that no result, error or log line
// (the plugin's raw stderr included) holds a PAN or CVC.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// TestCard is a card the plugin's PSP (or its fake) treats in a known way.
type TestCard struct {
	Number      string
	CVC         string
	ExpiryMonth int
	ExpiryYear  int // four digits
	HolderName  string
	Postcode    string
	// Reason is the normalised reason a decline card must come back with.
	Reason pluginsdk.Reason
}

// Config tells Run which plugin to test and how.
type Config struct {
	// PluginPath is the plugin executable, built by the caller.
	PluginPath string
	// SHA256 is the executable's hex SHA-256; empty means compute it.
	SHA256 string
	Args   []string
	Env    []string

	// Settings and Secrets are passed to Configure.
	Settings map[string]string
	Secrets  map[string][]byte
	// SlowSettings are merged over Settings to make every payment call take
	// longer than DeadlineTimeout (a slow fake PSP, a delay setting). Required.
	SlowSettings map[string]string

	// Approve and Decline are the test cards. At least one approve card is
	// required; every decline card needs its Reason.
	Approve []TestCard
	Decline []TestCard

	Currency string // default "GBP"
	Amount   int64  // minor units; default 1000

	// Operations the plugin must declare and pass; nil means all seven.
	Operations []pluginsdk.Operation

	CallTimeout     time.Duration // per call; default 15s
	DeadlineTimeout time.Duration // the short deadline given to a slow call; default 500ms
	DeadlineGrace   time.Duration // how late a slow call may return; default 2s
}

func (c Config) withDefaults() Config {
	if c.Currency == "" {
		c.Currency = "GBP"
	}
	if c.Amount == 0 {
		c.Amount = 1000
	}
	if c.Operations == nil {
		c.Operations = allOperations
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 15 * time.Second
	}
	if c.DeadlineTimeout <= 0 {
		c.DeadlineTimeout = 500 * time.Millisecond
	}
	if c.DeadlineGrace <= 0 {
		c.DeadlineGrace = 2 * time.Second
	}
	return c
}

var allOperations = []pluginsdk.Operation{
	pluginsdk.OpAuthorize, pluginsdk.OpSale, pluginsdk.OpTokenize, pluginsdk.OpCapture,
	pluginsdk.OpVoid, pluginsdk.OpRefund, pluginsdk.OpStatus,
}

// kit is one run of the conformance checks.
type kit struct {
	cfg      Config
	client   *pluginsdk.Client
	prov     pluginsdk.Provider
	run      string
	seq      int
	stderr   syncBuffer // the plugin's raw stderr
	hostLog  syncBuffer // what the host logs, plugin lines included
	results  []pluginsdk.Result
	errs     []string
	canaries []Canary
	declared []pluginsdk.Operation // what Describe lists
}

// Run checks the plugin at cfg.PluginPath. It fails t, and never skips.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	cfg = cfg.withDefaults()
	if err := validate(cfg); err != nil {
		t.Fatalf("conformance: %v", err)
	}
	k := &kit{cfg: cfg, run: runID()}
	for _, c := range slices.Concat(cfg.Approve, cfg.Decline) {
		k.canaries = append(k.canaries, Canary{PAN: c.Number, CVC: c.CVC})
	}
	k.launch(t)

	if !t.Run("Describe", k.testDescribe) ||
		!t.Run("NotConfigured", k.testNotConfigured) ||
		!t.Run("Configure", k.testConfigure) {
		return
	}
	t.Run("Approve", k.testApprove)
	t.Run("Decline", k.testDecline)
	t.Run("Idempotency", k.testIdempotency)
	t.Run("Modify", k.testModify)
	t.Run("Tokenize", k.testTokenize)
	t.Run("StatusOfUnknown", k.testStatusOfUnknown)
	t.Run("Unsupported", k.testUnsupported)
	t.Run("Deadline", k.testDeadline)
	t.Run("NoCardData", k.testNoCardData)
}

func validate(c Config) error {
	switch {
	case c.PluginPath == "":
		return errors.New("Config.PluginPath is required")
	case len(c.Approve) == 0:
		return errors.New("Config.Approve needs at least one card")
	case len(c.SlowSettings) == 0:
		return errors.New("Config.SlowSettings is required: it is how the deadline check makes the plugin slow")
	}
	for _, d := range c.Decline {
		if d.Reason == pluginsdk.ReasonNone {
			return fmt.Errorf("decline card ending %s has no Reason", last4(d.Number))
		}
	}
	return nil
}

func runID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (k *kit) launch(t *testing.T) {
	t.Helper()
	sum := k.cfg.SHA256
	if sum == "" {
		var err error
		if sum, err = pluginsdk.FileSHA256(k.cfg.PluginPath); err != nil {
			t.Fatalf("conformance: %v", err)
		}
	}
	logger := slog.New(slog.NewJSONHandler(&k.hostLog, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
	c, err := pluginsdk.NewClient(pluginsdk.ClientConfig{
		Name:   "conformance",
		Path:   k.cfg.PluginPath,
		Args:   k.cfg.Args,
		Env:    k.cfg.Env,
		SHA256: sum,
		Logger: logger,
		Stderr: &k.stderr,
	})
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	t.Cleanup(c.Kill)
	ctx, cancel := context.WithTimeout(t.Context(), k.cfg.CallTimeout)
	defer cancel()
	p, err := c.Provider(ctx)
	if err != nil {
		t.Fatalf("conformance: launching the plugin: %v", err)
	}
	if v := c.NegotiatedVersion(); v != pluginsdk.ProtocolVersion {
		t.Errorf("negotiated protocol version %d, want %d", v, pluginsdk.ProtocolVersion)
	}
	k.client, k.prov = c, p
}

// ids returns a fresh transaction id and idempotency key.
func (k *kit) ids() (txID, key string) {
	k.seq++
	return fmt.Sprintf("conf-%s-%04d", k.run, k.seq), fmt.Sprintf("conf-key-%s-%04d", k.run, k.seq)
}

func (k *kit) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), k.cfg.CallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// record keeps every result and error for the card-data scan.
func (k *kit) record(r *pluginsdk.Result, err error) {
	if r != nil {
		k.results = append(k.results, *r)
	}
	if err != nil {
		k.errs = append(k.errs, err.Error())
	}
}

func (k *kit) declares(op pluginsdk.Operation) bool { return slices.Contains(k.cfg.Operations, op) }

func (k *kit) paymentRequest(c TestCard, amount int64) *pluginsdk.PaymentRequest {
	tx, key := k.ids()
	return &pluginsdk.PaymentRequest{
		TransactionID:  tx,
		IdempotencyKey: key,
		Amount:         pluginsdk.Money{Minor: amount, Currency: k.cfg.Currency},
		Reference:      "conformance " + tx,
		Channel:        pluginsdk.ChannelMOTO,
		Card: pluginsdk.Card{
			Number:      []byte(c.Number),
			ExpiryMonth: c.ExpiryMonth,
			ExpiryYear:  c.ExpiryYear,
			CVC:         []byte(c.CVC),
			Postcode:    []byte(c.Postcode),
			HolderName:  c.HolderName,
		},
	}
}

// call runs one payment operation and records what came back.
func (k *kit) call(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.PaymentRequest) (*pluginsdk.Result, error) {
	var (
		r   *pluginsdk.Result
		err error
	)
	switch op {
	case pluginsdk.OpAuthorize:
		r, err = k.prov.Authorize(ctx, req)
	case pluginsdk.OpSale:
		r, err = k.prov.Sale(ctx, req)
	case pluginsdk.OpTokenize:
		r, err = k.prov.Tokenize(ctx, req)
	default:
		return nil, fmt.Errorf("not a payment operation: %s", op)
	}
	k.record(r, err)
	return r, err
}

func (k *kit) modify(ctx context.Context, op pluginsdk.Operation, req *pluginsdk.ModifyRequest) (*pluginsdk.Result, error) {
	var (
		r   *pluginsdk.Result
		err error
	)
	switch op {
	case pluginsdk.OpCapture:
		r, err = k.prov.Capture(ctx, req)
	case pluginsdk.OpVoid:
		r, err = k.prov.Void(ctx, req)
	case pluginsdk.OpRefund:
		r, err = k.prov.Refund(ctx, req)
	default:
		return nil, fmt.Errorf("not a modify operation: %s", op)
	}
	k.record(r, err)
	return r, err
}

func (k *kit) status(ctx context.Context, req *pluginsdk.StatusRequest) (*pluginsdk.Result, error) {
	r, err := k.prov.Status(ctx, req)
	k.record(r, err)
	return r, err
}

// chargeOps are the declared operations that take money from a card.
func (k *kit) chargeOps() []pluginsdk.Operation {
	var ops []pluginsdk.Operation
	for _, op := range []pluginsdk.Operation{pluginsdk.OpAuthorize, pluginsdk.OpSale} {
		if k.declares(op) {
			ops = append(ops, op)
		}
	}
	return ops
}

// configure sends Configure with the given settings merged over the base ones.
func (k *kit) configure(ctx context.Context, over map[string]string) error {
	settings := make(map[string]string, len(k.cfg.Settings)+len(over))
	for key, v := range k.cfg.Settings {
		settings[key] = v
	}
	for key, v := range over {
		settings[key] = v
	}
	secrets := make(map[string][]byte, len(k.cfg.Secrets))
	for key, v := range k.cfg.Secrets {
		secrets[key] = append([]byte(nil), v...)
	}
	_, err := k.prov.Configure(ctx, &pluginsdk.ConfigureRequest{Settings: settings, Secrets: secrets})
	k.record(nil, err)
	return err
}
