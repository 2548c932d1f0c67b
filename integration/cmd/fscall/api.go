package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// startCapture asks the controller's API for a capture on the call, as the
// agent's screen would, and returns its id.
func startCapture(ctx context.Context, cfg config, callID string) (string, error) {
	body, _ := json.Marshal(map[string]any{"amount": 1250, "currency": "GBP", "reference": "demo-order-1"})
	var v struct {
		ID    string `json:"id"`
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	var status int
	var err error
	// The controller learns of the bridge from an event a moment after the
	// switch reports it: retry while it says the call is not ready.
	for try := 0; try < 50; try++ {
		status, err = apiCall(ctx, cfg, http.MethodPost, "/v1/calls/"+callID+"/captures", body, &v)
		if err != nil {
			return "", err
		}
		if status != http.StatusConflict || v.Error.Code != "call_not_ready" {
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("start capture: HTTP %d %s: %s", status, v.Error.Code, v.Error.Message)
	}
	return v.ID, nil
}

// captureOutcome waits for the capture's payment outcome and describes it.
func captureOutcome(ctx context.Context, cfg config, id string) string {
	var v struct {
		State   string `json:"state"`
		Brand   string `json:"brand"`
		Last4   string `json:"last4"`
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := apiCall(ctx, cfg, http.MethodGet, "/v1/captures/"+id, nil, &v); err != nil {
			return "unknown (" + err.Error() + ")"
		}
		if v.Outcome != "" && v.Outcome != "submitting" {
			break
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			break
		}
	}
	s := fmt.Sprintf("%s (capture %s, %s ending %s)", v.Outcome, v.State, v.Brand, v.Last4)
	if v.Reason != "" {
		s += ", reason " + v.Reason
	}
	return s
}

func apiCall(ctx context.Context, cfg config, method, path string, body []byte, into any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, cfg.api+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("controller API: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into); err != nil {
		return resp.StatusCode, fmt.Errorf("controller API: HTTP %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}
