package pluginsdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// scripted is a Provider whose answers the test sets.
type scripted struct {
	err      error
	res      *Result
	block    time.Duration // sleep ignoring ctx
	panics   bool
	lastCard atomic.Pointer[Card]
}

func (s *scripted) answer(ctx context.Context) (*Result, error) {
	if s.panics {
		panic("card 4242424242424242")
	}
	if s.block > 0 {
		time.Sleep(s.block)
	}
	return s.res, s.err
}

func (s *scripted) Describe(context.Context, *DescribeRequest) (*DescribeResponse, error) {
	return &DescribeResponse{Name: "scripted", Operations: []Operation{OpAuthorize}}, s.err
}
func (s *scripted) Configure(context.Context, *ConfigureRequest) (*ConfigureResponse, error) {
	return &ConfigureResponse{}, s.err
}
func (s *scripted) Authorize(ctx context.Context, r *PaymentRequest) (*Result, error) {
	c := r.Card
	s.lastCard.Store(&c)
	return s.answer(ctx)
}
func (s *scripted) Sale(ctx context.Context, _ *PaymentRequest) (*Result, error) {
	return s.answer(ctx)
}
func (s *scripted) Tokenize(ctx context.Context, _ *PaymentRequest) (*Result, error) {
	return s.answer(ctx)
}
func (s *scripted) Capture(ctx context.Context, _ *ModifyRequest) (*Result, error) {
	return s.answer(ctx)
}
func (s *scripted) Void(ctx context.Context, _ *ModifyRequest) (*Result, error) { return s.answer(ctx) }
func (s *scripted) Refund(ctx context.Context, _ *ModifyRequest) (*Result, error) {
	return s.answer(ctx)
}
func (s *scripted) Status(ctx context.Context, _ *StatusRequest) (*Result, error) {
	return s.answer(ctx)
}

// serveInProcess serves p over gRPC on loopback, without go-plugin, and
// returns the host-side Provider.
func serveInProcess(t testing.TB, p Provider) Provider {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	paymentpb.RegisterProviderServer(srv, &providerServer{p: p, log: hclog.NewNullLogger(), maxCall: time.Minute})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-done
	})
	return &providerClient{rpc: paymentpb.NewProviderClient(cc)}
}

func TestErrorKindsCrossTheWire(t *testing.T) {
	s := &scripted{}
	p := serveInProcess(t, s)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unsupported", ErrUnsupported, ErrUnsupported},
		{"not configured", Errorf(KindNotConfigured, "no api key"), ErrNotConfigured},
		{"invalid request", fmt.Errorf("wrapped: %w", ErrInvalidRequest), ErrInvalidRequest},
		{"provider unavailable", ErrProviderUnavailable, ErrProviderUnavailable},
		{"deadline", ErrDeadline, ErrDeadline},
		{"context deadline", context.DeadlineExceeded, ErrDeadline},
		{"internal", ErrInternal, ErrInternal},
		{"plain error", errors.New("boom"), ErrInternal},
		{"plugin gone is never sent", ErrPluginGone, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.err, s.res = tt.err, nil
			_, err := p.Authorize(t.Context(), &PaymentRequest{TransactionID: "tx"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not *Error", err)
			}
		})
	}
}

func TestCardReachesProviderAndIsWipedAfter(t *testing.T) {
	s := &scripted{res: &Result{Outcome: OutcomeApproved, TransactionID: "tx"}}
	p := serveInProcess(t, s)
	r, err := p.Authorize(t.Context(), &PaymentRequest{
		TransactionID: "tx",
		Card:          Card{Number: []byte("4242424242424242"), CVC: []byte("123"), ExpiryMonth: 1, ExpiryYear: 2030},
	})
	if err != nil || r.Outcome != OutcomeApproved {
		t.Fatalf("Authorize: %+v, %v", r, err)
	}
	c := s.lastCard.Load()
	if c == nil || len(c.Number) != 16 {
		t.Fatalf("provider saw card %v", c)
	}
	// The server decoded its own copy; after the call it is zero.
	for _, b := range append(c.Number, c.CVC...) {
		if b != 0 {
			t.Fatal("server-side card copy not wiped after the call")
		}
	}
}

func TestGuardAnswersWhenProviderOverruns(t *testing.T) {
	s := &scripted{block: 2 * time.Second, res: &Result{Outcome: OutcomeApproved}}
	p := serveInProcess(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Sale(ctx, &PaymentRequest{TransactionID: "tx"})
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("got %v, want ErrDeadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %s", took)
	}
}

func TestGuardOnServerSideWithoutHostDeadline(t *testing.T) {
	s := &providerServer{p: &scripted{block: time.Second}, log: hclog.NewNullLogger(), maxCall: 100 * time.Millisecond}
	_, err := s.Void(context.Background(), &paymentpb.ModifyRequest{TransactionId: "tx"})
	if got := errorFromStatus(context.Background(), err); !errors.Is(got, ErrDeadline) {
		t.Fatalf("got %v, want ErrDeadline from the server's own bound", got)
	}
}

func TestPanicBecomesInternalErrorWithoutCardData(t *testing.T) {
	p := serveInProcess(t, &scripted{panics: true})
	_, err := p.Authorize(t.Context(), &PaymentRequest{TransactionID: "tx"})
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v, want ErrInternal", err)
	}
	if strings.Contains(err.Error(), "4242424242424242") {
		t.Fatalf("panic value leaked into the error: %v", err)
	}
}

func TestProviderMessagesAreScrubbed(t *testing.T) {
	s := &scripted{res: &Result{Outcome: OutcomeDeclined, ProviderMessage: "card 4242 4242 4242 4242 refused"}}
	p := serveInProcess(t, s)
	r, err := p.Authorize(t.Context(), &PaymentRequest{TransactionID: "tx"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ReplaceAll(r.ProviderMessage, " ", ""), "4242424242424242") {
		t.Errorf("provider message kept the PAN: %q", r.ProviderMessage)
	}
	s.res, s.err = nil, Errorf(KindInvalidRequest, "bad card 4111111111111111")
	_, err = p.Authorize(t.Context(), &PaymentRequest{TransactionID: "tx"})
	if err == nil || strings.Contains(err.Error(), "4111111111111111") {
		t.Errorf("error kept the PAN: %v", err)
	}
}

func TestNilResultIsInternal(t *testing.T) {
	p := serveInProcess(t, &scripted{})
	if _, err := p.Capture(t.Context(), &ModifyRequest{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v, want ErrInternal", err)
	}
}

func TestTransportErrorIsPluginGone(t *testing.T) {
	if err := errorFromStatus(t.Context(), errors.New("connection reset")); !errors.Is(err, ErrPluginGone) {
		t.Fatalf("got %v", err)
	}
	if errorFromStatus(t.Context(), nil) != nil {
		t.Fatal("nil error mapped to non-nil")
	}
}
