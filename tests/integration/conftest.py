"""Real parts for integration tests: the Pulumi CLI, the local cloud and a loopback image server.

What is missing makes a test fail, never skip: a green run must mean these parts were exercised.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from demo.imageserver import RunningServer, start_server
from tools.stack import QUIET_OFFLINE_ENV, ROOT, pulumi_command, run_main

CLOUDS_YAML = ROOT / ".devcloud" / "clouds.yaml"


@pytest.fixture(scope="session")
def clouds_yaml() -> Path:
    path = Path(os.environ.get("OS_CLIENT_CONFIG_FILE", CLOUDS_YAML))
    if not path.is_file():
        pytest.fail(f"{path} is missing: start the local cloud with `make devcloud`")
    return path


@pytest.fixture(scope="session")
def admin(clouds_yaml: Path) -> Connection:
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    conn = openstack.connect(cloud="devcloud")
    try:
        conn.image.get("/")
    except Exception as exc:
        pytest.fail(f"the local cloud does not answer ({exc}): start it with `make devcloud`")
    return conn


@pytest.fixture(scope="session")
def demo_user(admin: Connection) -> Connection:
    return openstack.connect(cloud="devcloud-demo")


@pytest.fixture(scope="session")
def pulumi_cmd() -> auto.PulumiCommand:
    try:
        return pulumi_command()
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.fail(f"no Pulumi CLI ({exc}): run `make tools`")


def make_qcow2(path: Path, text: str) -> Path:
    """A small but real qcow2 whose data differs with ``text`` (so is its sha512)."""
    raw = path.with_suffix(".raw")
    with raw.open("wb") as f:
        f.truncate(4 << 20)
        f.write(text.encode() * 1024)
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def sha512_of(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[RunningServer]:
    root = tmp_path / "served"
    root.mkdir()
    with start_server(root, tmp_path / "access.jsonl") as server:
        server.root = root  # type: ignore[attr-defined]
        yield server


class GlanceImages:
    """Uploads test images directly with openstacksdk, and deletes every one at the end."""

    def __init__(self) -> None:
        self.created: list[tuple[Connection, str]] = []

    def upload(self, conn: Connection, name: str, path: Path, **attrs: Any) -> Any:
        image = conn.image.create_image(
            name=name,
            disk_format="qcow2",
            container_format="bare",
            visibility="community",
            allow_duplicates=True,
            **attrs,
        )
        self.created.append((conn, image.id))
        with path.open("rb") as data:
            response = image.upload(conn.image, data=data)
        openstack.exceptions.raise_from_response(response)
        return conn.image.get_image(image.id)

    def remember(self, conn: Connection, image_id: str) -> None:
        self.created.append((conn, image_id))

    def cleanup(self) -> None:
        for conn, image_id in self.created:
            conn.image.delete_image(image_id, ignore_missing=True)


@pytest.fixture
def glance_images() -> Iterator[GlanceImages]:
    images = GlanceImages()
    try:
        yield images
    finally:
        images.cleanup()


StackFactory = Callable[[dict[str, Any]], auto.Stack]


@pytest.fixture
def new_stack(
    tmp_path: Path, pulumi_cmd: auto.PulumiCommand, clouds_yaml: Path
) -> Iterator[StackFactory]:
    """A stack of this program on a temporary file backend, with a fresh uuid name; destroyed
    and removed afterwards, whatever the test did."""
    backend = tmp_path / "state"
    backend.mkdir()
    stacks: list[auto.Stack] = []
    env = {
        **QUIET_OFFLINE_ENV,
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": "test",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
    }

    def create(config: dict[str, Any]) -> auto.Stack:
        work_dir = tmp_path / f"work-{len(stacks)}"
        work_dir.mkdir()
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work_dir), pulumi_command=pulumi_cmd, env_vars=env
        )
        stack = auto.create_stack(
            stack_name=f"test-{uuid.uuid4().hex[:12]}",
            project_name="community-images",
            program=run_main,
            opts=opts,
        )
        settings = {
            "openstack:cloud": "devcloud",
            "community-images:cacheDir": str(tmp_path / "cache"),
            **config,
        }
        stack.set_all_config(
            {
                key: auto.ConfigValue(value if isinstance(value, str) else json.dumps(value))
                for key, value in settings.items()
            }
        )
        stacks.append(stack)
        return stack

    # The program reads OS_CLIENT_CONFIG_FILE in this process (inline programs run here).
    previous = os.environ.get("OS_CLIENT_CONFIG_FILE")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    try:
        yield create
    finally:
        destroy_all(stacks)
        if previous is None:
            os.environ.pop("OS_CLIENT_CONFIG_FILE", None)
        else:
            os.environ["OS_CLIENT_CONFIG_FILE"] = previous
        shutil.rmtree(backend, ignore_errors=True)


def destroy_all(stacks: list[auto.Stack]) -> None:
    """Destroys and removes every stack, even when one of them fails."""
    for stack in stacks:
        try:
            stack.destroy(color="never")
        finally:
            stack.workspace.remove_stack(stack.name, force=True)


def outputs(stack: auto.Stack) -> dict[str, Any]:
    return {key: value.value for key, value in stack.outputs().items()}
