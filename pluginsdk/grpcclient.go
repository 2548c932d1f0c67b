package pluginsdk

import (
	"context"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// providerClient is the host's Provider: each method is one gRPC call to the
// plugin. The request's card bytes are handed to the encoder as they are, not
// copied; the caller wipes them after the call.
type providerClient struct {
	rpc paymentpb.ProviderClient
}

var _ Provider = (*providerClient)(nil)

// Describe implements Provider.
func (c *providerClient) Describe(ctx context.Context, _ *DescribeRequest) (*DescribeResponse, error) {
	r, err := c.rpc.Describe(ctx, &paymentpb.DescribeRequest{})
	if err != nil {
		return nil, errorFromStatus(ctx, err)
	}
	return describeFromWire(r), nil
}

// Configure implements Provider.
func (c *providerClient) Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error) {
	if _, err := c.rpc.Configure(ctx, configureToWire(req)); err != nil {
		return nil, errorFromStatus(ctx, err)
	}
	return &ConfigureResponse{}, nil
}

func result(ctx context.Context, r *paymentpb.Result, err error) (*Result, error) {
	if err != nil {
		return nil, errorFromStatus(ctx, err)
	}
	return resultFromWire(r), nil
}

// Authorize implements Provider.
func (c *providerClient) Authorize(ctx context.Context, req *PaymentRequest) (*Result, error) {
	r, err := c.rpc.Authorize(ctx, paymentToWire(req))
	return result(ctx, r, err)
}

// Sale implements Provider.
func (c *providerClient) Sale(ctx context.Context, req *PaymentRequest) (*Result, error) {
	r, err := c.rpc.Sale(ctx, paymentToWire(req))
	return result(ctx, r, err)
}

// Tokenize implements Provider.
func (c *providerClient) Tokenize(ctx context.Context, req *PaymentRequest) (*Result, error) {
	r, err := c.rpc.Tokenize(ctx, paymentToWire(req))
	return result(ctx, r, err)
}

// Capture implements Provider.
func (c *providerClient) Capture(ctx context.Context, req *ModifyRequest) (*Result, error) {
	r, err := c.rpc.Capture(ctx, modifyToWire(req))
	return result(ctx, r, err)
}

// Void implements Provider.
func (c *providerClient) Void(ctx context.Context, req *ModifyRequest) (*Result, error) {
	r, err := c.rpc.Void(ctx, modifyToWire(req))
	return result(ctx, r, err)
}

// Refund implements Provider.
func (c *providerClient) Refund(ctx context.Context, req *ModifyRequest) (*Result, error) {
	r, err := c.rpc.Refund(ctx, modifyToWire(req))
	return result(ctx, r, err)
}

// Status implements Provider.
func (c *providerClient) Status(ctx context.Context, req *StatusRequest) (*Result, error) {
	r, err := c.rpc.Status(ctx, statusToWire(req))
	return result(ctx, r, err)
}
