"""The upload way: the source is fetched, inspected and converted here, then uploaded."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from components.adoption import file_sha512
from components.arrival import UPLOAD, Job, Say, Slots, local_work
from components.checksums import verified_checksum
from components.glance import Glance
from components.marks import KEY_PROPERTY, SOURCE_CHECKSUM_PROPERTIES, VIA_PROPERTY
from components.prepare import Phases, Prepared
from components.tap import NO_TAP
from components.upload import delete_leftover, upload_image
from components.upload_stream import UploadStream

Prepare = Callable[..., Prepared]


def upload_record(verified: Mapping[str, str]) -> dict[str, str]:
    """The source checksums verified while preparing the file, recorded on the new image."""
    return {
        SOURCE_CHECKSUM_PROPERTIES[algorithm]: digest
        for algorithm, digest in verified.items()
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
        label = job.label
        phases = Phases(fetching=self._slots.fetching, working=self._slots.preparing)
        stream = self._stream(job, say)
        try:
            ready = self._prepare(
                job.key, job.spec, self._cache_dir, self._disk_format, say,
                max_bytes=self._max_bytes, phases=phases, tap=stream or NO_TAP,
            )  # fmt: skip
            streamed = stream.finish(ready.path, ready.verified, ready.sha512) if stream else None
        except BaseException:
            if stream is not None:
                stream.abort()
            raise
        finally:
            if stream is not None:
                self._slots.uploading.release()
        if streamed:
            return streamed
        if job.adoptable is not None and self._adopted(job, ready, say):
            return job.adoptable.id
        with self._slots.uploading:
            say(f"{label}: uploading")
            start = time.perf_counter()
            attrs = {**job.attrs, **upload_record(ready.verified), VIA_PROPERTY: UPLOAD}
            leftovers = [] if stream is not None else job.leftovers
            image_id = upload_image(self._glance, attrs, ready.path, ready.sha512, leftovers, say)
        say(f"{label}: uploaded in {time.perf_counter() - start:.2f} s")
        return image_id

    def _stream(self, job: Job, say: Say) -> UploadStream | None:
        """An upload fed by the download as it arrives (upload_stream.py), when nothing is to
        be done to the bytes, a checksum will prove them, and an upload slot is free now."""
        checksum = verified_checksum(job.spec.checksums)
        if job.adoptable is not None or checksum is None:
            return None
        if local_work(job.spec, self._disk_format) is not None:
            return None
        if not self._slots.uploading.acquire(blocking=False):
            return None
        try:
            for leftover in job.leftovers:
                delete_leftover(self._glance, job.spec.name, leftover.id, say)
        except BaseException:
            self._slots.uploading.release()
            raise
        verified = {checksum.algorithm: checksum.hexdigest}
        attrs = {**job.attrs, **upload_record(verified), VIA_PROPERTY: UPLOAD}
        return UploadStream(self._glance, attrs, checksum.algorithm, job.label, say)

    def _adopted(self, job: Job, ready: Prepared, say: Say) -> bool:
        """Takes over the untagged image if it holds exactly the prepared file (adoption.py)."""
        image = job.adoptable
        assert image is not None
        label = job.label
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
        self._glance.record(image.id, {**upload_record(ready.verified), KEY_PROPERTY: job.key})
        say(
            f"{label}: this project's untagged image {image.id} holds exactly the "
            f"{self._disk_format} conversion of the verified source: adopted"
        )
        return True
