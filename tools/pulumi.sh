#!/usr/bin/env bash
# Runs this project's Pulumi CLI (tools/toolchain.sh: built or found once, then cached) with its
# plugins' folder first on PATH:   bash tools/pulumi.sh up --stack dev
# Its stderr goes through tools/locks.py, which, when the stack is locked, says whether the run
# holding the lock is still alive and names `pulumi cancel` only for a dead run's lock.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
root=$(bash "$here/toolchain.sh")
export PATH="$root/bin:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# stdout stays the caller's (fd 3), so the CLI still sees a terminal there and stays interactive.
set +e
{
  pulumi "$@" 2>&1 >&3 3>&- | python3 "$here/locks.py" "$@" >&2 3>&-
  status=("${PIPESTATUS[@]}")
} 3>&1
set -e
exit "${status[0]}"
