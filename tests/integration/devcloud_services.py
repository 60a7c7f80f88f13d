"""Starts the devcloud's on-demand services (``bash devcloud/devcloud.sh start nova|cinder``).

Nova (with Placement, Neutron and RabbitMQ) and Cinder are not part of ``make devcloud``: the
tests that need them start them, and a service that cannot start fails those tests, never skips
them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVCLOUD = ROOT / "devcloud" / "devcloud.sh"
# A cold start builds a 500 MB venv first (two minutes and more on a loaded machine).
START_TIMEOUT = 900
# A warm start: no pip, no one-time step.
WARM_START_SECONDS = 60


def devcloud(*args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEVCLOUD), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ensure(service: str) -> None:
    """Starts ``service`` and what it needs unless they run (the core devcloud first, if needed)."""
    try:
        result = devcloud("start", service)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"`devcloud.sh start {service}` did not finish in {exc.timeout}s", pytrace=False
        )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(
            f"`devcloud.sh start {service}` failed (exit {result.returncode}):\n{tail}",
            pytrace=False,
        )


def stop_and_start_warm(service: str, part: str, others: Callable[[], dict[str, str]]) -> None:
    """`stop service` stops ``part`` and leaves what ``others`` lists running; the next
    `start service` takes less than a warm start's seconds and leaves them running too."""
    before = others()
    stopped = devcloud("stop", service)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    status = devcloud("status", service)
    assert status.returncode == 3
    assert f"{part}: stopped" in status.stdout
    assert others() == before

    started_at = time.monotonic()
    ensure(service)
    seconds = time.monotonic() - started_at
    assert seconds < WARM_START_SECONDS
    started = devcloud("status", service)
    assert started.returncode == 0, started.stdout
    assert others() == before
