"""What the tests of fetching share: a loopback image server, random files and their checksums."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.checksums import Checksum
from components.download_bounds import DownloadBounds
from demo.imageserver import FaultPlan, RunningServer

SIZE = 3 * (1 << 20) + 4321  # several chunks, not chunk-aligned

FAST = DownloadBounds(backoff=0.001, timeout=10.0)
"""Retries without waiting; every other bound as in production."""


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
