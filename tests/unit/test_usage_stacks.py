"""Consumer stacks: an ID in a stack's outputs or inputs keeps the image; unreadable keeps all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
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


def export_of(deployment_value: Any) -> str:
    return json.dumps({"version": 3, "deployment": deployment_value})


def test_an_id_in_the_inputs_of_a_pending_operation_is_a_use() -> None:
    """An interrupted up leaves the resource it was creating in pending_operations only."""
    pending = {
        "resource": {"type": "openstack:compute/instance:Instance", "inputs": {"imageId": "id-p"}},
        "type": "creating",
    }
    export = export_of({"resources": [], "pending_operations": [pending]})
    assert StacksCheck([STACK], Cli((0, export))).users(["id-p", "id-free"]) == {"id-p": [STACK]}


@pytest.mark.parametrize(
    "export",
    [
        json.dumps([]),
        json.dumps({"version": 3}),
        export_of([]),
        export_of({"resources": {"type": "pulumi:pulumi:Stack"}}),
        export_of({"resources": ["urn:pulumi:site::consumer::pulumi:pulumi:Stack"]}),
        export_of({"resources": [], "pending_operations": [{"resource": "x", "type": "creating"}]}),
        export_of({"resources": [], "pending_operations": "creating"}),
    ],
)
def test_an_export_not_shaped_as_a_deployment_keeps_every_candidate(export: str) -> None:
    with pytest.raises(CheckFailed, match=STACK):
        StacksCheck([STACK], Cli((0, export))).users(["id-a"])


def test_an_export_that_is_not_json_keeps_every_candidate() -> None:
    with pytest.raises(CheckFailed, match=f"pulumi stack export of {STACK} is not JSON"):
        StacksCheck([STACK], Cli((0, "warning: upgrade pulumi"))).users(["id-a"])


def test_a_pulumi_cli_that_cannot_be_run_keeps_every_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real run_cli: subprocess.run's OSError names the stack, not a traceback."""
    cli = tmp_path / "pulumi"
    cli.write_bytes(b"\x00\x01not an executable")
    cli.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CheckFailed, match=f"cannot run pulumi to read stack {STACK}.*format"):
        StacksCheck([STACK]).users(["id-a"])


def test_no_pulumi_cli_on_path_keeps_every_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CheckFailed, match=f"read stack {STACK} .*no pulumi CLI on PATH"):
        StacksCheck([STACK]).users(["id-a"])
