"""Loopback HTTP/1.1 file server for demos and tests.

Serves the files under one directory with Content-Length, single byte ranges (206/416), HEAD,
ETag/If-Range, and a JSON-lines access log, so a test can prove that a download was resumed or
that no request was made at all. A FaultPlan scripts failures per path: 5xx answers; the
headers of a full response followed by a connection cut after K bytes, with byte ranges answered
416 or ignored if asked; a body sent slowly, or without Content-Length; or a body
gzip-compressed despite the client.

    python -m demo.imageserver --root DIR --port P --log FILE [--pid-file F]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Literal, Self
from urllib.parse import unquote, urlsplit

from demo.faults import Fault, FaultPlan

CHUNK = 1 << 20
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], root: Path, log_path: Path | None, faults: FaultPlan
    ) -> None:
        super().__init__(address, _Handler)
        self.root = root.resolve()
        self.log_path = log_path
        self.faults = faults
        self.entries: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.entries.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")

    def logged(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self.entries)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that has what it asked for closes the connection (a range read to its end,
        # a head inspected): no error of the server's, so no traceback on its stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # a stalled client must not pin a thread forever

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSON log replaces stderr noise

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        range_header = self.headers.get("Range")

        def answer(status: int) -> None:
            self.server.record(
                {
                    "method": self.command,
                    "path": path,
                    "range": range_header,
                    "status": status,
                    # Who asked: this program (python-requests) or Glance's web-download.
                    "agent": self.headers.get("User-Agent"),
                }
            )
            self.send_response(status)

        fault = self.server.faults.take(path)
        if fault is not None and fault.status is not None:
            answer(fault.status)
            self._empty_body()
            return
        file = self._resolve(path)
        if file is None:
            answer(404)
            self._empty_body()
            return
        # One open file for headers and body, so a concurrent replace cannot mix two versions.
        with file.open("rb") as handle:
            self._send_file(handle, range_header, fault, body, answer)

    def _send_file(
        self,
        handle: BinaryIO,
        range_header: str | None,
        fault: Fault | None,
        body: bool,
        answer: Callable[[int], None],
    ) -> None:
        stat = os.fstat(handle.fileno())
        size = stat.st_size
        # The inode changes when a file is replaced by rename, even within one mtime tick.
        etag = f'"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{size:x}"'
        if_range = self.headers.get("If-Range", etag)
        if fault is not None and fault.etag is not None:
            etag = if_range = fault.etag
        if fault is not None and fault.gzip:
            self._send_gzip(handle, body, answer)
            return
        ranges = "honour" if fault is None else fault.ranges
        start, end = 0, size - 1
        status = 200
        if range_header and ranges == "refuse":
            parsed: tuple[int, int] | Literal["unsatisfiable"] | None = "unsatisfiable"
        elif range_header and ranges == "honour" and if_range == etag:
            parsed = _parse_range(range_header, size)
        else:
            parsed = None
        if parsed == "unsatisfiable":
            answer(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self._empty_body()
            return
        if parsed is not None:
            (start, end), status = parsed, 206
        length = end - start + 1
        answer(status)
        self.send_header("Content-Type", "application/octet-stream")
        if fault is not None and fault.unsized:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body:
            handle.seek(start)
            self._send_body(handle, length, fault)

    def _send_body(self, handle: BinaryIO, length: int, fault: Fault | None) -> None:
        if fault is not None and fault.cut_after is not None:
            length = min(length, fault.cut_after)
            self.close_connection = True  # the client must see EOF before Content-Length
        rate = fault.rate if fault is not None else None
        size = CHUNK if rate is None else max(1, min(CHUNK, rate // 20))
        try:
            while length > 0 and (chunk := handle.read(min(size, length))):
                self.wfile.write(chunk)
                length -= len(chunk)
                if rate is not None:
                    time.sleep(len(chunk) / rate)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_gzip(self, handle: BinaryIO, body: bool, answer: Callable[[int], None]) -> None:
        # Compressed as it is sent, so the length is unknown: the body ends with the connection.
        answer(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not body:
            return
        compressor = zlib.compressobj(wbits=31)  # 31: the gzip container
        try:
            while chunk := handle.read(CHUNK):
                self.wfile.write(compressor.compress(chunk))
            self.wfile.write(compressor.flush())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _resolve(self, path: str) -> Path | None:
        candidate = (self.server.root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.server.root) or not candidate.is_file():
            return None
        return candidate

    def _empty_body(self) -> None:
        self.send_header("Content-Length", "0")
        self.end_headers()


def _parse_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """(start, end) inclusive, "unsatisfiable", or None to ignore the header (RFC 9110 §14.2)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        if int(last) == 0:
            return "unsatisfiable"
        return max(size - int(last), 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, end


class RunningServer:
    def __init__(self, server: _Server) -> None:
        self._server = server
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = server.socket.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    @property
    def faults(self) -> FaultPlan:
        """Failures to inject from now on."""
        return self._server.faults

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The access log so far (also appended to the log file, if one was given)."""
        return self._server.logged()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    root: Path,
    log_path: Path | None = None,
    faults: FaultPlan | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningServer:
    return RunningServer(_Server((host, port), root, log_path, faults or FaultPlan()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--pid-file", type=Path)
    args = parser.parse_args()
    running = start_server(args.root, args.log, port=args.port)
    # SIGTERM (how scripts stop us) must still run the pid-file cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.pid_file is not None:
        args.pid_file.write_text(f"{os.getpid()}\n")
    print(f"serving {args.root} at {running.url}", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        if args.pid_file is not None:
            args.pid_file.unlink(missing_ok=True)
        running.stop()


if __name__ == "__main__":
    main()
