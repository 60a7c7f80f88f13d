"""Verified, resumable, cached download of one disk image.

Like openstacksdk's image download, the checksum is verified while the bytes stream past, so
the image is never held in memory; unlike it, nothing lands under its final name before it has
been verified: bytes go to ``<key>.part`` and are renamed into place afterwards.

Cache layout in ``cache_dir``, per key K:

- ``K.lock``: ``fcntl.flock``-ed for the whole fetch of K, so concurrent threads or processes
  fetching the same image wait for each other and then find it cached, instead of writing the
  same ``.part`` twice. Lock files are left behind on purpose: unlinking one while another
  process waits on it would let a third process lock a new file and run alongside.
- ``K.part``: the download in progress. A failed run leaves it for the next run to resume.
- ``K.json``: size and digest of the verified download. Written before the download is
  renamed into place, so a finished file always has its record.
- ``K.img``: the verified download, if the source is not compressed; this is the result.
- ``K.bz2`` (``.gz``, ``.xz``, ``.zst``): the verified compressed download. It is decompressed
  into ``K.unbz2.img`` (the result) and then deleted: images are large, and the record in
  ``K.json`` keeps what a cache hit needs. A run interrupted while decompressing finds it and
  only decompresses again.

The key K comes from the expected checksum (``sha256-<hex>``, else ``sha512-<hex>``), so the
same bytes are stored once whatever URL they came from, and a cache hit needs no request at
all. Without a checksum the key is a hash of the URL (of a local file: its path, size and mtime)
and a finished file is reused as it is: upstream changes under the same URL go unnoticed until
the cache entry is deleted, which is the price of not downloading an unverifiable image on
every run. For the same reason a ``.part`` left by an earlier run is only resumed when a
checksum will verify the result; within one call, resumption sends ``If-Range`` so that a file
changed on the server restarts the download instead of splicing two versions.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

import requests
import zstandard

from components.errors import CommunityImagesError
from components.files import fsync, locked

CHUNK = 1 << 20
PROGRESS_SECONDS = 1.0
PROGRESS_FRACTION = 0.05
MAX_BACKOFF = 60.0

_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")

Progress = Callable[[int, int | None], None]


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _open_zst(path: Path) -> _Reader:
    # Without read_across_frames the reader stops silently after the first frame.
    return zstandard.ZstdDecompressor().stream_reader(
        path.open("rb"), read_across_frames=True, closefd=True
    )


# The stdlib readers all handle multi-stream files (pbzip2, pigz, concatenated xz).
_DECOMPRESSORS: dict[str, Callable[[Path], _Reader]] = {
    "bz2": bz2.BZ2File,
    "gz": gzip.GzipFile,
    "xz": lzma.LZMAFile,
    "zst": _open_zst,
}


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "sha256" | "sha512"
    hexdigest: str

    def __post_init__(self) -> None:
        length = _HEX_LENGTHS.get(self.algorithm)
        if length is None:
            raise ValueError(
                f"unsupported checksum algorithm {self.algorithm!r}; use sha256 or sha512"
            )
        if len(self.hexdigest) != length or not _HEX.fullmatch(self.hexdigest):
            raise ValueError(
                f"a {self.algorithm} checksum is {length} lowercase hex digits, "
                f"not {self.hexdigest!r}"
            )

    @classmethod
    def parse(cls, text: str) -> Checksum:
        algorithm, colon, digest = text.strip().partition(":")
        if not colon:
            raise ValueError(
                f"checksum {text!r} is not of the form 'sha256:<hex>' or 'sha512:<hex>'"
            )
        return cls(algorithm.lower(), digest.lower())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


@dataclass(frozen=True)
class Fetched:
    path: Path  # the verified, decompressed file in the cache
    digests: Mapping[str, str]  # algorithm → hex digest of the bytes downloaded, as verified
    size: int  # of `path`
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


class FetchError(CommunityImagesError):
    def __init__(self, name: str, url: str, reason: str) -> None:
        super().__init__(f"image {name!r} from {url}: {reason}")
        self.name = name
        self.url = url
        self.reason = reason


class ChecksumMismatch(FetchError):
    def __init__(self, name: str, url: str, expected: Checksum, actual: str) -> None:
        super().__init__(
            name, url, f"checksum mismatch: expected {expected}, got {expected.algorithm}:{actual}"
        )
        self.expected = expected
        self.actual = actual


class _Transient(Exception):
    """A failure worth another attempt: 5xx, 408, 429, or a body shorter than announced."""


@dataclass(frozen=True)
class _Record:
    url: str
    size: int
    digests: dict[str, str]

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


def verified_checksum(checksums: Sequence[Checksum]) -> Checksum | None:
    """The one checksum a download is verified against. One strong hash proves the bytes, and
    on 2 cores every extra pass over an image shows: sha256 (hardware-accelerated on current
    CPUs, twice as fast as sha512 here) when given, else sha512."""
    for algorithm in ("sha256", "sha512"):
        for checksum in checksums:
            if checksum.algorithm == algorithm:
                return checksum
    return None


class _Hashes:
    def __init__(self, algorithms: Sequence[str]) -> None:
        self._hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
        self.size = 0
        self.seconds = 0.0
        """Time spent hashing, for the run's per-phase timings."""

    def update(self, chunk: bytes) -> None:
        start = time.perf_counter()
        for hasher in self._hashers.values():
            hasher.update(chunk)
        self.seconds += time.perf_counter() - start
        self.size += len(chunk)

    def hexdigests(self) -> dict[str, str]:
        return {algorithm: hasher.hexdigest() for algorithm, hasher in self._hashers.items()}


