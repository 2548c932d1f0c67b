package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tonewall/tonewall/controller/outbox"
)

// bookkeepingTimeout bounds the log writes and acknowledgements made after an attempt.
const bookkeepingTimeout = 10 * time.Second

// maxResponseBody is how much of a response is read (and discarded) so the
// connection can be reused.
const maxResponseBody = 64 << 10

// result is the outcome of one HTTP attempt.
type result struct {
	status     int
	err        error
	retryAfter time.Duration // from a Retry-After header on 429 or 503
	gone       bool          // 410: disable the endpoint
	duration   time.Duration
}

func (r result) ok() bool { return r.err == nil && !r.gone }

// action is what happens to an outbox message after its record is written.
type action int

const (
	actAck action = iota
	actDrop
	actRetry
	actErase // drop and overwrite on disk
)

// handle makes one attempt for one outbox message and records it.
func (s *Sender) handle(ctx context.Context, m *outbox.Msg) {
	eventID, endpointID := m.Header(headerEventID), m.Key()
	replay, _ := strconv.Atoi(m.Header(headerReplay))
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if !validID(eventID) || !validID(endpointID) || checkNoCardNumber([]byte(eventID)) != nil {
		// Nothing of it is logged or recorded: the id itself may be the problem.
		s.log.Error("erasing malformed outbox message", "seq", m.Sequence())
		s.finish(bctx, m, actErase, 0)
		return
	}
	log := s.log.With("event", eventID, "endpoint", endpointID)
	eventType := m.Header(headerEventType)
	if !KnownType(eventType) {
		eventType = ""
	}
	// A body that looks like it carries card data is never sent nor kept.
	cardData := checkNoCardNumber(m.Data()) != nil
	body := m.Data()
	if cardData {
		body = nil
	}
	key := recordKey(eventID, endpointID)
	cur, _, err := s.store.get(bctx, key)
	if err != nil {
		log.Warn("delivery log unavailable, retrying later", "err", err)
		s.finish(bctx, m, actRetry, time.Second)
		return
	}
	if cur == nil {
		cur = newRecord(eventID, eventType, endpointID, body)
	}
	done := actDrop
	if cardData {
		done = actErase
	}
	switch {
	case replay < cur.Replays:
		log.Debug("dropping superseded message", "replay", replay)
		s.finish(bctx, m, done, 0)
		return
	case replay == cur.Replays && cur.State.final():
		log.Debug("dropping message of a finished delivery", "state", cur.State)
		s.finish(bctx, m, done, 0)
		return
	}

	ep, configured := s.endpoints[endpointID]
	var res result
	switch {
	case !configured:
		res.err = ErrUnknownEndpoint
	case s.isDisabled(endpointID):
		res.err = ErrEndpointOff
	case cardData:
		res.err = ErrCardData
	default:
		res = s.attempt(ctx, ep, eventID, body)
		if ctx.Err() != nil && !res.ok() {
			// Shutting down: hand the message back unrecorded.
			s.release(m)
			return
		}
	}
	attempted := configured && !errors.Is(res.err, ErrEndpointOff) && !errors.Is(res.err, ErrCardData)

	var act action
	var delay time.Duration
	var stale bool
	rec, err := s.store.update(bctx, key, func(cur *record) (*record, error) {
		if cur == nil {
			cur = newRecord(eventID, eventType, endpointID, body)
		}
		if stale = replay < cur.Replays; stale {
			act = actDrop
			return nil, nil
		}
		if replay > cur.Replays {
			cur.Replays, cur.Round, cur.State = replay, 0, StatePending
		}
		now := time.Now().UTC()
		if attempted {
			a := Attempt{At: now.Add(-res.duration), Status: res.status, Duration: res.duration}
			if res.err != nil {
				a.Error = res.err.Error()
			}
			cur.addAttempt(a)
		} else {
			cur.LastError = res.err.Error()
		}
		cur.NextAttempt = time.Time{}
		act, delay = actDrop, 0
		switch {
		case res.ok():
			cur.State, act = StateDelivered, actAck
		case res.gone:
			cur.State = StateDisabled
		case !attempted || errors.Is(res.err, ErrUnknownEndpoint):
			cur.State = StateFailed
		case cur.State.final():
			// Marked failed meanwhile (its endpoint was disabled): keep that.
		case cur.Round >= len(s.opts.Schedule):
			cur.State = StateFailed
		default:
			delay = max(s.opts.Schedule[cur.Round], min(res.retryAfter, s.opts.MaxRetryAfter))
			cur.NextAttempt = now.Add(delay)
			act = actRetry
		}
		return cur, nil
	})
	if err != nil {
		// The attempt happened but is not recorded; retry soon, at-least-once.
		log.Error("cannot record attempt", "err", err)
		s.finish(bctx, m, actRetry, time.Second)
		return
	}
	if !stale {
		s.logOutcome(rec, res)
	}
	if res.gone {
		s.disableEndpoint(bctx, endpointID, eventID)
	}
	if cardData {
		act = actErase
	}
	s.finish(bctx, m, act, delay)
}

