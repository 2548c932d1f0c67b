// Package secrets gives the controller its provider credentials, webhook
// signing secrets and API tokens, and tells the parts that use them when
// they are rotated. The secrets come from HashiCorp Vault; they are held
// in memory only and never written to disk, logs, errors, metrics or
// process arguments.
//
// # Names and paths
//
// The controller asks for secrets by name, such as "provider/stripe",
// "webhook/crm" or "api/keys". The configuration maps each name to a
// path in a KV version 2 engine (mount "secret" unless set):
//
//	provider/stripe → secret/tonewall/providers/stripe
//	webhook/crm     → secret/tonewall/webhooks/crm
//	api/keys        → secret/tonewall/api-keys
//
// A secret is the set of key/value pairs stored at its path, at one
// version. The controller's Vault policy needs read on both the data and
// the metadata of each path:
//
//	path "secret/data/tonewall/*"     { capabilities = ["read"] }
//	path "secret/metadata/tonewall/*" { capabilities = ["read"] }
//
// Without metadata access the source still works, but reads the whole
// secret at every check instead of its version number, and logs a
// warning saying so. The token also needs the default policy, which
// allows it to look itself up and renew itself.
//
// # Authentication
//
// The controller logs in with a token or with AppRole. Credentials are
// read from files or environment variables named in the configuration,
// never from command-line flags. A renewable token is renewed for as long
// as Vault allows. When an AppRole token reaches its maximum TTL, the
// controller logs in again, reading the role id and secret id files
// afresh, so a secret id can be replaced on disk without a restart. A
// token given directly is read again from its file when it can no longer
// be renewed; a root or other non-expiring token is simply kept.
// Credentials Vault rejects at start stop the controller from starting.
//
// # Rotation
//
// Every poll interval (10 seconds unless set) the controller reads each
// secret's metadata and compares its current version with the one it
// holds. When an operator writes a new version, the controller reads it
// and hands it to the parts that subscribed to that secret, which switch
// to it without a restart. Writing a new version with the Vault CLI or
// API is all a rotation takes:
//
//	vault kv put secret/tonewall/providers/stripe api_key=sk_live_...
//
// # Degraded mode
//
// If Vault becomes unreachable, sealed or starts failing, the controller
// keeps serving the secrets it already holds, reports itself degraded
// with the reason and the time it last heard from Vault, and retries with
// exponential backoff (from half a second up to 30 seconds unless set).
// When Vault answers again the controller recovers on its own and picks
// up any versions written in the meantime. A secret that was never loaded
// (Vault down at start, nothing at its path, or the policy denies it) is
// an error for the code that asks for it, matching [ErrUnavailable],
// [ErrNotFound] or [ErrPermissionDenied]; the controller keeps trying and
// loads it as soon as it can. Health also reports degraded while any
// configured secret is missing or cannot be refreshed.
//
// # Development
//
// [NewDevFile] reads secrets from a local JSON file instead. It is refused
// unless the daemon runs with --dev, logs a warning at start, and reloads
// the file when it changes.
package secrets
