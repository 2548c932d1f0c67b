// Package cluster makes several controllers work as one. A call lives on
// exactly one controller (the one FreeSWITCH connected to), but an API
// request for it may reach any controller. Each controller records the calls
// and captures it holds in a JetStream key-value directory, and a controller
// that gets a request for a call held elsewhere forwards it over NATS
// request/reply to the owner, which serves it with its local handler.
//
// Streaming endpoints (Server-Sent Events) are not forwarded: a controller
// that does not hold the call answers 421 wrong_controller and names the
// owner in the Tonewall-Controller header. A load balancer should pin event
// streams by call id, or the panel should reconnect to the named controller.
//
// Card data never crosses NATS: the API's request bodies never hold it, and
// a body with a run of 12 or more digits is refused rather than forwarded.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tonewall/tonewall/controller/call"
)

// Defaults for the zero values of Options.
const (
	// DefaultBucket is the key-value bucket of the directory.
	DefaultBucket = "TONEWALL_DIRECTORY"
	// DefaultRequestTimeout bounds a forwarded request.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultTTL is how long a directory entry lives unless its owner
	// writes it again: the entries of a crashed controller expire after it.
	DefaultTTL = 2 * time.Minute
	// DefaultQueueSize is how many directory events wait for the writer.
	DefaultQueueSize = 1024
	// DefaultMaxInFlight caps the forwarded requests served at once.
	DefaultMaxInFlight = 256
	// DefaultStartTimeout bounds the creation of the bucket in New.
	DefaultStartTimeout = 30 * time.Second

	maxReplicas = 3
	opTimeout   = 5 * time.Second
)

// Local tells whether this controller holds a call or a capture.
type Local interface {
	HasCall(id string) bool
	HasCapture(id string) bool
}

// Manager is the part of call.Manager that ManagerLocal needs.
type Manager interface {
	Call(id string) (call.CallView, error)
	Capture(id string) (call.CaptureView, error)
}

// ManagerLocal adapts a call manager to Local. A finished capture counts as
// held while the manager still keeps it readable.
func ManagerLocal(m Manager) Local { return managerLocal{m} }

type managerLocal struct{ m Manager }

func (l managerLocal) HasCall(id string) bool {
	_, err := l.m.Call(id)
	return err == nil
}

func (l managerLocal) HasCapture(id string) bool {
	_, err := l.m.Capture(id)
	return err == nil
}

