package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
)

// ErrDevOnly is returned by [NewDevFile] unless development mode is on.
var ErrDevOnly = errors.New("secrets: a local secrets file is for development only")

// devFileCheck is how often DevFile checks its file for changes.
const devFileCheck = time.Second

// DevFile is a [Source] that reads secrets from a local JSON file, for
// development and tests only:
//
//	{"provider/stripe": {"api_key": "sk_test_..."}}
//
// It checks the file's modification time and size every second and, when
// they change, reads it again and notifies subscribers of the secrets
// whose values changed. Each change bumps that secret's Version.
type DevFile struct {
	path string
	log  *slog.Logger

	stop  chan struct{}
	wg    sync.WaitGroup
	close sync.Once

	// Owned by the check loop once it runs.
	mod  time.Time
	size int64

	mu      sync.Mutex
	secrets map[string]Secret
	subs    subscribers
	err     error // why the last read failed; nil if it succeeded
	lastOK  time.Time
	since   time.Time
}

// NewDevFile reads secrets from the JSON file at path. It refuses, with
// an error matching [ErrDevOnly], unless allowDev is true (the daemon's
// --dev flag), and logs a warning when it starts. The file must exist and
// parse.
func NewDevFile(path string, allowDev bool, log *slog.Logger) (*DevFile, error) {
	if !allowDev {
		return nil, fmt.Errorf("%w: refusing to read secrets from %s without development mode", ErrDevOnly, path)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "secrets", "source", "file")
	log.Warn("secrets from a local file: development only", "path", path)

	d := &DevFile{path: path, log: log, stop: make(chan struct{}), secrets: make(map[string]Secret)}
	if err := d.reload(); err != nil {
		return nil, err
	}
	d.wg.Go(d.run)
	return d, nil
}

// Get returns the secret called name as last read from the file.
func (d *DevFile) Get(ctx context.Context, name string) (Secret, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.secrets[name]
	if !ok {
		return Secret{}, &lookupError{name: name, path: d.path, kind: ErrNotFound}
	}
	return s.Clone(), nil
}

// Subscribe calls fn with the secret called name each time its value in
// the file changes.
func (d *DevFile) Subscribe(name string, fn func(Secret)) (unsubscribe func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := d.subs.add(name, fn)
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.subs.remove(name, id)
	}
}

// Health reports degraded while the file cannot be read or parsed; the
// secrets last read are still served.
func (d *DevFile) Health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := Health{LastOK: d.lastOK, Since: d.since, Held: len(d.secrets)}
	if d.err != nil {
		h.Degraded = true
		h.Reason = d.err.Error() + "; serving the secrets last read"
	}
	return h
}

// Close stops watching the file. It is safe to call more than once.
func (d *DevFile) Close() error {
	d.close.Do(func() {
		close(d.stop)
		d.wg.Wait()
	})
	return nil
}

func (d *DevFile) run() {
	t := time.NewTicker(devFileCheck)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.check()
		}
	}
}

// check reads the file again if its modification time or size changed.
func (d *DevFile) check() {
	fi, err := os.Stat(d.path)
	if err == nil && fi.ModTime().Equal(d.mod) && fi.Size() == d.size {
		return
	}
	if err := d.reload(); err != nil {
		d.mu.Lock()
		first := d.err == nil
		d.err = err
		if d.since.IsZero() {
			d.since = time.Now()
		}
		d.mu.Unlock()
		if first {
			d.log.Error("cannot read the secrets file; keeping the secrets last read", "error", err.Error())
		}
	}
}

// reload reads and parses the file, replaces the held secrets and
// notifies subscribers of those that changed.
func (d *DevFile) reload() error {
	fi, err := os.Stat(d.path)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	b, err := os.ReadFile(d.path)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	parsed, err := parseDevFile(b)
	if err != nil {
		return fmt.Errorf("secrets: file %s: %w", d.path, err)
	}
	d.mod, d.size = fi.ModTime(), fi.Size()

	type change struct {
		sec Secret
		fns []func(Secret)
	}
	var changes []change
	d.mu.Lock()
	next := make(map[string]Secret, len(parsed))
	for _, name := range slices.Sorted(maps.Keys(parsed)) {
		s, ok := d.secrets[name]
		if ok && s.Data.Equal(parsed[name]) {
			next[name] = s
			continue
		}
		s = Secret{Name: name, Version: s.Version + 1, Data: parsed[name]}
		next[name] = s
		changes = append(changes, change{s, d.subs.list(name)})
	}
	d.secrets = next
	recovered := d.err != nil
	d.err, d.since, d.lastOK = nil, time.Time{}, time.Now()
	d.mu.Unlock()

	if recovered {
		d.log.Info("secrets file readable again")
	}
	for _, c := range changes {
		d.log.Info("secret loaded from file", "secret", c.sec)
		notify(d.log, c.fns, c.sec)
	}
	return nil
}

// parseDevFile decodes {"name": {"key": value}}. String values are used
// as they are; other JSON values as their JSON text. Errors give a byte
// offset, never the file's contents.
func parseDevFile(b []byte) (map[string]Values, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]map[string]any
	if err := dec.Decode(&raw); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("invalid JSON near byte %d", syn.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("invalid JSON: unexpected end of file")
		case errors.Is(err, io.EOF):
			return nil, errors.New("empty file")
		}
		return nil, errors.New(`want a JSON object of the form {"name": {"key": "value"}}`)
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON object")
	}
	out := make(map[string]Values, len(raw))
	for name, kv := range raw {
		if name == "" {
			return nil, errors.New("empty secret name")
		}
		data := make(Values, len(kv))
		for k, x := range kv {
			data[k], _ = valueBytes(x) // decoded JSON always encodes again
		}
		out[name] = data
	}
	return out, nil
}
