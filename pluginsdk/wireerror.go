package pluginsdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// Errors cross the boundary as a gRPC status whose detail is an ErrorDetail
// holding the kind enum. Messages are scrubbed of anything that looks like a
// card number on the way out.

var kindToCode = map[ErrorKind]codes.Code{
	KindInternal:            codes.Internal,
	KindUnsupported:         codes.Unimplemented,
	KindNotConfigured:       codes.FailedPrecondition,
	KindInvalidRequest:      codes.InvalidArgument,
	KindProviderUnavailable: codes.Unavailable,
	KindDeadline:            codes.DeadlineExceeded,
}

// asError reads any error a Provider returned as an *Error.
func asError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		if e.Kind == KindPluginGone {
			return &Error{Kind: KindInternal, Message: e.Message}
		}
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindDeadline, Message: "deadline exceeded"}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindDeadline, Message: "call cancelled"}
	default:
		return &Error{Kind: KindInternal, Message: err.Error()}
	}
}

// errorToStatus turns a Provider's error into the gRPC status sent to the host.
func errorToStatus(err error) error {
	e := asError(err)
	msg := redactPANs(e.Message)
	st := status.New(kindToCode[e.Kind], msg)
	if d, derr := st.WithDetails(&paymentpb.ErrorDetail{Kind: kindToWire(e.Kind), Message: msg}); derr == nil {
		st = d
	}
	return st.Err()
}

// errorFromStatus turns an error from the gRPC client back into an *Error.
// A status without an ErrorDetail did not come from the provider: it is a
// transport failure or a deadline. ctx is the call's context: a cancellation
// the caller did not ask for means the connection was closed under the call.
func errorFromStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return asError(err)
		}
		return &Error{Kind: KindPluginGone, Message: redactPANs(err.Error())}
	}
	for _, d := range st.Details() {
		if ed, ok := d.(*paymentpb.ErrorDetail); ok {
			return &Error{Kind: kindFromWire(ed.GetKind()), Message: redactPANs(ed.GetMessage())}
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		return &Error{Kind: KindDeadline, Message: "deadline exceeded"}
	case codes.Canceled:
		if ctx.Err() == nil {
			return &Error{Kind: KindPluginGone, Message: redactPANs(st.Message())}
		}
		return &Error{Kind: KindDeadline, Message: "call cancelled"}
	case codes.Unavailable:
		return &Error{Kind: KindPluginGone, Message: redactPANs(st.Message())}
	case codes.Unimplemented:
		return &Error{Kind: KindUnsupported, Message: redactPANs(st.Message())}
	default:
		return &Error{Kind: KindInternal, Message: redactPANs(st.Message())}
	}
}
