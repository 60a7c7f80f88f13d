#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint, since nothing here can run them. No registry
# here ships its binary, so it is built from its Go module at the pinned version, once: the result
# is cached outside the repo, keyed by version, like the Pulumi CLI in tools/toolchain.sh.
#
#     bash tools/actionlint.sh            # every .github/workflows/*.yml
#     bash tools/actionlint.sh FILE...    # only these
#
# Exits with actionlint's status (1 when it found problems).
set -euo pipefail

# The newest version the Go module proxy serves (2026-11).
ACTIONLINT_VERSION=v1.7.12
cache="${XDG_CACHE_HOME:-$HOME/.cache}/community-images/tools"
dir="$cache/actionlint-$ACTIONLINT_VERSION"
bin="$dir/actionlint"

log() { echo "actionlint: $*" >&2; }

if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { log "go is required to build actionlint"; exit 1; }
  log "building actionlint $ACTIONLINT_VERSION from its Go module (once)"
  mkdir -p "$cache"
  # Built beside its final place so that the mv is a rename: a build that dies half-way never
  # leaves a binary that later runs would trust.
  work=$(mktemp -d "$cache/actionlint-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2
  mkdir -p "$dir"
  mv "$work/actionlint" "$bin"
  log "built $bin"
fi

if [ "$#" -eq 0 ]; then
  cd "$(dirname "$0")/.."
  shopt -s nullglob
  set -- .github/workflows/*.yml .github/workflows/*.yaml
  [ "$#" -gt 0 ] || { log "no workflows in .github/workflows"; exit 1; }
fi
# actionlint also runs shellcheck on run: scripts when shellcheck is on PATH.
"$bin" -no-color "$@"
