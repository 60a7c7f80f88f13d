"""The head of a remote image, inspected here before Glance is told to fetch it.

Glance's web-download takes whatever the URL serves. The format inspection of the upload path
(declared format against the bytes, qcow2 backing and data files, VMDK create types, the virtual
size against ``maxImageSize``) needs only the headers, which sit in the first MiBs of an image:
so those are read with a ``Range`` request and inspected, and a hostile image is refused before
the cloud touches it. The head is held in a temporary file of its own, never in the cache.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from components.fetch_errors import FetchError
from components.inspection import inspect_image

HEAD_BYTES = 4 << 20
"""A qcow2's header, L1 table and refcount table sit in its first clusters; 4 MiB covers them
for images of any size azimuth-images builds."""


@dataclass(frozen=True)
class Head:
    virtual_size: int
    size: int | None
    """The whole file's size, when the server says it (Content-Range or Content-Length)."""
    read: int
    """Bytes this program read of the image."""


def inspect_head(
    name: str,
    url: str,
    declared_format: str,
    max_bytes: int,
    session: requests.Session | None = None,
    timeout: float = 60.0,
) -> Head:
    """Reads at most HEAD_BYTES of ``url`` and refuses the image unless its headers are safely
    what ``declared_format`` says, within ``max_bytes``."""
    http = session or requests.Session()
    headers = {"Range": f"bytes=0-{HEAD_BYTES - 1}", "Accept-Encoding": "identity"}
    try:
        with (
            http.get(url, headers=headers, stream=True, timeout=timeout) as resp,
            tempfile.NamedTemporaryFile(prefix="head-", suffix=f".{declared_format}") as tmp,
        ):
            size = _size(name, url, resp)
            read = 0
            while read < HEAD_BYTES and (chunk := resp.raw.read1(HEAD_BYTES - read, False)):
                tmp.write(chunk)
                read += len(chunk)
            tmp.flush()
            if read == 0:
                raise FetchError(name, url, "an empty file (0 bytes) is no image")
            inspected = inspect_image(
                name, Path(tmp.name), declared_format, max_bytes=max_bytes, whole=read == size
            )
    except requests.RequestException as exc:
        raise FetchError(name, url, f"cannot read the head of the image: {exc}") from exc
    except OSError as exc:  # the temporary file: a full /tmp, say
        raise FetchError(name, url, f"local I/O error while inspecting its head: {exc}") from exc
    finally:
        if session is None:
            http.close()
    return Head(inspected.virtual_size, size, read)


def _size(name: str, url: str, resp: requests.Response) -> int | None:
    status = resp.status_code
    if status not in (200, 206):
        raise FetchError(name, url, f"HTTP {status} {resp.reason}")
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError(
            name, url, f"the server sent it with Content-Encoding {encoding}, not as it is"
        )
    if status == 206:
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = resp.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None
