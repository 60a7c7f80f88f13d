"""The upload way: the source is fetched, inspected and converted here, then uploaded."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from components.adoption import file_sha512
from components.arrival import UPLOAD, Job, Say, Slots
from components.glance import Glance
from components.marks import KEY_PROPERTY, SOURCE_CHECKSUM_PROPERTIES, VIA_PROPERTY
from components.prepare import Phases, Prepared
from components.upload import upload_image

Prepare = Callable[..., Prepared]


def upload_record(ready: Prepared) -> dict[str, str]:
    """The source checksums verified while preparing the file, recorded on the new image."""
    return {
        SOURCE_CHECKSUM_PROPERTIES[algorithm]: digest
        for algorithm, digest in ready.verified.items()
        if algorithm in SOURCE_CHECKSUM_PROPERTIES
    }


class UploadWay:
    name = UPLOAD

    def __init__(
        self,
        glance: Glance,
        prepare: Prepare,
        cache_dir: Path,
        disk_format: str,
        max_bytes: int,
        slots: Slots,
    ) -> None:
        self._glance, self._prepare, self._slots = glance, prepare, slots
        self._cache_dir, self._disk_format, self._max_bytes = cache_dir, disk_format, max_bytes

    def arrive(self, job: Job, say: Say) -> str:
        label = f"{job.key} ({job.spec.name})"
        phases = Phases(fetching=self._slots.fetching, working=self._slots.preparing)
        ready = self._prepare(
            job.key, job.spec, self._cache_dir, self._disk_format, say,
            max_bytes=self._max_bytes, phases=phases,
        )  # fmt: skip
        if job.adoptable is not None and self._adopted(job, ready, say):
            return job.adoptable.id
        with self._slots.uploading:
            say(f"{label}: uploading")
            start = time.perf_counter()
            attrs = {**job.attrs, **upload_record(ready), VIA_PROPERTY: UPLOAD}
            image_id = upload_image(
                self._glance, attrs, ready.path, ready.sha512, job.leftovers, say
            )
        say(f"{label}: uploaded in {time.perf_counter() - start:.2f} s")
        return image_id

    def _adopted(self, job: Job, ready: Prepared, say: Say) -> bool:
        """Takes over the untagged image if it holds exactly the prepared file (adoption.py)."""
        image = job.adoptable
        assert image is not None
        label = f"{job.key} ({job.spec.name})"
        digest = ready.sha512 or file_sha512(ready.path)
        if digest != image.glance_sha512:
            say(
                f"{label}: this project's untagged image {image.id} holds other bytes than the "
                f"{self._disk_format} conversion of the verified source (sha512 "
                f"{image.glance_sha512} is not {digest}): uploading this stack's own copy"
            )
            return False
        for leftover in job.leftovers:
            self._glance.delete(leftover.id)
        self._glance.record(image.id, {**upload_record(ready), KEY_PROPERTY: job.key})
        say(
            f"{label}: this project's untagged image {image.id} holds exactly the "
            f"{self._disk_format} conversion of the verified source: adopted"
        )
        return True
