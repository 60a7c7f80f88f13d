"""components.download against the real loopback server: a file split into ranges over several
connections arrives whole and hashed in order, and every range the server will not serve as asked
falls back on the first connection instead of failing."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from components.checksums import Hashes
from components.download import download
from components.download_bounds import DownloadBounds
from components.fetch_errors import FetchError
from components.progress import Reporter
from tests.unit.served import FAST, SIZE, Served, write_random

SPLIT = replace(FAST, range_size=SIZE // 8)
"""Ranges small enough that the test file is split over all four connections."""

FOREVER = 1 << 40
"""A rate or a cut past any test file: a fault that changes nothing, to take a request."""

UNHURRIED = SIZE // 2
"""Bytes/s for the first connection: its quarter takes 0.5 s, by when every range has asked at
least once, so that the faults after it (taken in the order requests arrive) go to the ranges."""


class Recorder:
    """A tap and a progress callback, recording what the reader of the ``.part`` is told."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.reported: list[int] = []
        self.receiving_calls = 0
        self.restarts = 0

    def receiving(self, part: Path, total: int | None) -> None:
        self.receiving_calls += 1

    def grew(self, size: int) -> None:
        self.sizes.append(size)

    def restarted(self) -> None:
        self.restarts += 1

    def progress(self, done: int, total: int | None) -> None:
        self.reported.append(done)


@pytest.fixture
def disk(served: Served) -> str:
    return write_random(served.root / "disk.raw")


def get(
    served: Served, tmp_path: Path, bounds: DownloadBounds = SPLIT, tap: Recorder | None = None
) -> Hashes:
    recorder = tap or Recorder()
    return download(
        "disk",
        served.url("disk.raw"),
        tmp_path / "disk.part",
        Reporter(recorder.progress),
        None,
        ["sha256"],
        bounds,
        1 << 30,
        False,
        recorder,
    )


def only_the_part_left(directory: Path) -> bool:
    """No range's file is left beside the ``.part``."""
    return sorted(path.name for path in directory.glob("disk.part*")) == ["disk.part"]


