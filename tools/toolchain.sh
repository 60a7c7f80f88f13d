#!/usr/bin/env bash
# Makes the Pulumi toolchain this project runs on exist, and prints the root of the Pulumi install
# (``<root>/bin/pulumi``, the layout the Automation API's PulumiCommand expects):
#
#   - the Pulumi CLI v$PULUMI_VERSION with the Python plugin scripts of its SDK,
#   - the Python language host beside it (the CLI finds it next to its own binary),
#   - the openstack resource provider v$OPENSTACK_VERSION, registered in $PULUMI_HOME/plugins.
#
# Each piece comes from the first of: this project's build cache (keyed by version, outside the
# repo, so a second run takes milliseconds); a Pulumi install that already has it; the official
# release when the machine is online (gives up within seconds when it is not); a build from
# source. The CLI builds from its Go module; the provider and the language host, whose module
# paths the Go module proxy here refuses, build from their upstream release archives in
# $PULUMI_PLUGIN_SOURCES (default: ../shared/sources beside the repository), each checked
# against tools/plugin-sources.sha256 before use.
set -euo pipefail

PULUMI_VERSION=3.274.1
# The newest language-host tag in the upstream archive; it compiles unchanged against the CLI's
# own pkg/v3 and sdk/v3 modules, so it is built against those.
LANGUAGE_HOST_VERSION=3.259.0
# The Python SDK asks the engine for exactly its own version: keep equal to requirements.txt.
OPENSTACK_VERSION=5.5.1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sources=${PULUMI_PLUGIN_SOURCES:-$(dirname "$repo")/shared/sources}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/community-images/tools"
cli_dir="$cache/pulumi-v$PULUMI_VERSION"
provider_bin="$cache/openstack-v$OPENSTACK_VERSION/pulumi-resource-openstack"
host_stamp="$cli_dir/bin/.pulumi-language-python-v$LANGUAGE_HOST_VERSION"
release_url="https://get.pulumi.com/releases/sdk/pulumi-v$PULUMI_VERSION-linux-x64.tar.gz"

export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
log() { echo "toolchain: $*" >&2; }

