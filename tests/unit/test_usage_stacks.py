"""Consumer stacks: an ID in a stack's outputs or inputs keeps the image; unreadable keeps all."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from components.usage import CheckFailed
from components.usage_stacks import SECRET_SIGNATURE, StacksCheck

STACK = "organization/consumer/site"


def deployment(*resources: dict[str, Any]) -> str:
    return json.dumps({"version": 3, "deployment": {"resources": list(resources)}})


class Cli:
    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        code, out = self.answers.pop(0)
        return subprocess.CompletedProcess(args, code, out, "error: no passphrase" if code else "")


def test_an_id_in_an_input_or_a_stack_output_is_a_use() -> None:
    export = deployment(
        {"type": "pulumi:pulumi:Stack", "outputs": {"nodes": ["x", "uses id-out"]}},
        {"type": "openstack:compute/instance:Instance", "inputs": {"imageId": "id-in"}},
    )
    cli = Cli((0, export))
    found = StacksCheck([STACK], cli).users(["id-in", "id-out", "id-free"])
    assert found == {"id-in": [STACK], "id-out": [STACK]}
    assert cli.calls == [["stack", "export", "--stack", STACK, "--show-secrets"]]


def test_a_stack_reference_outputs_are_not_a_use() -> None:
    export = deployment(
        {
            "type": "pulumi:pulumi:StackReference",
            "inputs": {"name": "org/community-images/site"},
            "outputs": {"outputs": {"retiredImageIds": {"old": "id-old"}}},
        }
    )
    assert StacksCheck([STACK], Cli((0, export))).users(["id-old"]) == {}


def test_without_the_passphrase_a_stack_with_secrets_keeps_every_candidate() -> None:
    secret = {SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}
    export = deployment({"type": "pulumi:pulumi:Stack", "outputs": {"token": secret}})
    check = StacksCheck([STACK], Cli((255, ""), (0, export)))
    with pytest.raises(CheckFailed, match="secret values this run cannot decrypt"):
        check.users(["id-a"])


def test_a_stack_that_cannot_be_read_keeps_every_candidate() -> None:
    check = StacksCheck([STACK], Cli((255, ""), (255, "")))
    with pytest.raises(CheckFailed, match=f"cannot read stack {STACK}.*error: no passphrase"):
        check.users(["id-a"])
