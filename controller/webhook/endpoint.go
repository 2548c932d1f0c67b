package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Endpoint is a CRM URL that receives signed webhooks.
type Endpoint struct {
	// ID names the endpoint in delivery records; letters, digits, '-' or '_'.
	ID string
	// URL receives the POSTs: https, or http to a loopback host when
	// Options.AllowLoopbackHTTP is set.
	URL string
	// Events lists the event types sent here; empty means all.
	Events []string
	// SecretName is the name passed to Secrets.SigningSecrets; empty means ID.
	SecretName string
}

// ErrInvalidEndpoint is wrapped by every endpoint validation error.
var ErrInvalidEndpoint = errors.New("webhook: invalid endpoint")

// ValidateEndpoint checks ep as configured: a usable id, a URL that is https
// (or http to a loopback host when allowLoopbackHTTP), with a host and no
// user information, and known event types.
func ValidateEndpoint(ep Endpoint, allowLoopbackHTTP bool) error {
	if !validID(ep.ID) {
		return fmt.Errorf("%w: id %q must be 1-100 letters, digits, '-' or '_'", ErrInvalidEndpoint, ep.ID)
	}
	if err := validateURL(ep.URL, allowLoopbackHTTP); err != nil {
		return fmt.Errorf("%w %s: %w", ErrInvalidEndpoint, ep.ID, err)
	}
	for _, t := range ep.Events {
		if !KnownType(t) {
			return fmt.Errorf("%w %s: unknown event type %q", ErrInvalidEndpoint, ep.ID, t)
		}
	}
	return nil
}

// validateURL checks a webhook URL. Error texts never repeat the URL, which
// may carry a token in its query.
func validateURL(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("URL does not parse")
	}
	if u.User != nil {
		return errors.New("URL must not carry user information")
	}
	if u.Opaque != "" || u.Host == "" {
		return errors.New("URL has no host")
	}
	if u.Fragment != "" {
		return errors.New("URL must not have a fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if !allowLoopbackHTTP {
			return errors.New("URL must use https")
		}
		if !loopbackHost(u.Hostname()) {
			return errors.New("http is allowed for loopback hosts only")
		}
		return nil
	default:
		return fmt.Errorf("URL scheme %q is not https", u.Scheme)
	}
}

// loopbackHost reports whether host is localhost, 127.0.0.0/8 or ::1.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wants reports whether ep receives events of type t.
func (ep Endpoint) wants(t string) bool {
	return len(ep.Events) == 0 || slices.Contains(ep.Events, t)
}

// secretName returns the name to look the signing secrets up by.
func (ep Endpoint) secretName() string {
	if ep.SecretName != "" {
		return ep.SecretName
	}
	return ep.ID
}
