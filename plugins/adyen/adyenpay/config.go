package adyenpay

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tonewall/tonewall/pluginsdk"
)

// Setting and secret names read by Configure.
const (
	SettingEnvironment     = "environment"      // "test" (default) or "live"
	SettingLivePrefix      = "live_prefix"      // company prefix for live endpoints
	SettingBaseURL         = "base_url"         // overrides the endpoint base (tests, proxies)
	SettingMerchantAccount = "merchant_account" // the dedicated MOTO merchant account
	SettingReturnURL       = "return_url"       // required by /payments; unused for MOTO
	SettingTimeout         = "timeout"          // per HTTP call, Go duration; default 30s
	SecretAPIKey           = "api_key"          // X-API-Key
)

// Defaults and limits from the Checkout API v71 reference.
const (
	apiVersion          = "v71"
	testBaseURL         = "https://checkout-test.adyen.com"
	liveBaseURLFormat   = "https://%s-checkout-live.adyenpayments.com/checkout"
	defaultReturnURL    = "https://tonewall.invalid/moto"
	defaultTimeout      = 30 * time.Second
	maxIdempotencyKey   = 64
	maxReference        = 80
	maxMetadataKey      = 20
	maxMetadataValue    = 80
	maxMetadataEntries  = 20
	minShopperReference = 3
)

// config is one immutable configuration. Configure swaps it atomically;
// a call in flight keeps the one it started with.
type config struct {
	endpoint        string // base URL including /v71, without trailing slash
	apiKey          string
	merchantAccount string
	returnURL       string
	timeout         time.Duration
}

// configError reports a setting or secret that cannot be used. The old
// configuration, if any, stays in force.
func configError(format string, args ...any) error {
	return pluginsdk.Errorf(pluginsdk.KindNotConfigured, "adyen: "+format, args...)
}

func parseConfig(settings map[string]string, secrets map[string][]byte) (*config, error) {
	c := &config{
		merchantAccount: strings.TrimSpace(settings[SettingMerchantAccount]),
		returnURL:       strings.TrimSpace(settings[SettingReturnURL]),
		timeout:         defaultTimeout,
	}
	if c.merchantAccount == "" {
		return nil, configError("setting %q is required", SettingMerchantAccount)
	}
	if c.returnURL == "" {
		c.returnURL = defaultReturnURL
	}
	key := strings.TrimSpace(string(secrets[SecretAPIKey]))
	if key == "" {
		return nil, configError("secret %q is required", SecretAPIKey)
	}
	c.apiKey = key
	if s := settings[SettingTimeout]; s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, configError("setting %q must be a positive duration", SettingTimeout)
		}
		c.timeout = d
	}

	base := strings.TrimRight(strings.TrimSpace(settings[SettingBaseURL]), "/")
	if base == "" {
		switch env := settings[SettingEnvironment]; env {
		case "", "test":
			base = testBaseURL
		case "live":
			prefix := strings.TrimSpace(settings[SettingLivePrefix])
			if prefix == "" || strings.ContainsAny(prefix, "/.:@ ") {
				return nil, configError("setting %q is required for live and must be a bare prefix", SettingLivePrefix)
			}
			base = fmt.Sprintf(liveBaseURLFormat, prefix)
		default:
			return nil, configError("setting %q must be test or live", SettingEnvironment)
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, configError("setting %q is not an http(s) URL", SettingBaseURL)
	}
	c.endpoint = base + "/" + apiVersion
	return c, nil
}
