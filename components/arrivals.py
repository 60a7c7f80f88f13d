"""Brings each new image into Glance the way ``arrival.choose`` gives it, falling back from
web-download to the upload path under ``auto`` when Glance could not fetch the source."""

from __future__ import annotations

import dataclasses

from components.arrival import (
    AUTO,
    WEB_DOWNLOAD,
    CloudImport,
    Job,
    Say,
    Slots,
    choose,
    method_of,
)
from components.config import SiteConfig
from components.errors import CommunityImagesError
from components.glance import Glance
from components.glance_import import GlanceImports
from components.via_upload import Prepare, UploadWay
from components.via_web_download import WebDownloadWay
from components.web_download import WebDownloadError


class ArrivalError(CommunityImagesError):
    """The image cannot arrive the way its config asks; names the image and the key."""


class Arrivals:
    def __init__(self, cfg: SiteConfig, glance: Glance, prepare: Prepare) -> None:
        self._cfg = cfg
        self.slots = Slots(cfg.parallel)
        imports = GlanceImports(glance)
        self._cloud = CloudImport(imports.methods)
        self._upload = UploadWay(
            glance, prepare, cfg.cache_dir, cfg.disk_format, cfg.max_image_bytes, self.slots
        )
        self._web = WebDownloadWay(
            glance, imports, self._cloud, cfg.max_image_bytes, cfg.import_timeout, self.slots
        )

    def arrive(self, job: Job, say: Say) -> tuple[str, str]:
        """The new image's ID, and the way it came."""
        cfg, spec = self._cfg, job.spec
        label = job.label
        way, problem = choose(spec, cfg.import_method, cfg.disk_format, self._cloud)
        if way == WEB_DOWNLOAD:
            if problem is not None:
                raise ArrivalError(
                    f"image {label}: importMethod is web-download, but {problem}; set "
                    "importMethod to auto or upload"
                )
            try:
                return self._web.arrive(job, say), self._web.name
            except WebDownloadError as exc:
                if method_of(spec, cfg.import_method) != AUTO or not exc.fallback:
                    raise
                say(f"{label}: web-download failed ({exc}); uploading it from here instead")
                # The failed attempt deleted the leftovers and its own record.
                job = dataclasses.replace(job, leftovers=[])
        elif problem is not None:
            say(f"{label}: uploading it from here, as {problem}")
        return self._upload.arrive(job, say), self._upload.name

    def shutdown(self) -> None:
        self.slots.pool.shutdown(wait=False)
