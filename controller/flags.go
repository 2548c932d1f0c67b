package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tonewall/tonewall/controller/daemon"
	"github.com/tonewall/tonewall/controller/esl"
	"github.com/tonewall/tonewall/controller/webhook"
)

// config is what the command line yields.
type config struct {
	opts      daemon.Options
	logLevel  slog.Level
	logFormat string
	gcPercent int

	dev            bool
	devSecrets     string
	pluginSpecs    []string
	pluginSums     []string
	pluginSettings []string
	webhookSpecs   []string

	vaultAddr         string
	vaultMount        string
	vaultPrefix       string
	vaultTokenFile    string
	vaultRoleIDFile   string
	vaultSecretIDFile string
}

// DefaultGCPercent lets the heap grow to five times its live size between
// collections: every FreeSWITCH event the ESL library parses leaves some
// kilobytes of garbage, and on a small machine a collector running all the
// time takes a processor from the event path.
const DefaultGCPercent = 400

// envPrefix is the prefix of the environment variable for every flag.
const envPrefix = "TONEWALL_"

// parseFlags reads flags, then fills every flag not given on the command
// line from its TONEWALL_* environment variable. It returns nil, nil after
// printing help.
func parseFlags(args []string, lookup func(string) (string, bool), out io.Writer) (*config, error) {
	c := &config{}
	o := &c.opts
	fs := pflag.NewFlagSet("tonewall", pflag.ContinueOnError)
	fs.SetOutput(out)
	fs.SortFlags = false
	fs.StringVar(&o.ESLAddr, "esl-addr", daemon.DefaultESLAddr, "address FreeSWITCH's socket application connects to (outbound Event Socket); port 0 picks a free port")
	fs.StringVar(&o.APIAddr, "api-addr", daemon.DefaultAPIAddr, "address of the HTTP API (JSON under /v1)")
	fs.DurationVar(&o.CommandTimeout, "command-timeout", esl.DefaultCommandTimeout, "deadline for each FreeSWITCH command's reply")
	fs.DurationVar(&o.ReorderWindow, "event-reorder-window", esl.DefaultReorderWindow, "how long events are held to put them back in Event-Sequence order")
	fs.IntVar(&o.Linger, "linger", 5, "seconds FreeSWITCH keeps a call's socket open after hang-up so the last events arrive; also bounds how long a dropped socket goes unnoticed")
	fs.StringVar(&o.PromptDir, "prompt-dir", daemon.DefaultPromptDir, "directory of the prompt files as FreeSWITCH sees it (<dir>/<language>/tonewall-*.wav)")
	fs.StringVar(&o.Language, "language", daemon.DefaultLanguage, "prompt language when the call has no tonewall_language variable")
	fs.StringVar(&o.Tone, "agent-tone", "", "what the agent hears while the customer keys (a FreeSWITCH tone_stream or file); default a 440 Hz tone, 300 ms on, 700 ms off")
	fs.BoolVar(&o.MaskRecording, "mask-recording", false, "also mask FreeSWITCH's recording of the customer leg during capture (needs tonewall_record_path; blanks the agent's voice in that recording too)")
	fs.StringSliceVar(&o.Fields, "fields", []string{"pan", "expiry", "cvv"}, "card fields to collect, in order: pan, expiry, cvv, postcode")
	fs.StringSliceVar(&o.AcceptedBrands, "accepted-brands", nil, "card brands accepted (visa, mastercard, amex, discover, jcb, diners, maestro, unionpay); empty accepts all")
	fs.DurationVar(&o.InterDigit, "inter-digit-timeout", 0, "longest pause between two key presses in a field (default 5s)")
	fs.DurationVar(&o.FieldTimeout, "field-timeout", 0, "longest time to key one field (default 30s)")
	fs.IntVar(&o.MaxAttempts, "max-attempts", 0, "attempts per field before the capture fails (default 3)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", daemon.DefaultShutdownTimeout, "how long shutdown waits for live calls and payments")
	fs.StringArrayVar(&c.pluginSpecs, "plugin", nil, "payment provider plugin as NAME=PATH (repeatable); none runs the embedded example provider")
	fs.StringArrayVar(&c.pluginSums, "plugin-sha256", nil, "SHA-256 of a plugin executable as NAME=HEX (required for every --plugin outside --dev)")
	fs.StringArrayVar(&c.pluginSettings, "plugin-setting", nil, "non-secret plugin setting as NAME.KEY=VALUE, e.g. stripe.api_base=https://api.stripe.com (repeatable)")
	fs.StringVar(&o.DefaultProvider, "default-provider", "", "provider used when a capture request names none (default: the first --plugin)")
	fs.StringVar(&c.vaultAddr, "vault-addr", "", "HashiCorp Vault address; provider credentials are read from KV v2 at <vault-prefix>/providers/<name>")
	fs.StringVar(&c.vaultMount, "vault-mount", "secret", "mount path of Vault's KV v2 engine")
	fs.StringVar(&c.vaultPrefix, "vault-prefix", "tonewall", "path prefix of Tonewall's secrets in the KV engine")
	fs.StringVar(&c.vaultTokenFile, "vault-token-file", "", "file holding a Vault token (default: the VAULT_TOKEN environment variable)")
	fs.StringVar(&c.vaultRoleIDFile, "vault-role-id-file", "", "file holding an AppRole role id (selects AppRole login)")
	fs.StringVar(&c.vaultSecretIDFile, "vault-secret-id-file", "", "file holding an AppRole secret id")
	fs.StringVar(&o.DataDir, "data-dir", "tonewall-data", "directory of the embedded NATS JetStream server (webhook outbox, controllers' directory); empty with no --nats-url runs without webhooks")
	fs.StringVar(&o.NATSURL, "nats-url", "", "external NATS cluster shared by several controllers, instead of the embedded server")
	fs.StringVar(&o.NATSClusterName, "nats-cluster-name", "", "cluster name when embedded servers of several controllers form one NATS cluster")
	fs.StringVar(&o.NATSClusterListen, "nats-cluster-listen", "", "address the embedded server listens on for other controllers' servers")
	fs.StringSliceVar(&o.NATSRoutes, "nats-routes", nil, "other controllers' embedded servers, as nats-route://host:port")
	fs.StringVar(&o.NodeID, "node-id", "", "this controller's name among several (default: host name and a random suffix)")
	fs.StringArrayVar(&c.webhookSpecs, "webhook", nil, "CRM webhook endpoint as NAME=URL (repeatable); its signing secret is webhook/NAME in the secret store")
	fs.StringVar(&o.ClusterAPIURL, "cluster-api-url", "", "URL at which the other controllers reach this one's API, to relay event streams (default: the API address when it is a specific one)")
	fs.StringVar(&o.PublicURL, "public-url", "", "the controller's base URL as agents' browsers reach it (for panel links)")
	fs.StringSliceVar(&o.PanelFrameAncestors, "panel-frame-ancestors", nil, "origins allowed to embed the agent panel in a frame (default: this controller only)")
	fs.BoolVar(&c.dev, "dev", false, "DEVELOPMENT ONLY: allow --dev-secrets and plugins without a pinned checksum")
	fs.StringVar(&c.devSecrets, "dev-secrets", "", "DEVELOPMENT ONLY (needs --dev): a local JSON file of secrets instead of Vault")
	fs.IntVar(&c.gcPercent, "gc-percent", DefaultGCPercent, "garbage collector target, as GOGC: higher trades memory for steadier event latency (GOGC in the environment wins)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	help := fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {
		fmt.Fprintf(out, "tonewall: protected card capture on FreeSWITCH calls\n\nUsage: tonewall [flags]\n\n"+
			"Every flag may also be set with an environment variable: %s and the flag name in upper case,\n"+
			"dashes as underscores (--esl-addr is %sESL_ADDR). A flag on the command line wins.\n"+
			"Secrets are never taken from flags.\n\nFlags:\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if *help {
		fs.Usage()
		return nil, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := c.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return nil, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
	}
	if c.devSecrets != "" && !c.dev {
		return nil, errors.New("--dev-secrets is for development only and needs --dev")
	}
	if c.devSecrets != "" && c.vaultAddr != "" {
		return nil, errors.New("--dev-secrets and --vault-addr exclude each other")
	}
	plugins, err := c.plugins()
	if err != nil {
		return nil, err
	}
	o.Plugins = plugins
	for _, w := range c.webhookSpecs {
		name, url, ok := strings.Cut(w, "=")
		if !ok || name == "" || url == "" {
			return nil, fmt.Errorf("--webhook %q: want NAME=URL", w)
		}
		o.Webhooks = append(o.Webhooks, webhook.Endpoint{ID: name, URL: url, SecretName: name})
	}
	o.AllowLoopbackWebhooks = c.dev
	return c, nil
}
