"""Retires this stack's old releases under ``keepReleases``: a candidate nothing uses is
deleted, every other retired image stays in Glance and in the stack.

The program deletes a candidate itself and then stops declaring it, so the engine drops its
record (shown as an Image delete in the preview). The engine cannot do the delete: it honours
the ``retainOnDelete`` of the *old* state, which every retired record has, and a delete Glance
refuses would fail the whole update instead of keeping that one image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openstack

from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.prune_cloud import PruneCloud
from components.retention import RetentionPolicy, select
from components.usage import UsageCheck, find_usage
from components.usage_servers import ServersCheck
from components.usage_stacks import StacksCheck
from components.usage_volumes import VolumesCheck

Say = Callable[[str], None]


@dataclass(frozen=True)
class RetiredImage:
    name: str
    """Its name in the stack."""
    image: GlanceImage
    in_use: str
    """Who uses it, or why nobody was asked."""

    def output(self) -> dict[str, Any]:
        return {
            "id": self.image.id,
            "key": self.image.key,
            "createdAt": self.image.created_at,
            "inUse": self.in_use,
        }


def usage_checks(policy: RetentionPolicy, glance: Glance, say: Say) -> list[UsageCheck]:
    """Nova and Cinder asked with ``pruneCloud`` (else the stack's cloud), and the consumer
    stacks."""
    name = policy.prune_cloud
    cloud = PruneCloud(
        (lambda: openstack.connect(cloud=name)) if name else (lambda: glance.connection), name
    )
    checks: list[UsageCheck] = [ServersCheck(cloud), VolumesCheck(cloud, say)]
    if policy.consumer_stacks:
        checks.append(StacksCheck(policy.consumer_stacks))
    return checks


class Pruner:
    def __init__(
        self,
        policy: RetentionPolicy,
        glance: Glance,
        checks: Sequence[UsageCheck],
        dry_run: bool,
        say: Say,
        warn: Say,
    ) -> None:
        self._policy, self._glance, self._checks = policy, glance, checks
        self._dry_run, self._say, self._warn = dry_run, say, warn

    def retire(self, retired: Mapping[str, GlanceImage]) -> list[RetiredImage]:
        """The retired images (name in the stack → image) that stay; deletes the others."""
        selection = select(retired, self._policy.keep_releases)
        kept = [
            RetiredImage(name, retired[name], f"not checked: {why}")
            for name, why in selection.kept.items()
        ]
        candidates = selection.candidates
        usage = find_usage(self._checks, [image.id for image in candidates.values()])
        for name, image in candidates.items():
            use = usage[image.id]
            if not use.free:
                self._say(
                    f"{_label(image)}: kept past keepReleases {self._policy.keep_releases}, "
                    f"in use: {use.summary()}"
                )
                kept.append(RetiredImage(name, image, use.summary()))
            elif (refused := self._delete(image)) is not None:
                kept.append(
                    RetiredImage(name, image, f"unused; Glance refused to delete it: {refused}")
                )
        return sorted(kept, key=lambda item: item.name)

    def _delete(self, image: GlanceImage) -> str | None:
        """Deletes an unused candidate (in a preview: says it would); why Glance refused."""
        label = _label(image)
        why = f"older than the {self._policy.keep_releases} releases of {image.key} kept"
        if self._dry_run:
            self._say(f"{label}: {why} and nothing uses it: up deletes it")
            return None
        try:
            self._glance.delete(image.id)
        except GlanceError as exc:
            self._warn(
                f"{label}: {why} and nothing uses it, but Glance refuses to delete it ({exc}): "
                "it stays in the stack, and the next up tries again"
            )
            return str(exc)
        self._say(f"{label}: {why} and nothing uses it: deleted")
        return None


def _label(image: GlanceImage) -> str:
    return f"image {image.id} ({image.name!r})"