def ranges_arrived(directory: Path) -> bool:
    held = list(directory.glob("disk.part.*"))
    return len(held) == 3 and all(path.stat().st_size >= SIZE // 4 for path in held)


def ranges(served: Served) -> list[str | None]:
    return [entry["range"] for entry in served.requests()]


def test_a_large_file_comes_over_four_connections_and_is_hashed_in_order(
    served: Served, tmp_path: Path, disk: str
) -> None:
    tap = Recorder()
    hashes = get(served, tmp_path, tap=tap)

    assert hashes.hexdigests() == {"sha256": disk}
    assert hashes.size == SIZE == (tmp_path / "disk.part").stat().st_size
    first, *rest = ranges(served)
    assert first is None
    assert set(rest) == {f"bytes={SIZE * i // 4}-{SIZE * (i + 1) // 4 - 1}" for i in (1, 2, 3)}
    assert all(entry["status"] == 206 for entry in served.requests()[1:])
    assert tap.sizes == sorted(tap.sizes) and tap.sizes[-1] == SIZE
    assert tap.receiving_calls == 1 and tap.restarts == 0
    assert tap.reported[-1] == SIZE and max(tap.reported) == SIZE
    assert only_the_part_left(tmp_path)


def test_one_connection_when_the_bound_says_so(served: Served, tmp_path: Path, disk: str) -> None:
    hashes = get(served, tmp_path, replace(SPLIT, connections=1))

    assert hashes.hexdigests() == {"sha256": disk}
    assert ranges(served) == [None]


def test_no_split_without_a_size(served: Served, tmp_path: Path, disk: str) -> None:
    """A body that ends with the connection has no size to split."""
    served.faults.unsized("disk.raw")

    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    assert ranges(served) == [None]


def taken_over(index: int) -> str:
    """The Range header of the first connection fetching the ``index``th of four ranges itself:
    to the end, as a download of one connection asks."""
    return f"bytes={SIZE * index // 4}-"


def test_ranges_answered_with_the_whole_file_are_fetched_by_the_first_connection(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """What a server ignoring Range does, and what If-Range makes a replaced file do."""
    served.faults.throttle("disk.raw", rate=UNHURRIED)
    served.faults.truncate("disk.raw", after=FOREVER, times=3, ranges="ignore")

    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    answers = [(entry["range"], entry["status"]) for entry in served.requests()]
    assert [status for _, status in answers[:4]] == [200, 200, 200, 200]
    assert answers[4:] == [(taken_over(1), 206), (taken_over(2), 206), (taken_over(3), 206)]
    assert only_the_part_left(tmp_path)


def test_a_range_of_another_version_is_refused_and_fetched_by_the_first_connection(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """A server that ignores If-Range answers a range under another ETag: those bytes may be
    another file's, and are not spliced in."""
    served.faults.throttle("disk.raw", rate=UNHURRIED)
    served.faults.relabel("disk.raw", '"another-version"', times=3)

    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    assert ranges(served)[4:] == [taken_over(1), taken_over(2), taken_over(3)]


def test_a_stalled_range_is_taken_over_by_the_first_connection(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """A range trickling a byte a second would hold the download until its rate check, a minute
    on; the first connection, done with its own range, fetches the rest of it instead."""
    served.faults.throttle("disk.raw", rate=UNHURRIED)
    served.faults.throttle("disk.raw", rate=1)  # the first range to ask
    tap = Recorder()

    hashes = get(served, tmp_path, replace(SPLIT, range_stall=0.5), tap)

    assert hashes.hexdigests() == {"sha256": disk}
    asked = [entry.removeprefix("bytes=").split("-") for entry in ranges(served)[1:]]
    ((begin, to_the_end),) = asked[3:]
    assert to_the_end == ""
    assert any(0 <= int(begin) - int(start) < 5 for start, _ in asked[:3])
    assert tap.sizes == sorted(tap.sizes) and tap.restarts == 0


def test_the_first_connection_finding_another_version_starts_again_alone(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """Its own resume is answered under another ETag: the ranges are of the file it began with,
    so they are given up and the download starts again from nothing, over one connection."""
    served.faults.truncate("disk.raw", after=1000)
    served.faults.throttle("disk.raw", rate=FOREVER, times=3)  # the ranges
    served.faults.relabel("disk.raw", '"another-version"')
    tap = Recorder()

    hashes = get(served, tmp_path, replace(SPLIT, backoff=1.0), tap)

    assert hashes.hexdigests() == {"sha256": disk}
    assert tap.restarts == 1
    assert ranges(served)[-1] is None  # from nothing, the whole file
    assert only_the_part_left(tmp_path)


def test_a_range_cut_short_is_resumed_within_its_range(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.throttle("disk.raw", rate=UNHURRIED)
    served.faults.truncate("disk.raw", after=1000, times=1)  # the first range to ask

    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    asked = [
        tuple(map(int, entry.removeprefix("bytes=").split("-"))) for entry in ranges(served)[1:]
    ]
    assert len(asked) == 4
    assert [(begin, end) for begin, end in asked if (begin - 1000, end) in asked] != []


def test_a_range_that_keeps_failing_costs_only_speed(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.throttle("disk.raw", rate=UNHURRIED)
    served.faults.fail("disk.raw", times=6, status=503)  # both attempts of each range

    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    served_ranges = [entry["range"] for entry in served.requests() if entry["status"] == 206]
    assert served_ranges == [taken_over(1), taken_over(2), taken_over(3)]  # the rest had 503
    assert only_the_part_left(tmp_path)


def test_ranges_a_killed_run_left_are_removed_and_the_part_resumed(
    served: Served, tmp_path: Path, disk: str
) -> None:
    source = (served.root / "disk.raw").read_bytes()
    (tmp_path / "disk.part").write_bytes(source[:5000])
    (tmp_path / "disk.part.2").write_bytes(b"left by a run that was killed")

    hashes = download(
        "disk",
        served.url("disk.raw"),
        tmp_path / "disk.part",
        Reporter(None),
        None,
        ["sha256"],
        SPLIT,
        1 << 30,
        True,
    )

    assert hashes.hexdigests() == {"sha256": disk}
    assert ranges(served)[0] == "bytes=5000-"
    assert len(ranges(served)) == 4
    assert only_the_part_left(tmp_path)


def test_a_failure_of_the_first_connection_stops_the_ranges_and_removes_them(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """The first connection is cut while the ranges still arrive: the download fails as one
    connection's would, and nothing of the ranges is left behind."""
    served.faults.truncate("disk.raw", after=1000, times=1)
    served.faults.throttle("disk.raw", rate=SIZE // 8, times=3)  # the ranges: 2 s each

    with pytest.raises(FetchError, match="giving up after 1 failed attempts in a row"):
        get(served, tmp_path, replace(SPLIT, retries=0))

    assert only_the_part_left(tmp_path)


def test_a_file_replaced_while_its_ranges_are_held_is_downloaded_whole_again(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """The ranges arrived, then the first connection was cut and the file replaced: its resume
    finds another file (If-Range), which must not be spliced with the ranges of the old one."""
    served.faults.truncate("disk.raw", after=1000, times=1)
    tap = Recorder()
    result: list[Hashes] = []
    fetching = threading.Thread(
        target=lambda: result.append(get(served, tmp_path, replace(SPLIT, backoff=2.0), tap))
    )
    fetching.start()
    deadline = time.monotonic() + 30
    while not ranges_arrived(tmp_path):  # well within the 2 s the first connection waits
        assert time.monotonic() < deadline, "the ranges never arrived"
        time.sleep(0.01)
    replacement = tmp_path / "replacement"
    new = write_random(replacement)
    replacement.replace(served.root / "disk.raw")
    fetching.join()

    assert result[0].hexdigests() == {"sha256": new} != {"sha256": disk}
    assert tap.restarts == 1
    assert served.requests()[-1]["status"] == 200 and len(served.requests()) == 5
    assert only_the_part_left(tmp_path)
