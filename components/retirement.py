"""This stack's images that no key wants as they are any more: kept as retired images, or
deleted (``retainOnDelete: false``, or candidates of ``keepReleases`` nothing uses)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from components.config import SiteConfig
from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.ownership import Ownership
from components.plan import Decision, Plan, retired_images, several_ours
from components.pruning import Pruner, RetiredImage, usage_checks
from components.records import ImageArgs, resource_name


class Retirement:
    def __init__(
        self, cfg: SiteConfig, glance: Glance, ownership: Ownership, resource: pulumi.Resource
    ) -> None:
        self._cfg, self._glance, self._ownership, self._resource = cfg, glance, ownership, resource

    def kept(
        self, owned: list[GlanceImage], wanted: set[str], plans: Sequence[Plan]
    ) -> dict[str, GlanceImage]:
        """This stack's images no key wants as they are, by their name in the stack: those that
        left the config, and those a change of format replaced."""
        disk_format = self._cfg.disk_format

        def name_of(image: GlanceImage) -> str:
            return resource_name(ImageArgs.of(image, disk_format), disk_format)

        kept = {name_of(i): i for i in retired_images(owned, wanted, self._ownership, name_of)}
        for image in (i for plan in plans for i in plan.replaced):
            name = name_of(image)
            if name in kept:
                raise several_ours(
                    f"image {image.name!r}", self._ownership.tag, [kept[name], image]
                )
            kept[name] = image
        return kept

    def retire(self, kept: Mapping[str, GlanceImage], plans: Sequence[Plan]) -> list[RetiredImage]:
        """The retired images that stay in the stack (and Glance): with retainOnDelete, all
        but the candidates of ``keepReleases`` that nothing uses; without it, none."""
        if not self._cfg.retain_on_delete:
            # The engine deletes what a format change replaces (unless the state kept the
            # image's old retain flag: then the next run deletes it).
            replacing = {i.id for p in plans if p.decision is Decision.CREATE for i in p.replaced}
            for image in kept.values():
                if image.id not in replacing:
                    self._delete(image)
            return []

        def say(message: str) -> None:
            pulumi.log.info(message, self._resource)

        def warn(message: str) -> None:
            pulumi.log.warn(message, self._resource)

        policy = self._cfg.retention
        checks = usage_checks(policy, self._glance, say)
        pruner = Pruner(policy, self._glance, checks, pulumi.runtime.is_dry_run(), say, warn)
        return pruner.retire(kept)

    def _delete(self, image: GlanceImage) -> None:
        """Deletes an image this stack no longer wants, itself: the engine would keep it in
        Glance if it was recorded while retainOnDelete was on, as the state remembers that."""
        label = f"image {image.id} ({image.name!r})"
        if pulumi.runtime.is_dry_run():
            pulumi.log.info(
                f"{label}: no key wants it and retainOnDelete is false: up deletes it",
                self._resource,
            )
            return
        try:
            self._glance.delete(image.id)
            pulumi.log.info(
                f"{label}: deleted, as no key wants it and retainOnDelete is false", self._resource
            )
        except GlanceError as exc:
            pulumi.log.warn(
                f"{label}: cannot delete it ({exc}); it stays in Glance", self._resource
            )
