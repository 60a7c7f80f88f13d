"""Fixtures of the tests of fetching: a loopback image server and a cache directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.imageserver import FaultPlan, start_server
from tests.unit.served import Served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    root = tmp_path / "srv"
    root.mkdir()
    faults = FaultPlan()
    log = tmp_path / "access.log"
    with start_server(root, log, faults) as server:
        yield Served(root, server, faults, log)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"
