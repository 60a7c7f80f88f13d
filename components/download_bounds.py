"""The bounds of one download: attempts, time, rate, and connections (http_download.py)."""

from __future__ import annotations

from dataclasses import dataclass

# 20 GiB at 1 MiB/s takes 5.7 h: longer than that, a download is not going to end well.
DEADLINE_SECONDS = 6 * 3600.0
# A 20 GiB image at this rate would still take 3.6 days: anything slower is no download.
MIN_RATE = 64 * 1024
RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class DownloadBounds:
    retries: int = 5
    """Consecutive failed attempts that got no further than any attempt before them."""
    max_attempts: int = 20
    deadline: float = DEADLINE_SECONDS
    """Seconds one download may take, all attempts and waits included."""
    min_rate: float = MIN_RATE
    """Bytes per second an attempt must receive, averaged over each ``rate_window``."""
    rate_window: float = RATE_WINDOW_SECONDS
    backoff: float = 1.0
    """Seconds before the first retry, doubling with each consecutive failure."""
    timeout: float = 60.0
    """Seconds to connect, and of silence while reading."""
    connections: int = 4
    """Connections one download may open at once, each for its own range (download.py)."""
    range_size: int = 32 << 20
    """The fewest bytes worth a connection of their own."""
    range_stall: float = 5.0
    """Seconds a range may receive nothing while the first connection waits for it, before the
    first connection takes the rest of it over."""


DEFAULT_BOUNDS = DownloadBounds()
