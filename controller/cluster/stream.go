package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// nodeKey is where a controller advertises its API's URL.
func nodeKey(id string) string { return "node." + id }

// Advertise records the URL at which the other controllers reach this
// controller's API, so that an event stream opened on any controller can be
// relayed from the one holding the call. The entry is refreshed with the
// call entries and removed by Close.
func (c *Cluster) Advertise(ctx context.Context, apiURL string) error {
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cluster: advertised API URL %q is not an http(s) URL", apiURL)
	}
	c.mu.Lock()
	c.apiURL = u.String()
	c.mu.Unlock()
	if _, err := c.kv.Put(ctx, nodeKey(c.opts.NodeID), []byte(u.String())); err != nil {
		return fmt.Errorf("cluster: advertise API URL: %w", err)
	}
	return nil
}

// relayStream serves an event stream for a call held by owner by relaying
// it, as a streaming reverse proxy, from the owner's API. Only progress
// events flow this way, and they never carry card digits.
func (c *Cluster) relayStream(w http.ResponseWriter, r *http.Request, owner string) {
	base, err := c.get(r.Context(), nodeKey(owner))
	if err != nil {
		w.Header().Set(HeaderController, owner)
		if errors.Is(err, ErrUnknown) {
			writeError(w, http.StatusMisdirectedRequest, CodeWrongController,
				"the controller holding the call does not advertise its API; open the event stream on the controller named in the Tonewall-Controller header")
			return
		}
		writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the call directory cannot be reached; try again")
		return
	}
	target, err := url.Parse(base)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call advertises a bad URL")
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(HeaderForwarded, c.opts.NodeID) // served there, never forwarded again
		},
		FlushInterval: -1, // stream each event as it comes
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(HeaderController, owner)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil {
				c.log.Warn("event stream relay failed", "owner", owner, "err", err)
				writeError(w, http.StatusServiceUnavailable, CodeControllerUnavailable, "the controller holding the call did not answer")
			}
		},
	}
	proxy.ServeHTTP(w, r)
}
