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
order. Every range must come from the file the split was made from: its size, and its validator,
sent as ``If-Range`` and checked in each answer. A range that fails, stalls (``range_stall``),
or is not served as asked costs only speed: what it holds is appended, and the first connection
fetches the rest of it, with every bound of one download (http_download.py), while the ranges
after it go on. When the first connection finds another file (its own resume answered with all
of a changed file), every range is given up and it goes on alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import requests

from components.checksums import Hashes
from components.download_bounds import DownloadBounds
from components.files import CHUNK, start_writeback
from components.http_download import HttpDownload
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
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def of(self, index: int) -> Progress:
        self._last[index] = time.monotonic()

        def update(size: int, total: int | None) -> None:
            with self._lock:
                self._sizes[index] = size
                self._last[index] = time.monotonic()
                self._report(sum(self._sizes.values()), total)

        return update

    def quiet(self, index: int) -> float:
        """Seconds since connection ``index`` last received anything (or started)."""
        return time.monotonic() - self._last[index]

    def moved(self, index: int, first_size: int, total: int | None) -> None:
        """A range's bytes now count as the first connection's: appended, or given up."""
        with self._lock:
            self._sizes.pop(index, None)
            self._sizes[0] = first_size
            self._report(sum(self._sizes.values()), total)


@dataclass
class _Range:
    index: int
    download: HttpDownload
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # A failed range only leaves its rest to the first connection.
        with contextlib.suppress(Exception):
            self.download.run()

    def wait(self, received: _Received, stall: float) -> None:
        """Wait until the range is over (done or failed) or stalled: nothing for ``stall`` s."""
        while self.thread.is_alive() and received.quiet(self.index) < stall:
            self.thread.join(timeout=min(stall, 0.5))

    def stop(self) -> None:
        self.download.cancel()
        self.thread.join(timeout=1.0)  # blocked in a read, it writes nothing more anyway
        self.download.session.close()

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
        first.on_accept = None  # once: the first answer decides
        start, total, bounds = first.hashes.size, first.total, first.bounds
        if total is None or first.validator is None or first.accept_ranges != "bytes":
            return
        count = min(bounds.connections, (total - start) // bounds.range_size)
        if count < 2:
            return
        edges = [start + (total - start) * i // count for i in range(count + 1)]
        first.end = edges[1]
        first.pinned_total = total
        # A range that fails is taken over by the first connection: retrying it long only delays.
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
        http.start, http.end = begin, end
        http.pinned_total, http.validator = first.pinned_total, first.validator
        http.writeback = False
        item = _Range(index, http)
        self._ranges.append(item)
        item.thread.start()

    def append_all(self) -> None:
        """Append each range to the first connection's ``.part`` in order. Of a range that
        failed or stalled, what it holds is appended and the first connection fetches the rest;
        the ranges after it go on."""
        first = self._first
        while self._ranges:
            item = self._ranges.pop(0)
            item.wait(self._received, first.bounds.range_stall)
            item.stop()
            self._append(item)
            if first.hashes.size < item.download.end:
                first.end = item.download.end
                first.run()

    def _append(self, item: _Range) -> None:
        first = self._first
        with first.part.open("ab") as out:
            for chunk in _held(item.download.part):
                out.write(chunk)
                out.flush()
                first.hashes.update(chunk)
                first.tap.grew(first.hashes.size)
            start_writeback(out.fileno())
        item.remove()
        self._received.moved(item.index, first.hashes.size, first.total)

    def abandon(self) -> None:
        """Stop every range still running and remove what they wrote: the first connection
        goes on alone, as a download of one connection."""
        for item in self._ranges:
            item.download.cancel()  # all at once: each stop may wait
        for item in self._ranges:
            item.stop()
            item.remove()
            self._received.moved(item.index, self._first.hashes.size, self._first.total)
        self._ranges.clear()
        first = self._first
        first.end = first.pinned_total = None


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


def _held(path: Path) -> Iterator[bytes]:
    """What a range wrote, in chunks: nothing if it wrote nothing."""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        return
    with source:
        while chunk := source.read(CHUNK):
            yield chunk
