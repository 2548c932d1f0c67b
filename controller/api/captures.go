package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/capture"
)

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	if err := s.requireKey(r); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": s.Captures.Calls()})
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("call_id")
	if err := s.allowCall(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Captures.Call(id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) startCapture(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("call_id")
	if err := s.allowCall(r, callID); err != nil {
		s.fail(w, r, err)
		return
	}
	var req call.CaptureRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if k := r.Header.Get("Idempotency-Key"); k != "" && req.IdempotencyKey == "" {
		req.IdempotencyKey = k
	}
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	v, err := s.Captures.StartCapture(ctx, callID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/captures/"+v.ID)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) listCaptures(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("call_id")
	if err := s.allowCall(r, callID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"captures": s.Captures.Captures(callID)})
}

func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) {
	v, err := s.capture(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) cancelCapture(w http.ResponseWriter, r *http.Request) {
	s.act(w, r, func(ctx context.Context, id string) (call.CaptureView, error) {
		return s.Captures.CancelCapture(ctx, id)
	})
}

func (s *Server) restartField(w http.ResponseWriter, r *http.Request) {
	f := capture.Field(r.PathValue("field"))
	s.act(w, r, func(ctx context.Context, id string) (call.CaptureView, error) {
		return s.Captures.RestartField(ctx, id, f)
	})
}

// act runs a command on a capture once the caller is known to reach it.
func (s *Server) act(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, id string) (call.CaptureView, error)) {
	v, err := s.capture(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), defaultReqTimeout)
	defer cancel()
	v, err = fn(ctx, v.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// completeCapture answers with the capture once every field is valid and
// the payment's result is in. The engine submits the payment by itself as
// soon as the card is complete; this only confirms it.
func (s *Server) completeCapture(w http.ResponseWriter, r *http.Request) {
	v, err := s.capture(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := complete(v); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// complete returns nil if v's card is complete and its payment has a
// result, and otherwise an errCaptureIncomplete saying what is missing.
func complete(v call.CaptureView) error {
	var missing []string
	for _, f := range v.Fields {
		if !f.Done || !f.Valid {
			missing = append(missing, f.Field)
		}
	}
	switch {
	case len(v.Fields) > 0 && len(missing) == 0 && v.Payment != nil:
		return nil
	case v.State == string(capture.StateComplete) && v.Payment == nil:
		return fmt.Errorf("%w: the card is complete and the payment is being submitted", errCaptureIncomplete)
	case capture.State(v.State).Terminal():
		return fmt.Errorf("%w: the capture ended without a complete card (%s)", errCaptureIncomplete, v.Outcome)
	default:
		return fmt.Errorf("%w: fields still to capture: %s", errCaptureIncomplete, strings.Join(missing, ", "))
	}
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// refused with invalid_request. An empty body decodes to the zero value
// only if allowEmpty.
func decode(r *http.Request, v any) error {
	return decodeBody(r, v, false)
}

func decodeBody(r *http.Request, v any, allowEmpty bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errMediaType
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return errTooLarge
		case errors.Is(err, io.EOF) && allowEmpty:
			return nil
		}
		return fmt.Errorf("%w: malformed JSON body: %s", errBadRequest, jsonProblem(err))
	}
	if dec.More() {
		return fmt.Errorf("%w: body holds more than one JSON value", errBadRequest)
	}
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errTooLarge
		}
		return fmt.Errorf("%w: body could not be read", errBadRequest)
	}
	return nil
}

// jsonProblem describes a decode error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF):
		return "empty body"
	default:
		return "cannot be decoded"
	}
}
