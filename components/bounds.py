"""The size bound on images (``community-images:maxImageSize``): no input, however crafted, makes
the program write or send more than this."""

from __future__ import annotations

from components.errors import CommunityImagesError

GIB = 1 << 30

DEFAULT_MAX_IMAGE_GIB = 256
"""Larger than any azimuth-images image (a few GiB of data, 20-40 GiB virtual) by far."""

DEFAULT_MAX_IMAGE_BYTES = DEFAULT_MAX_IMAGE_GIB * GIB

MAX_IMAGE_SIZE_KEY = "community-images:maxImageSize"


def file_size_limit(max_bytes: int) -> int:
    """The most bytes a file (a download, compressed or not, or its decompression) of an image
    whose virtual size is at most ``max_bytes`` can hold.

    Image files carry metadata beside the data, and a compressor expands incompressible data a
    little. One sixteenth covers the worst case qemu-img makes: qcow2 with 512-byte clusters and
    extended L2 entries spends 18 bytes per 512 (3.5 %); bzip2 adds under 1 % to random data. The
    MiB covers fixed overheads that only matter for tiny images (a VHDX's header, log and
    metadata regions; qemu-img makes an 8 MiB raw disk a 16 MiB VHDX), which the sixteenth of any
    real limit (1 GiB at least, so 64 MiB) covers too. The exact check is on the virtual size,
    at inspection; this one only keeps a file from growing without bound before it can be
    inspected.
    """
    return max_bytes + max_bytes // 16 + (1 << 20)


def human_size(n: float) -> str:
    """``n`` bytes for a reader: ``"512 B"``, ``"1.5 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class ImageTooLargeError(CommunityImagesError):
    """An image is, or would become, larger than ``maxImageSize``; names the image."""

    def __init__(self, name: str, what: str, max_bytes: int) -> None:
        super().__init__(
            f"image {name!r}: {what}; {MAX_IMAGE_SIZE_KEY} allows {human_size(max_bytes)} of "
            f"virtual size. If the image really is that large, raise {MAX_IMAGE_SIZE_KEY} (GiB); "
            "otherwise fix or drop its source"
        )
        self.name = name
        self.max_bytes = max_bytes
