"""CommunityImages: every wanted image exists in Glance; the key → image ID map is its output."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from components.catalog import Catalog
from components.config import SiteConfig
from components.glance import SOURCE_SHA512_PROPERTY, Glance, GlanceError, GlanceImage
from components.plan import Decision, Plan, plan_image, retired_images
from components.prepare import Prepared, prepare_image
from components.properties import ImageProperties
from components.upload import upload_image

Prepare = Callable[[str, Any, Path, str, Callable[[str], None]], Prepared]


def owner_tag(project: str, stack: str) -> str:
    """The Glance tag that marks an image as created by this stack, so that a lost state adopts
    its own images instead of duplicating them, and other stacks' images are only reused."""
    return f"community-images:{project}/{stack}"


def image_properties(cfg: SiteConfig, plan: Plan) -> dict[str, str]:
    properties = dict(cfg.custom_properties)
    properties.update(plan.spec.properties)
    if plan.spec.source_sha512:
        properties[SOURCE_SHA512_PROPERTY] = plan.spec.source_sha512
    return properties


def image_summary(plan: Plan, image_id: Any, disk_format: str, visibility: str) -> dict[str, Any]:
    spec = plan.spec
    return {
        "id": image_id,
        "name": spec.name,
        "diskFormat": disk_format,
        "visibility": visibility,
        "checksum": str(spec.checksum_sha512 or spec.checksum or "") or None,
        "source": "reused" if plan.decision is Decision.REUSE else "created",
        "kubernetesVersion": spec.kubernetes_version,
    }


def custom_summary(image: GlanceImage) -> dict[str, Any]:
    return {
        "id": image.id,
        "name": image.name,
        "diskFormat": image.disk_format,
        "visibility": image.visibility,
        "checksum": f"sha512:{image.hash_value}" if image.hash_value else None,
        "source": "custom",
        "kubernetesVersion": None,
    }


def kubernetes_images(plans: list[Plan], ids: Mapping[str, Any]) -> dict[str, Any]:
    """Key → version, image ID and the Azimuth template name (``kube-1-34-2``)."""
    result = {}
    for plan in plans:
        version = plan.spec.kubernetes_version
        if version:
            result[plan.key] = {
                "kubernetesVersion": version,
                "imageId": ids[plan.key],
                "templateName": "kube-" + version.removeprefix("v").replace(".", "-"),
            }
    return result


# Inputs the Image resource must not diff on. ``properties`` is owned by ImageProperties after
# creation; the others are provider defaults that an import does not read back from Glance.
IGNORED_IMAGE_INPUTS = [
    "properties",
    "imageCachePath",
    "verifyChecksum",
    "decompress",
    "webDownload",
]


