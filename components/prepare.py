"""Turns an image spec into a local file ready to upload: fetch → inspect → convert."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.config import ImageSpec
from components.convert import convert_image
from components.errors import CommunityImagesError
from components.fetch import fetch
from components.inspection import UnsafeImageError, inspect_image

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


@dataclass(frozen=True)
class Prepared:
    path: Path
    """The file to upload."""
    sha512: str | None
    """Its sha512 when it is the downloaded source byte for byte and the spec gives one."""


class CacheFullError(CommunityImagesError):
    """The cache's filesystem filled up; names the image and the setting to change."""


def prepare_image(
    key: str, spec: ImageSpec, cache_dir: Path, disk_format: str, say: Say
) -> Prepared:
    """The file to upload for ``spec``, converted to ``disk_format`` when the source differs.

    The source is inspected before anything reads it as an image (here, or in convert_image
    before qemu-img runs): a qcow2 with a backing file would make qemu-img copy a host file
    into the upload.
    """
    try:
        return _prepare(key, spec, cache_dir, disk_format, say)
    except CommunityImagesError as exc:
        # Both a write of the download and qemu-img's output report a full disk this way.
        if os.strerror(errno.ENOSPC) not in str(exc):
            raise
        raise CacheFullError(
            f"image {spec.name!r}: the cache directory {cache_dir} (community-images:cacheDir) "
            f"is full: {exc}. Free space there or set cacheDir to a larger filesystem, then run "
            "`pulumi up` again; nothing unverified is kept"
        ) from exc


def _prepare(key: str, spec: ImageSpec, cache_dir: Path, disk_format: str, say: Say) -> Prepared:
    label = f"{key} ({spec.name})"
    say(f"{label}: fetching {spec.source_url}")
    start = time.perf_counter()
    fetched = fetch(
        spec.name,
        spec.source_url,
        cache_dir / "downloads",
        spec.checksums,
        progress=DownloadProgress(label, say),
    )
    if fetched.from_cache:
        say(f"{label}: fetched {_size(fetched.size)} from the cache in {_since(start)} s")
    else:
        say(
            f"{label}: fetched {_size(fetched.size)} in {_since(start)} s, "
            f"hashing {fetched.hash_seconds:.2f} s"
        )
    try:
        if fetched.size == 0:
            raise UnsafeImageError(f"image {spec.name!r}: an empty file (0 bytes) is no image")
        return _vetted(label, spec, fetched.path, fetched.decompressed, cache_dir, disk_format, say)
    except UnsafeImageError as exc:
        fetched.discard()
        raise type(exc)(
            f"{exc} (source: {spec.source_url}; removed from the cache, so the next run "
            "downloads it again)"
        ) from exc


def _vetted(
    label: str,
    spec: ImageSpec,
    path: Path,
    decompressed: bool,
    cache_dir: Path,
    disk_format: str,
    say: Say,
) -> Prepared:
    """The inspected source, or its inspected conversion."""
    start = time.perf_counter()
    if spec.source_disk_format == disk_format:
        inspect_image(spec.name, path, spec.source_disk_format)
        say(f"{label}: inspected {spec.source_disk_format} in {_since(start)} s")
        # A decompressed download is not the bytes the checksums describe.
        return Prepared(path, None if decompressed else spec.source_sha512)
    # convert_image inspects the source itself, before qemu-img ever reads it.
    say(f"{label}: converting {spec.source_disk_format} to {disk_format}")
    converted = convert_image(
        spec.name, path, spec.source_disk_format, disk_format, cache_dir / "converted"
    )
    say(f"{label}: converted to {disk_format}, inspection included, in {_since(start)} s")
    return Prepared(converted, None)


def _since(start: float) -> str:
    return f"{time.perf_counter() - start:.2f}"
