#!/usr/bin/env bash
# Builds the HashiCorp Vault server that the integration tests run as a dev
# server, from the nested module integration/tools/vault, and prints the
# binary's path on the last line of its output.
#
# The binary is cached outside the checkout, keyed by the nested module's
# go.sum, so only the first run on a machine pays for the build (4-6 minutes
# on two cores); later runs return at once. Tests find the same path
# themselves (integration/vaulttest), or take it from TONEWALL_VAULT_BIN.
#
#   bin=$(bash .ci/vault.sh | tail -n1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mod="$root/integration/tools/vault"
if [[ ! -f "$mod/go.sum" ]]; then
	echo "vault.sh: $mod/go.sum is missing; run 'go mod tidy' in that directory" >&2
	exit 1
fi

hash=$(sha256sum "$mod/go.sum" | cut -c1-16)
dir="$HOME/.cache/tonewall/vault-$hash"
bin="$dir/vault"

if [[ ! -x "$bin" ]]; then
	mkdir -p "$dir"
	# Serialise concurrent builds on one machine; the loser finds the binary.
	exec 9>"$dir/.lock"
	if command -v flock >/dev/null; then
		flock 9
	fi
	if [[ ! -x "$bin" ]]; then
		echo "vault.sh: building Vault into $dir (first run on this machine; a few minutes)" >&2
		tmp="$dir/vault.partial.$$"
		trap 'rm -f "$tmp"' EXIT
		start=$SECONDS
		(
			cd "$mod"
			GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" \
				GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}" \
				go build -o "$tmp" .
		)
		"$tmp" version >&2
		mv -f "$tmp" "$bin"
		trap - EXIT
		echo "vault.sh: built in $((SECONDS - start))s" >&2
	fi
fi

echo "$bin"
