"""components.fetch against a real loopback HTTP server and real files: the cache, keys,
verification, content ids, decompression and its bound."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from components.fetch import Checksum, ChecksumMismatch, FetchError, fetch
from tests.unit.served import FAST, SIZE, Served, assert_clean, file_checksum, write_random


@pytest.mark.parametrize("algorithms", [["sha256"], ["sha512"], ["sha256", "sha512"]])
def test_download_verifies_given_checksums(
    served: Served, cache: Path, algorithms: list[str]
) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksums = [file_checksum(source, algorithm) for algorithm in algorithms]

    result = fetch("disk", served.url("disk.qcow2"), cache, checksums, bounds=FAST)

    verified = checksums[-1]  # the sha512 when there is one
    assert result.path.read_bytes() == source.read_bytes()
    assert result.size == SIZE
    assert result.digests == result.verified == {verified.algorithm: verified.hexdigest}
    assert result.content_id == f"{verified.algorithm}-{verified.hexdigest}"
    assert result.path.name == f"{result.content_id}.img"
    assert not result.from_cache
    assert_clean(cache)


def test_cache_hit_makes_no_request(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksum = file_checksum(source)
    first = fetch("disk", served.url("disk.qcow2"), cache, [checksum], bounds=FAST)
    seen = len(served.requests())

    again = fetch("disk", served.url("disk.qcow2"), cache, [checksum], bounds=FAST)
    # Content-addressed: even another, unreachable URL is a hit.
    elsewhere = fetch("disk", "http://127.0.0.1:9/gone.qcow2", cache, [checksum], bounds=FAST)

    assert again == elsewhere == replace(first, from_cache=True, hash_seconds=0.0)
    assert len(served.requests()) == seen == 1


def test_cache_hit_without_checksum_is_keyed_by_url(served: Served, cache: Path) -> None:
    write_random(served.root / "disk.qcow2")
    first = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)
    again = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)

    assert first.path.name.startswith("url-")
    assert again.path == first.path and again.from_cache
    assert len(served.requests()) == 1


def test_without_checksum_the_content_is_still_hashed_but_nothing_is_verified(
    served: Served, cache: Path
) -> None:
    sha256 = write_random(served.root / "disk.qcow2")

    result = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)

    assert result.digests == {"sha256": sha256}
    assert result.content_id == f"sha256-{sha256}"
    assert result.verified == {}


def test_with_both_checksums_the_sha512_is_the_one_verified(served: Served, cache: Path) -> None:
    """The sha512 is the hash Glance keeps and the one recorded on images; one pass of it
    proves the bytes, so the sha256 is neither computed nor reported as verified."""
    source = served.root / "disk.qcow2"
    write_random(source)
    sha256, sha512 = file_checksum(source), file_checksum(source, "sha512")
    wrong_sha512 = Checksum("sha512", "ab" * 64)
    with pytest.raises(ChecksumMismatch, match="sha512:abab"):
        fetch("disk", served.url("disk.qcow2"), cache, [sha256, wrong_sha512], bounds=FAST)

    wrong_sha256 = Checksum("sha256", "ab" * 32)
    result = fetch("disk", served.url("disk.qcow2"), cache, [wrong_sha256, sha512], bounds=FAST)

    assert result.verified == {"sha512": sha512.hexdigest}


def test_checksum_mismatch_raises_and_leaves_nothing(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    wrong = Checksum("sha256", "ab" * 32)
    url = served.url("disk.qcow2")

    with pytest.raises(ChecksumMismatch) as caught:
        fetch("my-image", url, cache, [wrong], bounds=FAST)

    message = str(caught.value)
    for part in ("my-image", url, str(wrong), file_checksum(source).hexdigest):
        assert part in message
    assert_clean(cache)
    assert not list(cache.glob("*.img"))


def test_part_left_by_an_earlier_run_is_resumed(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    checksum = file_checksum(source)
    cache.mkdir()
    prefix = 1_000_000
    with source.open("rb") as data:
        (cache / f"sha256-{checksum.hexdigest}.part").write_bytes(data.read(prefix))

    result = fetch("disk", served.url("disk.qcow2"), cache, [checksum], bounds=FAST)

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
        fetch("disk", served.url("disk.qcow2"), cache, [checksum], bounds=FAST)
    result = fetch("disk", served.url("disk.qcow2"), cache, [checksum], bounds=FAST)

    assert file_checksum(result.path) == checksum


def test_local_io_errors_name_the_image(served: Served, tmp_path: Path) -> None:
    write_random(served.root / "disk.qcow2", size=10)
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    with pytest.raises(FetchError, match=r"'disk'.*local I/O error"):
        fetch("disk", served.url("disk.qcow2"), not_a_directory, bounds=FAST)


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
                lambda _: fetch("disk", served.url("disk.qcow2"), cache, checksums, bounds=FAST),
                range(4),
            )
        )

    assert len({result.path for result in results}) == 1
    assert file_checksum(results[0].path) == file_checksum(source)
    assert sorted(result.from_cache for result in results) == [False, True, True, True]
    assert len(served.requests()) == 1
    assert_clean(cache)


def test_part_without_checksum_is_not_resumed(served: Served, cache: Path) -> None:
    """Hashing everything does not make an earlier run's bytes trustworthy: only a checksum
    proves that they and the rest belong together."""
    sha256 = write_random(served.root / "disk.qcow2")
    first = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)
    first.discard()
    first.path.with_suffix(".part").write_bytes(b"\0" * 1000)  # an earlier run's debris

    again = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)

    assert again.digests == {"sha256": sha256}
    assert [entry["range"] for entry in served.requests()] == [None, None]


def test_record_made_before_content_hashing_is_fetched_again(served: Served, cache: Path) -> None:
    write_random(served.root / "disk.qcow2")
    first = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)
    assert first.record is not None
    old = json.loads(first.record.read_text())
    first.record.write_text(json.dumps({**old, "digests": {}}))  # as a checksum-less run wrote

    again = fetch("disk", served.url("disk.qcow2"), cache, bounds=FAST)

    assert not again.from_cache and again.content_id == first.content_id
    assert len(served.requests()) == 2


def test_secret_parts_of_the_url_stay_out_of_the_record_and_errors(
    served: Served, cache: Path
) -> None:
    write_random(served.root / "disk.qcow2", size=1000)
    secret_url = served.url("disk.qcow2").replace("//", "//user:hunter2@") + "?sig=s3cr3t#frag"
    shown = served.url("disk.qcow2")

    result = fetch("disk", secret_url, cache, bounds=FAST)
    with pytest.raises(ChecksumMismatch) as caught:
        fetch("disk", secret_url, cache / "other", [Checksum("sha256", "0" * 64)], bounds=FAST)

    assert result.record is not None
    assert json.loads(result.record.read_text())["url"] == shown
    for text in (result.record.read_text(), str(caught.value), caught.value.url):
        assert "hunter2" not in text and "user" not in text and "s3cr3t" not in text
    assert shown in str(caught.value)
