"""components.fetch_errors: messages name the image, and show its URL without secrets."""

from __future__ import annotations

from components.checksums import Checksum
from components.errors import CommunityImagesError
from components.fetch_errors import ChecksumMismatch, FetchError

URL = "https://user:pw@images.example.org/disk.qcow2?X-Amz-Signature=s3cr3t"
SHOWN = "https://images.example.org/disk.qcow2"


def test_the_message_shows_the_url_without_its_secrets() -> None:
    error = FetchError("disk", URL, f"cannot reach {URL} (url: /disk.qcow2?X-Amz-Signature=s3cr3t)")

    assert isinstance(error, CommunityImagesError)
    assert str(error) == f"image 'disk' from {SHOWN}: cannot reach {SHOWN} (url: /disk.qcow2?…)"
    assert error.url == SHOWN
    assert "s3cr3t" not in error.reason


def test_a_checksum_mismatch_says_both_digests() -> None:
    expected = Checksum("sha512", "a" * 128)

    error = ChecksumMismatch("disk", URL, expected, "b" * 128)

    assert str(error) == (
        f"image 'disk' from {SHOWN}: checksum mismatch: expected {expected}, got sha512:{'b' * 128}"
    )