class CommunityImages(pulumi.ComponentResource):
    image_ids: pulumi.Output[dict[str, str]]
    images: pulumi.Output[dict[str, Any]]
    kubernetes_images: pulumi.Output[dict[str, Any]]
    retired_image_ids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        name: str,
        cfg: SiteConfig,
        catalog: Catalog,
        glance: Glance,
        opts: pulumi.ResourceOptions | None = None,
        prepare: Prepare = prepare_image,
    ) -> None:
        super().__init__("community-images:index:CommunityImages", name, None, opts)
        self._cfg = cfg
        self._glance = glance
        self._tag = owner_tag(pulumi.get_project(), pulumi.get_stack())
        names = {spec.name for spec in catalog.specs.values()}
        found = glance.find(names)
        plans = [
            plan_image(key, spec, found[spec.name], self._tag, cfg.verify_existing)
            for key, spec in catalog.specs.items()
        ]
        # Without retainOnDelete an image that left the config is deleted, so it is not kept.
        retired = (
            retired_images(glance.owned(self._tag), names, self._tag)
            if cfg.retain_on_delete
            else []
        )
        summaries: dict[str, Any] = {
            key: custom_summary(_custom_image(glance, key, image_id))
            for key, image_id in catalog.custom_ids.items()
        }
        ids: dict[str, Any] = dict(catalog.custom_ids)

        slots = _Slots(cfg.parallel)
        for plan in plans:
            visibility = plan.spec.visibility or cfg.default_visibility
            if plan.decision is Decision.REUSE:
                assert plan.existing is not None
                image_id: Any = plan.existing.id
                disk_format = plan.existing.disk_format or cfg.disk_format
                visibility = plan.existing.visibility
            else:
                spec = plan.spec
                args = ImageArgs(
                    disk_format=cfg.disk_format,
                    container_format=spec.container_format,
                    visibility=visibility,
                    min_disk_gb=spec.min_disk_gb,
                    min_ram_mb=spec.min_ram_mb,
                )
                properties = image_properties(cfg, plan)
                if plan.decision is Decision.CREATE and not pulumi.runtime.is_dry_run():
                    image_id = self._uploaded(plan, args, properties, slots, prepare)
                else:
                    existing = plan.existing.id if plan.existing else None
                    image_id = self._image(spec.name, args, properties, existing)
                disk_format = cfg.disk_format
            ids[plan.key] = image_id
            summaries[plan.key] = image_summary(plan, image_id, disk_format, visibility)
        slots.pool.shutdown(wait=False)
        retired_ids = {
            image.name: self._image(
                image.name,
                ImageArgs(
                    disk_format=image.disk_format or cfg.disk_format,
                    container_format=image.container_format or "bare",
                    visibility=image.visibility,
                    min_disk_gb=image.min_disk or None,
                    min_ram_mb=image.min_ram or None,
                ),
                None,
                image.id,
            )
            for image in retired
        }

        self.image_ids = pulumi.Output.from_input(ids)
        self.images = pulumi.Output.from_input(summaries)
        self.kubernetes_images = pulumi.Output.from_input(kubernetes_images(plans, ids))
        self.retired_image_ids = pulumi.Output.from_input(retired_ids)
        self.register_outputs(
            {
                "imageIds": self.image_ids,
                "images": self.images,
                "kubernetesImages": self.kubernetes_images,
                "retiredImageIds": self.retired_image_ids,
            }
        )

    def _uploaded(
        self,
        plan: Plan,
        args: ImageArgs,
        properties: dict[str, str],
        slots: _Slots,
        prepare: Prepare,
    ) -> pulumi.Output[str]:
        """The ID of a new image: prepared and uploaded in ``slots`` (so each upload starts as
        soon as its file is ready, while other images still download), then adopted by its
        Image."""
        loop = asyncio.get_event_loop()
        spec = plan.spec

        def say(message: str) -> None:
            loop.call_soon_threadsafe(pulumi.log.info, message, self)

        def make() -> str:
            with slots.preparing:
                ready = prepare(plan.key, spec, self._cfg.cache_dir, args.disk_format, say)
            with slots.uploading:
                say(f"{plan.key} ({spec.name}): uploading")
                start = time.perf_counter()
                attrs = {
                    "name": spec.name,
                    "disk_format": args.disk_format,
                    "container_format": args.container_format,
                    "visibility": args.visibility,
                    "tags": [self._tag],
                    "min_disk": args.min_disk_gb or 0,
                    "min_ram": args.min_ram_mb or 0,
                    **properties,
                }
                image_id = upload_image(
                    self._glance, attrs, ready.path, ready.sha512, list(plan.leftovers), say
                )
            say(f"{plan.key} ({spec.name}): uploaded in {time.perf_counter() - start:.2f} s")
            return image_id

        uploaded = loop.run_in_executor(slots.pool, make)

        async def adopt() -> pulumi.Output[str]:
            return self._image(spec.name, args, properties, await uploaded, set_at_upload=True)

        return pulumi.Output.from_input(asyncio.ensure_future(adopt())).apply(lambda i: i)

    def _image(
        self,
        name: str,
        args: ImageArgs,
        properties: dict[str, str] | None,
        import_id: str | None,
        set_at_upload: bool = False,
    ) -> pulumi.Output[str]:
        """The Image named ``name``, adopting the Glance image ``import_id`` if given (a no-op
        once in the state), and the ImageProperties that own its properties; ``properties=None``
        keeps those it has (an image kept after it left the config)."""
        image = openstack.images.Image(
            name,
            name=name,
            disk_format=args.disk_format,
            container_format=args.container_format,
            visibility=args.visibility,
            properties=properties,
            tags=[self._tag],
            min_disk_gb=args.min_disk_gb,
            min_ram_mb=args.min_ram_mb,
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=IGNORED_IMAGE_INPUTS,
                retain_on_delete=self._cfg.retain_on_delete,
                import_=import_id,
            ),
        )
        ImageProperties(
            name,
            image_id=image.id,
            image_name=name,
            cloud=self._glance.cloud,
            properties=properties,
            set_at_upload=set_at_upload,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return image.id


class _Slots:
    """``parallel`` images at a time preparing and as many uploading: an image waiting for an
    upload slot does not hold up the downloads behind it."""

    def __init__(self, parallel: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2 * parallel, thread_name_prefix="image")
        self.preparing = threading.BoundedSemaphore(parallel)
        self.uploading = threading.BoundedSemaphore(parallel)


@dataclass(frozen=True)
class ImageArgs:
    disk_format: str
    container_format: str
    visibility: str
    min_disk_gb: int | None = None
    min_ram_mb: int | None = None


def _custom_image(glance: Glance, key: str, image_id: str) -> GlanceImage:
    image = glance.get(image_id)
    if image is None:
        raise GlanceError(f"customImageIds.{key}: no image {image_id} in Glance")
    if image.status != "active":
        raise GlanceError(
            f"customImageIds.{key}: image {image_id} ({image.name!r}) is {image.status}, not active"
        )
    return image
