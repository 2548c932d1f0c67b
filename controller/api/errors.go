package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tonewall/tonewall/controller/call"
)

// Error codes returned in {"error":{"code":...}}. They are stable: clients
// may match on them.
const (
	CodeInvalidRequest   = "invalid_request"
	CodeNotFound         = "not_found"
	CodeCallNotFound     = "call_not_found"
	CodeCaptureNotFound  = "capture_not_found"
	CodeCallNotReady     = "call_not_ready"
	CodeCaptureActive    = "capture_in_progress"
	CodeCaptureFinished  = "capture_finished"
	CodeCallEnded        = "call_ended"
	CodeMaskingFailed    = "masking_failed"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "request_too_large"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal_error"
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
	case errors.Is(err, call.ErrInvalidRequest):
		return http.StatusBadRequest, Error{CodeInvalidRequest, err.Error()}
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
	case errors.Is(err, call.ErrCallEnded):
		return http.StatusGone, Error{CodeCallEnded, "the call has ended"}
	case errors.Is(err, call.ErrMaskingFailed):
		return http.StatusBadGateway, Error{CodeMaskingFailed, "FreeSWITCH refused a masking step: the capture was aborted before the customer was prompted, and masking stays on"}
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

func writeError(w http.ResponseWriter, status int, e Error) {
	writeJSON(w, status, errorBody{Error: e})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, e := classify(err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "code", e.Code, "err", err)
	writeError(w, status, e)
}
