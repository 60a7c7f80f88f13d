"""components.checksums: parsing, which checksum is verified, and the streaming hash."""

from __future__ import annotations

import hashlib

import pytest

from components.checksums import Checksum, Hashes, verified_checksum

SHA256 = Checksum("sha256", "a" * 64)
SHA512 = Checksum("sha512", "b" * 128)


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


@pytest.mark.parametrize(
    ("given", "verified"),
    [
        ([SHA256, SHA512], SHA512),  # the hash Glance computes and images record
        ([SHA512, SHA256], SHA512),
        ([SHA256], SHA256),
        ([SHA512], SHA512),
        ([], None),
    ],
)
def test_the_sha512_is_verified_when_given(
    given: list[Checksum], verified: Checksum | None
) -> None:
    assert verified_checksum(given) == verified


def test_hashes_of_chunks_are_those_of_the_whole() -> None:
    data = bytes(range(256)) * 5000
    hashes = Hashes(["sha256", "sha512"])
    for start in range(0, len(data), 4096):
        hashes.update(data[start : start + 4096])

    assert hashes.size == len(data)
    assert hashes.hexdigests() == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
