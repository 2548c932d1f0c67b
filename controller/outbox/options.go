package outbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nuid"
)

// Defaults for the zero values of Options.
const (
	// DefaultDataDir is where an embedded server keeps its JetStream files.
	DefaultDataDir = "data/nats"
	// DefaultHost is the client listen address of an embedded server.
	DefaultHost = "127.0.0.1"
	// DefaultStream is the name of the JetStream stream that holds the outbox.
	DefaultStream = "TONEWALL_WEBHOOKS"
	// DefaultSubject is the subject prefix of outbox messages; a message's key is appended.
	DefaultSubject = "tonewall.webhooks"
	// DefaultConsumer is the name of the durable pull consumer every controller shares.
	DefaultConsumer = "webhook-sender"
	// DefaultAckWait is how long a delivered message may stay unacknowledged before
	// JetStream hands it to another receiver.
	DefaultAckWait = 30 * time.Second
	// DefaultDuplicateWindow is how long JetStream remembers message ids for de-duplication.
	DefaultDuplicateWindow = 5 * time.Minute
	// DefaultStartTimeout bounds how long Open waits for the server and JetStream.
	DefaultStartTimeout = 30 * time.Second

	maxReplicas = 3
)

// Options configure an Outbox. Zero values mean the defaults above; they are
// filled in by withDefaults, in one place.
type Options struct {
	// URL connects to an external NATS server or cluster
	// ("nats://a:4222,nats://b:4222"). When empty an embedded server is started.
	URL string

	// DataDir holds the embedded server's JetStream files.
	DataDir string
	// Host is the embedded server's client listen address; it must be a loopback address.
	Host string
	// Port is the embedded server's client port; zero picks a random free port.
	Port int
	// ServerName names the embedded server. It must be unique within a cluster and
	// stable across restarts of a clustered server; by default it is derived from
	// the cluster listen address.
	ServerName string
	// Cluster makes the embedded server join a NATS cluster.
	Cluster Cluster
	// SyncAlways makes the embedded server fsync every write. Without it a write
	// survives the death of the process (kill -9) but not of the machine until the
	// periodic sync has run.
	SyncAlways bool

	// Replicas is the replica count of the stream and of key-value buckets. Zero
	// means the cluster size, at most three.
	Replicas int
	// Stream, Subject and Consumer name the JetStream objects.
	Stream   string
	Subject  string
	Consumer string
	// AckWait is how long a receiver may hold a message before it is handed out again.
	AckWait time.Duration
	// MaxAckPending caps the messages handed out and not yet acknowledged,
	// including those waiting for a delayed retry. Zero means no limit.
	MaxAckPending int
	// DuplicateWindow is how long message ids are remembered for de-duplication.
	DuplicateWindow time.Duration
	// StartTimeout bounds the start of the embedded server and the wait for JetStream.
	StartTimeout time.Duration

	// Logger receives the outbox's logs and the embedded server's. Nil discards them.
	Logger *slog.Logger
}

// Cluster makes an embedded server a member of a NATS cluster.
type Cluster struct {
	// Name is the cluster name; every member must use the same one.
	Name string
	// Listen is the host:port for routes from the other members; port 0
	// picks a free port. Unlike the client listener it may be a non-loopback
	// address, for members on other hosts.
	Listen string
	// Routes are the other members' route URLs ("nats-route://127.0.0.1:6222").
	// A route to this server itself is allowed and ignored.
	Routes []string
}

func (c Cluster) enabled() bool { return c.Listen != "" || c.Name != "" || len(c.Routes) > 0 }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var subjectRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// withDefaults returns a copy of o with every zero value replaced by its default,
// or an error describing the first invalid setting.
func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = -1
	}
	if !nameRE.MatchString(o.Stream) || !nameRE.MatchString(o.Consumer) {
		return o, errors.New("outbox: stream and consumer names must be 1-64 letters, digits, '-' or '_'")
	}
	if !subjectRE.MatchString(o.Subject) {
		return o, fmt.Errorf("outbox: invalid subject prefix %q", o.Subject)
	}
	if o.AckWait < 0 || o.DuplicateWindow < 0 || o.StartTimeout < 0 {
		return o, errors.New("outbox: durations must not be negative")
	}
	if o.Replicas < 0 || o.Replicas > 5 {
		return o, fmt.Errorf("outbox: replicas %d out of range", o.Replicas)
	}
	if o.URL != "" {
		if o.Cluster.enabled() {
			return o, errors.New("outbox: Cluster applies to the embedded server only, not with URL")
		}
		return o, nil
	}

	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if !isLoopback(o.Host) {
		return o, fmt.Errorf("outbox: embedded server host %q is not a loopback address", o.Host)
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("outbox: port %d out of range", o.Port)
	}
	if o.Cluster.enabled() {
		if o.Cluster.Name == "" || o.Cluster.Listen == "" {
			return o, errors.New("outbox: a cluster needs a name and a listen address")
		}
		if len(o.Cluster.Routes) == 0 {
			return o, errors.New("outbox: a cluster needs at least one route")
		}
		_, port, err := splitHostPort(o.Cluster.Listen)
		if err != nil {
			return o, fmt.Errorf("outbox: cluster listen: %w", err)
		}
		if o.ServerName == "" {
			// A random route port gives no stable identity: use a random name.
			o.ServerName = "tonewall-" + sanitize(o.Cluster.Listen)
			if port == 0 {
				o.ServerName = "tonewall-" + nuid.Next()
			}
		}
	}
	if o.ServerName == "" {
		o.ServerName = "tonewall"
	}
	return o, nil
}

// isLoopback reports whether host names the local machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// splitHostPort parses "host:port" where port 0 means a random port.
func splitHostPort(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port in %q", hostport)
	}
	return host, port, nil
}

// sanitize turns an address into characters safe for a server name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			b[i] = '-'
		}
	}
	return string(b)
}
