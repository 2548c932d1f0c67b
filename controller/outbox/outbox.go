// Package outbox is Tonewall's durable outbox: a NATS JetStream work queue,
// on an embedded server by default or on an external cluster, holding one
// message per unit of work (for webhooks: one per event and endpoint) until a
// receiver acknowledges it.
//
// Publish returns only once JetStream has stored the message, so a caller that
// got nil from Publish may tell its own caller the work is safe. Every
// controller sharing the stream pulls from one durable consumer: each message
// goes to one receiver at a time, and comes back after a delay the receiver
// asks for (Msg.Retry), after a crash (once AckWait has passed), or never once
// acknowledged (Msg.Ack) or dropped (Msg.Drop).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrClosed is returned by the methods of a closed Outbox.
var ErrClosed = errors.New("outbox: closed")

// setupAttemptTimeout bounds one JetStream management request during start-up;
// Open retries until StartTimeout.
const setupAttemptTimeout = 5 * time.Second

// Outbox is a durable queue on NATS JetStream. It is safe for concurrent use.
type Outbox struct {
	opts     Options
	log      *slog.Logger
	srv      *server.Server // nil with an external server
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	cons     jetstream.Consumer
	replicas int

	connClosed chan struct{}
	closeOnce  sync.Once
	closeErr   error
	mu         sync.Mutex
	closed     bool
}

// Message is one unit of work to store.
type Message struct {
	// ID de-duplicates: a second message with the same ID inside the duplicate
	// window is dropped by JetStream (Publish still reports success).
	ID string
	// Key routes the message; it becomes the last token of the subject. It
	// must be letters, digits, '-' or '_'.
	Key string
	// Header carries small metadata next to Data.
	Header map[string]string
	// Data is the message body.
	Data []byte
}

