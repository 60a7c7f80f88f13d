"""inspect_head against the loopback image server: a few MiB read, hostile images refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.images import make_qcow2
from components.bounds import ImageTooLargeError
from components.fetch_errors import FetchError
from components.head import HEAD_BYTES, inspect_head
from components.inspection import FormatMismatchError, UnsafeImageError
from tests.unit.served import Served

GiB = 1 << 30


def test_reads_only_the_head_of_a_large_image(served: Served) -> None:
    path = make_qcow2(served.root, "large", 256 << 20, 32 << 20)
    head = inspect_head("large", served.url(path.name), "qcow2", 10 * GiB)
    assert (head.virtual_size, head.size, head.read) == (256 << 20, path.stat().st_size, HEAD_BYTES)
    (request,) = served.requests()
    assert request["range"] == f"bytes=0-{HEAD_BYTES - 1}"


def test_a_small_image_is_read_whole_and_checked_as_a_whole(served: Served) -> None:
    path = served.root / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
    head = inspect_head("small", served.url(path.name), "qcow2", GiB)
    assert head.read == head.size == path.stat().st_size


def test_a_backing_file_on_the_host_is_refused_before_glance_fetches_anything(
    served: Served, tmp_path: Path
) -> None:
    path = served.root / "backed.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw",
         str(path), "1M"],
        check=True,
    )  # fmt: skip
    with pytest.raises(UnsafeImageError, match="backing"):
        inspect_head("backed", served.url(path.name), "qcow2", GiB)


def test_declared_format_is_checked_against_the_bytes(served: Served) -> None:
    path = served.root / "raw.img"
    path.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(FormatMismatchError, match="declared qcow2 but the file is raw"):
        inspect_head("raw", served.url(path.name), "qcow2", GiB)


def test_the_virtual_size_bound_holds_before_glance_fetches_anything(served: Served) -> None:
    path = served.root / "huge.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "8T"], check=True)
    with pytest.raises(ImageTooLargeError, match="maxImageSize"):
        inspect_head("huge", served.url(path.name), "qcow2", 256 * GiB)


def test_a_missing_source_names_the_image(served: Served) -> None:
    with pytest.raises(FetchError, match=r"image 'gone' from .*: HTTP 404"):
        inspect_head("gone", served.url("gone.qcow2"), "qcow2", GiB)
