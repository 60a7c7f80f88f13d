"""What a download tells a reader of its ``.part`` while it is still arriving (upload_stream.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Tap(Protocol):
    def receiving(self, part: Path, total: int | None) -> None:
        """An attempt writes to ``part`` (opened, perhaps holding a resumed start) and the
        download will be ``total`` bytes, if known. Called once per attempt."""

    def grew(self, size: int) -> None:
        """``part`` holds ``size`` bytes, all of them readable by another open file."""

    def restarted(self) -> None:
        """What ``part`` held is gone: the download starts again from nothing."""


class _NoTap:
    def receiving(self, part: Path, total: int | None) -> None:
        pass

    def grew(self, size: int) -> None:
        pass

    def restarted(self) -> None:
        pass


NO_TAP: Tap = _NoTap()
"""A download nobody reads while it arrives."""
