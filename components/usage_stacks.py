"""Consumer stacks (``pruneConsumerStacks``): stacks whose outputs or resource inputs hold the
image's ID, read with ``pulumi stack export`` as the engine holds them.

Only stack outputs and inputs are read: a StackReference's outputs repeat this stack's own
outputs, retired IDs included, and would make every image look used. The resources of
``pending_operations`` are read too: an interrupted ``up`` leaves there the resources it was
creating or updating, whose inputs may name an image no other record does yet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

from components.usage import CheckFailed

EXPORT_TIMEOUT = 120
# How the Pulumi CLI writes a value it could not decrypt in an export.
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"

Run = Callable[[list[str]], subprocess.CompletedProcess[str]]


def run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Raises OSError when the CLI cannot be run; the caller names the stack."""
    cli = shutil.which("pulumi")
    if cli is None:
        raise FileNotFoundError("no pulumi CLI on PATH")
    return subprocess.run(
        [cli, *args, "--non-interactive"],
        capture_output=True,
        text=True,
        timeout=EXPORT_TIMEOUT,
        check=False,
    )


class StacksCheck:
    what = "consumer stacks"

    def __init__(self, stacks: Sequence[str], run: Run = run_cli) -> None:
        self._stacks, self._run = stacks, run

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for stack in self._stacks:
            texts = list(_texts(stack, self._export(stack)))
            if None in texts:
                raise CheckFailed(
                    f"stack {stack} holds secret values this run cannot decrypt (give it the "
                    "stack's passphrase or secrets provider), so it may hide an image ID"
                )
            for image_id in image_ids:
                if any(image_id in text for text in texts):
                    found.setdefault(image_id, []).append(stack)
        return found

    def _export(self, stack: str) -> dict[str, Any]:
        """The stack's deployment, secrets decrypted when this run can (same passphrase or
        secrets provider), else as the CLI leaves them."""
        for args in (["--show-secrets"], []):
            try:
                result = self._run(["stack", "export", "--stack", stack, *args])
            except subprocess.TimeoutExpired as exc:
                raise CheckFailed(f"reading stack {stack} took over {EXPORT_TIMEOUT} s") from exc
            except OSError as exc:
                raise CheckFailed(
                    f"cannot run pulumi to read stack {stack} of pruneConsumerStacks: {exc}"
                ) from exc
            if result.returncode == 0:
                break
        else:
            why = result.stderr.strip().splitlines()[-1:] or ["no error given"]
            raise CheckFailed(
                f"cannot read stack {stack} of pruneConsumerStacks: {why[0]}; every candidate "
                "stays until it can be read"
            )
        try:
            export = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise CheckFailed(f"pulumi stack export of {stack} is not JSON: {exc}") from exc
        deployment = export.get("deployment") if isinstance(export, dict) else None
        if not isinstance(deployment, dict):
            raise CheckFailed(f"pulumi stack export of {stack} holds no deployment")
        return deployment


def _texts(stack: str, deployment: dict[str, Any]) -> Iterator[str | None]:
    """Every string of the stack's outputs and of its resources' inputs, pending operations'
    included; None for a secret left encrypted."""
    for resource in _listed(stack, deployment, "resources"):
        yield from _resource_texts(stack, resource)
    for operation in _listed(stack, deployment, "pending_operations"):
        yield from _resource_texts(stack, operation.get("resource"))


def _listed(stack: str, deployment: dict[str, Any], key: str) -> list[dict[str, Any]]:
    # A shape other than the engine's would hide IDs where they are not looked for: fail
    # closed instead of reading less.
    items = deployment.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CheckFailed(f"the {key} of stack {stack} are not a list of records as expected")
    return items


def _resource_texts(stack: str, resource: Any) -> Iterator[str | None]:
    if not isinstance(resource, dict):
        raise CheckFailed(f"stack {stack} holds a resource that is not a record as expected")
    yield from _strings(resource.get("inputs"))
    if resource.get("type") == "pulumi:pulumi:Stack":
        yield from _strings(resource.get("outputs"))


def _strings(value: Any) -> Iterator[str | None]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and SECRET_SIGNATURE in value and "plaintext" not in value:
        yield None
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
