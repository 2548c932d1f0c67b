package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Receiver pulls messages from the shared consumer. Its methods are not safe
// for concurrent use: one goroutine calls Next and Close, and hands the
// messages to workers.
type Receiver struct {
	o    *Outbox
	iter jetstream.MessagesContext
}

// Receive starts pulling from the shared consumer, keeping up to prefetch
// messages buffered. Every buffered message counts against AckWait, so keep
// prefetch close to the number of messages handled at once.
func (o *Outbox) Receive(ctx context.Context, prefetch int) (*Receiver, error) {
	if o.isClosed() {
		return nil, ErrClosed
	}
	if prefetch < 1 {
		prefetch = 1
	}
	iter, err := o.cons.Messages(jetstream.PullMaxMessages(prefetch))
	if err != nil {
		return nil, fmt.Errorf("outbox: receive: %w", err)
	}
	return &Receiver{o: o, iter: iter}, nil
}

// Next blocks until a message arrives, ctx is done or the receiver is closed.
func (r *Receiver) Next(ctx context.Context) (*Msg, error) {
	for {
		m, err := r.iter.Next(jetstream.NextContext(ctx))
		switch {
		case err == nil:
			return &Msg{m: m, o: r.o}, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return nil, ErrClosed
		case errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, jetstream.ErrConsumerLeadershipChanged):
			// The iterator re-issues its pull request by itself.
			continue
		default:
			return nil, fmt.Errorf("outbox: next: %w", err)
		}
	}
}

// Close stops pulling. Messages already buffered are handed back at once
// (released without delay) so another receiver can take them, rather than
// waiting out AckWait. ctx bounds the wait; without a deadline it is two seconds.
func (r *Receiver) Close(ctx context.Context) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	r.iter.Drain()
	for {
		m, err := r.iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			return
		}
		_ = m.Nak()
	}
}

// Msg is one message handed to a receiver. Exactly one of Ack, Retry, Drop or Erase
// should be called once the work is done or has failed.
type Msg struct {
	m jetstream.Msg
	o *Outbox
}

// ID returns the de-duplication id the message was published with.
func (m *Msg) ID() string { return m.m.Headers().Get(jetstream.MsgIDHeader) }

// Key returns the routing key the message was published with.
func (m *Msg) Key() string {
	s := m.m.Subject()
	return s[strings.LastIndexByte(s, '.')+1:]
}

// Header returns one header value.
func (m *Msg) Header(name string) string { return m.m.Headers().Get(name) }

// Data returns the message body.
func (m *Msg) Data() []byte { return m.m.Data() }

// Delivered returns how many times JetStream has handed this message out,
// this time included.
func (m *Msg) Delivered() uint64 {
	md, err := m.m.Metadata()
	if err != nil {
		return 0
	}
	return md.NumDelivered
}

// Sequence returns the message's position in the stream.
func (m *Msg) Sequence() uint64 {
	md, err := m.m.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// Ack removes the message from the outbox and waits for the server to confirm.
func (m *Msg) Ack(ctx context.Context) error {
	if err := m.m.DoubleAck(ctx); err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	return nil
}

// Retry hands the message back to be delivered again after delay, and waits
// for the server to confirm. The delay is kept by JetStream, so it survives a
// restart of this process.
func (m *Msg) Retry(ctx context.Context, delay time.Duration) error {
	body := []byte("-NAK")
	if delay > 0 {
		body = fmt.Appendf(nil, `-NAK {"delay": %d}`, delay.Nanoseconds())
	}
	if err := m.reply(ctx, body); err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	return nil
}

// Drop removes the message from the outbox without it having succeeded, and
// waits for the server to confirm.
func (m *Msg) Drop(ctx context.Context) error {
	if err := m.reply(ctx, []byte("+TERM")); err != nil {
		return fmt.Errorf("outbox: drop: %w", err)
	}
	return nil
}

// reply sends an acknowledgement of the given kind and waits for the server's answer.
func (m *Msg) reply(ctx context.Context, body []byte) error {
	if m.m.Reply() == "" {
		return jetstream.ErrMsgNoReply
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	_, err := m.o.nc.RequestWithContext(ctx, m.m.Reply(), body)
	return err
}

// Erase removes the message from the outbox and overwrites its bytes in the
// stream's files, for a message that must not stay readable on disk (one
// that looks like it carries card data). On a clustered stream the
// replicas' logs may keep a copy until they are compacted.
func (m *Msg) Erase(ctx context.Context) error {
	if err := m.o.stream.SecureDeleteMsg(ctx, m.Sequence()); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("outbox: erase: %w", err)
	}
	// The message is gone from the stream; end its delivery too.
	_ = m.reply(ctx, []byte("+TERM"))
	return nil
}
