"""components.fetch against a real loopback HTTP server and real files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import pytest

from components.fetch import Checksum, ChecksumMismatch, FetchError, fetch
from demo.imageserver import FaultPlan, RunningServer, start_server

SIZE = 3 * (1 << 20) + 4321  # several chunks, not chunk-aligned


class _Fast(TypedDict):
    backoff: float
    timeout: float


FAST: _Fast = {"backoff": 0.001, "timeout": 10.0}


@dataclass
class Served:
    root: Path
    server: RunningServer
    faults: FaultPlan
    log: Path

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "srv"
    root.mkdir()
    faults = FaultPlan()
    log = tmp_path / "access.log"
    with start_server(root, log, faults) as server:
        yield Served(root, server, faults, log)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def write_random(path: Path, size: int = SIZE) -> str:
    """Write `size` random bytes in chunks; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for offset in range(0, size, 1 << 20):
            chunk = os.urandom(min(1 << 20, size - offset))
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def file_checksum(path: Path, algorithm: str = "sha256") -> Checksum:
    with path.open("rb") as source:
        return Checksum(algorithm, hashlib.file_digest(source, algorithm).hexdigest())


def assert_clean(cache: Path) -> None:
    assert not list(cache.glob("*.part")), "a .part file was left behind"


@pytest.mark.parametrize("algorithms", [["sha256"], ["sha512"], ["sha256", "sha512"]])
def test_download_verifies_given_checksums(
    served: Served, cache: Path, algorithms: list[str]
) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksums = [file_checksum(source, algorithm) for algorithm in algorithms]

    result = fetch("disk", served.url("disk.qcow2"), cache, checksums, **FAST)

    assert result.path.read_bytes() == source.read_bytes()
    assert result.size == SIZE
    assert result.digests == {checksums[0].algorithm: checksums[0].hexdigest}
    assert result.path.name == f"{checksums[0].algorithm}-{checksums[0].hexdigest}.img"
    assert not result.from_cache
    assert_clean(cache)


