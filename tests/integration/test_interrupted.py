"""Runs cut short: `pulumi up` killed with SIGKILL (the CLI, the language host, the program and the
providers, as when the machine running it dies) while an image downloads, while it uploads, and
in between, then the recovery the README gives (`pulumi cancel`, then `pulumi up`); Glance killed
and restarted in the middle of an upload; Keystone tokens that expire during a run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from bench.images import make_qcow2
from components.download_bounds import DEFAULT_BOUNDS
from components.ownership import owner_tag
from components.plan import INCOMPLETE
from demo.imageserver import RunningServer
from tests.integration.conftest import ROOT, Stacks, outputs

pytestmark = pytest.mark.integration

MiB = 1 << 20


def sha256_of(path: Path) -> str:
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def up_killed_when(
    stack: auto.Stack, project: Path, env: dict[str, str], ready: Callable[[str], bool]
) -> str:
    """Runs `pulumi up` and SIGKILLs its whole process group once ``ready(output so far)``."""
    process = subprocess.Popen(
        ["pulumi", "up", "--yes", "--stack", stack.name],
        cwd=project,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(process.stdout or ()), daemon=True)
    reader.start()
    wait_for(lambda: ready("".join(seen)), lambda: process.poll() is None, lambda: "".join(seen))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    reader.join(timeout=10)
    return "".join(seen)


def cancel(stack: auto.Stack, stacks: Stacks) -> None:
    """`pulumi cancel`: releases the lock a killed run left on the file backend."""
    subprocess.run(
        ["pulumi", "cancel", "--yes", "--stack", stack.name],
        cwd=stacks.project,
        env={**os.environ, **stacks.env},
        check=True,
        capture_output=True,
    )


def big_image_stack(new_stack: Stacks, server: RunningServer, key: str) -> tuple[auto.Stack, Path]:
    """A stack of one image, ``key``, long enough to upload (384 MiB raw) to be caught at it."""
    root: Path = server.root  # type: ignore[attr-defined]
    path = make_qcow2(root, f"{key}-{os.urandom(4).hex()}", 384 * MiB, 64 * MiB)
    spec = {
        "name": path.stem,
        "sourceUrl": f"{server.url}/{path.name}",
        "checksum": f"sha256:{sha256_of(path)}",
    }
    config = {"community-images:images": {key: spec}, "community-images:diskFormat": "raw"}
    return new_stack(config), path


def wait_for(
    moment: Callable[[], bool], running: Callable[[], bool], output: Callable[[], object]
) -> None:
    """Polls until ``moment()``, failing if the run ends first or two minutes pass."""
    deadline = time.monotonic() + 120
    while not moment():
        assert running(), f"the run ended before the moment came:\n{output()}"
        assert time.monotonic() < deadline, f"the moment never came:\n{output()}"
        time.sleep(0.02)


def our_images(admin: Connection, stack: auto.Stack) -> list[tuple[str, str]]:
    tag = owner_tag("community-images", stack.name)
    return [(i.id, i.status) for i in admin.image.images(tag=tag, visibility="all")]


def uploading(admin: Connection, stack: auto.Stack) -> bool:
    """Glance holds this stack's record and is receiving its bytes."""
    return "saving" in {status for _, status in our_images(admin, stack)}


@pytest.mark.parametrize(
    "moment", ["while-downloading", "between-download-and-upload", "while-uploading"]
)
def test_a_killed_up_recovers_with_cancel_and_up(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, moment: str
) -> None:
    stack, path = big_image_stack(new_stack, image_server, "killed")
    if moment == "while-downloading":
        image_server.faults.throttle(path.name, rate=16 * MiB)
    ready: Callable[[str], bool] = {
        "while-downloading": lambda out: "downloaded" in out,
        "between-download-and-upload": lambda out: "converting" in out,
        # Glance holds the record and is receiving its bytes.
        "while-uploading": lambda _: "saving" in {s for _, s in our_images(admin, stack)},
    }[moment]
    output = up_killed_when(stack, new_stack.project, new_stack.env, ready)
    left = our_images(admin, stack)
    if moment == "while-uploading":
        # Glance puts an upload cut short back to queued; either way it is incomplete.
        assert len(left) == 1 and left[0][1] in INCOMPLETE, (left, output)
    gets_before = [e for e in image_server.entries if e["path"] == f"/{path.name}"]

    # The README's recovery: release the dead run's lock, then run again.
    cancel(stack, new_stack)
    stack.up(color="never")

    image_id = outputs(stack)["imageIds"]["killed"]
    # Exactly one image, active: what the dead upload left was deleted, nothing duplicated.
    assert our_images(admin, stack) == [(image_id, "active")]
    gets = [e for e in image_server.entries if e["path"] == f"/{path.name}"]
    if moment == "while-downloading":
        assert gets[-1]["range"] is not None, "the interrupted download was not resumed"
    else:
        assert gets == gets_before, "a verified download in the cache was fetched again"
    stack.preview(expect_no_changes=True, color="never")


@pytest.mark.parametrize("unavailable", [0, 6], ids=["restart", "restart-after-503s"])
def test_glance_restarted_in_the_middle_of_an_upload_is_retried(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, unavailable: int
) -> None:
    """Glance dies mid-upload (master and workers killed, as a crash or hard restart would) and
    comes back a few seconds later, after its address answered 503 for a while in the second
    case: the upload starts again with a new record, the run succeeds, and the record Glance
    was writing when it died is deleted."""
    stack, _ = big_image_stack(new_stack, image_server, "killed")
    outcome: list[Any] = []

    def up() -> None:
        try:
            outcome.append(stack.up(color="never").stdout)
        except auto.CommandError as exc:
            outcome.append(exc)

    runner = threading.Thread(target=up)
    runner.start()
    wait_for(lambda: uploading(admin, stack), runner.is_alive, lambda: outcome)
    devcloud_restart("glance", str(unavailable))
    runner.join(timeout=300)
    (result,) = outcome
    assert isinstance(result, str), result
    assert "upload attempt 1 failed" in result
    image_id = outputs(stack)["imageIds"]["killed"]
    assert our_images(admin, stack) == [(image_id, "active")]


def devcloud_restart(service: str, *args: str, **env: str) -> None:
    subprocess.run(
        ["bash", str(ROOT / "devcloud" / "devcloud.sh"), "restart", service, *args],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )


@pytest.fixture
def short_tokens() -> Iterator[int]:
    """Keystone issuing 20 s tokens for one test, and its default lifetime again afterwards."""
    lifetime = 20
    devcloud_restart("keystone", DEVCLOUD_TOKEN_EXPIRATION=str(lifetime))
    try:
        yield lifetime
    finally:
        devcloud_restart("keystone")


def test_tokens_that_expire_during_the_run_are_renewed(
    short_tokens: int, new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    """Every token this run starts with (the program's, the openstack provider's) has expired by
    the time the image is uploaded and adopted: both log in again and the run succeeds."""
    stack, path = big_image_stack(new_stack, image_server, "renewed")
    # Every connection of the download (download.py splits it into ranges) slow enough to last.
    size = path.stat().st_size
    connections = min(DEFAULT_BOUNDS.connections, size // DEFAULT_BOUNDS.range_size)
    rate = size // connections // (short_tokens + 10)
    image_server.faults.throttle(path.name, rate=rate, times=connections)
    started = time.monotonic()
    stack.up(color="never")
    assert time.monotonic() - started > short_tokens + 10
    image_id = outputs(stack)["imageIds"]["renewed"]
    assert our_images(admin, stack) == [(image_id, "active")]
