"""CommunityImages: every wanted image exists in Glance; the key → image ID map is its output."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pulumi

from components.arrival import Job
from components.arrivals import Arrivals
from components.catalog import Catalog
from components.config import SiteConfig
from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.marks import KEY_PROPERTY, SOURCE_SHA512_PROPERTY
from components.ownership import Ownership, owner_tag
from components.plan import Decision, Plan, plan_image
from components.prepare import prepare_image
from components.records import ImageArgs, Records
from components.retirement import Retirement
from components.summaries import custom_summary, image_summary, kubernetes_images
from components.via_upload import Prepare


def image_properties(cfg: SiteConfig, plan: Plan) -> dict[str, str]:
    """The properties the site wants on the image (ImageProperties owns them)."""
    properties = dict(cfg.custom_properties)
    properties.update(plan.spec.properties)
    return properties


class CommunityImages(pulumi.ComponentResource):
    image_ids: pulumi.Output[dict[str, str]]
    images: pulumi.Output[dict[str, Any]]
    kubernetes_images: pulumi.Output[dict[str, Any]]
    retired_image_ids: pulumi.Output[dict[str, str]]
    retired_images: pulumi.Output[dict[str, Any]]

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
        self._origins = catalog.origins
        tag = owner_tag(pulumi.get_project(), pulumi.get_stack())
        names = {spec.name for spec in catalog.specs.values()}
        self._ownership = Ownership(glance.project_id, tag, cfg.trusted_image_owners)
        found, owned = glance.lookup(names, tag)
        _merge_by_name(found, owned)
        self._records = Records(self, tag, glance.cloud, cfg.retain_on_delete)
        self._report_forged([*owned, *(i for images in found.values() for i in images)])
        plans = [
            plan_image(
                key,
                spec,
                found[spec.name],
                self._ownership,
                cfg.verify_existing,
                cfg.disk_format,
                cfg.adopt_untagged,
            )
            for key, spec in catalog.specs.items()
        ]
        for plan in plans:
            if plan.note:
                pulumi.log.warn(plan.note, self)
        retirement = Retirement(cfg, glance, self._ownership, self)
        kept = retirement.kept(owned, names, plans)

        summaries: dict[str, Any] = {
            key: custom_summary(_custom_image(glance, key, image_id))
            for key, image_id in catalog.custom_ids.items()
        }
        ids: dict[str, Any] = dict(catalog.custom_ids)
        self._arrivals = Arrivals(cfg, glance, prepare)
        for plan in plans:
            ids[plan.key], summaries[plan.key] = self._declare(plan)
        self._arrivals.shutdown()
        retired = retirement.retire(kept, plans)
        disk_format = cfg.disk_format
        retired_ids = {
            item.name: self._records.image(
                ImageArgs.of(item.image, disk_format), None, item.image.id, item.name
            ).id
            for item in retired
        }

        self.image_ids = pulumi.Output.from_input(ids)
        self.images = pulumi.Output.from_input(summaries)
        self.kubernetes_images = pulumi.Output.from_input(kubernetes_images(plans, ids))
        self.retired_image_ids = pulumi.Output.from_input(retired_ids)
        self.retired_images = pulumi.Output.from_input({i.name: i.output() for i in retired})
        self.register_outputs(
            {
                "imageIds": self.image_ids,
                "images": self.images,
                "kubernetesImages": self.kubernetes_images,
                "retiredImageIds": self.retired_image_ids,
                "retiredImages": self.retired_images,
            }
        )

    def _report_forged(self, images: Iterable[GlanceImage]) -> None:
        forged = {image.id: image for image in images if self._ownership.forged(image)}
        for image in forged.values():
            pulumi.log.warn(
                f"image {image.id} ({image.name!r}) of project {image.owner} carries this "
                f"stack's tag {self._ownership.tag!r}, but only images of this stack's project "
                f"({self._ownership.project}) are its own: it is ignored",
                self,
            )

    def _declare(self, plan: Plan) -> tuple[Any, dict[str, Any]]:
        """The image's ID in Glance (an Output once it has a record in the stack) and summary."""
        cfg, spec = self._cfg, plan.spec
        if plan.decision is Decision.REUSE:
            existing = plan.existing
            assert existing is not None
            summary = image_summary(
                plan,
                existing.id,
                existing.disk_format or cfg.disk_format,
                existing.visibility,
                None,
            )
            return existing.id, summary
        visibility = spec.visibility or cfg.default_visibility
        args = ImageArgs(
            name=spec.name,
            disk_format=cfg.disk_format,
            container_format=spec.container_format,
            visibility=visibility,
            min_disk_gb=spec.min_disk_gb,
            min_ram_mb=spec.min_ram_mb,
        )
        properties = image_properties(cfg, plan)
        secret = self._secret(plan.key)
        if plan.decision is Decision.ADOPT:
            self._adopt(plan)
        if plan.decision is Decision.CREATE and not pulumi.runtime.is_dry_run():
            image_id, via = self._arrived(plan, args, properties, secret)
        else:
            existing_id = plan.existing.id if plan.existing else None
            image_id = self._records.image(args, properties, existing_id, secret=secret).id
            via = plan.existing.via if plan.existing else None
        return image_id, image_summary(plan, image_id, cfg.disk_format, visibility, via)

    def _adopt(self, plan: Plan) -> None:
        """Records on the image what this program records on its own uploads; the Image's
        import then tags it as this stack's, and ImageProperties sets the config's properties."""
        image = plan.existing
        assert image is not None and plan.spec.source_sha512 is not None
        label = f"image {plan.key} ({plan.spec.name!r})"
        if pulumi.runtime.is_dry_run():
            pulumi.log.info(
                f"{label}: up adopts this project's untagged image {image.id} (adoptUntagged), "
                "as Glance's sha512 of it is the source's: it becomes this stack's",
                self,
            )
            return
        self._glance.record(
            image.id, {SOURCE_SHA512_PROPERTY: plan.spec.source_sha512, KEY_PROPERTY: plan.key}
        )
        pulumi.log.info(f"{label}: adopted this project's untagged image {image.id}", self)

    def _secret(self, key: str) -> bool:
        """Whether the image's properties come from a config value set as a secret."""
        origin = self._origins.get(key, "").split(".", 1)[0]
        return bool({origin, "customProperties"} & self._cfg.secret_keys)

    def _arrived(
        self, plan: Plan, args: ImageArgs, properties: dict[str, str], secret: bool
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The ID of a new image, and how it came: brought in while other images still
        download (``Arrivals``), then adopted by its Image."""
        loop = asyncio.get_event_loop()
        spec = plan.spec

        def say(message: str) -> None:
            loop.call_soon_threadsafe(pulumi.log.info, message, self)

        attrs = {
            "name": spec.name,
            "disk_format": args.disk_format,
            "container_format": args.container_format,
            "visibility": args.visibility,
            "tags": [self._ownership.tag],
            "min_disk": args.min_disk_gb or 0,
            "min_ram": args.min_ram_mb or 0,
            # Secret ones are applied by ImageProperties once the Image has adopted the image:
            # an import records what it reads from Glance, in clear.
            **({} if secret else properties),
            KEY_PROPERTY: plan.key,
        }
        job = Job(plan.key, spec, attrs, list(plan.leftovers), plan.adoptable)
        arrived = loop.run_in_executor(self._arrivals.slots.pool, self._arrivals.arrive, job, say)

        async def adopt() -> pulumi.Output[str]:
            image_id, _ = await arrived
            # An adopted image has none of the config's properties yet: ImageProperties sets them.
            adopted = plan.adoptable is not None and image_id == plan.adoptable.id
            image = self._records.image(
                args, properties, image_id, set_at_upload=not (secret or adopted), secret=secret
            )
            return image.id

        async def via() -> str:
            return (await arrived)[1]

        image_id = pulumi.Output.from_input(asyncio.ensure_future(adopt())).apply(lambda i: i)
        return image_id, pulumi.Output.from_input(asyncio.ensure_future(via()))


def _merge_by_name(found: dict[str, list[GlanceImage]], owned: list[GlanceImage]) -> None:
    """Adds this stack's hidden images (an import in progress), which a lookup by name leaves
    out, to the images of their name."""
    for image in owned:
        images = found.get(image.name)
        if images is not None and all(i.id != image.id for i in images):
            images.append(image)


def _custom_image(glance: Glance, key: str, image_id: str) -> GlanceImage:
    image = glance.get(image_id)
    if image is None:
        raise GlanceError(f"customImageIds.{key}: no image {image_id} in Glance")
    if image.status != "active":
        raise GlanceError(
            f"customImageIds.{key}: image {image_id} ({image.name!r}) is {image.status}, not active"
        )
    return image
