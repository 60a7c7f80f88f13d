"""One HTTP(S) download, over several connections at once when the server allows it.

A distant store serves each connection at a rate of its own (a window per round trip), so one
connection per file leaves most of the link idle: 256 MiB at 32 MiB/s per connection take 8 s
over one, 2 s over four. So once the first answer shows a server that can serve ranges of this
very file (``Accept-Ranges: bytes``, its size, and an ETag or Last-Modified to send as
``If-Range``), the rest of the file is split into ranges, each fetched by a connection of its own
(``DownloadBounds.connections``, for at least ``range_size`` bytes each), while the first
connection goes on from the start.

Each range lands in a file of its own (``<part>.<n>``) and is appended to the ``.part``, hashed,
when the bytes before it are there. So the ``.part`` is always a prefix of the file: what a
later run resumes, what upload_stream.py follows, and what the checksum is computed over, in
order. ``If-Range`` makes a file replaced meanwhile answer with all of itself instead of a range
of the new version, and the ranges are then given up: a range that fails, or that the server
will not serve as asked, costs only speed, since the first connection then carries on from where
the ``.part`` ends, with every bound of one download (http_download.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests

from components.checksums import Hashes
from components.files import CHUNK, start_writeback
from components.http_download import DownloadBounds, HttpDownload
from components.progress import Progress, Reporter
from components.tap import NO_TAP, Tap


def download(
    name: str,
    url: str,
    part: Path,
    report: Reporter,
    session: requests.Session | None,
    algorithms: Sequence[str],
    bounds: DownloadBounds,
    max_bytes: int,
    resume: bool,
    tap: Tap = NO_TAP,
) -> Hashes:
    """Download ``url`` into ``part``, hashing it; ``resume`` continues a ``part`` left before.
    ``tap`` hears of every write, for a reader of the ``part`` while it arrives."""
    received = _Received(report)
    first = HttpDownload(
        name,
        url,
        part,
        received.of(0),
        session or requests.Session(),
        algorithms,
        bounds,
        max_bytes,
    )
    ranges = _Ranges(first, received)
    first.tap = _Restarts(tap, ranges)
    first.on_accept = ranges.split
    try:
        if resume and part.is_file():
            first.adopt_part()
        else:
            part.unlink(missing_ok=True)
        first.run()
        ranges.append_all()
    finally:
        ranges.abandon()
        if session is None:
            first.session.close()
    report(first.hashes.size, first.total, final=True)
    return first.hashes


class _Received:
    """Bytes received over all connections, reported as one download's."""

    def __init__(self, report: Reporter) -> None:
        self._report = report
        self._sizes: dict[int, int] = {}
        self._lock = threading.Lock()

    def of(self, index: int) -> Progress:
        def update(size: int, total: int | None) -> None:
            with self._lock:
                self._sizes[index] = size
                self._report(sum(self._sizes.values()), total)

        return update

    def drop(self, index: int) -> None:
        """Forget a range's bytes: appended to the first's, or given up."""
        with self._lock:
            self._sizes.pop(index, None)


@dataclass
class _Range:
    index: int
    download: HttpDownload
    error: Exception | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.download.run()
        except Exception as exc:  # a failed range only costs the split
            self.error = exc

    def remove(self) -> None:
        self.download.part.unlink(missing_ok=True)


class _Ranges:
    """The ranges beyond the first connection's, once the first answer allows them."""

    def __init__(self, first: HttpDownload, received: _Received) -> None:
        self._first, self._received = first, received
        self._ranges: list[_Range] = []
        # Ranges of a run that was killed: the .part is what a later run resumes, not these.
        for leftover in first.part.parent.glob(f"{first.part.name}.*"):
            leftover.unlink(missing_ok=True)

    def split(self) -> None:
        """Called when an answer to the first connection is accepted: the first time, start a
        connection for each range past the first one's."""
        first = self._first
        first.on_accept = _nothing
        start, total, bounds = first.hashes.size, first.total, first.bounds
        if total is None or first.validator is None or first.accept_ranges != "bytes":
            return
        count = min(bounds.connections, (total - start) // bounds.range_size)
        if count < 2:
            return
        edges = [start + (total - start) * i // count for i in range(count + 1)]
        first.end = edges[1]
        # A range that fails falls back on the first connection: retrying it long only delays.
        range_bounds = replace(bounds, retries=1, max_attempts=3)
        for index in range(1, count):
            self._start(index, edges[index], edges[index + 1], range_bounds)

    def _start(self, index: int, begin: int, end: int, bounds: DownloadBounds) -> None:
        first = self._first
        http = HttpDownload(
            first.name,
            first.url,
            first.part.with_name(f"{first.part.name}.{index}"),
            self._received.of(index),
            requests.Session(),
            (),
            bounds,
            first.max_bytes,
        )
        http.start, http.end, http.expected_total = begin, end, first.total
        http.validator, http.writeback = first.validator, False
        item = _Range(index, http)
        self._ranges.append(item)
        item.thread.start()

    def append_all(self) -> None:
        """Append each range to the first connection's ``.part`` in order; from a range that
        failed on, the first connection downloads the rest itself."""
        first = self._first
        while self._ranges:
            item = self._ranges.pop(0)
            item.thread.join()
            item.download.session.close()
            if item.error is not None:
                item.remove()
                self._received.drop(item.index)
                self.abandon()
                first.run()
                return
            self._append(item)

    def _append(self, item: _Range) -> None:
        first = self._first
        self._received.drop(item.index)
        report = self._received.of(0)
        with item.download.part.open("rb") as source, first.part.open("ab") as out:
            while chunk := source.read(CHUNK):
                out.write(chunk)
                out.flush()
                first.hashes.update(chunk)
                first.tap.grew(first.hashes.size)
                report(first.hashes.size, first.total)
            start_writeback(out.fileno())
        item.remove()

    def abandon(self) -> None:
        """Stop every range still running and remove what they wrote."""
        for item in self._ranges:
            item.download.cancel()
        for item in self._ranges:
            item.thread.join(timeout=1.0)
            item.download.session.close()
            item.remove()
            self._received.drop(item.index)
        self._ranges.clear()
        self._first.end = None


class _Restarts:
    """The first connection's tap, which also gives the ranges up when the download restarts
    from nothing (the server no longer serves the file it began with): they hold that file."""

    def __init__(self, tap: Tap, ranges: _Ranges) -> None:
        self._tap, self._ranges = tap, ranges

    def receiving(self, part: Path, total: int | None) -> None:
        self._tap.receiving(part, total)

    def grew(self, size: int) -> None:
        self._tap.grew(size)

    def restarted(self) -> None:
        self._ranges.abandon()
        self._tap.restarted()


def _nothing() -> None:
    pass
