"""One HTTP(S) download into a ``.part`` file, resumed with ``Range``, and bounded in every way a
server could stretch it.

A server can keep a download going for ever without ever failing outright: by ending the body
short and answering the resume with 416, or ignoring ``Range``, so that every attempt starts
again from zero; by trickling bytes; by sending an endless body. So, besides ``retries``:

- the count of consecutive failures resets only when an attempt gets past the most bytes the
  download ever held (its high-water mark): a restart that gets as far as the last cut did not
  progress;
- ``max_attempts`` caps the attempts of one download, progress or not, and ``deadline`` its time;
- an attempt receiving less than ``min_rate`` bytes/s over ``rate_window`` seconds fails as
  stalled, and a stalled attempt does not count as progress either;
- the bytes held are capped by the image size bound (``bounds.file_size_limit``).

Each way out is a FetchError (an ImageTooLargeError for the size) naming the image and the bound.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests
import urllib3

from components.bounds import ImageTooLargeError, file_size_limit, human_size
from components.checksums import Hashes
from components.download_bounds import DownloadBounds
from components.fetch_errors import FetchError
from components.files import CHUNK, WRITEBACK_EVERY, start_writeback
from components.progress import Progress
from components.tap import NO_TAP, Tap
from components.urls import shown
from components.validators import differ, validator

MAX_BACKOFF = 60.0
READ_SIZE = 256 << 10
"""The most one read of the body returns. Each read allocates a buffer of this size, which the
allocator's per-thread arenas keep once freed: four 256 MiB downloads over four connections each
peaked 22 MiB higher with 1 MiB reads (the files' CHUNK) than with these, in no less time."""
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


class _Transient(Exception):
    """A failure worth another attempt: 5xx, 408, 429, or a body shorter than announced."""


class _Stalled(_Transient):
    """Bytes arrive, but too slowly for the download ever to end."""


class RangeRefused(Exception):
    """A download of a range beyond the file's start got something else: the server ignored or
    refused the ``Range``, or the file changed (``If-Range``)."""


class Cancelled(Exception):
    """The download was told to stop (``HttpDownload.cancel``)."""


_RETRYABLE = (
    _Transient,
    requests.ConnectionError,
    requests.Timeout,
    # What reading the body raises: a cut connection, a read timeout.
    urllib3.exceptions.HTTPError,
)


class HttpDownload:
    def __init__(
        self,
        name: str,
        url: str,
        part: Path,
        report: Progress,
        session: requests.Session,
        algorithms: Sequence[str],
        bounds: DownloadBounds,
        max_bytes: int,
    ) -> None:
        self.name, self.url, self.part, self.report = name, url, part, report
        self.session, self.algorithms, self.bounds = session, algorithms, bounds
        self.max_bytes = max_bytes
        self.limit = file_size_limit(max_bytes)
        self.hashes = Hashes(algorithms)
        self.total: int | None = None
        self.validator: str | None = None  # ETag or Last-Modified, for If-Range
        self.accept_ranges = ""  # the last answer's Accept-Ranges
        self.tap: Tap = NO_TAP
        self.start = 0
        """Where ``part`` begins in the file: a range beyond the start (download.py) is not
        restarted from nothing, and ends the download with RangeRefused instead."""
        self.end: int | None = None
        """Where in the file to stop; the end of the file if None."""
        self.pinned_total: int | None = None
        """The size of the file ranges were split from (download.py): while set, an answer must
        show that size and a validator, or it may be another file's."""
        self.writeback = True
        """False for a file read back and deleted within seconds: writing it out is waste."""
        self.on_accept: Callable[[], None] | None = None
        """Called once an attempt's answer is accepted, before its body is read."""
        self._cancelled = threading.Event()
        self._deadline = time.monotonic() + bounds.deadline

    def cancel(self) -> None:
        """Stops the download before its next chunk or attempt, with Cancelled; a ``part`` it
        opens after this is removed (a range given up, download.py, leaves nothing)."""
        self._cancelled.set()

    def adopt_part(self) -> None:
        """Hash what an earlier run left, so that the checksums cover the whole file."""
        with self.part.open("rb") as existing:
            while chunk := existing.read(CHUNK):
                self.hashes.update(chunk)
        if self.hashes.size > self.limit:
            raise self._too_large(f"the download left by an earlier run holds {self.hashes.size}")

    def run(self) -> None:
        failures, high_water, attempt = 0, self.hashes.size, 0
        while True:
            attempt += 1
            try:
                if self._cancelled.is_set():
                    raise Cancelled()
                self._attempt()
                return
            except requests.exceptions.SSLError as exc:
                raise self._error(str(exc)) from exc  # retrying will not help
            except _RETRYABLE as exc:
                progressed = self.hashes.size > high_water and not isinstance(exc, _Stalled)
                high_water = max(high_water, self.hashes.size)
                failures = 1 if progressed else failures + 1
                self._wait_for_retry(attempt, failures, exc)
            except requests.RequestException as exc:
                raise self._error(str(exc)) from exc

    def _wait_for_retry(self, attempt: int, failures: int, exc: Exception) -> None:
        bounds = self.bounds
        if failures > bounds.retries:
            raise self._error(
                f"giving up after {failures} failed attempts in a row without progress: {exc}"
            ) from exc
        if attempt >= bounds.max_attempts:
            raise self._error(
                f"giving up after {attempt} attempts, the most one download makes: {exc}"
            ) from exc
        delay = min(bounds.backoff * 2 ** (failures - 1), MAX_BACKOFF)
        if time.monotonic() + delay >= self._deadline:
            raise self._past_deadline(f"; the last attempt failed: {exc}") from exc
        time.sleep(delay)

    def _attempt(self) -> None:
        offset = self.start + self.hashes.size
        # Identity encoding: a content-coded body is not the file the checksums describe.
        headers = {"Accept-Encoding": "identity"}
        if offset or self.end is not None:
            # The first connection asks as a download of one connection would: to the end.
            last = str(self.end - 1) if self.start and self.end is not None else ""
            headers["Range"] = f"bytes={offset}-{last}"
            if self.validator:
                headers["If-Range"] = self.validator
        timeout = self.bounds.timeout
        with self.session.get(self.url, headers=headers, stream=True, timeout=timeout) as resp:
            self._accept(resp, offset)
            if self.on_accept is not None:
                self.on_accept()
            self._receive(resp)
        end = self.total if self.end is None else self.end
        if end is not None and self.start + self.hashes.size != end:
            raise _Transient(f"connection closed at byte {self.start + self.hashes.size} of {end}")

    def _accept(self, resp: requests.Response, offset: int) -> None:
        """Check the response's status and headers, restarting when it is not the rest of the
        ``.part``; learn the total size and the validator for the next ``If-Range``."""
        status = resp.status_code
        if status >= 500 or status in (408, 429):
            raise _Transient(f"HTTP {status} {resp.reason}")
        if status == 416 and offset:
            self._restart()  # the .part is not a prefix of what the server has now
            raise _Transient(f"HTTP 416 for bytes={offset}-")
        if status == 206:
            self._accept_partial(resp, offset)
        elif status == 200:
            if offset:
                self._restart()  # Range ignored, or If-Range found the file changed
            length = resp.headers.get("Content-Length")
            self.total = int(length) if length and length.isascii() and length.isdigit() else None
        else:
            raise self._error(f"HTTP {status} {resp.reason}")
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise self._error(
                f"the server sent the file with Content-Encoding {encoding} although the request "
                "asked for identity, so the bytes received are not the image's; have it served "
                "as it is (no compression for this file on the server), or use another source"
            )
        if self.total is not None and self.total > self.limit:
            raise self._too_large(f"the server announces {self.total}")
        # A 206 without a validator keeps the one the download began with, for the next If-Range.
        if status == 200 or self.validator is None:
            self.validator = validator(resp)
        self.accept_ranges = resp.headers.get("Accept-Ranges", "").strip().lower()

    def _accept_partial(self, resp: requests.Response, offset: int) -> None:
        """A 206 must be the rest of the ``.part``, of the file the ``.part`` began with:
        restart when it is not (a server that ignores If-Range sends another version)."""
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != offset:
            self._restart()
            raise _Transient(f"unusable Content-Range for bytes={offset}-")
        self.total = None if match.group(2) == "*" else int(match.group(2))
        answered = validator(resp)
        pinned = self.pinned_total is not None
        if (pinned and (self.total != self.pinned_total or answered is None)) or differ(
            answered, self.validator
        ):
            self._restart()
            raise _Transient(
                f"another version of the file: {self.total} bytes, validator {answered}, where "
                f"the download began with {self.pinned_total or 'a file'} of {self.validator}"
            )

    def _receive(self, resp: requests.Response) -> None:
        bounds = self.bounds
        window_start, window_bytes = time.monotonic(), 0
        with self.part.open("ab") as out:
            if self._cancelled.is_set():  # given up while its answer was on its way
                self.part.unlink(missing_ok=True)
                raise Cancelled()
            self.tap.receiving(self.part, self.total)
            written_back = self.hashes.size
            # read1 returns what has arrived: a read of a fixed size waits until it is all there,
            # so a trickle could hold one read, and every check between reads, for days.
            while chunk := resp.raw.read1(READ_SIZE, decode_content=False):
                if self._cancelled.is_set():
                    raise Cancelled()
                if self.end is not None:
                    chunk = chunk[: self.end - self.start - self.hashes.size]
                out.write(chunk)
                out.flush()
                self.hashes.update(chunk)
                if self.writeback and self.hashes.size - written_back >= WRITEBACK_EVERY:
                    start_writeback(out.fileno())
                    written_back = self.hashes.size
                self.tap.grew(self.hashes.size)
                self.report(self.hashes.size, self.total)
                if self.hashes.size > self.limit:
                    raise self._too_large(f"the download grew past {self.limit}")
                now = time.monotonic()
                if now >= self._deadline:
                    raise self._past_deadline("")
                window_bytes += len(chunk)
                elapsed = now - window_start
                if elapsed >= bounds.rate_window:
                    if window_bytes < bounds.min_rate * elapsed:
                        raise _Stalled(
                            f"stalled: {window_bytes} bytes in {elapsed:.1f} s, less than the "
                            f"minimum rate of {human_size(bounds.min_rate)}/s"
                        )
                    window_start, window_bytes = now, 0
                if self.end is not None and self.start + self.hashes.size >= self.end:
                    return  # the rest of the body is another range's

    def _restart(self) -> None:
        if self.start:
            raise RangeRefused(f"bytes={self.start + self.hashes.size}- not served as asked")
        self.part.unlink(missing_ok=True)
        self.hashes = Hashes(self.algorithms)
        self.tap.restarted()

    def _error(self, reason: str) -> FetchError:
        return FetchError(self.name, self.url, reason)

    def _past_deadline(self, detail: str) -> FetchError:
        return self._error(
            f"not finished within {self.bounds.deadline:g} s, the most one download may take, "
            f"with {self.hashes.size} bytes received{detail}"
        )

    def _too_large(self, what: str) -> ImageTooLargeError:
        self.part.unlink(missing_ok=True)
        return ImageTooLargeError(
            self.name,
            f"{what} bytes from {shown(self.url)}, more than any image within the bound takes "
            f"({self.limit} bytes); the download was stopped and removed",
            self.max_bytes,
        )
