package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/secrets"
	"github.com/tonewall/tonewall/pluginsdk"
)

// plugins turns --plugin, --plugin-sha256 and --plugin-setting into the
// daemon's plugin list. Each plugin's credentials are the secret
// "provider/<name>".
func (c *config) plugins() ([]daemon.Plugin, error) {
	sums, err := keyValues(c.pluginSums, "--plugin-sha256")
	if err != nil {
		return nil, err
	}
	var out []daemon.Plugin
	seen := map[string]bool{}
	for _, spec := range c.pluginSpecs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--plugin %q: want NAME=PATH", spec)
		}
		if seen[name] {
			return nil, fmt.Errorf("--plugin %s given twice", name)
		}
		seen[name] = true
		sum := sums[name]
		if sum == "" {
			if !c.dev {
				return nil, fmt.Errorf("--plugin %s: its checksum is required (--plugin-sha256 %s=<sha256 of %s>); only --dev computes it at start", name, name, path)
			}
			if sum, err = pluginsdk.FileSHA256(path); err != nil {
				return nil, fmt.Errorf("--plugin %s: %w", name, err)
			}
		}
		out = append(out, daemon.Plugin{Name: name, Path: path, SHA256: sum, Secret: "provider/" + name, Settings: map[string]string{}})
	}
	for _, s := range c.pluginSettings {
		key, val, ok := strings.Cut(s, "=")
		name, setting, ok2 := strings.Cut(key, ".")
		if !ok || !ok2 || setting == "" {
			return nil, fmt.Errorf("--plugin-setting %q: want NAME.KEY=VALUE", s)
		}
		found := false
		for i := range out {
			if out[i].Name == name {
				out[i].Settings[setting] = val
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--plugin-setting %q: no --plugin named %s", s, name)
		}
	}
	for name := range sums {
		if !seen[name] {
			return nil, fmt.Errorf("--plugin-sha256 %s: no --plugin named %s", name, name)
		}
	}
	return out, nil
}

func keyValues(list []string, flag string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want NAME=VALUE", flag, s)
		}
		m[k] = v
	}
	return m, nil
}

// secretSource opens Vault when --vault-addr is set, or the development
// secrets file with --dev. Secret names map to KV v2 paths under
// --vault-prefix: "provider/stripe" is "<prefix>/providers/stripe",
// "webhook/crm" is "<prefix>/webhooks/crm", "api/keys" is
// "<prefix>/api-keys" and "api/agent-signing" is "<prefix>/agent-signing".
func (c *config) secretSource(ctx context.Context, log *slog.Logger) (secrets.Source, error) {
	plugins := c.opts.Plugins
	switch {
	case c.vaultAddr != "":
		paths := map[string]string{
			"api/keys":          c.vaultPrefix + "/api-keys",
			"api/agent-signing": c.vaultPrefix + "/agent-signing",
		}
		for _, p := range plugins {
			if p.Secret != "" {
				paths[p.Secret] = c.vaultPrefix + "/providers/" + p.Name
			}
		}
		for _, w := range c.opts.Webhooks {
			paths["webhook/"+w.SecretName] = c.vaultPrefix + "/webhooks/" + w.SecretName
		}
		auth := secrets.VaultAuth{TokenFile: c.vaultTokenFile, RoleIDFile: c.vaultRoleIDFile, SecretIDFile: c.vaultSecretIDFile}
		if c.vaultRoleIDFile != "" {
			auth.Method = secrets.AuthAppRole
		}
		v, err := secrets.NewVault(ctx, secrets.VaultConfig{
			Address: c.vaultAddr,
			Mount:   c.vaultMount,
			Paths:   paths,
			Auth:    auth,
		}, log.With("component", "secrets"))
		if err != nil {
			return nil, err
		}
		return v, nil
	case c.devSecrets != "":
		return secrets.NewDevFile(c.devSecrets, c.dev, log.With("component", "secrets"))
	default:
		for _, p := range plugins {
			if p.Secret != "" {
				return nil, fmt.Errorf("plugin %s needs credentials: set --vault-addr (or --dev with --dev-secrets)", p.Name)
			}
		}
		return nil, nil
	}
}
