package accesspay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
)

// maxResponse bounds how much of a response body is read.
const maxResponse = 1 << 20

// exchange is what one HTTP call produced.
type exchange struct {
	status int    // 0 when no response arrived
	body   []byte // response body, never holds card data
	sent   bool   // the request was (at least partly) written to the wire
	err    error  // transport error; never contains the request body
}

// call sends one request to target (an absolute URL already checked to be
// on the configured host) with Basic auth, the API version and, for
// tracing, the host's idempotency key as WP-CorrelationId. A nil body sends
// none. The caller owns body and wipes it afterwards; call keeps no
// reference to it.
func (p *Provider) call(ctx context.Context, cfg *config, method, target, accept, correlation string, body []byte) exchange {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { sent.Store(true) },
		WroteRequest:     func(httptrace.WroteRequestInfo) { sent.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return exchange{err: fmt.Errorf("build request: %w", err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("WP-Api-Version", apiVersion)
	req.SetBasicAuth(cfg.username, cfg.password)
	if correlation != "" {
		req.Header.Set("WP-CorrelationId", correlation)
	}

	resp, err := p.http.Do(req)
	if err != nil {
		return exchange{sent: sent.Load(), err: scrubTransportError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		// The provider answered but the body was cut: the request was processed.
		return exchange{status: resp.StatusCode, sent: true, err: scrubTransportError(err)}
	}
	return exchange{status: resp.StatusCode, body: data, sent: true}
}

// scrubTransportError keeps the kind of a transport error (timeout, reset,
// refused) without the URL text net/http adds, which is harmless but noisy.
func scrubTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// newHTTPClient returns a client that never follows redirects (a redirected
// POST could replay the body somewhere else) and uses the given transport.
func newHTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
