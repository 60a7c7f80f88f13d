"""Verified, resumable, cached download of one disk image.

Like openstacksdk's image download, the checksum is verified while the bytes stream past, so
the image is never held in memory; unlike it, nothing lands under its final name before it has
been verified: bytes go to ``<key>.part`` and are renamed into place afterwards. Every download
is hashed, with the expected checksum's algorithm or else sha256, so that each fetched file has a
content digest (``Fetched.content_id``) that what is made from it (conversions) is named by.

Cache layout in ``cache_dir``, per key K:

- ``K.lock``: ``fcntl.flock``-ed for the whole fetch of K, so concurrent threads or processes
  fetching the same image wait for each other and then find it cached, instead of writing the
  same ``.part`` twice. Lock files are left behind on purpose: unlinking one while another
  process waits on it would let a third process lock a new file and run alongside.
- ``K.part``: the download in progress. A failed run leaves it for the next run to resume.
- ``K.json``: URL (as ``urls.shown`` shows it: no credentials, no signature), size and digest
  of the verified download. Written before the download is renamed into place, so a finished
  file always has its record.
- ``K.img``: the verified download, if the source is not compressed; this is the result.
- ``K.bz2`` (``.gz``, ``.xz``, ``.zst``): the verified compressed download. It is decompressed
  into ``K.unbz2.img`` (the result) and then deleted: images are large, and the record in
  ``K.json`` keeps what a cache hit needs. A run interrupted while decompressing finds it and
  only decompresses again. When the output would pass the size bound (``maxImageSize``), the
  partial output is deleted but the compressed download is kept, and its record notes the bound
  it passed: the next run with that bound fails at once, without a request and without
  decompressing terabytes of a bomb again, and a run with a higher bound decompresses it again
  without downloading it. The compressed file itself is at most the bound.

The key K comes from the expected checksum (``sha512-<hex>``, else ``sha256-<hex>``), so the
same bytes are stored once whatever URL they came from, and a cache hit needs no request at
all. Without a checksum the key is a hash of the URL (of a local file: its path, size and mtime)
and a finished file is reused as it is: upstream changes under the same URL go unnoticed until
the cache entry is deleted, which is the price of not downloading an unverifiable image on
every run. For the same reason a ``.part`` left by an earlier run is only resumed when a
checksum will verify the result; within one call, resumption sends ``If-Range`` so that a file
changed on the server restarts the download instead of splicing two versions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import requests

from components.bounds import DEFAULT_MAX_IMAGE_BYTES, ImageTooLargeError, file_size_limit
from components.checksums import CONTENT_ALGORITHM, Checksum, Hashes, verified_checksum
from components.decompress import compression, decompress, too_large_when_decompressed
from components.download import download
from components.download_bounds import DEFAULT_BOUNDS, DownloadBounds
from components.fetch_errors import ChecksumMismatch, FetchError
from components.files import fsync, locked
from components.local_source import copy_local, local_path
from components.progress import Progress, Reporter
from components.tap import NO_TAP, Tap
from components.urls import shown

# Checksum and the errors are part of this module's interface, wherever they are defined.
__all__ = ["Checksum", "ChecksumMismatch", "DownloadBounds", "FetchError", "Fetched", "fetch"]


@dataclass(frozen=True)
class Fetched:
    path: Path  # the verified, decompressed file in the cache
    digests: Mapping[str, str]  # algorithm → hex digest of the bytes downloaded
    size: int  # of `path`
    content_id: str
    """Names `path`'s content: ``<algorithm>-<hex>`` of the download, plus ``.un<compression>``
    when `path` is its decompression (which the compressed bytes determine)."""
    verified: Mapping[str, str] = field(default_factory=dict)
    """The digests that were checked against an expected checksum; empty without one."""
    from_cache: bool = False  # True when nothing was downloaded
    hash_seconds: float = 0.0  # spent hashing the download
    decompressed: bool = False  # `path` holds the download decompressed, not as verified
    record: Path | None = None  # the cache's record of it

    def discard(self) -> None:
        """Removes it from the cache, so that the next run downloads it again: for a file that
        turned out to be no usable image, which a source without a checksum would otherwise
        serve from the cache for ever."""
        self.path.unlink(missing_ok=True)
        if self.record is not None:
            self.record.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Record:
    url: str
    size: int
    digests: dict[str, str]
    decompressed_over: int | None = None
    """The output bound a decompression passed and was stopped at."""

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        fsync(tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> _Record | None:
        try:
            record = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        return record


@dataclass(frozen=True)
class _Entry:
    """The cache files of one key."""

    directory: Path
    key: str
    compression: str | None

    def path(self, suffix: str) -> Path:
        return self.directory / f"{self.key}{suffix}"

    @property
    def final(self) -> Path:
        return self.path(".img" if self.compression is None else f".un{self.compression}.img")

    @property
    def blob(self) -> Path:
        return self.final if self.compression is None else self.path(f".{self.compression}")


def fetch(
    name: str,
    url: str,
    cache_dir: Path,
    checksums: Sequence[Checksum] = (),
    progress: Progress | None = None,
    session: requests.Session | None = None,
    bounds: DownloadBounds = DEFAULT_BOUNDS,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    tap: Tap = NO_TAP,
) -> Fetched:
    """Return the verified (and decompressed) image at `url`, downloading it only if needed.

    `bounds` limits the download's attempts, time and rate; `max_bytes`, the largest virtual
    size an image may have, limits what it and its decompression may hold. `tap` hears of an
    HTTP download's writes (none for a cache hit or a local file).
    """
    local = local_path(name, url)
    checksum = verified_checksum(checksums)
    algorithm = checksum.algorithm if checksum else CONTENT_ALGORITHM
    kind = compression(url if local is None else str(local))
    entry = _Entry(cache_dir, _cache_key(url, checksum, local), kind)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with locked(entry.path(".lock")):
            record = _cached_record(entry, algorithm)
            from_cache, hash_seconds = record is not None, 0.0
            if record is None:
                hashes = _get(
                    name, url, local, entry, progress, session, checksum, bounds, max_bytes, tap
                )
                record, hash_seconds = _keep(name, url, checksum, entry, hashes), hashes.seconds
            else:
                _verify(name, url, checksum, record)
            if kind is not None and not entry.final.is_file():
                _decompress(name, url, entry, kind, record, max_bytes)
            digest = record.digests[algorithm]
            return Fetched(
                entry.final,
                record.digests,
                entry.final.stat().st_size,
                f"{algorithm}-{digest}" + ("" if kind is None else f".un{kind}"),
                {} if checksum is None else {algorithm: digest},
                from_cache,
                hash_seconds,
                kind is not None,
                entry.path(".json"),
            )
    except OSError as exc:  # disk full, permissions: still say which image it was
        raise FetchError(name, url, f"local I/O error: {exc}") from exc


def _cache_key(url: str, checksum: Checksum | None, local: Path | None) -> str:
    if checksum is not None:
        return f"{checksum.algorithm}-{checksum.hexdigest}"
    if local is None:
        identity = url
    else:
        stat = local.stat()
        identity = f"{local.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return "url-" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def _cached_record(entry: _Entry, algorithm: str) -> _Record | None:
    if not (entry.final.is_file() or entry.blob.is_file()):
        return None
    record = _Record.load(entry.path(".json"))
    if record is None or algorithm not in record.digests:
        return None  # made before this digest was computed: fetch it again
    return record


def _get(
    name: str,
    url: str,
    local: Path | None,
    entry: _Entry,
    progress: Progress | None,
    session: requests.Session | None,
    checksum: Checksum | None,
    bounds: DownloadBounds,
    max_bytes: int,
    tap: Tap,
) -> Hashes:
    """Copy or download the source into the entry's `.part`, hashed."""
    part = entry.path(".part")
    report = Reporter(progress)
    algorithms = [checksum.algorithm if checksum else CONTENT_ALGORITHM]
    if local is not None:
        return copy_local(name, local, part, report, algorithms, max_bytes)
    # A .part left by an earlier run is only worth resuming if a checksum will prove that it
    # and the rest belong together: hashing alone proves nothing.
    resume = checksum is not None
    return download(name, url, part, report, session, algorithms, bounds, max_bytes, resume, tap)


