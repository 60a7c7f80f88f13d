"""Decompression of a verified compressed download into the image file, bounded in size: a
1.5 KB bzip2 file can expand to terabytes."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import zstandard

from components.bounds import ImageTooLargeError, file_size_limit
from components.fetch_errors import FetchError
from components.files import CHUNK, fsync
from components.urls import shown


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _open_zst(path: Path) -> _Reader:
    # Without read_across_frames the reader stops silently after the first frame.
    return zstandard.ZstdDecompressor().stream_reader(
        path.open("rb"), read_across_frames=True, closefd=True
    )


# The stdlib readers all handle multi-stream files (pbzip2, pigz, concatenated xz). Each read
# of CHUNK returns at most CHUNK bytes, so memory stays bounded however well the data packs.
_DECOMPRESSORS: dict[str, Callable[[Path], _Reader]] = {
    "bz2": bz2.BZ2File,
    "gz": gzip.GzipFile,
    "xz": lzma.LZMAFile,
    "zst": _open_zst,
}


def compression(location: str) -> str | None:
    """The compression a source's name says it has (``bz2``, ``gz``, ``xz``, ``zst``), if any."""
    suffix = Path(urlsplit(location).path).suffix.lower().lstrip(".")
    return suffix if suffix in _DECOMPRESSORS else None


def too_large_when_decompressed(
    name: str, url: str, kind: str, max_bytes: int, when: str
) -> ImageTooLargeError:
    return ImageTooLargeError(
        name,
        f"its {kind} data from {shown(url)} decompresses to more than "
        f"{file_size_limit(max_bytes)} bytes, more than any image within the bound takes ({when})",
        max_bytes,
    )


def decompress(name: str, url: str, blob: Path, final: Path, kind: str, max_bytes: int) -> None:
    """Decompress ``blob`` (compressed with ``kind``) into ``final``, atomically.

    Raises ImageTooLargeError, leaving no output, once the output passes
    ``file_size_limit(max_bytes)``; FetchError for data that does not decompress.
    """
    limit = file_size_limit(max_bytes)
    tmp = final.with_name(final.name + ".part")
    written = 0
    try:
        with closing(_DECOMPRESSORS[kind](blob)) as source, tmp.open("wb") as out:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    break
                out.write(chunk)
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a local I/O problem such as a full disk, not bad data
        raise FetchError(
            name, url, f"cannot decompress {kind} data ({exc}); delete {blob} to download again"
        ) from exc
    if written > limit:
        tmp.unlink()
        raise too_large_when_decompressed(
            name, url, kind, max_bytes, "stopped there; the partial output was removed"
        )
    fsync(tmp)
    os.replace(tmp, final)
