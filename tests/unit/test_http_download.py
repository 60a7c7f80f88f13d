"""components.http_download against the real loopback server: every bound a server could
stretch a download past ends it, with an error naming the image and the bound."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from components.bounds import ImageTooLargeError
from components.checksums import Hashes
from components.download import download
from components.download_bounds import DownloadBounds
from components.fetch import fetch
from components.fetch_errors import FetchError
from components.progress import Reporter
from tests.unit.served import FAST, SIZE, Served, assert_clean, file_checksum, write_random

DISK_SIZE = 200_000


def get(
    served: Served,
    tmp_path: Path,
    bounds: DownloadBounds = FAST,
    max_bytes: int = 1 << 30,
    url: str | None = None,
) -> Hashes:
    """Download disk.raw (or `url`) into a fresh .part, as fetch does without a checksum."""
    part = tmp_path / "disk.part"
    location = served.url("disk.raw") if url is None else url
    return download(
        "disk", location, part, Reporter(None), None, ["sha256"], bounds, max_bytes, False
    )


@pytest.fixture
def disk(served: Served) -> str:
    """The sha256 of disk.raw, DISK_SIZE random bytes on the server."""
    return write_random(served.root / "disk.raw", size=DISK_SIZE)


def statuses(served: Served) -> list[int]:
    return [entry["status"] for entry in served.requests()]


def test_a_whole_file_is_downloaded_and_hashed(served: Served, tmp_path: Path, disk: str) -> None:
    hashes = get(served, tmp_path)

    assert hashes.hexdigests() == {"sha256": disk}
    assert (tmp_path / "disk.part").stat().st_size == DISK_SIZE


def test_short_bodies_with_416_to_every_resume_end_after_a_bounded_number_of_gets(
    served: Served, tmp_path: Path, disk: str
) -> None:
    """Each restart gets as far as the last cut, which is no progress: before the high-water
    mark, this server made the download restart for ever (4,593 GETs in 10 s)."""
    served.faults.truncate("disk.raw", after=50_000, times=1000, ranges="refuse")

    with pytest.raises(FetchError) as caught:
        get(served, tmp_path)  # retries=5, as in production

    assert statuses(served) == [200, 416] * 3
    assert str(caught.value).startswith(
        f"image 'disk' from {served.url('disk.raw')}: giving up after 6 failed attempts in a row "
        "without progress: HTTP 416"
    )


def test_range_ignored_every_time_ends_after_a_bounded_number_of_gets(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.truncate("disk.raw", after=50_000, times=1000, ranges="ignore")

    with pytest.raises(FetchError, match="giving up after 3 failed attempts in a row"):
        get(served, tmp_path, replace(FAST, retries=2))

    assert statuses(served) == [200, 200, 200]
    assert [entry["range"] for entry in served.requests()] == [None, "bytes=50000-", "bytes=50000-"]


def test_attempts_that_each_progress_stop_at_max_attempts(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.truncate("disk.raw", after=10_000, times=1000)

    with pytest.raises(FetchError, match="giving up after 4 attempts, the most one download makes"):
        get(served, tmp_path, replace(FAST, max_attempts=4))

    assert [entry["range"] for entry in served.requests()] == [
        None,
        "bytes=10000-",
        "bytes=20000-",
        "bytes=30000-",
    ]


def test_a_trickle_fails_as_stalled(served: Served, tmp_path: Path, disk: str) -> None:
    """Bytes keep arriving, but a stalled attempt is no progress: the retries run out."""
    served.faults.throttle("disk.raw", rate=2000, times=1000)
    bounds = replace(FAST, retries=2, min_rate=100_000, rate_window=0.2)

    with pytest.raises(FetchError) as caught:
        get(served, tmp_path, bounds)

    message = str(caught.value)
    assert "giving up after 3 failed attempts in a row" in message
    assert "stalled: " in message and "less than the minimum rate of 97.7 KiB/s" in message
    assert len(served.requests()) == 3


def test_the_deadline_ends_a_download_that_keeps_moving(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.throttle("disk.raw", rate=20_000)  # 10 s for the file
    bounds = replace(FAST, deadline=0.3, min_rate=1.0)

    with pytest.raises(FetchError, match=r"not finished within 0\.3 s, the most one download may"):
        get(served, tmp_path, bounds)

    assert len(served.requests()) == 1


def test_the_deadline_also_ends_the_retries(served: Served, tmp_path: Path, disk: str) -> None:
    served.faults.fail("disk.raw", times=1000, status=503)
    bounds = replace(FAST, backoff=10.0, deadline=5.0)

    with pytest.raises(
        FetchError, match=r"not finished within 5 s.*the last attempt failed: HTTP 503"
    ):
        get(served, tmp_path, bounds)

    assert len(served.requests()) == 1  # the first wait would pass the deadline: none is made


def test_content_encoding_is_refused_at_once(served: Served, tmp_path: Path, disk: str) -> None:
    served.faults.gzip("disk.raw", times=10)

    with pytest.raises(FetchError, match="Content-Encoding gzip although the request asked"):
        get(served, tmp_path)

    assert len(served.requests()) == 1


def test_an_announced_size_past_the_bound_is_not_downloaded(served: Served, tmp_path: Path) -> None:
    write_random(served.root / "disk.raw", size=3 << 20)

    with pytest.raises(ImageTooLargeError) as caught:
        get(served, tmp_path, max_bytes=1 << 20)

    message = str(caught.value)
    assert message.startswith(f"image 'disk': the server announces {3 << 20} bytes from ")
    assert "community-images:maxImageSize allows 1.0 MiB of virtual size" in message
    assert not (tmp_path / "disk.part").exists()


def test_a_body_growing_past_the_bound_is_stopped_and_removed(
    served: Served, tmp_path: Path
) -> None:
    write_random(served.root / "disk.raw", size=3 << 20)
    served.faults.unsized("disk.raw")

    with pytest.raises(ImageTooLargeError, match=r"the download grew past \d+ bytes from "):
        get(served, tmp_path, max_bytes=1 << 20)

    assert not (tmp_path / "disk.part").exists()


def test_connection_errors_show_no_secret(tmp_path: Path, served: Served) -> None:
    url = "http://user:hunter2@127.0.0.1:9/disk.raw?X-Amz-Signature=s3cr3t"

    with pytest.raises(FetchError) as caught:
        get(served, tmp_path, replace(FAST, retries=0), url=url)

    message = str(caught.value)
    assert message.startswith("image 'disk' from http://127.0.0.1:9/disk.raw: giving up after 1")
    assert "hunter2" not in message and "s3cr3t" not in message


def test_truncated_transfer_is_resumed_with_range(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    cut = (1 << 20) + (1 << 19)
    served.faults.truncate("disk.qcow2", after=cut)

    result = fetch("disk", served.url("disk.qcow2"), cache, [file_checksum(source)], bounds=FAST)

    assert file_checksum(result.path) == file_checksum(source)
    first, second = served.requests()
    assert (first["range"], first["status"]) == (None, 200)
    assert second["status"] == 206
    resumed_at = int(second["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_at <= cut
    assert_clean(cache)


def test_file_changed_on_server_during_resume_restarts(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    served.faults.truncate("disk.qcow2", after=(1 << 20) + 10)
    replacement = served.root / "next.tmp"
    new_sha256 = write_random(replacement, size=SIZE - 1000)

    def replace_on_first_report(done: int, total: int | None) -> None:
        if replacement.exists():
            os.replace(replacement, source)  # the server keeps streaming the old inode

    result = fetch(
        "disk", served.url("disk.qcow2"), cache, progress=replace_on_first_report, bounds=FAST
    )

    # If-Range carried the old ETag, so the server sent the new file whole: no splice.
    assert file_checksum(result.path).hexdigest == new_sha256
    assert [entry["status"] for entry in served.requests()] == [200, 200]
    assert served.requests()[1]["range"] is not None


def test_server_errors_are_retried(served: Served, cache: Path) -> None:
    source = served.root / "disk.qcow2"
    write_random(source)
    served.faults.fail("disk.qcow2", times=2, status=503)

    result = fetch("disk", served.url("disk.qcow2"), cache, [file_checksum(source)], bounds=FAST)

    assert file_checksum(result.path) == file_checksum(source)
    assert [entry["status"] for entry in served.requests()] == [503, 503, 200]


def test_retries_are_bounded(served: Served, cache: Path) -> None:
    write_random(served.root / "disk.qcow2")
    served.faults.fail("disk.qcow2", times=10, status=500)

    with pytest.raises(FetchError, match="giving up after 3 failed attempts"):
        fetch("disk", served.url("disk.qcow2"), cache, bounds=replace(FAST, retries=2))
    assert len(served.requests()) == 3


def test_connection_errors_are_retried_then_reported(cache: Path) -> None:
    url = "http://127.0.0.1:9/disk.qcow2"  # the discard port: nothing listens there
    with pytest.raises(FetchError, match="giving up after 2 failed attempts") as caught:
        fetch("disk", url, cache, bounds=replace(FAST, retries=1))
    assert url in str(caught.value)


@pytest.mark.parametrize("status", [404, 403])
def test_client_errors_fail_at_once(served: Served, cache: Path, status: int) -> None:
    served.faults.fail("missing.qcow2", status=status)
    url = served.url("missing.qcow2")

    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        fetch("missing", url, cache, bounds=FAST)

    assert url in str(caught.value) and "missing" in str(caught.value)
    assert len(served.requests()) == 1


class RecordingTap:
    """What a reader of the .part is told, and what another open file of it shows then."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None]] = []
        self.part: Path | None = None

    def receiving(self, part: Path, total: int | None) -> None:
        self.part = part
        self.events.append(("receiving", total))

    def grew(self, size: int) -> None:
        assert self.part is not None
        assert self.part.stat().st_size == size  # written through, not held in a buffer
        self.events.append(("grew", size))

    def restarted(self) -> None:
        self.events.append(("restarted", None))


def test_the_tap_hears_each_attempt_each_write_and_a_restart(
    served: Served, tmp_path: Path, disk: str
) -> None:
    served.faults.truncate("disk.raw", after=50_000, times=2, ranges="ignore")
    tap = RecordingTap()
    part = tmp_path / "disk.part"

    download(
        "disk", served.url("disk.raw"), part, Reporter(None), None, ["sha256"], FAST,
        1 << 30, False, tap,
    )  # fmt: skip

    kinds = [kind for kind, _ in tap.events]
    # Cut; the resume answered with the whole file (a restart), cut again; resumed to the end.
    assert [k for k in kinds if k != "grew"] == ["receiving", "restarted", "receiving", "receiving"]
    assert [total for kind, total in tap.events if kind == "receiving"] == [DISK_SIZE] * 3
    sizes = [size for kind, size in tap.events if kind == "grew"]
    assert sizes[-1] == DISK_SIZE == part.stat().st_size
    before = kinds[: kinds.index("restarted")].count("grew")
    assert sizes == sorted(sizes[:before]) + sorted(sizes[before:])
    assert max(sizes[:before]) == 50_000
