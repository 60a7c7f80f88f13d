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


@pytest.fixture
def arrive(
    admin: Connection, image_server: RunningServer, tmp_path: Path
) -> Iterator[tuple[UploadWay, list[tuple[float, str]]]]:
    said: list[tuple[float, str]] = []
    way = UploadWay(
        Glance(lambda: admin), prepare_image, tmp_path / "cache", "qcow2", 1 << 30, Slots(2)
    )
    yield way, said


def job(image_server: RunningServer, path: Path, sha256: str) -> Job:
    name = path.name.removesuffix(".qcow2")
    spec = ImageSpec(
        name=name,
        source_url=f"{image_server.url}/{path.name}",
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


def served(image_server: RunningServer, stem: str) -> tuple[Path, str]:
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = make_qcow2(root, f"{stem}-{uuid.uuid4().hex[:8]}", 16 * MiB, 16 * MiB)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def images_named(admin: Connection, name: str) -> list:
    return list(admin.image.images(name=name, visibility="all"))


def test_a_slow_download_is_in_glance_before_it_ends_and_public_only_once_verified(
    arrive: tuple[UploadWay, list[tuple[float, str]]],
    admin: Connection,
    image_server: RunningServer,
) -> None:
    way, said = arrive
    path, sha256 = served(image_server, "stream-slow")
    image_server.faults.throttle(path.name, rate=4 * MiB)
    the_job = job(image_server, path, sha256)
    name = the_job.spec.name
    try:
        with Watch(admin, name) as watch:
            image_id = way.arrive(the_job, lambda line: said.append((time.monotonic(), line)))
        fetched_at = next(t for t, line in said if ": fetched " in line)
        image = admin.image.get_image(image_id)
        assert (image.status, image.visibility) == ("active", "community")
        assert image.hash_value == hashlib.sha512(path.read_bytes()).hexdigest()
        assert image.properties.get("community_images_source_sha256") == sha256
        assert any("uploaded while downloading" in line for _, line in said), said
        # Glance was receiving the bytes while they still arrived, and nobody else saw them.
        assert any(t < fetched_at and status == "saving" for t, status, _ in watch.seen)
        assert {v for t, _, v in watch.seen if t < fetched_at} == {"private"}
        assert [i.id for i in images_named(admin, name)] == [image_id]
    finally:
        for image in images_named(admin, name):
            admin.image.delete_image(image.id)


def test_a_download_that_starts_again_is_uploaded_from_the_verified_file(
    arrive: tuple[UploadWay, list[tuple[float, str]]],
    admin: Connection,
    image_server: RunningServer,
) -> None:
    way, said = arrive
    path, sha256 = served(image_server, "stream-restart")
    # Cut after 5 MiB twice, the resume answered with the whole file: the .part starts over.
    image_server.faults.truncate(path.name, after=5 * MiB, times=2, ranges="ignore")
    the_job = job(image_server, path, sha256)
    name = the_job.spec.name
    try:
        image_id = way.arrive(the_job, lambda line: said.append((time.monotonic(), line)))
        image = admin.image.get_image(image_id)
        assert (image.status, image.visibility) == ("active", "community")
        assert image.hash_value == hashlib.sha512(path.read_bytes()).hexdigest()
        assert any("uploading the verified file instead" in line for _, line in said), said
        assert [i.id for i in images_named(admin, name)] == [image_id]
    finally:
        for image in images_named(admin, name):
            admin.image.delete_image(image.id)


def test_a_source_failing_its_checksum_leaves_nothing_in_glance(
    arrive: tuple[UploadWay, list[tuple[float, str]]],
    admin: Connection,
    image_server: RunningServer,
) -> None:
    way, said = arrive
    path, _ = served(image_server, "stream-mismatch")
    image_server.faults.throttle(path.name, rate=8 * MiB)
    the_job = job(image_server, path, "0" * 64)
    with pytest.raises(ChecksumMismatch):
        way.arrive(the_job, lambda line: said.append((time.monotonic(), line)))
    assert images_named(admin, the_job.spec.name) == []


def test_an_unsafe_image_streamed_is_deleted_before_anyone_sees_it(
    arrive: tuple[UploadWay, list[tuple[float, str]]],
    admin: Connection,
    image_server: RunningServer,
    tmp_path: Path,
) -> None:
    way, said = arrive
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = root / f"stream-backing-{uuid.uuid4().hex[:8]}.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", path],
        check=True,
    )
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    the_job = job(image_server, path, sha256)
    with pytest.raises(UnsafeImageError, match="backing"):
        way.arrive(the_job, lambda line: said.append((time.monotonic(), line)))
    assert images_named(admin, the_job.spec.name) == []
