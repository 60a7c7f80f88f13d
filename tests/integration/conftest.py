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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from components.ownership import owner_tag
from demo.imageserver import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[2]
CLOUDS_YAML = ROOT / ".devcloud" / "clouds.yaml"
QUIET_OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}


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
def pulumi_root() -> Path:
    """The Pulumi install of tools/toolchain.sh: the CLI, the Python language host beside it and
    the openstack provider plugin registered."""
    result = subprocess.run(
        ["bash", str(ROOT / "tools" / "toolchain.sh")], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(f"no Pulumi toolchain: run `make tools`\n{result.stderr}")
    return Path(result.stdout.strip())


@pytest.fixture(scope="session")
def pulumi_cmd(pulumi_root: Path) -> auto.PulumiCommand:
    return auto.PulumiCommand(root=str(pulumi_root))


def copy_program(target: Path) -> Path:
    """This repository's program in a folder of its own, with the project's venv, so that a
    test's stacks/ config files and state stay out of the repository."""
    for name in ("components", "tools", "examples"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, target)
    (target / "venv").symlink_to(ROOT / "venv")
    (target / "stacks").mkdir()
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_program(tmp_path / "project")


@pytest.fixture
def pulumi_env(tmp_path: Path, pulumi_root: Path, clouds_yaml: Path) -> Iterator[dict[str, str]]:
    """The environment of a test's Pulumi commands: a temporary file backend, the local cloud,
    and the toolchain first on PATH."""
    backend = tmp_path / "state"
    backend.mkdir()
    try:
        yield {
            **QUIET_OFFLINE_ENV,
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": "test",
            "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
            "PATH": f"{pulumi_root / 'bin'}:{os.environ['PATH']}",
        }
    finally:
        shutil.rmtree(backend, ignore_errors=True)


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
            allow_duplicates=True,
            **{
                "disk_format": "qcow2",
                "container_format": "bare",
                "visibility": "community",
                **attrs,
            },
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


class Stacks:
    """Stacks of this program (run by the real language host, the real openstack provider and
    the local cloud) on the test's file backend, with uuid names. ``cleanup`` destroys them and
    deletes from Glance whatever they kept (retained images), so a test leaves nothing behind."""

    def __init__(
        self, project: Path, env: dict[str, str], cmd: auto.PulumiCommand, admin: Connection
    ) -> None:
        self.project = project
        self.env = env
        self._cmd = cmd
        self._admin = admin
        self._stacks: dict[str, auto.Stack] = {}

    def __call__(self, config: dict[str, Any], cache: Path | None = None) -> auto.Stack:
        stack = self._select(f"test-{uuid.uuid4().hex[:12]}")
        settings = {
            "openstack:cloud": "devcloud",
            "community-images:cacheDir": str(cache or self.project.parent / "cache"),
            **config,
        }
        stack.set_all_config(
            {
                key: auto.ConfigValue(value if isinstance(value, str) else json.dumps(value))
                for key, value in settings.items()
            }
        )
        return stack

    def lose_state(self, stack: auto.Stack) -> auto.Stack:
        """The same stack, config and images, with its state gone (a lost or reset backend)."""
        stack.workspace.remove_stack(stack.name, force=True, preserve_config=True)
        return self._select(stack.name)

    def _select(self, name: str) -> auto.Stack:
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(self.project), pulumi_command=self._cmd, env_vars=self.env
        )
        stack = auto.create_stack(stack_name=name, work_dir=str(self.project), opts=opts)
        self._stacks[name] = stack
        return stack

    def cleanup(self) -> None:
        errors = []
        for name, stack in self._stacks.items():
            try:
                stack.destroy(color="never")
                stack.workspace.remove_stack(name, force=True)
            except auto.CommandError as exc:
                errors.append(exc)
            for image in self._admin.image.images(
                tag=owner_tag("community-images", name), visibility="all"
            ):
                self._admin.image.delete_image(image.id, ignore_missing=True)
        if errors:
            raise errors[0]


@pytest.fixture
def new_stack(
    project: Path, pulumi_env: dict[str, str], pulumi_cmd: auto.PulumiCommand, admin: Connection
) -> Iterator[Stacks]:
    stacks = Stacks(project, pulumi_env, pulumi_cmd, admin)
    try:
        yield stacks
    finally:
        stacks.cleanup()


def outputs(stack: auto.Stack) -> dict[str, Any]:
    return {key: value.value for key, value in stack.outputs().items()}


def started(
    service: str, clouds_yaml: Path, api: str, path: str, *known: Connection
) -> Iterator[Connection]:
    """The admin cloud once the devcloud's ``service`` runs and ``path`` of its API ``api``
    answers. The ``known`` connections log in again on their next request: their token's
    catalog predates the service's first start, which registers it in Keystone."""
    from tests.integration.devcloud_services import ensure

    ensure(service)
    for conn in known:
        conn.session.auth.invalidate()
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
    conn = openstack.connect(cloud="devcloud")
    try:
        getattr(conn, api).get(path).raise_for_status()
    except Exception as exc:
        pytest.fail(f"the devcloud's {api} API does not answer ({exc})")
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def nova(clouds_yaml: Path, admin: Connection, demo_user: Connection) -> Iterator[Connection]:
    """The admin cloud with the devcloud's Nova started (on demand: `make devcloud` has none)."""
    yield from started("nova", clouds_yaml, "compute", "/", admin, demo_user)


@pytest.fixture(scope="session")
def cinder(clouds_yaml: Path, admin: Connection, demo_user: Connection) -> Iterator[Connection]:
    """The admin cloud with the devcloud's Cinder started (on demand: `make devcloud` has none)."""
    yield from started("cinder", clouds_yaml, "block_storage", "/volumes?limit=1", admin, demo_user)
