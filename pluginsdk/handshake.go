package pluginsdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/tonewall/tonewall/pluginsdk/internal/paymentpb"
)

// The handshake between the controller and a plugin. A plugin and a host agree
// when the magic cookie matches and they share a protocol version; the cookie
// only stops a plugin binary from being run by hand, it is no security measure
// (the checksum and mutual TLS are).
const (
	// ProtocolVersion is the version of the tonewall.payment.v1 contract.
	// Raise it, and keep serving the old one, for an incompatible change.
	ProtocolVersion = 1

	// MagicCookieKey is the environment variable the host sets for the plugin.
	MagicCookieKey = "TONEWALL_PAYMENT_PLUGIN"
	// MagicCookieValue is its fixed value.
	MagicCookieValue = "4f3c9a1e-payment-provider-v1-7d2b58c6"

	// PluginName is the name the provider is dispensed under.
	PluginName = "provider"
)

// handshake returns the go-plugin handshake configuration. The protocol
// version itself is negotiated through the versioned plugin sets.
func handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// versionedPlugins maps each protocol version this SDK speaks to its plugin
// set. On the host side p.impl is nil.
func versionedPlugins(p *grpcPlugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: p},
	}
}

// grpcPlugin binds a Provider to go-plugin's gRPC transport.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *providerServer // plugin side
}

// GRPCServer registers the provider service on the plugin's gRPC server.
func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	paymentpb.RegisterProviderServer(s, p.server)
	return nil
}

// GRPCClient returns the host's view of the plugin.
func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &providerClient{rpc: paymentpb.NewProviderClient(cc)}, nil
}
