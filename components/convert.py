"""Convert a vetted disk image into the cache with qemu-img, so that a crash never leaves a file
that a later run would trust.

The output is `<cache_dir>/<content id>.<target format>`, the content id naming the verified bytes
of the source (`Fetched.content_id`: the digest of the download, plus its compression), so an
existing output is reused as is, and a new build under the same URL, without a checksum, is
converted anew. qemu-img writes to `.<output name>.partial` instead, which is
fsynced and renamed over the output only after it has passed inspection; a partial file is never
trusted. Each output has a `.<output name>.lock` (flock) held for the whole check-convert-rename,
so concurrent callers (threads or processes) converting the same source wait for one conversion
and reuse it, and a partial file found while holding the lock can only be debris of a crashed
run: it is deleted. The small lock files are left in place; deleting them would race with
waiters.

The source is inspected again right before qemu-img runs, even though callers inspect it first:
it costs a few hundred KiB of reading, and running qemu-img on an unvetted file leaks host files.
qemu-img convert runs under the limits of every qemu-img here (`qemu_img.limited_argv`), with a
CPU and wall-clock limit that grows with the virtual size; past it qemu-img is killed and its
partial output removed.
"""

import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from components.bounds import DEFAULT_MAX_IMAGE_BYTES, GIB, human_size
from components.errors import CommunityImagesError
from components.files import fsync, locked, start_writeback
from components.inspection import QEMU_IMG_FORMATS, UnsafeImageError, inspect_image
from components.qemu_img import limited_argv, stderr_tail

# An ISO is uploaded as it is (as Glance's conversion plugin does); qemu-img would only treat
# it as raw bytes.
CONVERTIBLE_FORMATS = frozenset(QEMU_IMG_FORMATS) - {"iso"}

# `qemu-img convert -p` keeps rewriting one line: "    (42.00/100%)\r".
_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")

_CONTENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# A conversion reads the virtual disk once and writes its data once. 60 s per GiB is 17 MiB/s,
# slower than any disk a cache lives on (an HDD, a network volume) sustains, so a healthy
# conversion ends well within it while a stuck or spinning one is still stopped; the 300 s
# cover start-up and small images. The same number bounds its CPU time: a conversion is I/O-bound,
# and one that burns a core for all of its time is no conversion.
CONVERT_BASE_SECONDS = 300
CONVERT_SECONDS_PER_GIB = 60


class ConversionError(CommunityImagesError):
    """qemu-img failed; the message names the image and ends with qemu-img's stderr."""


class _TimedOut(Exception):
    pass


