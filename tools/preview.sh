#!/usr/bin/env bash
# Previews each site stack given, with property-level diffs, the way a reviewer wants to see a
# config change before it is applied:
#
#     bash tools/preview.sh SITE...
#
# Every stack is previewed even when an earlier one fails, so one run shows the state of all
# sites; a summary follows, and the exit status is 1 if any failed. It runs `pulumi preview
# --diff` with the backend of PULUMI_BACKEND_URL and the secrets of PULUMI_CONFIG_PASSPHRASE (or
# the stack's own secrets provider).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
pulumi() { bash tools/pulumi.sh "$@"; }

if [ "$#" -eq 0 ]; then
  echo "usage: bash tools/preview.sh SITE... (stacks with a stacks/Pulumi.SITE.yaml)" >&2
  exit 2
fi

ok=()
failed=()
for stack in "$@"; do
  echo "=== preview of stack $stack"
  # Selecting a stack that does not exist creates it: a typo must not leave a new empty stack
  # in the backend (and an encryptionsalt in a new config file).
  if [ ! -f "stacks/Pulumi.$stack.yaml" ]; then
    echo "preview: no stacks/Pulumi.$stack.yaml, so $stack is not a site of this project" >&2
    failed+=("$stack")
  elif pulumi stack select --create "$stack" && pulumi preview --diff --stack "$stack"; then
    ok+=("$stack")
  else
    failed+=("$stack")
  fi
done

echo "=== summary: ${#ok[@]} of $# previewed"
for stack in "${ok[@]}"; do echo "ok      $stack"; done
for stack in "${failed[@]}"; do echo "FAILED  $stack"; done
[ "${#failed[@]}" -eq 0 ]
