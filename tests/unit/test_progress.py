"""components.progress: the reporter's step and its single final report."""

from __future__ import annotations

from pathlib import Path

from components.fetch import fetch
from components.progress import Reporter
from tests.unit.served import FAST, SIZE, Served, write_random


def test_completion_is_reported_once_by_the_final_call() -> None:
    calls: list[tuple[int, int | None]] = []
    report = Reporter(lambda *call: calls.append(call))

    report(100, 100)  # the last chunk: the final call below reports it
    report(100, 100, final=True)

    assert calls == [(100, 100)]


def test_a_step_of_five_percent_is_reported_whatever_the_time() -> None:
    calls: list[tuple[int, int | None]] = []
    report = Reporter(lambda *call: calls.append(call))

    report(6, 100)

    assert calls == [(6, 100)]


def test_progress_reports_increasing_values_and_the_end(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    calls: list[tuple[int, int | None]] = []

    fetch("disk", served.url("disk.qcow2"), cache, progress=lambda *c: calls.append(c), bounds=FAST)

    done = [d for d, _ in calls]
    assert len(calls) >= 2
    assert done == sorted(done)
    assert calls[-1] == (SIZE, SIZE)
    assert calls.count((SIZE, SIZE)) == 1
    assert all(total == SIZE for _, total in calls)


def test_progress_is_rate_limited(served: Served, cache: Path) -> None:
    chunks = 32  # each chunk is ~3 % of the file, below the 5 % reporting step
    write_random(served.root / "big.raw", size=chunks << 20)
    calls: list[tuple[int, int | None]] = []

    fetch("big", served.url("big.raw"), cache, progress=lambda *c: calls.append(c), bounds=FAST)

    assert 2 <= len(calls) < chunks