class _Reporter:
    """Rate-limits progress callbacks: Pulumi shows each one as a log line."""

    def __init__(self, callback: Progress | None) -> None:
        self._callback = callback
        self._last_time = time.monotonic()
        self._last_done = 0

    def __call__(self, done: int, total: int | None, final: bool = False) -> None:
        if self._callback is None:
            return
        if done == total and not final:
            return  # the final call reports completion, exactly once
        now = time.monotonic()
        step = total * PROGRESS_FRACTION if total else float("inf")
        if final or now - self._last_time >= PROGRESS_SECONDS or done - self._last_done >= step:
            self._callback(done, total)
            self._last_time, self._last_done = now, done


def fetch(
    name: str,
    url: str,
    cache_dir: Path,
    checksums: Sequence[Checksum] = (),
    progress: Progress | None = None,
    session: requests.Session | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
) -> Fetched:
    """Return the verified (and decompressed) image at `url`, downloading it only if needed.

    `retries` counts consecutive failed attempts that made no progress; an attempt that got
    some bytes before failing resets the count, so a slow, flaky link still finishes.
    """
    local = _local_path(name, url)
    checksum = verified_checksum(checksums)
    algorithms = [checksum.algorithm] if checksum else []
    key = _cache_key(url, checksum, local)
    compression = _compression(url if local is None else str(local))
    final = cache_dir / (f"{key}.img" if compression is None else f"{key}.un{compression}.img")
    blob = final if compression is None else cache_dir / f"{key}.{compression}"
    record_path = cache_dir / f"{key}.json"

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with locked(cache_dir / f"{key}.lock"):
            record = _Record.load(record_path) if final.is_file() or blob.is_file() else None
            if record is not None and not set(algorithms) <= set(record.digests):
                record = None  # made before this checksum was known: fetch it again
            from_cache = record is not None
            hash_seconds = 0.0
            if record is None:
                part = cache_dir / f"{key}.part"
                report = _Reporter(progress)
                if local is not None:
                    hashes = _copy_local(local, part, report, algorithms)
                else:
                    # A .part left by an earlier run is only worth resuming if a checksum will
                    # prove that it and the rest belong together.
                    hashes = _download(
                        name, url, part, report, session, algorithms, retries, backoff, timeout
                    )
                record = _Record(url, hashes.size, hashes.hexdigests())
                hash_seconds = hashes.seconds
                try:
                    _verify(name, url, checksum, record)
                except ChecksumMismatch:
                    part.unlink()
                    raise
                fsync(part)
                record.save(record_path)
                os.replace(part, blob)
            else:
                _verify(name, url, checksum, record)
            if compression is not None and not final.is_file():
                _decompress(name, url, blob, final, compression)
                blob.unlink()
            size = final.stat().st_size
            return Fetched(
                final,
                record.digests,
                size,
                from_cache,
                hash_seconds,
                compression is not None,
                record_path,
            )
    except OSError as exc:  # disk full, permissions: still say which image it was
        raise FetchError(name, url, f"local I/O error: {exc}") from exc


