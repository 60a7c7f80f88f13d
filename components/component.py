"""CommunityImages: every wanted image exists in Glance; the key → image ID map is its output."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from components.catalog import Catalog
from components.config import SiteConfig
from components.glance import SOURCE_SHA512_PROPERTY, Glance, GlanceError, GlanceImage
from components.plan import Decision, Plan, plan_image
from components.prepare import prepare_image

# Large images on a slow link: the provider's 30 min default cuts real uploads short.
CREATE_TIMEOUT = "6h"

Prepare = Callable[[str, Any, Path, str, Callable[[str], None]], Path]


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


class CommunityImages(pulumi.ComponentResource):
    image_ids: pulumi.Output[dict[str, str]]
    images: pulumi.Output[dict[str, Any]]
    kubernetes_images: pulumi.Output[dict[str, Any]]

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
        tag = owner_tag(pulumi.get_project(), pulumi.get_stack())
        plans = [
            plan_image(key, spec, glance.find(spec.name), tag, cfg.verify_existing)
            for key, spec in catalog.specs.items()
        ]
        summaries: dict[str, Any] = {
            key: custom_summary(_custom_image(glance, key, image_id))
            for key, image_id in catalog.custom_ids.items()
        }
        ids: dict[str, Any] = dict(catalog.custom_ids)

        def sync_os_properties(args: pulumi.ResourceHookArgs) -> None:
            old = (args.old_inputs or {}).get("properties") or {}
            new = (args.new_inputs or {}).get("properties") or {}
            glance.set_os_properties(args.id, old, new)

        os_hook = pulumi.ResourceHook(f"{name}-os-properties", sync_os_properties)
        pool = ThreadPoolExecutor(max_workers=cfg.parallel, thread_name_prefix="prepare")
        for plan in plans:
            visibility = plan.spec.visibility or cfg.default_visibility
            if plan.decision is Decision.REUSE:
                assert plan.existing is not None
                image_id: Any = plan.existing.id
                disk_format = plan.existing.disk_format or cfg.disk_format
                visibility = plan.existing.visibility
            else:
                image = self._image(cfg, plan, tag, visibility, pool, prepare, os_hook)
                image_id = image.id
                disk_format = cfg.disk_format
            ids[plan.key] = image_id
            summaries[plan.key] = image_summary(plan, image_id, disk_format, visibility)
        pool.shutdown(wait=False)

        self.image_ids = pulumi.Output.from_input(ids)
        self.images = pulumi.Output.from_input(summaries)
        self.kubernetes_images = pulumi.Output.from_input(kubernetes_images(plans, ids))
        self.register_outputs(
            {
                "imageIds": self.image_ids,
                "images": self.images,
                "kubernetesImages": self.kubernetes_images,
            }
        )

    def _image(
        self,
        cfg: SiteConfig,
        plan: Plan,
        tag: str,
        visibility: str,
        pool: ThreadPoolExecutor,
        prepare: Prepare,
        os_hook: pulumi.ResourceHook,
    ) -> openstack.images.Image:
        spec = plan.spec
        local_file: pulumi.Input[str] | None = None
        # Only a real update of a new image needs its bytes: a preview, or an image this stack
        # already created, must not download anything.
        if plan.decision is Decision.CREATE and not pulumi.runtime.is_dry_run():
            loop = asyncio.get_event_loop()

            def say(message: str) -> None:
                loop.call_soon_threadsafe(pulumi.log.info, message, self)

            future = loop.run_in_executor(
                pool, prepare, plan.key, spec, cfg.cache_dir, cfg.disk_format, say
            )
            local_file = pulumi.Output.from_input(future).apply(str)
        return openstack.images.Image(
            spec.name,
            name=spec.name,
            disk_format=cfg.disk_format,
            container_format=spec.container_format,
            visibility=visibility,
            properties=image_properties(cfg, plan),
            tags=[tag],
            min_disk_gb=spec.min_disk_gb,
            min_ram_mb=spec.min_ram_mb,
            local_file_path=local_file,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The cache path differs between machines and HOMEs; it is only read at create.
                ignore_changes=["localFilePath"],
                custom_timeouts=pulumi.CustomTimeouts(create=CREATE_TIMEOUT),
                retain_on_delete=cfg.retain_on_delete,
                # Adopts this stack's own image when the state was lost; a no-op once in state.
                import_=plan.existing.id if plan.existing else None,
                # The provider drops changes to os_* properties on update (REFERENCE.md §3).
                hooks=pulumi.ResourceHookBinding(after_update=[os_hook]),
            ),
        )


def _custom_image(glance: Glance, key: str, image_id: str) -> GlanceImage:
    image = glance.get(image_id)
    if image is None:
        raise GlanceError(f"customImageIds.{key}: no image {image_id} in Glance")
    if image.status != "active":
        raise GlanceError(
            f"customImageIds.{key}: image {image_id} ({image.name!r}) is {image.status}, not active"
        )
    return image
