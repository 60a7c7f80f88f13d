"""How a new image arrives in Glance: the ways (each a module of its own behind ``Way``), and
which one an image takes (``importMethod``: upload, web-download or auto).

``upload`` (via_upload.py) fetches, inspects, converts and uploads the image from this machine;
``web-download`` (via_web_download.py) inspects the head of the source here and lets Glance
fetch the rest itself, inside the cloud, then checks what Glance stored against the sha512.
``auto`` takes web-download where it can verify the result and nothing has to be done to the
bytes on the way, and the upload path everywhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from components.config import ImageSpec
from components.decompress import compression
from components.glance_image import GlanceImage

Say = Callable[[str], None]

UPLOAD = "upload"
WEB_DOWNLOAD = "web-download"
AUTO = "auto"


@dataclass(frozen=True)
class Job:
    key: str
    spec: ImageSpec
    attrs: Mapping[str, Any]
    """The new record's Glance attributes (its final ``visibility`` among them) and properties."""
    leftovers: list[GlanceImage]
    """This stack's unfinished images of that name, deleted before the new record is made."""
    adoptable: GlanceImage | None = None
    """This project's untagged image to adopt instead if it holds the prepared file's bytes."""

    @property
    def label(self) -> str:
        """How every line about this image names it: key and Glance name."""
        return f"{self.key} ({self.spec.name})"


IMPORTS_AT_ONCE = 8
"""Imports Glance runs for this program at once: all their work is Glance's (not bounded by
this machine's ``parallel``), and Glance runs 16 tasks at once per API worker by default
(``[wsgi] task_pool_threads``); more would wait there as ``queued``, looking stalled."""


FETCHES_AT_ONCE = 8
"""Downloads at once, whatever ``parallel``: a download from a distant store waits on the
network, not on this machine, so the images of a release arrive together instead of in rounds
of ``parallel``."""


class Slots:
    """``parallel`` images at a time preparing (inspecting, converting, or reading a head) and
    as many uploading: an image waiting for an upload slot does not hold up the downloads behind
    it. Downloads (FETCHES_AT_ONCE) and imports by Glance (IMPORTS_AT_ONCE) have slots of their
    own."""

    def __init__(self, parallel: int) -> None:
        self.fetching = threading.BoundedSemaphore(max(parallel, FETCHES_AT_ONCE))
        self.pool = ThreadPoolExecutor(
            max_workers=2 * parallel + FETCHES_AT_ONCE + IMPORTS_AT_ONCE,
            thread_name_prefix="image",
        )
        self.preparing = threading.BoundedSemaphore(parallel)
        self.uploading = threading.BoundedSemaphore(parallel)
        self.importing = threading.BoundedSemaphore(IMPORTS_AT_ONCE)


class Way(Protocol):
    name: str

    def arrive(self, job: Job, say: Say) -> str:
        """The ID of the new image, complete, checked and with its visibility; nothing of it is
        left when this raises."""
        ...


def local_work(spec: ImageSpec, disk_format: str) -> str | None:
    """What must be done to the source on this machine before Glance may have it, if anything."""
    if not spec.source_url.startswith(("http://", "https://")):
        return "its source is a local file"
    if spec.source_disk_format != disk_format:
        return f"it needs converting from {spec.source_disk_format} to {disk_format}"
    found = compression(spec.source_url)
    if found is not None:
        return f"it needs decompressing ({found})"
    return None


def web_download_problem(spec: ImageSpec, disk_format: str) -> str | None:
    """Why Glance cannot fetch the image itself and have it verified, if it cannot."""
    work = local_work(spec, disk_format)
    if work is not None:
        return work
    if spec.source_sha512 is None:
        return "it has no sha512 to check what Glance fetched against (checksumSha512)"
    return None


def method_of(spec: ImageSpec, site_method: str) -> str:
    return spec.import_method or site_method


def choose(
    spec: ImageSpec, site_method: str, disk_format: str, cloud: CloudImport
) -> tuple[str, str | None]:
    """The way the image takes, and under ``auto`` why not web-download (None if it is)."""
    method = method_of(spec, site_method)
    if method == UPLOAD:
        return UPLOAD, None
    problem = web_download_problem(spec, disk_format) or cloud.problem()
    if method == WEB_DOWNLOAD or problem is None:
        # Config validation refused the image's own problems; the cloud's stop the image.
        return WEB_DOWNLOAD, problem
    return UPLOAD, problem


class CloudImport:
    """What the cloud's Glance says of web-download, asked once per run and only when an image
    may take it: a no-op ``up`` and every preview ask nothing."""

    def __init__(self, methods: Callable[[], Collection[str]]) -> None:
        self._methods = methods
        self._offered: bool | None = None
        self._hash_algo: str | None = None
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        with self._lock:
            if self._offered is None:
                self._offered = WEB_DOWNLOAD in self._methods()
        if not self._offered:
            return "the cloud's Glance does not offer web-download (GET /v2/info/import)"
        if self._hash_algo not in (None, "sha512"):
            return (
                f"the cloud's Glance hashes images with {self._hash_algo}, so what it fetches "
                "cannot be checked against a sha512"
            )
        return None

    def learned_hash_algo(self, algorithm: str | None) -> None:
        """What the first import showed: Glance's ``[DEFAULT] hashing_algorithm``."""
        self._hash_algo = algorithm
