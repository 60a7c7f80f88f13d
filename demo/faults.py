"""Failures the loopback image server injects, scripted per URL path."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

Ranges = Literal["honour", "refuse", "ignore"]


@dataclass
class Fault:
    remaining: int
    status: int | None = None  # answer this instead of the file
    cut_after: int | None = None  # or send full headers, then only this many body bytes
    rate: int | None = None  # or send the body at this many bytes per second
    ranges: Ranges = "honour"  # "refuse": 416 to any Range; "ignore": the whole file
    gzip: bool = False  # or send the whole file with Content-Encoding: gzip
    unsized: bool = False  # or send no Content-Length: the body ends with the connection
    etag: str | None = None  # or answer under this ETag, whatever If-Range says


class FaultPlan:
    """Failures to inject, per URL path, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def fail(self, path: str, times: int = 1, status: int = 503) -> FaultPlan:
        return self._add(path, Fault(times, status=status))

    def truncate(
        self, path: str, after: int, times: int = 1, ranges: Ranges = "honour"
    ) -> FaultPlan:
        return self._add(path, Fault(times, cut_after=after, ranges=ranges))

    def throttle(self, path: str, rate: int, times: int = 1) -> FaultPlan:
        return self._add(path, Fault(times, rate=rate))

    def relabel(self, path: str, etag: str, times: int = 1) -> FaultPlan:
        """Answer under another ETag and ignore If-Range: a server that serves another version
        of the file as asked, or whose replicas each label it their own way."""
        return self._add(path, Fault(times, etag=etag))

    def unsized(self, path: str, times: int = 1) -> FaultPlan:
        return self._add(path, Fault(times, unsized=True))

    def gzip(self, path: str, times: int = 1) -> FaultPlan:
        """Send the file gzip-compressed, as a server compressing on the fly despite
        ``Accept-Encoding: identity`` does."""
        return self._add(path, Fault(times, gzip=True))

    def _add(self, path: str, fault: Fault) -> FaultPlan:
        with self._lock:
            self._faults.setdefault("/" + path.lstrip("/"), []).append(fault)
        return self

    def take(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path, [])
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault
