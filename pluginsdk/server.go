package pluginsdk

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// providerServer is the plugin side of the gRPC service: it decodes a request,
// calls the Provider under the deadline guard, wipes the decoded card and
// encodes the answer. It never logs a request.
type providerServer struct {
	paymentpb.UnimplementedProviderServer
	p       Provider
	log     hclog.Logger
	maxCall time.Duration
}

// guard runs call under the request's deadline. A call with no deadline gets
// maxCall. If the provider ignores its context and overruns, the host is
// answered with a deadline error at once; the provider's goroutine is left to
// finish, after which done runs (it wipes the card). A panic in the provider
// becomes an internal error and does not bring the plugin down.
func guard[T any](ctx context.Context, s *providerServer, op Operation, txID string, call func(context.Context) (T, error), done func()) (T, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.maxCall)
		defer cancel()
	}
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		var a answer
		defer func() {
			if r := recover(); r != nil {
				// The panic value may hold request data: it is not logged.
				s.log.Error("provider panicked", "operation", string(op), "transaction_id", txID)
				a = answer{err: &Error{Kind: KindInternal, Message: "provider panicked during " + string(op)}}
			}
			if done != nil {
				done()
			}
			ch <- a
		}()
		a.v, a.err = call(ctx)
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			var zero T
			return zero, errorToStatus(a.err)
		}
		return a.v, nil
	case <-ctx.Done():
		s.log.Warn("provider overran its deadline", "operation", string(op), "transaction_id", txID)
		var zero T
		return zero, errorToStatus(&Error{Kind: KindDeadline, Message: string(op) + " did not finish before its deadline"})
	}
}

// Describe implements the gRPC service.
func (s *providerServer) Describe(ctx context.Context, req *paymentpb.DescribeRequest) (*paymentpb.DescribeResponse, error) {
	return guard(ctx, s, "describe", "", func(ctx context.Context) (*paymentpb.DescribeResponse, error) {
		d, err := s.p.Describe(ctx, &DescribeRequest{})
		if err != nil {
			return nil, err
		}
		if d == nil {
			return nil, &Error{Kind: KindInternal, Message: "provider returned no description"}
		}
		return describeToWire(d), nil
	}, nil)
}

// Configure implements the gRPC service. Secret bytes are wiped once the
// provider returns: a provider keeps its own copy of what it needs.
func (s *providerServer) Configure(ctx context.Context, req *paymentpb.ConfigureRequest) (*paymentpb.ConfigureResponse, error) {
	wipe := func() {
		for _, v := range req.GetSecrets() {
			clear(v)
		}
	}
	return guard(ctx, s, "configure", "", func(ctx context.Context) (*paymentpb.ConfigureResponse, error) {
		if _, err := s.p.Configure(ctx, configureFromWire(req)); err != nil {
			return nil, err
		}
		return &paymentpb.ConfigureResponse{}, nil
	}, wipe)
}

func (s *providerServer) payment(ctx context.Context, op Operation, req *paymentpb.PaymentRequest, call func(context.Context, *PaymentRequest) (*Result, error)) (*paymentpb.Result, error) {
	return guard(ctx, s, op, req.GetTransactionId(), func(ctx context.Context) (*paymentpb.Result, error) {
		return resultOrError(call(ctx, paymentFromWire(req)))
	}, func() { wipeWireCard(req.GetCard()) })
}

func (s *providerServer) modify(ctx context.Context, op Operation, req *paymentpb.ModifyRequest, call func(context.Context, *ModifyRequest) (*Result, error)) (*paymentpb.Result, error) {
	return guard(ctx, s, op, req.GetTransactionId(), func(ctx context.Context) (*paymentpb.Result, error) {
		return resultOrError(call(ctx, modifyFromWire(req)))
	}, nil)
}

func resultOrError(r *Result, err error) (*paymentpb.Result, error) {
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, &Error{Kind: KindInternal, Message: "provider returned neither a result nor an error"}
	}
	w := resultToWire(r)
	w.ProviderMessage = redactPANs(w.ProviderMessage)
	return w, nil
}

// Authorize implements the gRPC service.
func (s *providerServer) Authorize(ctx context.Context, req *paymentpb.PaymentRequest) (*paymentpb.Result, error) {
	return s.payment(ctx, OpAuthorize, req, s.p.Authorize)
}

// Sale implements the gRPC service.
func (s *providerServer) Sale(ctx context.Context, req *paymentpb.PaymentRequest) (*paymentpb.Result, error) {
	return s.payment(ctx, OpSale, req, s.p.Sale)
}

// Tokenize implements the gRPC service.
func (s *providerServer) Tokenize(ctx context.Context, req *paymentpb.PaymentRequest) (*paymentpb.Result, error) {
	return s.payment(ctx, OpTokenize, req, s.p.Tokenize)
}

// Capture implements the gRPC service.
func (s *providerServer) Capture(ctx context.Context, req *paymentpb.ModifyRequest) (*paymentpb.Result, error) {
	return s.modify(ctx, OpCapture, req, s.p.Capture)
}

// Void implements the gRPC service.
func (s *providerServer) Void(ctx context.Context, req *paymentpb.ModifyRequest) (*paymentpb.Result, error) {
	return s.modify(ctx, OpVoid, req, s.p.Void)
}

// Refund implements the gRPC service.
func (s *providerServer) Refund(ctx context.Context, req *paymentpb.ModifyRequest) (*paymentpb.Result, error) {
	return s.modify(ctx, OpRefund, req, s.p.Refund)
}

// Status implements the gRPC service.
func (s *providerServer) Status(ctx context.Context, req *paymentpb.StatusRequest) (*paymentpb.Result, error) {
	return guard(ctx, s, OpStatus, req.GetTransactionId(), func(ctx context.Context) (*paymentpb.Result, error) {
		return resultOrError(s.p.Status(ctx, statusFromWire(req)))
	}, nil)
}
