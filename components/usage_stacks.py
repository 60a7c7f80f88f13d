"""Consumer stacks (``pruneConsumerStacks``): stacks whose outputs or resource inputs hold the
image's ID, read with ``pulumi stack export`` as the engine holds them.

Only stack outputs and inputs are read: a StackReference's outputs repeat this stack's own
outputs, retired IDs included, and would make every image look used.
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
    cli = shutil.which("pulumi")
    if cli is None:
        raise CheckFailed("no pulumi CLI on PATH to read the stacks of pruneConsumerStacks")
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
            texts = list(_texts(self._export(stack)))
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
            if result.returncode == 0:
                break
        else:
            why = result.stderr.strip().splitlines()[-1:] or ["no error given"]
            raise CheckFailed(
                f"cannot read stack {stack} of pruneConsumerStacks: {why[0]}; every candidate "
                "stays until it can be read"
            )
        try:
            deployment = json.loads(result.stdout).get("deployment") or {}
        except (json.JSONDecodeError, AttributeError) as exc:
            raise CheckFailed(f"pulumi stack export of {stack} is not a deployment") from exc
        return deployment


def _texts(deployment: dict[str, Any]) -> Iterator[str | None]:
    """Every string of the stack's outputs and of its resources' inputs; None for a secret
    left encrypted."""
    for resource in deployment.get("resources") or []:
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
