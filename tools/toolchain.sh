#!/usr/bin/env bash
# Prints the root of a Pulumi install (``<root>/bin/pulumi`` and the Python plugin scripts beside
# it, the layout the Automation API's PulumiCommand expects), building it first
# if needed. No registry here ships Pulumi binaries, so the CLI is built from its Go module at the
# pinned version; the result is cached outside the repo, keyed by version, so later runs (and
# fresh clones on the same machine) take no time.
set -euo pipefail

PULUMI_VERSION=3.274.1
cache="${XDG_CACHE_HOME:-$HOME/.cache}/community-images/tools"
dir="$cache/pulumi-v$PULUMI_VERSION"

log() { echo "toolchain: $*" >&2; }

version_ok() {
  # The CLI must be at least the pinned version: the Automation API of the pinned Python SDK
  # refuses older ones.
  local have
  have=$("$1" version 2>/dev/null | sed 's/^v//') || return 1
  [ "$(printf '%s\n%s\n' "$PULUMI_VERSION" "$have" | sort -V | head -n1)" = "$PULUMI_VERSION" ]
}

if [ -x "$dir/bin/pulumi" ] && [ -x "$dir/bin/pulumi-language-python-exec" ]; then
  echo "$dir"
  exit 0
fi
if on_path=$(command -v pulumi) && version_ok "$on_path" \
  && [ -x "$(dirname "$on_path")/pulumi-language-python-exec" ]; then
  log "using $on_path ($("$on_path" version))"
  dirname "$(dirname "$on_path")"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build the Pulumi CLI"; exit 1; }
log "building pulumi v$PULUMI_VERSION from its Go module (a few minutes, once)"
work=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<MOD
module local/pulumi-toolchain

go 1.26
MOD
# pkg/v3 replaces sdk/v3 with a relative path, so `go install pkg@version` refuses it; requiring
# both at the same version from a throwaway module builds the CLI as released.
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
SRC
export GOFLAGS=-mod=mod
go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" >&2
mkdir -p out/bin
CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
  -o out/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
# The language host's launcher and the dynamic-provider plugin are scripts shipped in sdk/v3.
sdk=$(go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" out/bin/
install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" out/bin/
built=$(out/bin/pulumi version)
[ "$built" = "v$PULUMI_VERSION" ] || { log "built CLI reports $built"; exit 1; }
mkdir -p "$cache"
rm -rf "$dir"
mv out "$dir"
log "built $dir"
echo "$dir"
