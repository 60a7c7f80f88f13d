"""Starts the devcloud's Cinder on demand (``bash devcloud/devcloud.sh start cinder``).

Cinder and RabbitMQ are not part of ``make devcloud``: the tests that need them start them, and a
Cinder that cannot start fails those tests, never skips them.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.nova import START_TIMEOUT, devcloud


def ensure_cinder() -> None:
    """Starts Cinder and RabbitMQ unless they run (the core devcloud first, if needed)."""
    try:
        result = devcloud("start", "cinder", timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`devcloud.sh start cinder` did not finish in {exc.timeout}s", pytrace=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(
            f"`devcloud.sh start cinder` failed (exit {result.returncode}):\n{tail}", pytrace=False
        )
