"""Per image, what to do given what Glance holds: reuse it, keep managing it, or create it."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from components.config import ImageSpec
from components.errors import CommunityImagesError
from components.glance import GlanceImage


class Decision(enum.Enum):
    CREATE = "create"
    """Nothing usable of that name: fetch, inspect, convert and upload it."""
    MANAGE = "manage"
    """This stack's own image: keep managing it (adopted again if the state was lost)."""
    REUSE = "reuse"
    """Someone else's image of that name: use its ID, never touch it."""


class TrustError(CommunityImagesError):
    """An image of that name exists but cannot be used: other data, or a failed upload."""


@dataclass(frozen=True)
class Plan:
    key: str
    spec: ImageSpec
    decision: Decision
    existing: GlanceImage | None = None
    leftovers: tuple[GlanceImage, ...] = ()
    """This stack's incomplete images of that name, to delete before uploading it anew."""


# What an interrupted upload leaves; "deactivated" is an admin's decision about a finished image.
INCOMPLETE = frozenset({"queued", "saving", "uploading", "importing", "killed"})


def plan_image(
    key: str,
    spec: ImageSpec,
    found: Sequence[GlanceImage],
    owner_tag: str,
    verify: bool,
) -> Plan:
    ours = [i for i in found if owner_tag in i.tags]
    leftovers = tuple(i for i in ours if i.status in INCOMPLETE)
    ours = [i for i in ours if i.status not in INCOMPLETE]
    if len(ours) > 1:
        raise _several_tagged(f"image {key} ({spec.name!r})", owner_tag, ours)
    if ours and ours[0].status != "active":
        raise TrustError(
            f"image {key} ({spec.name!r}): this stack's image {ours[0].id} is {ours[0].status}; "
            "reactivate it (openstack image set --activate), or delete it to upload it anew"
        )
    if ours:
        return Plan(key, spec, Decision.MANAGE, ours[0])
    usable = [i for i in found if i.status == "active"]
    if not usable:
        return Plan(key, spec, Decision.CREATE, leftovers=leftovers)
    expected = spec.source_sha512
    if not verify or expected is None:
        # Same trust as azimuth-ops: without a published sha512 the name is all there is.
        return Plan(key, spec, Decision.REUSE, usable[0])
    trusted = [i for i in usable if expected in (i.hash_value, i.source_sha512)]
    if trusted:
        return Plan(key, spec, Decision.REUSE, trusted[0])
    seen = "; ".join(f"{i.id} has sha512 {i.hash_value}" for i in usable)
    raise TrustError(
        f"image {key} ({spec.name!r}): an image of that name exists but none matches the "
        f"expected sha512 {expected}: {seen}. Delete or rename it, or set "
        "community-images:verifyExisting to false to trust it by name"
    )


def retired_images(
    owned: Sequence[GlanceImage], wanted: Collection[str], owner_tag: str
) -> list[GlanceImage]:
    """This stack's active images (``owned``: those carrying ``owner_tag``) that no key wants
    any more, typically the previous release of an image: kept in Glance and in the stack, as
    clusters may still boot from them."""
    retired: dict[str, GlanceImage] = {}
    for image in owned:
        if image.name in wanted or image.status != "active":
            continue
        if image.name in retired:
            raise _several_tagged(f"image {image.name!r}", owner_tag, [retired[image.name], image])
        retired[image.name] = image
    return list(retired.values())


def _several_tagged(label: str, owner_tag: str, images: Sequence[GlanceImage]) -> TrustError:
    ids = ", ".join(i.id for i in images)
    return TrustError(
        f"{label}: several images carry this stack's tag {owner_tag!r} ({ids}); delete the extra "
        "ones or remove the tag from them"
    )
