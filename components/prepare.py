"""Turns an image spec into a local file ready to upload: fetch → inspect → convert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from components.config import ImageSpec
from components.convert import convert_image
from components.fetch import fetch
from components.inspection import inspect_image

Say = Callable[[str], None]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class DownloadProgress:
    """Reports a download every 10 % (every 100 MiB when the size is unknown), so a long one
    shows it is moving without flooding the Pulumi output with a line a second."""

    def __init__(self, label: str, say: Say) -> None:
        self._label = label
        self._say = say
        self._reported = 0

    def __call__(self, done: int, total: int | None) -> None:
        mark = done * 10 // total if total else done // (100 << 20)
        if mark <= self._reported:
            return
        self._reported = mark
        of = f" of {_size(total)} ({done * 100 // total}%)" if total else ""
        self._say(f"{self._label}: downloaded {_size(done)}{of}")


def prepare_image(key: str, spec: ImageSpec, cache_dir: Path, disk_format: str, say: Say) -> Path:
    """The file to upload for ``spec``, converted to ``disk_format`` when the source differs.

    The source is inspected before anything reads it as an image (here, or in convert_image
    before qemu-img runs): a qcow2 with a backing file would make qemu-img copy a host file
    into the upload.
    """
    label = f"{key} ({spec.name})"
    say(f"{label}: fetching {spec.source_url}")
    fetched = fetch(
        spec.name,
        spec.source_url,
        cache_dir / "downloads",
        spec.checksums,
        progress=DownloadProgress(label, say),
    )
    if spec.source_disk_format == disk_format:
        inspect_image(spec.name, fetched.path, spec.source_disk_format)
        return fetched.path
    # convert_image inspects the source itself, before qemu-img ever reads it.
    say(f"{label}: converting {spec.source_disk_format} to {disk_format}")
    return convert_image(
        spec.name, fetched.path, spec.source_disk_format, disk_format, cache_dir / "converted"
    )
