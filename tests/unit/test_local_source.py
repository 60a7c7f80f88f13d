"""components.local_source: local paths and file: URLs, copied within the size bound."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from components.bounds import ImageTooLargeError
from components.fetch import Checksum, ChecksumMismatch, FetchError, fetch
from components.local_source import copy_local, local_path
from components.progress import Reporter
from tests.unit.served import file_checksum, write_random


def test_paths_and_file_urls_name_files(tmp_path: Path) -> None:
    image = tmp_path / "disk.raw"
    image.write_bytes(b"x")

    assert local_path("disk", str(image)) == image
    assert local_path("disk", image.as_uri()) == image
    assert local_path("disk", "https://host/disk.raw") is None


@pytest.mark.parametrize(
    ("location", "reason"),
    [("ftp://host/disk.raw", "unsupported URL scheme 'ftp'"), ("/nonexistent.raw", "no such file")],
)
def test_other_locations_are_refused(location: str, reason: str) -> None:
    with pytest.raises(FetchError, match=f"^image 'disk' from {location}: {reason}"):
        local_path("disk", location)


def test_a_copy_is_hashed(tmp_path: Path) -> None:
    source, part = tmp_path / "disk.raw", tmp_path / "disk.part"
    data = bytes(range(256)) * 1000
    source.write_bytes(data)

    hashes = copy_local("disk", source, part, Reporter(None), ["sha256"], max_bytes=1 << 20)

    assert part.read_bytes() == data
    assert hashes.hexdigests() == {"sha256": hashlib.sha256(data).hexdigest()}


def test_a_file_bigger_than_the_bound_is_not_copied(tmp_path: Path) -> None:
    source, part = tmp_path / "big.raw", tmp_path / "big.part"
    source.write_bytes(bytes(3 << 20))

    with pytest.raises(ImageTooLargeError) as caught:
        copy_local("big", source, part, Reporter(None), ["sha256"], max_bytes=1 << 20)

    assert str(caught.value).startswith(f"image 'big': the file {source} holds more than")
    assert "community-images:maxImageSize allows 1.0 MiB" in str(caught.value)
    assert not part.exists()


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


def test_local_source_bigger_than_the_bound_is_not_copied(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "big.raw"
    write_random(source, size=3 << 20)

    with pytest.raises(ImageTooLargeError, match=r"^image 'big': the file .* holds more than"):
        fetch("big", str(source), cache, max_bytes=1 << 20)
    assert not list(cache.glob("*.part")) and not list(cache.glob("*.img"))