work=
cleanup() { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
workdir() {
  [ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-toolchain.XXXXXX")
  echo "$work"
}

missing() {
  cat >&2 <<MSG
toolchain: ERROR: $1 is missing and cannot be built here.
  Either install it from the official release on a machine with internet access
  (the Pulumi CLI v$PULUMI_VERSION, which ships the Python language host, then
  \`pulumi plugin install resource openstack $OPENSTACK_VERSION\`),
  or point PULUMI_PLUGIN_SOURCES at a folder with the upstream release archives listed in
  tools/plugin-sources.sha256 (now: $sources) and run \`make tools\` again.
MSG
  exit 1
}

online=
is_online() {
  # One quick HEAD request decides, so an offline machine loses a fraction of a second here.
  if [ -z "$online" ]; then
    if curl -fsSI --connect-timeout 5 --max-time 15 -o /dev/null "$release_url" 2>/dev/null; then
      online=yes
    else
      online=no
    fi
  fi
  [ "$online" = yes ]
}

version_ok() {
  local have
  have=$("$1" version 2>/dev/null | sed 's/^v//') || return 1
  [ "$(printf '%s\n%s\n' "$PULUMI_VERSION" "$have" | sort -V | head -n1)" = "$PULUMI_VERSION" ]
}

# Checks one upstream archive against the list in the repository; prints its path.
source_archive() {
  local name=$1 expected
  expected=$(awk -v n="$name" '$2 == n {print $1}' "$repo/tools/plugin-sources.sha256")
  [ -f "$sources/$name" ] || missing "$name (in PULUMI_PLUGIN_SOURCES=$sources)"
  if [ "$(sha256sum "$sources/$name" | cut -d' ' -f1)" != "$expected" ]; then
    log "ERROR: $sources/$name does not have the sha256 in tools/plugin-sources.sha256"
    exit 1
  fi
  echo "$sources/$name"
}

build_cli() {
  local dir
  dir=$(workdir)/cli
  mkdir -p "$dir/out/bin"
  cd "$dir"
  log "building pulumi v$PULUMI_VERSION from its Go module (about 6 minutes, once)"
  cat >go.mod <<MOD
module local/pulumi-toolchain

go 1.26
MOD
  # pkg/v3 replaces sdk/v3 with a relative path, so \`go install pkg@version\` refuses it;
  # requiring both at the same version from a throwaway module builds the CLI as released.
  cat >tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
SRC
  GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" >&2
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o out/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
  # The language host's launcher and the dynamic-provider plugin are scripts shipped in sdk/v3.
  local sdk
  sdk=$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" out/bin/
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" out/bin/
  [ "$(out/bin/pulumi version)" = "v$PULUMI_VERSION" ] || { log "built CLI has another version"; exit 1; }
  mkdir -p "$cache"
  rm -rf "$cli_dir"
  mv out "$cli_dir"
}

build_language_host() {
  local archive dir
  archive=$(source_archive "pulumi-language-python-$LANGUAGE_HOST_VERSION.tar.gz")
  dir=$(workdir)/host
  mkdir -p "$dir"
  log "building pulumi-language-python v$LANGUAGE_HOST_VERSION from $archive (about a minute, once)"
  tar -xzf "$archive" -C "$dir"
  cd "$dir"/*/sdk/python/cmd/pulumi-language-python
  # Upstream builds it inside the pulumi repository (replace => ../..); here it builds against
  # the released modules of the CLI's own version.
  go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 \
    -dropreplace github.com/pulumi/pulumi/sdk/v3 \
    -require "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" \
    -require "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
  GOFLAGS=-mod=mod go mod tidy >&2
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$cli_dir/bin/pulumi-language-python" . >&2
  touch "$host_stamp"
}

build_provider() {
  local archive dir
  archive=$(source_archive "pulumi-openstack-$OPENSTACK_VERSION.tar.gz")
  dir=$(workdir)/provider
  mkdir -p "$dir"
  log "building pulumi-resource-openstack v$OPENSTACK_VERSION from $archive (about 2 minutes, once)"
  tar -xzf "$archive" -C "$dir"
  cd "$dir"/*/provider/cmd/pulumi-resource-openstack
  # schema-embed.json is generated by upstream's Makefile before the build.
  GOFLAGS=-mod=mod VERSION=$OPENSTACK_VERSION go run generate.go >&2
  cd ../..
  mkdir -p "$(dirname "$provider_bin")"
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags \
    "-s -w -X github.com/pulumi/pulumi-openstack/provider/v5/pkg/version.Version=$OPENSTACK_VERSION" \
    -o "$provider_bin.tmp" ./cmd/pulumi-resource-openstack >&2
  mv "$provider_bin.tmp" "$provider_bin"
}

# 1. The CLI and the language host beside it.
root=
if [ -x "$cli_dir/bin/pulumi" ] && [ -f "$host_stamp" ]; then
  root=$cli_dir
elif on_path=$(command -v pulumi) && version_ok "$on_path" \
  && [ -x "$(dirname "$on_path")/pulumi-language-python" ]; then
  root=$(dirname "$(dirname "$on_path")")
  log "using $on_path ($("$on_path" version))"
elif [ ! -x "$cli_dir/bin/pulumi" ] && is_online; then
  log "downloading the official Pulumi v$PULUMI_VERSION release"
  dir=$(workdir)/release
  mkdir -p "$dir/out/bin"
  curl -fsSL --connect-timeout 5 "$release_url" | tar -xz -C "$dir"
  cp -a "$dir"/pulumi/* "$dir/out/bin/"
  mkdir -p "$cache"
  rm -rf "$cli_dir"
  mv "$dir/out" "$cli_dir"
  touch "$host_stamp"
  root=$cli_dir
else
  command -v go >/dev/null || missing "Go (needed to build the Pulumi CLI and its plugins)"
  [ -x "$cli_dir/bin/pulumi" ] || (build_cli)
  [ -f "$host_stamp" ] || (build_language_host)
  root=$cli_dir
  log "built $cli_dir"
fi
pulumi=$root/bin/pulumi

# 2. The openstack provider, registered where the CLI looks for plugins.
registered() {
  # Read the whole list first: `grep -q` quits at the match, and the CLI, still writing, dies of
  # SIGPIPE, which pipefail would count as "not registered" (one time in ten under load).
  local plugins
  plugins=$("$pulumi" plugin ls 2>/dev/null) || return 1
  grep -Eq "^openstack +resource +$OPENSTACK_VERSION " <<<"$plugins"
}
if ! registered; then
  if [ -x "$provider_bin" ]; then
    :
  elif is_online && timeout 300 "$pulumi" plugin install resource openstack "$OPENSTACK_VERSION" >&2; then
    :
  else
    command -v go >/dev/null || missing "Go (needed to build the openstack provider)"
    (build_provider)
  fi
  registered || "$pulumi" plugin install resource openstack "$OPENSTACK_VERSION" \
    --file "$provider_bin" >&2
  registered || missing "the openstack provider plugin v$OPENSTACK_VERSION"
fi
echo "$root"
