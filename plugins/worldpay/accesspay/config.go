package accesspay

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Setting and secret names read by Configure.
const (
	SettingEnvironment = "environment" // "try" (default) or "live"
	SettingBaseURL     = "base_url"    // overrides the endpoint base (tests, proxies)
	SettingEntity      = "entity"      // merchant.entity, created at on-boarding
	SettingNarrative   = "narrative"   // instruction.narrative.line1, the statement text
	SettingTimeout     = "timeout"     // per HTTP call, Go duration; default 30s
	SecretUsername     = "username"    // Basic auth user
	SecretPassword     = "password"    // Basic auth password
)

// Values from the Payments API (2024-06-01) reference.
const (
	apiVersion      = "2024-06-01"
	tryBaseURL      = "https://try.access.worldpay.com"
	liveBaseURL     = "https://access.worldpay.com"
	defaultTimeout  = 30 * time.Second
	maxTxnReference = 64
	jsonAccept      = "application/json"
	queriesAccept   = "application/vnd.worldpay.payment-queries-v1.hal+json"
)

var (
	entityPattern = regexp.MustCompile(`^[A-Za-z0-9]+[A-Za-z0-9 ]*$`)
	// txnRefPattern is the documented character set of transactionReference.
	txnRefPattern = regexp.MustCompile("^[-A-Za-z0-9_!@#$%()*=.:;?\\[\\]{}~`/+]+$")
)

// config is one immutable configuration, swapped atomically by Configure.
type config struct {
	base      *url.URL // scheme and host every request and action link must use
	baseStr   string
	username  string
	password  string
	entity    string
	narrative string
	timeout   time.Duration
}

func configError(format string, args ...any) error {
	return pluginsdk.Errorf(pluginsdk.KindNotConfigured, "worldpay: "+format, args...)
}

func parseConfig(settings map[string]string, secrets map[string][]byte) (*config, error) {
	c := &config{
		entity:    strings.TrimSpace(settings[SettingEntity]),
		narrative: strings.TrimSpace(settings[SettingNarrative]),
		username:  string(secrets[SecretUsername]),
		password:  string(secrets[SecretPassword]),
		timeout:   defaultTimeout,
	}
	if c.entity == "" || len(c.entity) > 32 || !entityPattern.MatchString(c.entity) {
		return nil, configError("setting %q is required: 1-32 letters, digits and spaces", SettingEntity)
	}
	if c.narrative == "" {
		return nil, configError("setting %q (the statement text) is required", SettingNarrative)
	}
	if c.username == "" || c.password == "" {
		return nil, configError("secrets %q and %q are required", SecretUsername, SecretPassword)
	}
	if s := settings[SettingTimeout]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, configError("setting %q must be a positive duration", SettingTimeout)
		}
		c.timeout = d
	}
	base := strings.TrimRight(strings.TrimSpace(settings[SettingBaseURL]), "/")
	if base == "" {
		switch settings[SettingEnvironment] {
		case "", "try", "test":
			base = tryBaseURL
		case "live":
			base = liveBaseURL
		default:
			return nil, configError("setting %q must be try or live", SettingEnvironment)
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, configError("setting %q is not an http(s) URL", SettingBaseURL)
	}
	c.base, c.baseStr = u, base
	return c, nil
}

// resolve turns an action link (absolute, or relative to the base) into a
// URL on the configured host. Links to any other host are refused: they
// would receive the Basic auth credentials.
func (c *config) resolve(href string) (string, error) {
	u, err := c.base.Parse(href)
	if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("action link is not on %s", c.base.Host)
	}
	return u.String(), nil
}

// transactionReference is the transaction id when Worldpay accepts it, else
// a stable hash of it, so Status can compute the same value again.
func transactionReference(txn string) string {
	if len(txn) <= maxTxnReference && txnRefPattern.MatchString(txn) {
		return txn
	}
	return "tw-" + pluginsdk.StepKey(txn, "", 48)
}
