"""The web-download way: the head of the source is inspected here, and Glance fetches it."""

from __future__ import annotations

import time

from components.arrival import WEB_DOWNLOAD, CloudImport, Job, Say, Slots
from components.bounds import human_size
from components.glance import Glance
from components.glance_import import GlanceImports
from components.head import inspect_head
from components.marks import SOURCE_SHA512_PROPERTY, VIA_PROPERTY
from components.web_download import WebDownloadError, import_image


class WebDownloadWay:
    name = WEB_DOWNLOAD

    def __init__(
        self,
        glance: Glance,
        imports: GlanceImports,
        cloud: CloudImport,
        max_bytes: int,
        timeout: float,
        slots: Slots,
    ) -> None:
        self._glance, self._imports = glance, imports
        self._cloud, self._max_bytes, self._timeout, self._slots = cloud, max_bytes, timeout, slots

    def arrive(self, job: Job, say: Say) -> str:
        spec, label = job.spec, job.label
        expected = spec.source_sha512
        assert expected is not None, "arrival.choose() sends only images with a sha512 here"
        with self._slots.preparing:
            head = inspect_head(
                spec.name, spec.source_url, spec.source_disk_format, self._max_bytes
            )
        say(
            f"{label}: inspected the first {human_size(head.read)} of the source: "
            f"{spec.source_disk_format}, virtual size {human_size(head.virtual_size)}"
        )
        with self._slots.importing:
            start = time.perf_counter()
            # Recorded because Glance's own hash of what it fetched is checked against it.
            attrs = {**job.attrs, SOURCE_SHA512_PROPERTY: expected, VIA_PROPERTY: WEB_DOWNLOAD}
            try:
                image_id = import_image(
                    self._glance, self._imports, attrs, spec.source_url, expected, head.size,
                    job.leftovers, say, self._timeout,
                )  # fmt: skip
            except WebDownloadError as exc:
                if exc.hash_algo:
                    self._cloud.learned_hash_algo(exc.hash_algo)
                raise
        say(f"{label}: imported by Glance in {time.perf_counter() - start:.2f} s")
        return image_id
