"""components.decompress: real compressed files, decompressed within the size bound, on their
own and as fetch keeps them."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from components.bounds import ImageTooLargeError
from components.decompress import compression, decompress
from components.fetch import fetch
from components.fetch_errors import FetchError
from tests.unit.served import FAST, SIZE, Served, assert_clean, file_checksum, write_random

DATA = bytes(range(256)) * 4096  # 1 MiB
URL = "https://images.example.org/disk.raw.bz2?sig=s3cr3t"


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("https://h/disk.qcow2.bz2", "bz2"),
        ("https://h/disk.qcow2.GZ?x=1", "gz"),
        ("/srv/disk.raw.xz", "xz"),
        ("disk.zst", "zst"),
        ("https://h/disk.qcow2", None),
        ("https://h/disk.tar", None),
    ],
)
def test_compression_is_told_by_the_name(location: str, kind: str | None) -> None:
    assert compression(location) == kind


@pytest.mark.parametrize(
    ("kind", "compress"),
    [
        ("bz2", bz2.compress),
        ("gz", gzip.compress),
        ("xz", lzma.compress),
        ("zst", zstandard.ZstdCompressor().compress),
    ],
)
def test_decompresses_into_the_final_file(
    tmp_path: Path, kind: str, compress: Callable[[bytes], bytes]
) -> None:
    blob, final = tmp_path / f"blob.{kind}", tmp_path / "final.img"
    blob.write_bytes(compress(DATA))

    decompress("disk", URL, blob, final, kind, max_bytes=1 << 20)

    assert final.read_bytes() == DATA
    assert sorted(path.name for path in tmp_path.iterdir()) == [blob.name, final.name]


def test_a_bomb_stops_at_the_bound_and_leaves_no_output(tmp_path: Path) -> None:
    blob, final = tmp_path / "bomb.bz2", tmp_path / "final.img"
    blob.write_bytes(bz2.compress(bytes(8 << 20)))  # 8 MiB of zeros in a few dozen bytes
    assert blob.stat().st_size < 1024

    with pytest.raises(ImageTooLargeError) as caught:
        decompress("bomb", URL, blob, final, "bz2", max_bytes=1 << 20)

    message = str(caught.value)
    assert message.startswith(
        "image 'bomb': its bz2 data from https://images.example.org/disk.raw.bz2 decompresses "
        f"to more than {(1 << 20) + (1 << 16) + (1 << 20)} bytes"
    )
    assert "community-images:maxImageSize" in message and "s3cr3t" not in message
    assert [path.name for path in tmp_path.iterdir()] == [blob.name]


def test_bad_data_is_a_fetch_error_naming_the_file_to_delete(tmp_path: Path) -> None:
    blob, final = tmp_path / "bad.xz", tmp_path / "final.img"
    blob.write_bytes(b"not xz at all")

    with pytest.raises(FetchError, match=f"cannot decompress xz data .*delete {blob}"):
        decompress("disk", URL, blob, final, "xz", max_bytes=1 << 20)
    assert [path.name for path in tmp_path.iterdir()] == [blob.name]


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

    result = fetch("disk", served.url(compressed.name), cache, [checksum], bounds=FAST)
    again = fetch("disk", served.url(compressed.name), cache, [checksum], bounds=FAST)

    assert file_checksum(result.path).hexdigest == plain_sha256
    assert result.size == SIZE
    assert result.digests == {"sha256": checksum.hexdigest}  # of what was downloaded
    # The compressed bytes determine the decompressed ones.
    assert result.content_id == f"sha256-{checksum.hexdigest}.un{suffix}"
    assert result.path.name == f"{result.content_id}.img"
    assert again.from_cache and again.path == result.path
    assert not (cache / f"sha256-{checksum.hexdigest}.{suffix}").exists()
    assert len(served.requests()) == 1
    assert_clean(cache)


def test_undecodable_source_fails_and_keeps_nothing_half_done(served: Served, cache: Path) -> None:
    bogus = served.root / "disk.qcow2.xz"
    write_random(bogus)

    with pytest.raises(FetchError, match="cannot decompress xz"):
        fetch("disk", served.url(bogus.name), cache, [file_checksum(bogus)], bounds=FAST)
    assert not list(cache.glob("*.img")) and not list(cache.glob("*.part"))


def test_new_download_replaces_a_stale_decompression(
    served: Served, cache: Path, tmp_path: Path
) -> None:
    """A checksum-less compressed source fetched again (its record predates content hashing)
    is decompressed again: the old decompression may be of another build."""
    compressed = served.root / "disk.raw.bz2"
    compressed.write_bytes(bz2.compress(b"first build"))
    first = fetch("disk", served.url(compressed.name), cache, bounds=FAST)
    assert first.record is not None
    first.record.write_text(json.dumps({**json.loads(first.record.read_text()), "digests": {}}))
    compressed.write_bytes(bz2.compress(b"second build"))

    again = fetch("disk", served.url(compressed.name), cache, bounds=FAST)

    assert again.path == first.path
    assert again.path.read_bytes() == b"second build"
    assert again.content_id != first.content_id


def write_bz2_bomb(path: Path, expands_to: int) -> None:
    compressor = bz2.BZ2Compressor()
    with path.open("wb") as out:
        for _ in range(expands_to >> 20):
            out.write(compressor.compress(bytes(1 << 20)))
        out.write(compressor.flush())


def test_bz2_bomb_stops_at_the_bound_and_is_not_decompressed_again(
    served: Served, cache: Path
) -> None:
    bomb = served.root / "bomb.raw.bz2"
    write_bz2_bomb(bomb, expands_to=8 << 20)
    assert bomb.stat().st_size < 4096
    url, checksum = served.url(bomb.name), file_checksum(bomb)

    with pytest.raises(ImageTooLargeError) as caught:
        fetch("bomb", url, cache, [checksum], bounds=FAST, max_bytes=1 << 20)
    message = str(caught.value)
    assert message.startswith("image 'bomb': its bz2 data from ")
    assert "decompresses to more than" in message
    assert "community-images:maxImageSize" in message
    assert not list(cache.glob("*.img")) and not list(cache.glob("*.part"))
    kept = cache / f"sha256-{checksum.hexdigest}.bz2"
    assert kept.stat().st_size == bomb.stat().st_size

    with pytest.raises(ImageTooLargeError, match="found by an earlier run"):
        fetch("bomb", url, cache, [checksum], bounds=FAST, max_bytes=1 << 20)
    assert len(served.requests()) == 1

    result = fetch("bomb", url, cache, [checksum], bounds=FAST, max_bytes=16 << 20)
    assert result.size == 8 << 20 and result.from_cache
    assert len(served.requests()) == 1 and not kept.exists()
