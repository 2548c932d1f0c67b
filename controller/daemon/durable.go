package daemon

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tonewall/tonewall/controller/api/webhookapi"
	"github.com/tonewall/tonewall/controller/call"
	"github.com/tonewall/tonewall/controller/cluster"
	"github.com/tonewall/tonewall/controller/outbox"
	"github.com/tonewall/tonewall/controller/webhook"
)

// durable reports whether the NATS-backed parts (webhook outbox, cluster
// directory) are configured.
func (o *Options) durable() bool { return o.DataDir != "" || o.NATSURL != "" }

// startDurable opens the outbox (an embedded NATS JetStream server under
// DataDir, or the cluster at NATSURL), starts webhook delivery, and joins
// the controllers' directory so that API requests reach the controller
// holding the call.
func (d *Daemon) startDurable(ctx context.Context) error {
	o := d.opts
	ob, err := outbox.Open(ctx, outbox.Options{
		URL:        o.NATSURL,
		DataDir:    filepath.Join(o.DataDir, "nats"),
		ServerName: o.NodeID,
		Cluster:    outbox.Cluster{Name: o.NATSClusterName, Listen: o.NATSClusterListen, Routes: o.NATSRoutes},
		Logger:     o.Logger.With("component", "outbox"),
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	d.outbox = ob
	sec := o.WebhookSecrets
	if sec == nil && o.Secrets != nil {
		sec = webhookSecrets{o.Secrets}
	}
	if sec == nil {
		sec = webhook.StaticSecrets{}
	}
	sender, err := webhook.New(ctx, ob, webhook.Options{
		Endpoints:         o.Webhooks,
		Secrets:           sec,
		AllowLoopbackHTTP: o.AllowLoopbackWebhooks,
		Schedule:          o.WebhookSchedule,
		Logger:            o.Logger.With("component", "webhook"),
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if err := sender.Start(d.baseCtx); err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	d.sender = sender
	d.api.Deliveries = webhookapi.New(sender)
	d.notify.Store(newNotifier(d.baseCtx, sender, func() *call.Manager { return d.calls }, o.Logger.With("component", "webhook")))

	nc, err := nats.Connect(ob.ClientURL(), nats.Name("tonewall-cluster-"+o.NodeID), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d.nc = nc
	member, err := cluster.New(ctx, cluster.Options{
		Conn:     nc,
		NodeID:   o.NodeID,
		Local:    cluster.ManagerLocal(d.calls),
		Replicas: ob.Replicas(),
		Logger:   o.Logger.With("component", "cluster"),
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d.member.Store(member)
	d.api.Wrap = member.Middleware
	return nil
}

// advertise tells the other controllers where this one's API is, so they
// can relay event streams for the calls it holds.
func (d *Daemon) advertise() {
	m := d.member.Load()
	if m == nil {
		return
	}
	u := d.opts.ClusterAPIURL
	if u == "" {
		host, _, err := net.SplitHostPort(strings.TrimPrefix(d.api.URL(), "http://"))
		if ip := net.ParseIP(host); err != nil || (ip != nil && ip.IsUnspecified()) {
			d.log.Info("event streams are not relayed between controllers: set --cluster-api-url")
			return
		}
		u = d.api.URL()
	}
	ctx, cancel := context.WithTimeout(d.baseCtx, 10*time.Second)
	defer cancel()
	if err := m.Advertise(ctx, u); err != nil {
		d.log.Warn("API URL not advertised to the other controllers", "err", err)
	}
}

// closeDurable stops what startDurable started, in reverse: queued
// webhook events are stored before the sender and the outbox go.
func (d *Daemon) closeDurable() {
	if n := d.notify.Load(); n != nil {
		n.close()
	}
	if m := d.member.Load(); m != nil {
		_ = m.Close()
	}
	if d.nc != nil {
		d.nc.Close()
	}
	if d.sender != nil {
		_ = d.sender.Close()
	}
	if d.outbox != nil {
		_ = d.outbox.Close()
	}
}