// logOutcome logs an attempt: quietly when delivered, louder on failure.
// It never logs the payload.
func (s *Sender) logOutcome(r *record, res result) {
	attrs := []any{"event", r.EventID, "endpoint", r.EndpointID, "attempt", r.Attempts,
		"status", r.LastStatus, "state", r.State}
	if r.LastError != "" {
		attrs = append(attrs, "err", r.LastError)
	}
	switch r.State {
	case StateDelivered:
		s.log.Debug("webhook delivered", append(attrs, "duration", res.duration)...)
	case StatePending:
		s.log.Warn("webhook attempt failed, will retry", append(attrs, "next", r.NextAttempt)...)
	default:
		s.log.Error("webhook not delivered", attrs...)
	}
}

// finish acknowledges, drops or retries the message.
func (s *Sender) finish(ctx context.Context, m *outbox.Msg, act action, delay time.Duration) {
	var err error
	switch act {
	case actAck:
		err = m.Ack(ctx)
	case actDrop:
		err = m.Drop(ctx)
	case actRetry:
		err = m.Retry(ctx, delay)
	case actErase:
		err = m.Erase(ctx)
	}
	if err != nil {
		// JetStream hands the message out again after AckWait; the delivery
		// log then tells whether anything is left to do.
		s.log.Warn("outbox acknowledgement failed", "seq", m.Sequence(), "err", err)
	}
}

// release hands a message back for immediate redelivery.
func (s *Sender) release(m *outbox.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.Retry(ctx, 0)
}

// attempt signs body for this attempt and POSTs it to ep.
func (s *Sender) attempt(ctx context.Context, ep Endpoint, eventID string, body []byte) (res result) {
	start := time.Now()
	defer func() { res.duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	secrets, err := s.opts.Secrets.SigningSecrets(ctx, ep.secretName())
	if err != nil {
		return result{err: fmt.Errorf("signing secrets: %w", err)}
	}
	sig, err := sign(secrets, eventID, start, body)
	if err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.opts.UserAgent)
	req.Header.Set(standardwebhooks.HeaderWebhookID, eventID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(start.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)

	resp, err := s.client.Do(req)
	if err != nil {
		// Unwrap *url.Error: its text repeats the URL, which may hold a token.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return result{err: fmt.Errorf("request: %w", err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))

	res.status = resp.StatusCode
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
	case code == http.StatusGone:
		res.gone = true
		res.err = errors.New("endpoint answered 410 Gone")
	case code >= 300 && code < 400:
		res.err = fmt.Errorf("redirect not followed (HTTP %d)", code)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		res.retryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		res.err = fmt.Errorf("HTTP %d", code)
	default:
		res.err = fmt.Errorf("HTTP %d", code)
	}
	return res
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
