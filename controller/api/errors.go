package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tonewall/tonewall/controller/auth"
	"github.com/tonewall/tonewall/controller/call"
)

// Error codes returned in {"error":{"code":...}}. They are stable: clients
// may match on them.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeNotFound            = "not_found"
	CodeCallNotFound        = "call_not_found"
	CodeCaptureNotFound     = "capture_not_found"
	CodeCallNotReady        = "call_not_ready"
	CodeCaptureActive       = "capture_in_progress"
	CodeCaptureFinished     = "capture_finished"
	CodeCaptureIncomplete   = "capture_incomplete"
	CodeCallEnded           = "call_ended"
	CodeMaskingFailed       = "masking_failed"
	CodeProviderUnavailable = "provider_unavailable"
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeTooLarge            = "request_too_large"
	CodeTimeout             = "timeout"
	CodeNotConfigured       = "not_configured"
	CodeDeliveryNotFound    = "delivery_not_found"
	CodeDeliveryPending     = "delivery_pending"
	CodeEndpointNotFound    = "endpoint_not_found"
	CodeEndpointDisabled    = "endpoint_disabled"
	CodeInternal            = "internal_error"
)

// Errors a Deliveries implementation returns (wrapped or not) for the API
// to answer with the right code.
var (
	ErrDeliveryNotFound = errors.New("no such webhook delivery")
	ErrDeliveryPending  = errors.New("the webhook delivery is still pending")
	ErrEndpointNotFound = errors.New("the webhook endpoint is not configured")
	ErrEndpointDisabled = errors.New("the webhook endpoint is disabled")
)

// Errors of the API itself.
var (
	errBadRequest        = errors.New("invalid request")
	errNotConfigured     = errors.New("not configured on this controller")
	errCaptureIncomplete = errors.New("capture incomplete")
	errNoRoute           = errors.New("no such endpoint")
	errMethod            = errors.New("method not allowed")
	errMediaType         = errors.New("body must be application/json")
	errTooLarge          = errors.New("body too large")
)

// Error is the body of every error response.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type errorBody struct {
	Error Error `json:"error"`
}

// classify maps an error to its HTTP status and code, in one place. Clients
// never see internal error text: unknown errors become internal_error.
func classify(err error) (int, Error) {
	switch {
	case errors.Is(err, call.ErrInvalidRequest), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, Error{CodeInvalidRequest, err.Error()}
	case errors.Is(err, auth.ErrInvalidTTL):
		return http.StatusBadRequest, Error{CodeInvalidRequest, "ttl_seconds must be between 1 and 3600"}
	case errors.Is(err, auth.ErrUnauthorized):
		return http.StatusUnauthorized, Error{CodeUnauthorized, "a valid bearer token is required"}
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, Error{CodeForbidden, "this token does not reach that resource"}
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, Error{CodeNotFound, "no such endpoint"}
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, Error{CodeMethodNotAllowed, "method not allowed on this endpoint"}
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, Error{CodeUnsupportedMedia, "body must be application/json"}
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, Error{CodeTooLarge, "body too large"}
	case errors.Is(err, errNotConfigured):
		return http.StatusNotImplemented, Error{CodeNotConfigured, err.Error()}
	case errors.Is(err, call.ErrCallNotFound):
		return http.StatusNotFound, Error{CodeCallNotFound, "no live call with that id"}
	case errors.Is(err, call.ErrCaptureNotFound):
		return http.StatusNotFound, Error{CodeCaptureNotFound, "no capture with that id"}
	case errors.Is(err, call.ErrCallNotReady):
		return http.StatusConflict, Error{CodeCallNotReady, "the call is not bridged to an agent yet"}
	case errors.Is(err, call.ErrCaptureActive):
		return http.StatusConflict, Error{CodeCaptureActive, "a capture is already running on this call"}
	case errors.Is(err, call.ErrCaptureFinished):
		return http.StatusConflict, Error{CodeCaptureFinished, "the capture has already finished"}
	case errors.Is(err, errCaptureIncomplete):
		return http.StatusConflict, Error{CodeCaptureIncomplete, err.Error()}
	case errors.Is(err, call.ErrCallEnded):
		return http.StatusGone, Error{CodeCallEnded, "the call has ended"}
	case errors.Is(err, call.ErrProviderUnavailable):
		return http.StatusServiceUnavailable, Error{CodeProviderUnavailable, err.Error()}
	case errors.Is(err, call.ErrMaskingFailed):
		return http.StatusBadGateway, Error{CodeMaskingFailed, "FreeSWITCH refused a masking step: the capture was aborted before the customer was prompted, and masking stays on"}
	case errors.Is(err, ErrDeliveryNotFound):
		return http.StatusNotFound, Error{CodeDeliveryNotFound, "no such webhook delivery"}
	case errors.Is(err, ErrDeliveryPending):
		return http.StatusConflict, Error{CodeDeliveryPending, "the delivery is still pending: it can be replayed once delivered or failed"}
	case errors.Is(err, ErrEndpointNotFound):
		return http.StatusNotFound, Error{CodeEndpointNotFound, "the webhook endpoint is not configured"}
	case errors.Is(err, ErrEndpointDisabled):
		return http.StatusConflict, Error{CodeEndpointDisabled, "the webhook endpoint is disabled"}
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, Error{CodeTimeout, "the call did not answer in time"}
	default:
		return http.StatusInternalServerError, Error{CodeInternal, "internal error"}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers with err's status and code. The error's own text goes to
// the log only (it never holds card data or tokens).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, e := classify(err)
	level := slog.LevelInfo
	if status >= 500 && status != http.StatusNotImplemented {
		level = slog.LevelError
	}
	s.logger().Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "code", e.Code, "err", err)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="tonewall"`)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", allowed(s.v1, r))
	}
	writeJSON(w, status, errorBody{Error: e})
}
