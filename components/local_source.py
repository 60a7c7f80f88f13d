"""A source given as a local path or ``file:`` URL: found, and copied into the cache hashed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from components.bounds import ImageTooLargeError, file_size_limit
from components.checksums import Hashes
from components.fetch_errors import FetchError
from components.files import CHUNK
from components.progress import Reporter


def local_path(name: str, url: str) -> Path | None:
    """The file `url` names, or None for an http(s) URL; a FetchError for anything else."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return None
    if parts.scheme == "file":
        path = Path(url2pathname(parts.path))
    elif parts.scheme == "":
        path = Path(url)
    else:
        raise FetchError(name, url, f"unsupported URL scheme {parts.scheme!r}")
    if not path.is_file():
        raise FetchError(name, url, f"no such file: {path}")
    return path


def copy_local(
    name: str,
    source: Path,
    part: Path,
    report: Reporter,
    algorithms: Sequence[str],
    max_bytes: int,
) -> Hashes:
    """Copy `source` into `part`, hashing it, unless it holds more than an image within
    `max_bytes` of virtual size can."""
    hashes = Hashes(algorithms)
    total = source.stat().st_size
    limit = file_size_limit(max_bytes)
    with source.open("rb") as data, part.open("wb") as out:
        # Checked as it is copied too: the file may be growing.
        while total <= limit and (chunk := data.read(CHUNK)):
            out.write(chunk)
            hashes.update(chunk)
            report(hashes.size, total)
            total = max(total, hashes.size)
    if total > limit:
        part.unlink()
        raise ImageTooLargeError(
            name,
            f"the file {source} holds more than {limit} bytes, more than any image within the "
            "bound takes",
            max_bytes,
        )
    report(hashes.size, total, final=True)
    return hashes
