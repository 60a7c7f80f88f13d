"""components.bounds: the size bound's file allowance and how its error reads."""

from __future__ import annotations

import pytest

from components.bounds import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_GIB,
    GIB,
    ImageTooLargeError,
    file_size_limit,
    human_size,
)
from components.errors import CommunityImagesError

MIB = 1 << 20


def test_default_is_256_gib() -> None:
    assert DEFAULT_MAX_IMAGE_GIB == 256
    assert DEFAULT_MAX_IMAGE_BYTES == 256 * GIB


@pytest.mark.parametrize(
    ("max_bytes", "limit"),
    [(GIB, GIB + 64 * MIB + MIB), (256 * GIB, 272 * GIB + MIB), (MIB, MIB + 64 * 1024 + MIB)],
)
def test_a_file_may_hold_a_sixteenth_and_a_mib_more_than_the_virtual_size(
    max_bytes: int, limit: int
) -> None:
    assert file_size_limit(max_bytes) == limit


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (GIB, "1.0 GiB"), (8 << 40, "8.0 TiB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_the_error_names_the_image_the_key_and_what_to_do() -> None:
    error = ImageTooLargeError("debian-12", "its virtual size is 8.0 TiB", 256 * GIB)

    assert isinstance(error, CommunityImagesError)
    assert str(error) == (
        "image 'debian-12': its virtual size is 8.0 TiB; community-images:maxImageSize allows "
        "256.0 GiB of virtual size. If the image really is that large, raise "
        "community-images:maxImageSize (GiB); otherwise fix or drop its source"
    )
