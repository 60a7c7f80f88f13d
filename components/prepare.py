"""Turns an image spec into a local file ready to upload: fetch → inspect → convert."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.bounds import DEFAULT_MAX_IMAGE_BYTES, human_size
from components.config import ImageSpec
from components.convert import convert_image
from components.errors import CommunityImagesError
from components.fetch import Fetched, fetch
from components.inspection import UnsafeImageError, inspect_image
from components.tap import NO_TAP, Tap
from components.urls import shown

Say = Callable[[str], None]


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
        of = f" of {human_size(total)} ({done * 100 // total}%)" if total else ""
        self._say(f"{self._label}: downloaded {human_size(done)}{of}")


@dataclass(frozen=True)
class Prepared:
    path: Path
    """The file to upload."""
    sha512: str | None
    """Its sha512 when it is the downloaded source byte for byte and the spec gives one."""
    verified: Mapping[str, str] = field(default_factory=dict)
    """Algorithm → hex digest of the source download, verified against the spec's checksum;
    empty when the spec gives none. Only these may be recorded as the source's checksums."""


@dataclass(frozen=True)
class Phases:
    """What each phase of a preparation waits for: ``fetching`` for the network, ``working``
    for this machine's CPU and disk (inspection, conversion). Apart, because a distant source
    keeps a download slow without using either, and should not hold up another's conversion."""

    fetching: AbstractContextManager[Any] = field(default_factory=nullcontext)
    working: AbstractContextManager[Any] = field(default_factory=nullcontext)


UNBOUNDED = Phases()
"""A preparation alone, waiting for nothing."""


class CacheFullError(CommunityImagesError):
    """The cache's filesystem filled up; names the image and the setting to change."""


def prepare_image(
    key: str,
    spec: ImageSpec,
    cache_dir: Path,
    disk_format: str,
    say: Say,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    phases: Phases = UNBOUNDED,
    tap: Tap = NO_TAP,
) -> Prepared:
    """The file to upload for ``spec``, converted to ``disk_format`` when the source differs.

    The source is inspected before anything reads it as an image (here, or in convert_image
    before qemu-img runs): a qcow2 with a backing file would make qemu-img copy a host file
    into the upload. ``max_bytes`` bounds the image's virtual size, and so what its download
    and decompression may hold (ImageTooLargeError past it). ``tap`` hears of the download as
    it arrives (upload_stream.py).
    """
    try:
        return _prepare(key, spec, cache_dir, disk_format, say, max_bytes, phases, tap)
    except CommunityImagesError as exc:
        # Both a write of the download and qemu-img's output report a full disk this way.
        if os.strerror(errno.ENOSPC) not in str(exc):
            raise
        raise CacheFullError(
            f"image {spec.name!r}: the cache directory {cache_dir} (community-images:cacheDir) "
            f"is full: {exc}. Free space there or set cacheDir to a larger filesystem, then run "
            "`pulumi up` again; nothing unverified is kept"
        ) from exc


def _prepare(
    key: str,
    spec: ImageSpec,
    cache_dir: Path,
    disk_format: str,
    say: Say,
    max_bytes: int,
    phases: Phases,
    tap: Tap,
) -> Prepared:
    label = f"{key} ({spec.name})"
    with phases.fetching:
        say(f"{label}: fetching {shown(spec.source_url)}")
        start = time.perf_counter()
        fetched = fetch(
            spec.name,
            spec.source_url,
            cache_dir / "downloads",
            spec.checksums,
            progress=DownloadProgress(label, say),
            max_bytes=max_bytes,
            tap=tap,
        )
    if fetched.from_cache:
        say(f"{label}: fetched {human_size(fetched.size)} from the cache in {_since(start)} s")
    else:
        say(
            f"{label}: fetched {human_size(fetched.size)} in {_since(start)} s, "
            f"hashing {fetched.hash_seconds:.2f} s"
        )
    try:
        if fetched.size == 0:
            raise UnsafeImageError(f"image {spec.name!r}: an empty file (0 bytes) is no image")
        with phases.working:
            return _vetted(label, spec, fetched, cache_dir, disk_format, say, max_bytes)
    except UnsafeImageError as exc:
        fetched.discard()
        raise type(exc)(
            f"{exc} (source: {shown(spec.source_url)}; removed from the cache, so the next run "
            "downloads it again)"
        ) from exc


def _vetted(
    label: str,
    spec: ImageSpec,
    fetched: Fetched,
    cache_dir: Path,
    disk_format: str,
    say: Say,
    max_bytes: int,
) -> Prepared:
    """The inspected source, or its inspected conversion."""
    start = time.perf_counter()
    if spec.source_disk_format == disk_format:
        inspect_image(spec.name, fetched.path, spec.source_disk_format, max_bytes=max_bytes)
        say(f"{label}: inspected {spec.source_disk_format} in {_since(start)} s")
        # A decompressed download is not the bytes the checksums describe.
        sha512 = None if fetched.decompressed else fetched.verified.get("sha512")
        return Prepared(fetched.path, sha512, fetched.verified)
    # convert_image inspects the source itself, before qemu-img ever reads it.
    say(f"{label}: converting {spec.source_disk_format} to {disk_format}")
    converted = convert_image(
        spec.name,
        fetched.path,
        spec.source_disk_format,
        disk_format,
        cache_dir / "converted",
        fetched.content_id,
        max_bytes=max_bytes,
    )
    say(f"{label}: converted to {disk_format}, inspection included, in {_since(start)} s")
    return Prepared(converted, None, fetched.verified)


def _since(start: float) -> str:
    return f"{time.perf_counter() - start:.2f}"
