#!/usr/bin/env bash
# Runs this project's Pulumi CLI (tools/toolchain.sh: built or found once, then cached) with its
# plugins' folder first on PATH:   bash tools/pulumi.sh up --stack dev
set -euo pipefail
root=$(bash "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh")
export PATH="$root/bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
exec pulumi "$@"
