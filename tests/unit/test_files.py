"""files.start_writeback: a cache file's pages go to disk without waiting for its fsync."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

from components.files import start_writeback

_CACHESTAT = 451  # Linux 6.5+, the same number on every architecture


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("cache", "dirty", "writeback", "evicted", "recently_evicted")
    ]


def _waiting_pages(fd: int) -> int:
    """Pages of the file not yet on disk: dirty, or being written."""
    stat = _Stat()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(_CACHESTAT, fd, ctypes.byref(_Range(0, 0)), ctypes.byref(stat), 0) != 0:
        raise OSError(ctypes.get_errno(), "cachestat")
    return stat.dirty + stat.writeback


def test_a_written_file_goes_to_disk_without_an_fsync(tmp_path: Path) -> None:
    path = tmp_path / "image.part"
    with path.open("wb") as out:
        out.write(os.urandom(16 << 20))
        out.flush()
        # The kernel holds new pages back for about 30 s (vm.dirty_expire_centisecs).
        assert _waiting_pages(out.fileno()) > 0
        start_writeback(out.fileno())
        deadline = time.monotonic() + 20
        while _waiting_pages(out.fileno()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_pages(out.fileno()) == 0
    assert path.stat().st_size == 16 << 20
