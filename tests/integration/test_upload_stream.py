"""components.upload_stream through the upload way, against the real local Glance and a loopback
source that is slow, restarts, lies about its checksum or serves an unsafe image."""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack.connection import Connection

from bench.images import make_qcow2
from components.arrival import Job, Slots
from components.checksums import Checksum
from components.fetch_errors import ChecksumMismatch
from components.glance import Glance
from components.inspection import UnsafeImageError
from components.prepare import prepare_image
from components.specs import ImageSpec
from components.via_upload import UploadWay
from demo.imageserver import RunningServer

pytestmark = pytest.mark.integration

MiB = 1 << 20


class Watch:
    """Polls Glance for the images of a name while an arrival runs: what statuses it passed."""

    def __init__(self, admin: Connection, name: str) -> None:
        self._admin, self._name = admin, name
        self.seen: list[tuple[float, str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            for image in self._admin.image.images(name=self._name, visibility="all"):
                self.seen.append((time.monotonic(), image.status, image.visibility))

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Arrivals:
    """The upload way on the real Glance: what it said and when, and at the end every image of
    the names it was given deleted, whatever the test left."""

    def __init__(self, admin: Connection, server: RunningServer, tmp_path: Path) -> None:
        self.admin, self.server = admin, server
        self.said: list[tuple[float, str]] = []
        self.names: list[str] = []
        glance = Glance(lambda: admin)
        self.way = UploadWay(glance, prepare_image, tmp_path / "cache", "qcow2", 1 << 30, Slots(2))

    def job(self, path: Path, sha256: str) -> Job:
        name = path.name.removesuffix(".qcow2")
        self.names.append(name)
        spec = ImageSpec(
            name=name,
            source_url=f"{self.server.url}/{path.name}",
            checksum=Checksum("sha256", sha256),
        )
        attrs = {
            "name": name,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "community",
            "tags": [f"community-images:test/{uuid.uuid4().hex}"],
        }
        return Job(f"key_{name}", spec, attrs, [])

    def arrive(self, job: Job) -> str:
        return self.way.arrive(job, lambda line: self.said.append((time.monotonic(), line)))

    def saying(self, text: str) -> bool:
        return any(text in line for _, line in self.said)

    def images_named(self, name: str) -> list:
        return list(self.admin.image.images(name=name, visibility="all"))

    def published(self, image_id: str, path: Path) -> None:
        """The image is active, visible to all and holds the source's bytes, alone of its name."""
        image = self.admin.image.get_image(image_id)
        assert (image.status, image.visibility) == ("active", "community")
        assert image.hash_value == hashlib.sha512(path.read_bytes()).hexdigest()
        assert [i.id for i in self.images_named(image.name)] == [image_id]

    def cleanup(self) -> None:
        for name in self.names:
            for image in self.images_named(name):
                self.admin.image.delete_image(image.id)


@pytest.fixture
def arrivals(admin: Connection, image_server: RunningServer, tmp_path: Path) -> Iterator[Arrivals]:
    arrivals = Arrivals(admin, image_server, tmp_path)
    try:
        yield arrivals
    finally:
        arrivals.cleanup()


def served(image_server: RunningServer, stem: str, data: int = 16 * MiB) -> tuple[Path, str]:
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = make_qcow2(root, f"{stem}-{uuid.uuid4().hex[:8]}", data, data)
    with path.open("rb") as source:
        return path, hashlib.file_digest(source, "sha256").hexdigest()


def test_a_slow_download_is_in_glance_before_it_ends_and_public_only_once_verified(
    arrivals: Arrivals, admin: Connection, image_server: RunningServer
) -> None:
    path, sha256 = served(image_server, "stream-slow")
    image_server.faults.throttle(path.name, rate=4 * MiB)
    job = arrivals.job(path, sha256)
    with Watch(admin, job.spec.name) as watch:
        image_id = arrivals.arrive(job)
    arrivals.published(image_id, path)
    assert (
        admin.image.get_image(image_id).properties.get("community_images_source_sha256") == sha256
    )
    assert arrivals.saying("uploaded while downloading"), arrivals.said
    # Glance was receiving the bytes while they still arrived, and nobody else saw them.
    fetched_at = next(t for t, line in arrivals.said if ": fetched " in line)
    assert any(t < fetched_at and status == "saving" for t, status, _ in watch.seen)
    assert {v for t, _, v in watch.seen if t < fetched_at} == {"private"}


def test_a_large_image_from_a_slow_store_comes_over_several_connections_into_glance(
    arrivals: Arrivals, admin: Connection, image_server: RunningServer
) -> None:
    """96 MiB at 16 MiB/s per connection (a distant store): three ranges at once, appended in
    order to the .part that Glance is fed while it grows."""
    path, sha256 = served(image_server, "stream-ranges", data=96 * MiB)
    image_server.faults.throttle(path.name, rate=16 * MiB, times=3)
    job = arrivals.job(path, sha256)
    with Watch(admin, job.spec.name) as watch:
        image_id = arrivals.arrive(job)
    arrivals.published(image_id, path)
    asked = [entry["range"] for entry in image_server.entries if entry["path"] == f"/{path.name}"]
    size = path.stat().st_size
    thirds = [size * i // 3 for i in range(4)]
    assert asked[0] is None and len(asked) == 3
    assert set(asked[1:]) == {f"bytes={thirds[i]}-{thirds[i + 1] - 1}" for i in (1, 2)}
    assert arrivals.saying("uploaded while downloading"), arrivals.said
    fetched_at = next(t for t, line in arrivals.said if ": fetched " in line)
    assert {v for t, _, v in watch.seen if t < fetched_at} <= {"private"}


def test_a_download_that_starts_again_is_uploaded_from_the_verified_file(
    arrivals: Arrivals, image_server: RunningServer
) -> None:
    path, sha256 = served(image_server, "stream-restart")
    # Cut after 5 MiB twice, the resume answered with the whole file: the .part starts over.
    image_server.faults.truncate(path.name, after=5 * MiB, times=2, ranges="ignore")
    image_id = arrivals.arrive(arrivals.job(path, sha256))
    arrivals.published(image_id, path)
    assert arrivals.saying("uploading the verified file instead"), arrivals.said


def test_a_source_failing_its_checksum_leaves_nothing_in_glance(
    arrivals: Arrivals, image_server: RunningServer
) -> None:
    path, _ = served(image_server, "stream-mismatch")
    image_server.faults.throttle(path.name, rate=8 * MiB)
    job = arrivals.job(path, "0" * 64)
    with pytest.raises(ChecksumMismatch):
        arrivals.arrive(job)
    assert arrivals.images_named(job.spec.name) == []


def test_an_unsafe_image_streamed_is_deleted_before_anyone_sees_it(
    arrivals: Arrivals, image_server: RunningServer
) -> None:
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = root / f"stream-backing-{uuid.uuid4().hex[:8]}.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", path],
        check=True,
    )
    job = arrivals.job(path, hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(UnsafeImageError, match="backing"):
        arrivals.arrive(job)
    assert arrivals.images_named(job.spec.name) == []
