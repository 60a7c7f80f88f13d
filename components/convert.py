"""Convert a vetted disk image into the cache with qemu-img, so that a crash never leaves a file
that a later run would trust.

The output is `<cache_dir>/<source name>.<target format>`. Source files live in a
content-addressed cache (named by checksum), so that name identifies the output's content and an
existing output is reused as is. qemu-img writes to `.<output name>.partial` instead, which is
fsynced and renamed over the output only after it has passed inspection; a partial file is never
trusted. Each output has a `.<output name>.lock` (flock) held for the whole check-convert-rename,
so concurrent callers (threads or processes) converting the same source wait for one conversion
and reuse it, and a partial file found while holding the lock can only be debris of a crashed
run: it is deleted. The small lock files are left in place; deleting them would race with
waiters.

The source is inspected again right before qemu-img runs, even though callers inspect it first:
it costs a few hundred KiB of reading, and running qemu-img on an unvetted file leaks host files.
"""

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

from components.errors import CommunityImagesError
from components.files import fsync, locked
from components.inspection import (
    QEMU_IMG_FORMATS,
    UnsafeImageError,
    inspect_image,
    qemu_img_executable,
    stderr_tail,
)

# An ISO is uploaded as it is (as Glance's conversion plugin does); qemu-img would only treat
# it as raw bytes.
CONVERTIBLE_FORMATS = frozenset(QEMU_IMG_FORMATS) - {"iso"}

# `qemu-img convert -p` keeps rewriting one line: "    (42.00/100%)\r".
_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


class ConversionError(CommunityImagesError):
    """qemu-img failed; the message names the image and ends with qemu-img's stderr."""


def convert_image(
    name: str,
    source: Path,
    source_format: str,
    target_format: str,
    cache_dir: Path,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Return `source` in `target_format` (Glance disk_format names), converting if needed.

    Equal formats return `source` itself without touching `cache_dir`. `progress` receives
    qemu-img's percentages (0.0-100.0), increasing, while a conversion runs.

    Raises ValueError for a format pair qemu-img conversion does not cover, UnsafeImageError
    (from inspect_image) when the source is unsafe, and ConversionError when qemu-img fails or
    its output does not pass inspection.
    """
    if source_format == target_format:
        return source
    for disk_format in (source_format, target_format):
        if disk_format not in CONVERTIBLE_FORMATS:
            raise ValueError(
                f"image {name!r}: cannot convert {source_format} to {target_format}"
                f" (convertible formats: {', '.join(sorted(CONVERTIBLE_FORMATS))})"
            )

    cache_dir.mkdir(parents=True, exist_ok=True)
    output = cache_dir / f"{source.name}.{target_format}"
    partial = cache_dir / f".{output.name}.partial"
    with locked(cache_dir / f".{output.name}.lock"):
        if output.exists():
            return output
        # Nobody else holds the lock, so a partial file is debris of a crashed run.
        partial.unlink(missing_ok=True)
        inspect_image(name, source, source_format)
        try:
            _run_convert(name, source, source_format, partial, target_format, progress)
            try:
                inspect_image(name, partial, target_format)
            except UnsafeImageError as exc:
                raise ConversionError(
                    f"image {name!r}: the {target_format} output of qemu-img failed inspection:"
                    f" {exc}"
                ) from exc
            # Without the fsyncs a power loss could persist the rename before the data,
            # leaving a complete-looking output that later runs would reuse.
            fsync(partial)
            os.replace(partial, output)
            fsync(cache_dir)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return output


def _run_convert(
    name: str,
    source: Path,
    source_format: str,
    destination: Path,
    target_format: str,
    progress: Callable[[float], None] | None,
) -> None:
    argv = [
        qemu_img_executable(),
        "convert",
        "-p",
        # Never let qemu-img probe: a probed "raw" file can claim to be qcow2 with a backing file.
        "-f",
        QEMU_IMG_FORMATS[source_format],
        "-O",
        QEMU_IMG_FORMATS[target_format],
        # Absolute, so qemu-img cannot read a "json:" or "protocol:" prefix into a file name.
        str(source.resolve()),
        str(destination.resolve()),
    ]
    # stderr goes to a file: reading it from a pipe as well as stdout could deadlock.
    with tempfile.TemporaryFile() as stderr:
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr) as process:
            try:
                _relay_progress(cast(IO[bytes], process.stdout), progress)
            except BaseException:
                process.kill()
                raise
        if process.returncode != 0:
            stderr.seek(0)
            message = stderr.read().decode(errors="replace")
            raise ConversionError(
                f"image {name!r}: qemu-img convert from {source_format} to {target_format}"
                f" failed (exit {process.returncode}): {stderr_tail(message)}"
            )


def _relay_progress(stdout: IO[bytes], progress: Callable[[float], None] | None) -> None:
    # Read to EOF even without a callback, so that qemu-img never blocks on a full pipe.
    last = -1.0
    unparsed = b""
    while chunk := os.read(stdout.fileno(), 4096):
        unparsed += chunk
        consumed = 0
        for match in _PROGRESS.finditer(unparsed):
            consumed = match.end()
            percent = float(match[1])
            if progress is not None and percent > last:
                last = percent
                progress(percent)
        unparsed = unparsed[consumed:]