// Options configure a Cluster. Zero values mean the defaults above; they
// are filled in by withDefaults, in one place.
type Options struct {
	// Conn is the connection to the NATS cluster shared by the controllers.
	// Required; the Cluster does not close it.
	Conn *nats.Conn
	// NodeID names this controller; unique in the cluster, letters, digits,
	// '-' or '_'. Empty means DefaultNodeID().
	NodeID string
	// Local tells which calls and captures this controller holds. Required.
	Local Local
	// Logger receives the cluster's logs. Nil discards them.
	Logger *slog.Logger
	// RequestTimeout bounds a forwarded request, and the serving of one.
	RequestTimeout time.Duration
	// TTL is how long a directory entry lives unless written again.
	TTL time.Duration
	// Refresh is how often the owner writes its entries again; zero means TTL/4.
	Refresh time.Duration
	// Replicas of the directory bucket. Zero means the number of servers the
	// connection knows of, at most three.
	Replicas int
	// Bucket names the directory's key-value bucket.
	Bucket string
	// QueueSize bounds the directory events waiting to be written.
	QueueSize int
	// MaxInFlight caps the forwarded requests this controller serves at once;
	// beyond it a request is answered 503.
	MaxInFlight int
	// StartTimeout bounds the creation of the bucket while JetStream forms.
	StartTimeout time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Conn == nil {
		return o, errors.New("cluster: Options.Conn is required")
	}
	if o.Local == nil {
		return o, errors.New("cluster: Options.Local is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NodeID == "" {
		o.NodeID = DefaultNodeID()
	}
	if !idRE.MatchString(o.NodeID) || len(o.NodeID) > 64 {
		return o, fmt.Errorf("cluster: node id %q must be 1-64 letters, digits, '-' or '_'", o.NodeID)
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Refresh == 0 {
		o.Refresh = o.TTL / 4
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.RequestTimeout < 0 || o.TTL < 0 || o.Refresh < 0 || o.QueueSize < 0 || o.MaxInFlight < 0 || o.StartTimeout < 0 {
		return o, errors.New("cluster: negative option")
	}
	if o.Refresh >= o.TTL {
		return o, fmt.Errorf("cluster: refresh %s must be shorter than the TTL %s", o.Refresh, o.TTL)
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		return o, fmt.Errorf("cluster: replicas %d out of range", o.Replicas)
	}
	if o.Replicas == 0 {
		seen := map[string]bool{}
		for _, s := range o.Conn.Servers() {
			seen[strings.ToLower(strings.TrimPrefix(s, "nats://"))] = true
		}
		o.Replicas = min(max(len(seen), 1), maxReplicas)
	}
	if !idRE.MatchString(o.Bucket) {
		return o, fmt.Errorf("cluster: invalid bucket name %q", o.Bucket)
	}
	return o, nil
}

// DefaultNodeID returns the host name (letters, digits, '-' and '_' only)
// followed by a random suffix.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "tonewall"
	}
	b := []byte(host)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			b[i] = '-'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	return string(b) + "-" + hex.EncodeToString(suffix[:])
}

// Cluster is this controller's member of the cluster: its entries in the
// directory, the forwarding middleware, and the server of requests other
// controllers forward to it. It is safe for concurrent use.
type Cluster struct {
	opts     Options
	log      *slog.Logger
	nc       *nats.Conn
	kv       jetstream.KeyValue
	sub      *nats.Subscription
	events   chan call.Event
	handler  atomic.Pointer[http.Handler]
	inflight chan struct{}
	dropped  atomic.Uint64
	stopped  atomic.Bool // set by Close: Observe ignores events
	limit    int         // largest answer body sent back over NATS

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	owned  map[string]*owned // call id → what this controller wrote for it
	apiURL string            // advertised for relayed event streams

	closeOnce sync.Once
}

// New creates or updates the directory bucket (waiting for JetStream, up to
// opts.StartTimeout), subscribes to the requests forwarded to this
// controller, and starts the directory writer. Until Middleware is called,
// forwarded requests are answered 503.
func New(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(opts.Conn)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	kv, err := openBucket(ctx, js, opts)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Cluster{
		opts:     opts,
		log:      opts.Logger.With("component", "cluster", "node", opts.NodeID),
		nc:       opts.Conn,
		kv:       kv,
		events:   make(chan call.Event, opts.QueueSize),
		inflight: make(chan struct{}, opts.MaxInFlight),
		limit:    max(int(opts.Conn.MaxPayload())-(8<<10), 4<<10) * 3 / 4,
		ctx:      runCtx,
		cancel:   cancel,
		owned:    make(map[string]*owned),
	}
	c.sub, err = opts.Conn.Subscribe(nodeSubject(opts.NodeID), c.onRequest)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("cluster: subscribe: %w", err)
	}
	c.wg.Go(c.run)
	c.log.Info("cluster member started", "bucket", opts.Bucket, "replicas", opts.Replicas, "ttl", opts.TTL)
	return c, nil
}

// NodeID returns this controller's node id.
func (c *Cluster) NodeID() string { return c.opts.NodeID }

// Dropped counts the directory events lost because the queue was full.
func (c *Cluster) Dropped() uint64 { return c.dropped.Load() }

// Close stops serving forwarded requests (waiting for those in flight),
// stops the directory writer, and deletes this controller's entries. It does
// not close the NATS connection. It is safe to call more than once.
func (c *Cluster) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.stopped.Store(true)
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		if uerr := c.sub.Unsubscribe(); uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("cluster: unsubscribe: %w", uerr)
		}
		c.cancel()
		c.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		c.mu.Lock()
		keys := c.allKeysLocked()
		c.owned = map[string]*owned{}
		c.mu.Unlock()
		for _, k := range keys {
			if derr := c.kv.Delete(ctx, k); derr != nil && err == nil {
				err = fmt.Errorf("cluster: delete %s: %w", k, derr)
			}
		}
		c.log.Info("cluster member stopped", "entries_deleted", len(keys))
	})
	return err
}

// nodeSubject is the subject a controller serves forwarded requests on.
func nodeSubject(node string) string { return "tonewall.node." + node + ".http" }
