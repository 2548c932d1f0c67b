package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tonewall/tonewall/controller/call"
)

// ErrUnknown is returned by Owner for a call or capture no controller has
// in the directory.
var ErrUnknown = errors.New("cluster: not in the directory")

// missRetries are the pauses before looking a missing key up again. A
// direct get may be answered by a replica a moment behind the leader, so a
// miss right after the owner wrote the entry is retried briefly.
var missRetries = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond}

func callKey(id string) string    { return "call." + id }
func captureKey(id string) string { return "capture." + id }

// owned is what this controller wrote to the directory for one call.
type owned struct {
	since    time.Time
	ended    bool
	captures []string
}

// openBucket creates or updates the directory bucket, retrying while
// JetStream (or its cluster) is still forming.
func openBucket(ctx context.Context, js jetstream.JetStream, opts Options) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	cfg := jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "Tonewall: which controller holds which call and capture",
		History:     1,
		TTL:         opts.TTL,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	}
	backoff := 50 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(ctx, opTimeout)
		kv, err := js.CreateOrUpdateKeyValue(actx, cfg)
		acancel()
		if err == nil {
			return kv, nil
		}
		opts.Logger.Debug("directory bucket not ready, retrying", "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("cluster: create bucket %s: %w (last error: %w)", opts.Bucket, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Observe learns of calls starting and ending and of captures starting on
// this controller. It never blocks: the event is queued for the directory
// writer, or dropped (and counted) when the queue is full.
func (c *Cluster) Observe(ev call.Event) {
	switch ev.Type {
	case call.EventCallStarted, call.EventCallEnded, call.EventCaptureStarted:
	default:
		return
	}
	if c.stopped.Load() || !idRE.MatchString(ev.CallID) || (ev.Type == call.EventCaptureStarted && !idRE.MatchString(ev.CaptureID)) {
		return
	}
	select {
	case c.events <- ev:
	default:
		c.dropped.Add(1)
	}
}

// run writes directory entries as events arrive and refreshes them before
// they expire, until Close.
func (c *Cluster) run() {
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	var reported uint64
	for {
		select {
		case <-c.ctx.Done():
			return
		case ev := <-c.events:
			c.apply(ev)
		case <-t.C:
			if n := c.dropped.Load(); n != reported {
				c.log.Warn("directory events dropped: queue full", "total", n)
				reported = n
			}
			c.refresh()
		}
	}
}

// apply records one event in memory and in the directory.
func (c *Cluster) apply(ev call.Event) {
	ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
	defer cancel()
	switch ev.Type {
	case call.EventCallStarted:
		c.mu.Lock()
		if c.owned[ev.CallID] == nil {
			c.owned[ev.CallID] = &owned{since: time.Now()}
		}
		c.mu.Unlock()
		c.put(ctx, callKey(ev.CallID), c.opts.NodeID)
	case call.EventCaptureStarted:
		if err := c.noteCapture(ctx, ev.CaptureID, ev.CallID); err != nil {
			c.log.Warn("directory write failed", "capture", ev.CaptureID, "err", err)
		}
	case call.EventCallEnded:
		c.mu.Lock()
		o := c.owned[ev.CallID]
		forget := o == nil || len(o.captures) == 0
		if o != nil {
			o.ended = true
		}
		if forget {
			delete(c.owned, ev.CallID)
		}
		c.mu.Unlock()
		// A call with captures stays in the directory while this controller
		// keeps them readable; refresh drops it afterwards.
		if forget {
			c.del(ctx, callKey(ev.CallID))
		}
	}
}

// noteCapture writes the entries of a capture started on a local call. It
// is called by the directory writer and, so that the capture can be read
// through any controller as soon as its creation is answered, by the
// middleware before a 201 leaves.
func (c *Cluster) noteCapture(ctx context.Context, captureID, callID string) error {
	c.mu.Lock()
	o := c.owned[callID]
	if o == nil {
		o = &owned{since: time.Now()}
		c.owned[callID] = o
	}
	known := false
	for _, id := range o.captures {
		known = known || id == captureID
	}
	if !known {
		o.captures = append(o.captures, captureID)
	}
	c.mu.Unlock()
	// The call entry too: its capture is found through it.
	if _, err := c.kv.Put(ctx, callKey(callID), []byte(c.opts.NodeID)); err != nil {
		return err
	}
	_, err := c.kv.Put(ctx, captureKey(captureID), []byte(callID))
	return err
}

// refresh writes the live entries again before they expire, and deletes
// those of calls and captures this controller no longer holds.
func (c *Cluster) refresh() {
	type entry struct{ key, value string }
	var puts []entry
	var dels []string
	grace := time.Now().Add(-c.opts.Refresh)
	c.mu.Lock()
	for id, o := range c.owned {
		// A missed call.ended event must not keep an entry alive forever.
		if !o.ended && o.since.Before(grace) && !c.opts.Local.HasCall(id) {
			o.ended = true
		}
		kept := o.captures[:0]
		for _, cp := range o.captures {
			if c.opts.Local.HasCapture(cp) {
				kept = append(kept, cp)
				puts = append(puts, entry{captureKey(cp), id})
			} else {
				dels = append(dels, captureKey(cp))
			}
		}
		o.captures = kept
		if o.ended && len(kept) == 0 {
			delete(c.owned, id)
			dels = append(dels, callKey(id))
			continue
		}
		puts = append(puts, entry{callKey(id), c.opts.NodeID})
	}
	if c.apiURL != "" {
		puts = append(puts, entry{nodeKey(c.opts.NodeID), c.apiURL})
	}
	c.mu.Unlock()
	for _, e := range puts {
		ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
		c.put(ctx, e.key, e.value)
		cancel()
	}
	for _, k := range dels {
		ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
		c.del(ctx, k)
		cancel()
	}
}

func (c *Cluster) put(ctx context.Context, key, value string) {
	if _, err := c.kv.Put(ctx, key, []byte(value)); err != nil && c.ctx.Err() == nil {
		c.log.Warn("directory write failed", "key", key, "err", err)
	}
}

func (c *Cluster) del(ctx context.Context, key string) {
	if err := c.kv.Delete(ctx, key); err != nil && c.ctx.Err() == nil {
		c.log.Warn("directory delete failed", "key", key, "err", err)
	}
}

// allKeysLocked lists every key this controller wrote. c.mu must be held.
func (c *Cluster) allKeysLocked() []string {
	var keys []string
	if c.apiURL != "" {
		keys = append(keys, nodeKey(c.opts.NodeID))
	}
	for id, o := range c.owned {
		keys = append(keys, callKey(id))
		for _, cp := range o.captures {
			keys = append(keys, captureKey(cp))
		}
	}
	return keys
}

// Owner returns the node id of the controller that holds the call, or
// ErrUnknown.
func (c *Cluster) Owner(ctx context.Context, callID string) (string, error) {
	if !idRE.MatchString(callID) {
		return "", ErrUnknown
	}
	return c.get(ctx, callKey(callID))
}

// locate returns the node that holds t's call.
func (c *Cluster) locate(ctx context.Context, t target) (string, error) {
	callID := t.id
	if t.kind == kindCapture {
		id, err := c.get(ctx, captureKey(t.id))
		if err != nil {
			return "", err
		}
		if !idRE.MatchString(id) {
			return "", fmt.Errorf("cluster: directory holds an invalid call id for capture %s", t.id)
		}
		callID = id
	}
	return c.get(ctx, callKey(callID))
}

// get reads one key, retrying a miss briefly.
func (c *Cluster) get(ctx context.Context, key string) (string, error) {
	for i := 0; ; i++ {
		gctx, cancel := context.WithTimeout(ctx, opTimeout)
		e, err := c.kv.Get(gctx, key)
		cancel()
		switch {
		case err == nil:
			return string(e.Value()), nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return "", fmt.Errorf("cluster: directory lookup: %w", err)
		case i == len(missRetries):
			return "", ErrUnknown
		}
		t := time.NewTimer(missRetries[i])
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
}