def conversion_seconds(virtual_size: int) -> int:
    """The time, and CPU time, a conversion of a disk of `virtual_size` bytes may take."""
    return CONVERT_BASE_SECONDS + CONVERT_SECONDS_PER_GIB * -(-virtual_size // GIB)


def convert_image(
    name: str,
    source: Path,
    source_format: str,
    target_format: str,
    cache_dir: Path,
    content_id: str,
    progress: Callable[[float], None] | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
) -> Path:
    """Return `source` in `target_format` (Glance disk_format names), converting if needed.

    Equal formats return `source` itself without touching `cache_dir`. `content_id` names the
    source's content (the output is cached under it). `progress` receives qemu-img's
    percentages (0.0-100.0), increasing, while a conversion runs.

    Raises ValueError for a format pair qemu-img conversion does not cover, UnsafeImageError
    (from inspect_image) when the source is unsafe, ImageTooLargeError when its virtual size is
    more than `max_bytes`, and ConversionError when qemu-img fails, runs out of time, or its
    output does not pass inspection.
    """
    if source_format == target_format:
        return source
    for disk_format in (source_format, target_format):
        if disk_format not in CONVERTIBLE_FORMATS:
            raise ValueError(
                f"image {name!r}: cannot convert {source_format} to {target_format}"
                f" (convertible formats: {', '.join(sorted(CONVERTIBLE_FORMATS))})"
            )

    if not _CONTENT_ID.fullmatch(content_id):
        raise ValueError(f"image {name!r}: {content_id!r} cannot name a file")

    cache_dir.mkdir(parents=True, exist_ok=True)
    output = cache_dir / f"{content_id}.{target_format}"
    with locked(cache_dir / f".{output.name}.lock"):
        if not output.exists():
            _convert(name, source, source_format, output, target_format, progress, max_bytes)
    return output


def _convert(
    name: str,
    source: Path,
    source_format: str,
    output: Path,
    target_format: str,
    progress: Callable[[float], None] | None,
    max_bytes: int,
) -> None:
    """Inspect, convert into a partial file, inspect the result and rename it to `output`;
    called with the output's lock held."""
    partial = output.with_name(f".{output.name}.partial")
    # Nobody else holds the lock, so a partial file is debris of a crashed run.
    partial.unlink(missing_ok=True)
    virtual_size = inspect_image(name, source, source_format, max_bytes=max_bytes).virtual_size
    try:
        _run_convert(name, source, source_format, partial, target_format, progress, virtual_size)
        try:
            inspect_image(name, partial, target_format, max_bytes=max_bytes)
        except UnsafeImageError as exc:
            raise ConversionError(
                f"image {name!r}: the {target_format} output of qemu-img failed inspection: {exc}"
            ) from exc
        # Without the fsyncs a power loss could persist the rename before the data,
        # leaving a complete-looking output that later runs would reuse.
        fsync(partial)
        os.replace(partial, output)
        fsync(output.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _run_convert(
    name: str,
    source: Path,
    source_format: str,
    destination: Path,
    target_format: str,
    progress: Callable[[float], None] | None,
    virtual_size: int,
) -> None:
    seconds = conversion_seconds(virtual_size)
    argv = limited_argv(
        max(1, seconds),
        "convert",
        "-p",
        # Four coroutines, not eight: each holds a 2 MiB buffer, and up to `parallel` conversions
        # run at once. Four 256 MiB conversions at once took as long with 4 (0.28-0.31 s) as
        # with 8 (0.30-0.35 s), at 16 MiB of RSS each instead of 24; with 2, 0.55 s.
        "-m",
        "4",
        # Never let qemu-img probe: a probed "raw" file can claim to be qcow2 with a backing file.
        "-f",
        QEMU_IMG_FORMATS[source_format],
        "-O",
        QEMU_IMG_FORMATS[target_format],
        # Absolute, so qemu-img cannot read a "json:" or "protocol:" prefix into a file name.
        str(source.resolve()),
        str(destination.resolve()),
    )
    conversion = f"qemu-img convert from {source_format} to {target_format}"
    deadline = time.monotonic() + seconds
    # stderr goes to a file: reading it from a pipe as well as stdout could deadlock.
    with tempfile.TemporaryFile() as stderr, _writing_back(destination) as written:
        try:
            with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr) as process:
                try:
                    _relay_progress(cast(IO[bytes], process.stdout), progress, written, deadline)
                    process.wait(max(0.0, deadline - time.monotonic()))
                except BaseException:
                    process.kill()
                    raise
        except (_TimedOut, subprocess.TimeoutExpired) as exc:
            raise ConversionError(
                f"image {name!r}: {conversion} did not finish in {seconds} s, the limit for "
                f"{human_size(virtual_size)} of virtual size ({CONVERT_BASE_SECONDS} s + "
                f"{CONVERT_SECONDS_PER_GIB} s per GiB), and was stopped; check the cache disk"
            ) from exc
        if process.returncode != 0:
            stderr.seek(0)
            reason = stderr_tail(stderr.read().decode(errors="replace"))
            if process.returncode == -signal.SIGXCPU:
                reason = f"killed after {seconds} s of CPU time, its limit; {reason}"
            raise ConversionError(
                f"image {name!r}: {conversion} failed (exit {process.returncode}): {reason}"
            )


@contextmanager
def _writing_back(path: Path) -> Iterator[Callable[[], None]]:
    """A call that starts writing qemu-img's output so far to disk (``files.start_writeback``),
    so that the fsync before the rename has little left to wait for."""
    fd: int | None = None

    def written() -> None:
        nonlocal fd
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return  # qemu-img has not created it yet
        start_writeback(fd)

    try:
        yield written
    finally:
        if fd is not None:
            os.close(fd)


def _relay_progress(
    stdout: IO[bytes],
    progress: Callable[[float], None] | None,
    written: Callable[[], None],
    deadline: float,
) -> None:
    # Read to EOF even without a callback, so that qemu-img never blocks on a full pipe.
    last = -1.0
    unparsed = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise _TimedOut
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                return
            unparsed += chunk
            written()
            consumed = 0
            for match in _PROGRESS.finditer(unparsed):
                consumed = match.end()
                percent = float(match[1])
                if progress is not None and percent > last:
                    last = percent
                    progress(percent)
            unparsed = unparsed[consumed:]