def _keep(name: str, url: str, checksum: Checksum | None, entry: _Entry, hashes: Hashes) -> _Record:
    """Verify the `.part` just fetched and move it into place, with its record."""
    part = entry.path(".part")
    record = _Record(shown(url), hashes.size, hashes.hexdigests())
    try:
        _verify(name, url, checksum, record)
    except ChecksumMismatch:
        part.unlink()
        raise
    fsync(part)
    # A decompression of what an older record described is not this download's.
    entry.final.unlink(missing_ok=True)
    record.save(entry.path(".json"))
    os.replace(part, entry.blob)
    return record


def _verify(name: str, url: str, checksum: Checksum | None, record: _Record) -> None:
    if checksum is not None and record.digests[checksum.algorithm] != checksum.hexdigest:
        raise ChecksumMismatch(name, url, checksum, record.digests[checksum.algorithm])


def _decompress(
    name: str, url: str, entry: _Entry, kind: str, record: _Record, max_bytes: int
) -> None:
    limit = file_size_limit(max_bytes)
    if record.decompressed_over is not None and limit <= record.decompressed_over:
        raise too_large_when_decompressed(
            name, url, kind, max_bytes, "found by an earlier run, which kept the download"
        )
    try:
        decompress(name, url, entry.blob, entry.final, kind, max_bytes)
    except ImageTooLargeError:
        replace(record, decompressed_over=limit).save(entry.path(".json"))
        raise
    entry.blob.unlink()