def _local_path(name: str, url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        path = Path(url2pathname(parts.path))
    elif parts.scheme == "":
        path = Path(url)
    else:
        raise FetchError(name, url, f"unsupported URL scheme {parts.scheme!r}")
    if not path.is_file():
        raise FetchError(name, url, f"no such file: {path}")
    return path


def _cache_key(url: str, checksum: Checksum | None, local: Path | None) -> str:
    if checksum is not None:
        return f"{checksum.algorithm}-{checksum.hexdigest}"
    if local is None:
        identity = url
    else:
        stat = local.stat()
        identity = f"{local.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return "url-" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def _compression(location: str) -> str | None:
    suffix = Path(urlsplit(location).path).suffix.lower().lstrip(".")
    return suffix if suffix in _DECOMPRESSORS else None


def _verify(name: str, url: str, checksum: Checksum | None, record: _Record) -> None:
    if checksum is not None and record.digests[checksum.algorithm] != checksum.hexdigest:
        raise ChecksumMismatch(name, url, checksum, record.digests[checksum.algorithm])


def _copy_local(source: Path, part: Path, report: _Reporter, algorithms: Sequence[str]) -> _Hashes:
    hashes = _Hashes(algorithms)
    total = source.stat().st_size
    with source.open("rb") as data, part.open("wb") as out:
        while chunk := data.read(CHUNK):
            out.write(chunk)
            hashes.update(chunk)
            report(hashes.size, total)
    report(hashes.size, total, final=True)
    return hashes


def _download(
    name: str,
    url: str,
    part: Path,
    report: _Reporter,
    session: requests.Session | None,
    algorithms: Sequence[str],
    retries: int,
    backoff: float,
    timeout: float,
) -> _Hashes:
    download = _HttpDownload(
        name, url, part, report, session or requests.Session(), algorithms, timeout
    )
    try:
        if part.is_file() and algorithms:
            download.adopt_part()
        else:
            part.unlink(missing_ok=True)
        download.run(retries, backoff)
    finally:
        if session is None:
            download.session.close()
    report(download.hashes.size, download.total, final=True)
    return download.hashes


class _HttpDownload:
    def __init__(
        self,
        name: str,
        url: str,
        part: Path,
        report: _Reporter,
        session: requests.Session,
        algorithms: Sequence[str],
        timeout: float,
    ) -> None:
        self.name, self.url, self.part, self.report = name, url, part, report
        self.session, self.algorithms, self.timeout = session, algorithms, timeout
        self.hashes = _Hashes(algorithms)
        self.total: int | None = None
        self.validator: str | None = None  # ETag or Last-Modified, for If-Range

    def adopt_part(self) -> None:
        """Hash what an earlier run left, so that the checksums cover the whole file."""
        with self.part.open("rb") as existing:
            while chunk := existing.read(CHUNK):
                self.hashes.update(chunk)

    def run(self, retries: int, backoff: float) -> None:
        failures = 0
        while True:
            before = self.hashes.size
            try:
                self._attempt()
                return
            except requests.exceptions.SSLError as exc:
                raise FetchError(self.name, self.url, str(exc)) from exc  # retrying will not help
            except (
                _Transient,
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                failures = 1 if self.hashes.size > before else failures + 1
                if failures > retries:
                    raise FetchError(
                        self.name, self.url, f"giving up after {failures} failed attempts: {exc}"
                    ) from exc
                time.sleep(min(backoff * 2 ** (failures - 1), MAX_BACKOFF))
            except requests.RequestException as exc:
                raise FetchError(self.name, self.url, str(exc)) from exc

    def _restart(self) -> None:
        self.part.unlink(missing_ok=True)
        self.hashes = _Hashes(self.algorithms)

    def _attempt(self) -> None:
        offset = self.hashes.size
        # Identity encoding: a transparently gunzipped body would not match the checksums.
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.validator:
                headers["If-Range"] = self.validator
        with self.session.get(self.url, headers=headers, stream=True, timeout=self.timeout) as resp:
            status = resp.status_code
            if status >= 500 or status in (408, 429):
                raise _Transient(f"HTTP {status} {resp.reason}")
            if status == 416 and offset:
                self._restart()  # the .part is not a prefix of what the server has now
                raise _Transient(f"HTTP 416 for bytes={offset}-")
            if status == 206:
                match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
                if match is None or int(match.group(1)) != offset:
                    self._restart()
                    raise _Transient(f"unusable Content-Range for bytes={offset}-")
                self.total = None if match.group(2) == "*" else int(match.group(2))
            elif status == 200:
                if offset:
                    self._restart()  # Range ignored, or If-Range found the file changed
                length = resp.headers.get("Content-Length")
                self.total = int(length) if length and length.isdigit() else None
            else:
                raise FetchError(self.name, self.url, f"HTTP {status} {resp.reason}")
            etag = resp.headers.get("ETag")
            strong_etag = etag if etag and not etag.startswith("W/") else None
            self.validator = strong_etag or resp.headers.get("Last-Modified")

            with self.part.open("ab") as out:
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    self.hashes.update(chunk)
                    self.report(self.hashes.size, self.total)
        if self.total is not None and self.hashes.size != self.total:
            raise _Transient(f"connection closed after {self.hashes.size} of {self.total} bytes")


def _decompress(name: str, url: str, blob: Path, final: Path, compression: str) -> None:
    tmp = final.with_name(final.name + ".part")
    try:
        with closing(_DECOMPRESSORS[compression](blob)) as source, tmp.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a local I/O problem such as a full disk, not bad data
        raise FetchError(
            name,
            url,
            f"cannot decompress {compression} data ({exc}); delete {blob} to download again",
        ) from exc
    fsync(tmp)
    os.replace(tmp, final)
