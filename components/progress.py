"""Progress of a transfer, reported at a rate a log can take."""

from __future__ import annotations

import time
from collections.abc import Callable

PROGRESS_SECONDS = 1.0
PROGRESS_FRACTION = 0.05

Progress = Callable[[int, int | None], None]
"""Receives bytes done and the total, if known."""


class Reporter:
    """Rate-limits progress callbacks: Pulumi shows each one as a log line."""

    def __init__(self, callback: Progress | None) -> None:
        self._callback = callback
        self._last_time = time.monotonic()
        self._last_done = 0

    def __call__(self, done: int, total: int | None, final: bool = False) -> None:
        if self._callback is None:
            return
        if done == total and not final:
            return  # the final call reports completion, exactly once
        now = time.monotonic()
        step = total * PROGRESS_FRACTION if total else float("inf")
        if final or now - self._last_time >= PROGRESS_SECONDS or done - self._last_done >= step:
            self._callback(done, total)
            self._last_time, self._last_done = now, done
