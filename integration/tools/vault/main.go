// Command vault is the HashiCorp Vault server and CLI, built from source so
// that integration tests can run a real dev server. It lives in its own
// module to keep Vault's dependency graph out of the main go.mod; see
// .ci/vault.sh, which builds and caches it.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
