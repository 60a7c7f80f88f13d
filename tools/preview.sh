#!/usr/bin/env bash
# Previews each site stack given, with property-level diffs, the way a reviewer wants to see a
# config change before it is applied:
#
#     bash tools/preview.sh SITE...
#
# Every stack is previewed even when an earlier one fails, so one run shows the state of all
# sites; a summary follows, and the exit status is 1 if any failed. The program runs through the
# Automation API runner (python -m tools.stack; see its docstring for why), with the backend of
# PULUMI_BACKEND_URL (default: .pulumi-state/) and PULUMI_CONFIG_PASSPHRASE.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
python=${PYTHON:-venv/bin/python}

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
  elif "$python" -m tools.stack preview "$stack" --diff; then
    ok+=("$stack")
  else
    failed+=("$stack")
  fi
done

echo "=== summary: ${#ok[@]} of $# previewed"
for stack in "${ok[@]}"; do echo "ok      $stack"; done
for stack in "${failed[@]}"; do echo "FAILED  $stack"; done
[ "${#failed[@]}" -eq 0 ]
