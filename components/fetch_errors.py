"""How a failed fetch reads: the image, its URL as it may be shown, and what went wrong."""

from __future__ import annotations

from components.checksums import Checksum
from components.errors import CommunityImagesError
from components.urls import scrub, shown


class FetchError(CommunityImagesError):
    def __init__(self, name: str, url: str, reason: str) -> None:
        # Reasons quote exceptions, and requests' quote the URL with its query string.
        super().__init__(f"image {name!r} from {shown(url)}: {scrub(reason, url)}")
        self.name = name
        self.url = shown(url)
        self.reason = scrub(reason, url)


class ChecksumMismatch(FetchError):
    def __init__(self, name: str, url: str, expected: Checksum, actual: str) -> None:
        super().__init__(
            name, url, f"checksum mismatch: expected {expected}, got {expected.algorithm}:{actual}"
        )
        self.expected = expected
        self.actual = actual
