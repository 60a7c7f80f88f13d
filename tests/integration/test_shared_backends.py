"""A team's shared state on the two backends Azimuth sites run: S3 (MinIO from tools/s3server.sh,
standing in for Ceph RGW) and PostgreSQL (a database and role of their own in the devcloud's
cluster). Every command is the real CLI through tools/pulumi.sh, in fresh copies of the program
that share only the backend URL, the passphrase and the site's committed stack config.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from openstack.connection import Connection

from components.ownership import owner_tag
from demo.imageserver import RunningServer
from tests.integration.conftest import ROOT, copy_program, make_qcow2, sha512_of

pytestmark = pytest.mark.integration

PG_SOCKET = ROOT / ".devcloud" / "pg" / "socket"
PG_PORT = os.environ.get("DEVCLOUD_PG_PORT", "55432")
PSQL = "/usr/lib/postgresql/15/bin/psql"
TIMEOUT = 600


@dataclass
class Backend:
    url: str
    env: dict[str, str] = field(default_factory=dict)


def s3server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "tools" / "s3server.sh"), *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def s3_server() -> Iterator[dict[str, str]]:
    """The loopback MinIO (built on first use), stopped afterwards unless it already ran; its
    keys and endpoint, from credentials.env."""
    ran_before = s3server("status").returncode == 0
    started = s3server("start")
    if started.returncode != 0:
        pytest.fail(f"the S3 server did not start:\n{started.stderr}")
    creds = ROOT / ".devcloud" / "s3" / "credentials.env"
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in creds.read_text().splitlines()
    )
    try:
        yield {key: value.strip("'") for key, value in values.items()}
    finally:
        if not ran_before:
            s3server("stop")


def s3_bucket(verb: str, name: str) -> None:
    result = s3server("bucket", verb, name)
    assert result.returncode == 0, result.stderr


def psql(sql: str) -> None:
    """SQL as the devcloud cluster's superuser (peer authentication on its socket)."""
    connect = ["-h", str(PG_SOCKET), "-p", PG_PORT, "-U", "postgres", "-d", "postgres"]
    subprocess.run(
        ["runuser", "-u", "postgres", "--", PSQL, *connect, "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        cwd="/",
    )


@pytest.fixture(params=["s3", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A backend of the test's own: a bucket, or a database owned by a role of its own, removed
    with everything in it afterwards."""
    name = f"pulumi-{uuid.uuid4().hex[:10]}"
    if request.param == "s3":
        server: dict[str, str] = request.getfixturevalue("s3_server")
        s3_bucket("create", name)
        query = server["PULUMI_BACKEND_URL"].split("?", 1)[1]
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        try:
            yield Backend(f"s3://{name}?{query}", {key: server[key] for key in keys})
        finally:
            s3_bucket("delete", name)
        return
    role = name.replace("-", "_")
    password = uuid.uuid4().hex
    psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        psql(f"CREATE DATABASE {role} OWNER {role}")
        # lib/pq asks for TLS unless told otherwise; the devcloud's cluster has none.
        yield Backend(f"postgres://{role}:{password}@127.0.0.1:{PG_PORT}/{role}?sslmode=disable")
    finally:
        psql(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
        psql(f"DROP ROLE IF EXISTS {role}")


class Checkout:
    """A fresh copy of the program, run with tools/pulumi.sh as an operator would."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = copy_program(path)
        self.env = env
        self.started: list[subprocess.Popen[str]] = []

    def pulumi(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "tools/pulumi.sh", *args, "--color", "never"],
            cwd=self.path,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def ok(self, *args: str) -> str:
        result = self.pulumi(*args)
        assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The command in a process group of its own, so that it can be killed like a crashed
        run, CLI, language host and provider at once."""
        process = subprocess.Popen(
            ["bash", "tools/pulumi.sh", *args, "--color", "never"],
            cwd=self.path,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def kill_started(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()


@pytest.fixture
def site(
    tmp_path: Path,
    backend: Backend,
    pulumi_env: dict[str, str],
    image_server: RunningServer,
    admin: Connection,
) -> Iterator[tuple[str, list[Checkout]]]:
    """Two fresh checkouts of one site, with the same committed stack config (one image) and,
    shared between them, only the backend URL and the passphrase; the stack is initialised from
    the first. Destroyed at the end, with the images it kept in Glance."""
    stack = f"test-{uuid.uuid4().hex[:12]}"
    image = make_qcow2(image_server.root / "kube-shared.qcow2", stack)  # type: ignore[attr-defined]
    committed = {
        "config": {
            "openstack:cloud": "devcloud",
            "community-images:cacheDir": str(tmp_path / "cache"),
            "community-images:images": {
                "kube_1_34": {
                    "name": f"kube-{stack}",
                    "sourceUrl": f"{image_server.url}/{image.name}",
                    "checksumSha512": f"sha512:{sha512_of(image)}",
                }
            },
        }
    }
    env = {**os.environ, **pulumi_env, **backend.env, "PULUMI_BACKEND_URL": backend.url}
    checkouts = [Checkout(tmp_path / name, env) for name in ("a", "b")]
    for checkout in checkouts:
        (checkout.path / "stacks" / f"Pulumi.{stack}.yaml").write_text(json.dumps(committed))
    first = checkouts[0]
    first.ok("stack", "init", stack)
    try:
        yield stack, checkouts
    finally:
        for checkout in checkouts:
            checkout.kill_started()
        # A test that failed while a run held the lock must not leave the stack behind.
        first.pulumi("cancel", "--yes", "--stack", stack)
        first.ok("destroy", "--yes", "--stack", stack)
        first.ok("stack", "rm", "--yes", "--stack", stack)
        for leftover in admin.image.images(
            tag=owner_tag("community-images", stack), visibility="all"
        ):
            admin.image.delete_image(leftover.id, ignore_missing=True)


def stack_images(admin: Connection, stack: str) -> list[str]:
    return [
        image.id
        for image in admin.image.images(tag=owner_tag("community-images", stack), visibility="all")
    ]


def test_two_ups_at_once_one_is_refused_and_both_checkouts_see_one_state(
    site: tuple[str, list[Checkout]], admin: Connection
) -> None:
    """Both checkouts start `up` at the same moment: one updates, the other is refused by the
    lock and told the holder is alive, with no `pulumi cancel`. Afterwards the state is whole
    (no changes from either checkout), the stack has one image, and both see the same outputs."""
    stack, (a, b) = site
    # The CLI's lock writes its file, then looks for others': two runs that both write before
    # either looks both give up, and neither changed anything. Such a round is run again.
    for _ in range(3):
        runs = [checkout.start("up", "--yes", "--stack", stack) for checkout in (a, b)]
        results = [(run.wait(TIMEOUT), *run.communicate()) for run in runs]
        refused = [stderr for code, _, stderr in results if code != 0]
        for stderr in refused:
            assert "the stack is locked by 1 other run(s)" in stderr, stderr
        if len(refused) < 2:
            break
    assert len(refused) == 1, results
    assert "still running; wait for it to end" in refused[0]
    assert "pulumi cancel" not in refused[0]
    assert "currently locked" not in refused[0]

    for checkout in (a, b):
        checkout.ok("preview", "--expect-no-changes", "--stack", stack)
    seen = [json.loads(c.ok("stack", "output", "--json", "--stack", stack)) for c in (a, b)]
    assert seen[0] == seen[1]
    assert list(seen[0]["imageIds"].values()) == stack_images(admin, stack)

    wrong = b.pulumi("preview", "--stack", stack, PULUMI_CONFIG_PASSPHRASE="not the team's")
    assert wrong.returncode != 0
    assert "incorrect passphrase" in wrong.stderr


def test_a_lock_left_by_a_dead_run_names_pulumi_cancel(
    site: tuple[str, list[Checkout]], admin: Connection
) -> None:
    """An `up` killed (CLI, language host and provider) right after it took the lock leaves the
    lock: the next `up` is told its holder is gone and to `pulumi cancel`; after that, `up`
    succeeds and the state is whole."""
    stack, (a, b) = site
    holder = a.start("up", "--yes", "--stack", stack)
    assert holder.stdout is not None
    # `up` takes the lock before its preview, which it then announces: killed there, the run
    # leaves the lock and nothing else.
    for line in holder.stdout:
        if line.startswith(("Previewing update (", "Updating (")):
            break
    else:
        pytest.fail(f"the first up ended early: {holder.communicate()}")
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate()

    refused = b.pulumi("up", "--yes", "--stack", stack)
    assert refused.returncode != 0
    assert "no longer running (a lock left by a dead run)" in refused.stderr, refused.stderr
    assert f"remove it with `pulumi cancel --stack {stack}`" in refused.stderr

    b.ok("cancel", "--yes", "--stack", stack)
    b.ok("up", "--yes", "--stack", stack)
    a.ok("preview", "--expect-no-changes", "--stack", stack)
    assert len(stack_images(admin, stack)) == 1