// PubAck is JetStream's acknowledgement of a stored message.
type PubAck struct {
	// Sequence is the message's position in the stream.
	Sequence uint64
	// Duplicate is true when a message with the same ID had already been stored.
	Duplicate bool
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Open starts the embedded server (unless opts.URL is set), connects, and
// creates or updates the stream and the shared consumer. It waits for
// JetStream to be available, up to opts.StartTimeout.
func Open(ctx context.Context, opts Options) (*Outbox, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	o := &Outbox{
		opts:       opts,
		log:        opts.Logger.With("component", "outbox"),
		connClosed: make(chan struct{}),
	}
	url := opts.URL
	connOpts := []nats.Option{
		nats.Name("tonewall-outbox"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ClosedHandler(func(*nats.Conn) { close(o.connClosed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			o.log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			o.log.Warn("nats error", "err", err)
		}),
	}
	if url == "" {
		s, err := startEmbedded(opts)
		if err != nil {
			return nil, err
		}
		o.srv = s
		url = s.ClientURL()
		connOpts = append(connOpts, nats.InProcessServer(s))
	}
	o.nc, err = nats.Connect(url, connOpts...)
	if err != nil {
		o.shutdownServer()
		return nil, fmt.Errorf("outbox: connect: %w", err)
	}
	o.js, err = jetstream.New(o.nc)
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("outbox: jetstream: %w", err)
	}
	o.replicas = o.pickReplicas()
	if err := o.setup(ctx); err != nil {
		o.Close()
		return nil, err
	}
	o.log.Info("outbox open", "stream", opts.Stream, "replicas", o.replicas, "embedded", o.srv != nil)
	return o, nil
}

// pickReplicas returns the configured replica count or the cluster size, at most three.
func (o *Outbox) pickReplicas() int {
	if o.opts.Replicas > 0 {
		return o.opts.Replicas
	}
	n := 1
	if o.srv != nil {
		n = clusterSize(o.opts, o.srv)
	} else {
		seen := map[string]bool{}
		for _, s := range o.nc.Servers() {
			seen[strings.ToLower(strings.TrimPrefix(s, "nats://"))] = true
		}
		n = max(len(seen), 1)
	}
	return min(n, maxReplicas)
}

// setup creates or updates the stream and the durable consumer, retrying
// while JetStream (or its cluster) is still forming.
func (o *Outbox) setup(ctx context.Context) error {
	scfg := jetstream.StreamConfig{
		Name:        o.opts.Stream,
		Description: "Tonewall outbox: one message per unit of work",
		Subjects:    []string{o.opts.Subject + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas,
		Duplicates:  o.opts.DuplicateWindow,
		MaxMsgSize:  1 << 20,
	}
	ccfg := jetstream.ConsumerConfig{
		Durable:       o.opts.Consumer,
		Description:   "shared by every controller",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.opts.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	return retry(ctx, o.log, "create stream and consumer", func(ctx context.Context) error {
		st, err := o.js.CreateOrUpdateStream(ctx, scfg)
		if err != nil {
			return fmt.Errorf("stream %s: %w", scfg.Name, err)
		}
		o.stream = st
		cons, err := o.js.CreateOrUpdateConsumer(ctx, scfg.Name, ccfg)
		if err != nil {
			return fmt.Errorf("consumer %s: %w", ccfg.Durable, err)
		}
		o.cons = cons
		return nil
	})
}

// retry runs f with a per-attempt timeout until it succeeds or ctx is done.
func retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) error {
	backoff := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, setupAttemptTimeout)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		log.Debug("jetstream not ready, retrying", "what", what, "err", err)
		if werr := waitBackoff(ctx, backoff); werr != nil {
			return fmt.Errorf("outbox: %s: %w (last error: %w)", what, werr, err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Publish stores m and returns once JetStream has acknowledged it. A message
// whose ID was already stored inside the duplicate window is not stored again.
func (o *Outbox) Publish(ctx context.Context, m Message) (PubAck, error) {
	if o.isClosed() {
		return PubAck{}, ErrClosed
	}
	if m.ID == "" {
		return PubAck{}, errors.New("outbox: message without an id")
	}
	if !keyRE.MatchString(m.Key) {
		return PubAck{}, fmt.Errorf("outbox: invalid message key %q", m.Key)
	}
	msg := &nats.Msg{Subject: o.opts.Subject + "." + m.Key, Data: m.Data, Header: nats.Header{}}
	for k, v := range m.Header {
		msg.Header.Set(k, v)
	}
	ack, err := o.js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.ID), jetstream.WithExpectStream(o.opts.Stream))
	if err != nil {
		return PubAck{}, fmt.Errorf("outbox: publish %s: %w", m.ID, err)
	}
	return PubAck{Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// KeyValue creates (or updates) and returns a key-value bucket on file storage
// with the outbox's replica count. ttl expires entries that have not been
// written for that long; zero keeps them.
func (o *Outbox) KeyValue(ctx context.Context, bucket string, ttl time.Duration) (jetstream.KeyValue, error) {
	if o.isClosed() {
		return nil, ErrClosed
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:   bucket,
		History:  1,
		TTL:      ttl,
		Storage:  jetstream.FileStorage,
		Replicas: o.replicas,
	}
	var kv jetstream.KeyValue
	err := retry(ctx, o.log, "create bucket "+bucket, func(ctx context.Context) error {
		var err error
		kv, err = o.js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kv, nil
}

// Pending returns the number of messages stored and not yet acknowledged or dropped.
func (o *Outbox) Pending(ctx context.Context) (uint64, error) {
	if o.isClosed() {
		return 0, ErrClosed
	}
	st, err := o.js.Stream(ctx, o.opts.Stream)
	if err != nil {
		return 0, fmt.Errorf("outbox: stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: stream info: %w", err)
	}
	return info.State.Msgs, nil
}

// AckWait returns how long a receiver may hold a message before it is handed out again.
func (o *Outbox) AckWait() time.Duration { return o.opts.AckWait }

// Replicas returns the replica count used for the stream and buckets.
func (o *Outbox) Replicas() int { return o.replicas }

// ClientURL returns the URL other clients can use to reach the embedded
// server, or the configured URL for an external one.
func (o *Outbox) ClientURL() string {
	if o.srv != nil {
		return o.srv.ClientURL()
	}
	return o.opts.URL
}

func (o *Outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

// Close drains the connection, so messages being acknowledged are flushed, and
// shuts the embedded server down. It is safe to call more than once.
func (o *Outbox) Close() error {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.closed = true
		o.mu.Unlock()
		if o.nc != nil {
			if err := o.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				o.closeErr = fmt.Errorf("outbox: drain: %w", err)
				o.nc.Close()
			}
			select {
			case <-o.connClosed:
			case <-time.After(10 * time.Second):
				o.nc.Close()
				<-o.connClosed
			}
		}
		o.shutdownServer()
		o.log.Info("outbox closed")
	})
	return o.closeErr
}

func (o *Outbox) shutdownServer() {
	if o.srv != nil {
		o.srv.Shutdown()
		o.srv.WaitForShutdown()
	}
}