def test_cache_hit_makes_no_request(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksum = file_checksum(source)
    first = fetch("disk", served.url("disk.qcow2"), cache, [checksum], **FAST)
    seen = len(served.requests())

    again = fetch("disk", served.url("disk.qcow2"), cache, [checksum], **FAST)
    # Content-addressed: even another, unreachable URL is a hit.
    elsewhere = fetch("disk", "http://127.0.0.1:9/gone.qcow2", cache, [checksum], **FAST)

    assert again == elsewhere == replace(first, from_cache=True, hash_seconds=0.0)
    assert len(served.requests()) == seen == 1


def test_cache_hit_without_checksum_is_keyed_by_url(served: Served, cache: Path) -> None:
    write_random(served.root / "disk.qcow2")
    first = fetch("disk", served.url("disk.qcow2"), cache, **FAST)
    again = fetch("disk", served.url("disk.qcow2"), cache, **FAST)

    assert first.path.name.startswith("url-")
    assert again.path == first.path and again.from_cache
    assert len(served.requests()) == 1


def test_with_both_checksums_the_sha256_is_the_one_verified(served: Served, cache: Path) -> None:
    """One strong hash proves the bytes; a second pass of sha512 would only cost time."""
    source = served.root / "disk.qcow2"
    write_random(source)
    wrong = Checksum("sha256", "ab" * 32)
    with pytest.raises(ChecksumMismatch, match="sha256:abab"):
        fetch("disk", served.url("disk.qcow2"), cache, [file_checksum(source, "sha512"), wrong])


def test_checksum_mismatch_raises_and_leaves_nothing(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    wrong = Checksum("sha256", "ab" * 32)
    url = served.url("disk.qcow2")

    with pytest.raises(ChecksumMismatch) as caught:
        fetch("my-image", url, cache, [wrong], **FAST)

    message = str(caught.value)
    for part in ("my-image", url, str(wrong), file_checksum(source).hexdigest):
        assert part in message
    assert_clean(cache)
    assert not list(cache.glob("*.img"))


def test_truncated_transfer_is_resumed_with_range(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    cut = (1 << 20) + (1 << 19)
    served.faults.truncate("disk.qcow2", after=cut)

    result = fetch("disk", served.url("disk.qcow2"), cache, [file_checksum(source)], **FAST)

    assert file_checksum(result.path) == file_checksum(source)
    first, second = served.requests()
    assert (first["range"], first["status"]) == (None, 200)
    assert second["status"] == 206
    resumed_at = int(second["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= cut
    assert_clean(cache)


def test_part_left_by_an_earlier_run_is_resumed(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksum = file_checksum(source)
    cache.mkdir()
    prefix = 1_000_000
    with source.open("rb") as data:
        (cache / f"sha256-{checksum.hexdigest}.part").write_bytes(data.read(prefix))

    result = fetch("disk", served.url("disk.qcow2"), cache, [checksum], **FAST)

    assert file_checksum(result.path) == checksum
    assert [entry["range"] for entry in served.requests()] == [f"bytes={prefix}-"]


def test_corrupt_part_from_an_earlier_run_fails_once_then_recovers(
    served: Served, cache: Path
) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksum = file_checksum(source)
    cache.mkdir()
    (cache / f"sha256-{checksum.hexdigest}.part").write_bytes(b"\0" * 1000)

    with pytest.raises(ChecksumMismatch):
        fetch("disk", served.url("disk.qcow2"), cache, [checksum], **FAST)
    result = fetch("disk", served.url("disk.qcow2"), cache, [checksum], **FAST)

    assert file_checksum(result.path) == checksum


def test_file_changed_on_server_during_resume_restarts(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    served.faults.truncate("disk.qcow2", after=(1 << 20) + 10)
    replacement = served.root / "next.tmp"
    new_sha256 = write_random(replacement, size=SIZE - 1000)

    def replace_on_first_report(done: int, total: int | None) -> None:
        if replacement.exists():
            os.replace(replacement, source)  # the server keeps streaming the old inode

    result = fetch(
        "disk", served.url("disk.qcow2"), cache, progress=replace_on_first_report, **FAST
    )

    # If-Range carried the old ETag, so the server sent the new file whole: no splice.
    assert file_checksum(result.path).hexdigest == new_sha256
    assert [entry["status"] for entry in served.requests()] == [200, 200]
    assert served.requests()[1]["range"] is not None


def test_server_errors_are_retried(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    served.faults.fail("disk.qcow2", times=2, status=503)

    result = fetch("disk", served.url("disk.qcow2"), cache, [file_checksum(source)], **FAST)

    assert file_checksum(result.path) == file_checksum(source)
    assert [entry["status"] for entry in served.requests()] == [503, 503, 200]


def test_retries_are_bounded(served: Served, cache: Path) -> None:
    write_random(served.root / "disk.qcow2")
    served.faults.fail("disk.qcow2", times=10, status=500)

    with pytest.raises(FetchError, match="giving up after 3 failed attempts"):
        fetch("disk", served.url("disk.qcow2"), cache, retries=2, **FAST)
    assert len(served.requests()) == 3


def test_connection_errors_are_retried_then_reported(cache: Path) -> None:
    url = "http://127.0.0.1:9/disk.qcow2"  # the discard port: nothing listens there
    with pytest.raises(FetchError, match="giving up after 2 failed attempts") as caught:
        fetch("disk", url, cache, retries=1, **FAST)
    assert url in str(caught.value)


@pytest.mark.parametrize("status", [404, 403])
def test_client_errors_fail_at_once(served: Served, cache: Path, status: int) -> None:
    served.faults.fail("missing.qcow2", status=status)
    url = served.url("missing.qcow2")

    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        fetch("missing", url, cache, **FAST)

    assert url in str(caught.value) and "missing" in str(caught.value)
    assert len(served.requests()) == 1


TOOLS = {"bz2": "bzip2", "gz": "gzip", "xz": "xz", "zst": "zstd"}


def compress(source: Path, target: Path, suffix: str) -> None:
    """Compress with the real tool, as two concatenated streams (like pbzip2 or pigz output)."""
    half = source.stat().st_size // 2
    with source.open("rb") as data, target.open("wb") as out:
        for piece in (data.read(half), data.read()):
            subprocess.run([TOOLS[suffix], "-q", "-c"], input=piece, stdout=out, check=True)


@pytest.mark.parametrize("suffix", sorted(TOOLS))
def test_compressed_source_is_decompressed(
    served: Served, cache: Path, tmp_path: Path, suffix: str
) -> None:
    plain_sha256 = write_random(tmp_path / "disk.qcow2")
    compressed = served.root / f"disk.qcow2.{suffix}"
    compress(tmp_path / "disk.qcow2", compressed, suffix)
    checksum = file_checksum(compressed)

    result = fetch("disk", served.url(compressed.name), cache, [checksum], **FAST)
    again = fetch("disk", served.url(compressed.name), cache, [checksum], **FAST)

    assert file_checksum(result.path).hexdigest == plain_sha256
    assert result.size == SIZE
    assert result.digests == {"sha256": checksum.hexdigest}  # of what was downloaded
    assert result.path.name == f"sha256-{checksum.hexdigest}.un{suffix}.img"
    assert again.from_cache and again.path == result.path
    assert not (cache / f"sha256-{checksum.hexdigest}.{suffix}").exists()
    assert len(served.requests()) == 1
    assert_clean(cache)


def test_undecodable_source_fails_and_keeps_nothing_half_done(served: Served, cache: Path) -> None:
    bogus = served.root / "disk.qcow2.xz"
    write_random(bogus)

    with pytest.raises(FetchError, match="cannot decompress xz"):
        fetch("disk", served.url(bogus.name), cache, [file_checksum(bogus)], **FAST)
    assert not list(cache.glob("*.img")) and not list(cache.glob("*.part"))


@pytest.mark.parametrize("as_url", [False, True])
def test_local_source_is_copied_and_verified(tmp_path: Path, cache: Path, as_url: bool) -> None:
    source = tmp_path / "local.raw"
    write_random(source)
    location = source.as_uri() if as_url else str(source)

    result = fetch("local", location, cache, [file_checksum(source, "sha512")])

    assert file_checksum(result.path) == file_checksum(source)
    assert result.path.parent == cache
    with pytest.raises(ChecksumMismatch):
        fetch("local", location, tmp_path / "other", [Checksum("sha256", "1" * 64)])


def test_local_source_without_checksum_is_rekeyed_when_it_changes(
    tmp_path: Path, cache: Path
) -> None:
    source = tmp_path / "local.raw"
    write_random(source, size=1000)
    first = fetch("local", str(source), cache)
    write_random(source, size=2000)

    second = fetch("local", str(source), cache)

    assert second.path != first.path and second.size == 2000


@pytest.mark.parametrize("location", ["ftp://example.org/x.qcow2", "/nonexistent/x.qcow2"])
def test_unusable_locations_are_refused(cache: Path, location: str) -> None:
    with pytest.raises(FetchError, match="'x'"):
        fetch("x", location, cache)


def test_local_io_errors_name_the_image(served: Served, tmp_path: Path) -> None:
    write_random(served.root / "disk.qcow2", size=10)
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    with pytest.raises(FetchError, match=r"'disk'.*local I/O error"):
        fetch("disk", served.url("disk.qcow2"), not_a_directory, **FAST)


@pytest.mark.parametrize("with_checksum", [True, False])
def test_concurrent_fetches_share_one_download(
    served: Served, cache: Path, with_checksum: bool
) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksums = [file_checksum(source)] if with_checksum else []

    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda _: fetch("disk", served.url("disk.qcow2"), cache, checksums, **FAST),
                range(4),
            )
        )

    assert len({result.path for result in results}) == 1
    assert file_checksum(results[0].path) == file_checksum(source)
    assert sorted(result.from_cache for result in results) == [False, True, True, True]
    assert len(served.requests()) == 1
    assert_clean(cache)


def test_progress_reports_increasing_values_and_the_end(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    calls: list[tuple[int, int | None]] = []

    fetch("disk", served.url("disk.qcow2"), cache, progress=lambda *c: calls.append(c), **FAST)

    done = [d for d, _ in calls]
    assert len(calls) >= 2
    assert done == sorted(done)
    assert calls[-1] == (SIZE, SIZE)
    assert calls.count((SIZE, SIZE)) == 1
    assert all(total == SIZE for _, total in calls)


def test_progress_is_rate_limited(served: Served, cache: Path) -> None:
    chunks = 32  # each chunk is ~3 % of the file, below the 5 % reporting step
    write_random(served.root / "big.raw", size=chunks << 20)
    calls: list[tuple[int, int | None]] = []

    fetch("big", served.url("big.raw"), cache, progress=lambda *c: calls.append(c), **FAST)

    assert 2 <= len(calls) < chunks


@pytest.mark.parametrize(
    "text",
    ["sha256:" + "A" * 64, " sha512:" + "b" * 128 + "\n"],
)
def test_checksum_parse_normalises(text: str) -> None:
    checksum = Checksum.parse(text)
    assert str(checksum) == text.strip().lower()
    assert Checksum.parse(str(checksum)) == checksum


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "md5:" + "a" * 32,
        "sha256:" + "a" * 63,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
    ],
)
def test_checksum_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"sha256|sha512"):
        Checksum.parse(text)
