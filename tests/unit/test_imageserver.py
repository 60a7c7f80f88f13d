"""demo.imageserver: ranges, HEAD, 404/416, faults and the JSON access log."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from demo.imageserver import FaultPlan, RunningServer, start_server

DATA = os.urandom(100_000)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "srv"
    root.mkdir()
    (root / "disk.img").write_bytes(DATA)
    return root


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def server(root: Path, tmp_path: Path, faults: FaultPlan) -> Iterator[RunningServer]:
    with start_server(root, tmp_path / "access.log", faults) as running:
        yield running


def get(server: RunningServer, path: str = "/disk.img", **headers: str) -> requests.Response:
    return requests.get(server.url + path, headers=headers, timeout=10)


def test_full_get(server: RunningServer) -> None:
    response = get(server)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=10-", 10, len(DATA) - 1), ("bytes=10-19", 10, 19), ("bytes=-5", len(DATA) - 5, None)],
)
def test_single_range(server: RunningServer, header: str, start: int, end: int | None) -> None:
    response = get(server, Range=header)
    last = len(DATA) - 1 if end is None else end
    assert response.status_code == 206
    assert response.content == DATA[start : last + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{last}/{len(DATA)}"


def test_range_end_beyond_the_file_is_clamped(server: RunningServer) -> None:
    response = get(server, Range=f"bytes=99990-{10**9}")
    assert response.status_code == 206
    assert response.content == DATA[99990:]


def test_range_past_the_end_is_416(server: RunningServer) -> None:
    response = get(server, Range=f"bytes={len(DATA)}-")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=0-1,5-6", "items=0-1"])
def test_unsupported_ranges_are_ignored(server: RunningServer, header: str) -> None:
    response = get(server, Range=header)
    assert (response.status_code, response.content) == (200, DATA)


def test_if_range_with_a_stale_etag_sends_the_whole_file(server: RunningServer) -> None:
    etag = get(server).headers["ETag"]
    assert get(server, Range="bytes=5-", **{"If-Range": etag}).status_code == 206
    response = get(server, Range="bytes=5-", **{"If-Range": '"stale"'})
    assert (response.status_code, response.content) == (200, DATA)


def test_head_sends_headers_only(server: RunningServer) -> None:
    response = requests.head(server.url + "/disk.img", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(DATA))
    assert response.content == b""


def test_missing_files_and_escapes_are_404(server: RunningServer, root: Path) -> None:
    (root.parent / "secret").write_text("no")
    assert get(server, "/nope.img").status_code == 404
    assert get(server, "/").status_code == 404  # no directory listings
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=10)
    connection.request("GET", "/../secret")  # http.client sends the path as is
    assert connection.getresponse().status == 404
    connection.close()


def test_access_log(server: RunningServer, tmp_path: Path) -> None:
    get(server)
    get(server, Range="bytes=1-2", **{"User-Agent": "Glance/33"})
    requests.head(server.url + "/nope.img", timeout=10)

    lines = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    agent = requests.utils.default_user_agent()
    assert lines == [
        {"method": "GET", "path": "/disk.img", "range": None, "status": 200, "agent": agent},
        {"method": "GET", "path": "/disk.img", "range": "bytes=1-2", "status": 206,
         "agent": "Glance/33"},
        {"method": "HEAD", "path": "/nope.img", "range": None, "status": 404, "agent": agent},
    ]  # fmt: skip
    assert server.entries == lines


def test_fault_status_for_the_first_requests(server: RunningServer, faults: FaultPlan) -> None:
    faults.fail("disk.img", times=2, status=502)
    assert [get(server).status_code for _ in range(3)] == [502, 502, 200]
    assert get(server, "/other.img").status_code == 404  # faults are per path


def test_fault_truncates_after_full_headers(server: RunningServer, faults: FaultPlan) -> None:
    faults.truncate("/disk.img", after=1000)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(server)
    assert get(server).content == DATA  # only the first request was cut

    faults.truncate("/disk.img", after=1000)
    connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=10)
    connection.request("GET", "/disk.img")
    response = connection.getresponse()
    assert response.getheader("Content-Length") == str(len(DATA))
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 1000
    connection.close()


def test_fault_cuts_bodies_and_refuses_ranges(server: RunningServer, faults: FaultPlan) -> None:
    faults.truncate("disk.img", after=1000, times=2, ranges="refuse")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(server)
    refused = get(server, Range="bytes=1000-")

    assert refused.status_code == 416
    assert refused.headers["Content-Range"] == f"bytes */{len(DATA)}"
    assert get(server, Range="bytes=1000-").content == DATA[1000:]  # the faults are used up


def test_fault_cuts_bodies_and_ignores_ranges(server: RunningServer, faults: FaultPlan) -> None:
    faults.truncate("disk.img", after=1000, times=2, ranges="ignore")
    for _ in range(2):
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            get(server, Range="bytes=1000-")

    assert [entry["status"] for entry in server.entries] == [200, 200]
    assert get(server, Range="bytes=1000-").status_code == 206


def test_fault_sends_no_content_length(server: RunningServer, faults: FaultPlan) -> None:
    faults.unsized("disk.img")
    response = get(server)

    assert "Content-Length" not in response.headers
    assert response.headers["Connection"] == "close"
    assert response.content == DATA


def test_fault_sends_the_file_gzip_compressed(server: RunningServer, faults: FaultPlan) -> None:
    faults.gzip("disk.img")
    response = requests.get(
        server.url + "/disk.img", headers={"Accept-Encoding": "identity"}, stream=True, timeout=10
    )
    raw = response.raw.read(decode_content=False)

    assert response.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response.headers
    assert gzip.decompress(raw) == DATA
    assert get(server).headers.get("Content-Encoding") is None


def test_cli_serves_logs_and_removes_its_pid_file(root: Path, tmp_path: Path) -> None:
    log, pid_file = tmp_path / "cli.log", tmp_path / "server.pid"
    checkout = Path(__file__).resolve().parents[2]
    args = ["--root", str(root), "--log", str(log), "--port", "0", "--pid-file", str(pid_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.imageserver", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=checkout,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split(" at ")[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/disk.img", timeout=10).content == DATA
        assert int(pid_file.read_text()) == process.pid
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert not pid_file.exists()
    assert json.loads(log.read_text())["status"] == 200
