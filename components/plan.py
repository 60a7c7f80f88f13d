"""Per image, what to do given what Glance holds: reuse it, keep managing it, or create it.

Only an image of this stack (``Ownership.ours``) is managed, replaced or cleaned up. Another
project's image is reused only when Glance's own sha512 of its bytes is the source's published
one (the same bytes, whoever uploaded them), or, by name alone, when this project or a trusted
one owns it. When nothing of the name can be trusted the program uploads its own copy: a second
image of that name, this stack's, rather than a run that fails on a stranger's image.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from components.adoption import adoptable
from components.arrival import local_work
from components.config import ImageSpec
from components.errors import CommunityImagesError
from components.glance_image import GlanceImage
from components.ownership import Ownership


class Decision(enum.Enum):
    CREATE = "create"
    """Nothing usable of that name: fetch, inspect, convert and upload it."""
    MANAGE = "manage"
    """This stack's own image: keep managing it (adopted again if the state was lost)."""
    REUSE = "reuse"
    """Someone else's image of that name: use its ID, never touch it."""
    ADOPT = "adopt"
    """This project's untagged image holding the source's bytes (adoptUntagged): tag it as this
    stack's and manage it from now on."""


class TrustError(CommunityImagesError):
    """This stack's image of that name cannot be used as it is; says what to do."""


@dataclass(frozen=True)
class Plan:
    key: str
    spec: ImageSpec
    decision: Decision
    existing: GlanceImage | None = None
    leftovers: tuple[GlanceImage, ...] = ()
    """This stack's unfinished images of that name, to delete before uploading it anew."""
    replaced: tuple[GlanceImage, ...] = ()
    """This stack's images of that name in another disk or container format: a format change
    replaces them with a new upload, and they are kept as retired images."""
    note: str | None = None
    """Why images of that name were not reused, for the run's output."""
    adoptable: GlanceImage | None = None
    """With CREATE: this project's untagged image that up adopts instead of uploading, if its
    sha512 is that of this program's own conversion of the source."""


# What an interrupted upload leaves; "deactivated" is an admin's decision about a finished image.
INCOMPLETE = frozenset({"queued", "saving", "uploading", "importing", "killed"})


def plan_image(
    key: str,
    spec: ImageSpec,
    found: Sequence[GlanceImage],
    ownership: Ownership,
    verify: bool,
    disk_format: str,
    adopt: bool = False,
) -> Plan:
    label = f"image {key} ({spec.name!r})"
    ours = [i for i in found if ownership.ours(i)]
    leftovers = tuple(i for i in ours if i.pending or i.status in INCOMPLETE)
    complete = [i for i in ours if i not in leftovers]
    wanted = (disk_format, spec.container_format)
    current = [i for i in complete if (i.disk_format, i.container_format or "bare") == wanted]
    replaced = tuple(i for i in complete if i not in current and i.status == "active")
    if len(current) > 1:
        raise several_ours(label, ownership.tag, current)
    if current:
        image = current[0]
        if image.status != "active":
            raise TrustError(
                f"{label}: this stack's image {image.id} is {image.status}; reactivate it "
                "(openstack image set --activate), or delete it to upload it anew"
            )
        check_same_source(label, spec, image)
        return Plan(key, spec, Decision.MANAGE, image, replaced=replaced)
    untagged = adoptable(found, ownership, wanted) if adopt else []
    proven = [i for i in untagged if spec.source_sha512 and i.glance_sha512 == spec.source_sha512]
    if proven:
        return Plan(key, spec, Decision.ADOPT, proven[0], leftovers, replaced)
    converted = (
        untagged[0] if untagged and spec.source_sha512 and local_work(spec, disk_format) else None
    )
    others = [
        i
        for i in found
        if i.status == "active" and not ownership.ours(i) and not ownership.forged(i)
    ]
    refusals = [(image, why_not_reused(image, spec, ownership, verify, wanted)) for image in others]
    reusable = [image for image, why in refusals if why is None]
    if reusable:
        # This project's own image first, then a trusted project's, then anyone's.
        best = min(reusable, key=lambda i: (i.owner != ownership.project, not ownership.vouched(i)))
        return Plan(key, spec, Decision.REUSE, best, replaced=replaced)
    note = None
    if refusals:
        reasons = "; ".join(why for _, why in refusals if why)
        note = (
            f"{label}: uploading this stack's own copy, as no image of that name is trusted: "
            f"{reasons}"
        )
    if converted is not None:
        note = (
            f"{label}: up converts the verified source and adopts this project's untagged "
            f"image {converted.id} if its sha512 is that of the conversion, else uploads the "
            "conversion as this stack's own image"
        )
    return Plan(key, spec, Decision.CREATE, None, leftovers, replaced, note, converted)


def why_not_reused(
    image: GlanceImage,
    spec: ImageSpec,
    ownership: Ownership,
    verify: bool,
    wanted: tuple[str, str],
) -> str | None:
    """None if ``image`` may stand for ``spec`` on a site of formats ``wanted``, else why not
    (for the run's output)."""
    whose = f"{image.id} (project {image.owner})"
    if not ownership.may_reuse(image):
        return f"{whose} is not of a project in trustedImageOwners"
    if not ownership.vouched(image):
        # Its bytes may be the source's, but what Nova makes of them is the owner's to say.
        formats = (image.disk_format, image.container_format or "bare")
        if formats != wanted:
            return f"{whose} is declared {'/'.join(map(str, formats))}, not {'/'.join(wanted)}"
        if image.boot_overrides:
            return (
                f"{whose} sets {', '.join(image.boot_overrides)}: Nova would boot what its owner "
                "names there, not the image's bytes"
            )
    expected = spec.source_sha512
    if not verify or expected is None:
        # Same trust as azimuth-ops, which lists only its own project's images by name.
        if ownership.vouched(image):
            return None
        check = "verifyExisting is false" if not verify else "the spec gives no sha512"
        return f"{whose} is another project's and {check}, so its name is all there is"
    if image.glance_sha512 == expected:
        return None
    if ownership.vouched(image) and image.source_sha512 == expected:
        return None
    if image.hash_algo != "sha512":
        return f"{whose} is hashed by Glance with {image.hash_algo}, so its bytes cannot be checked"
    return f"{whose} has sha512 {image.hash_value}, not the source's {expected}"


def check_same_source(label: str, spec: ImageSpec, image: GlanceImage) -> None:
    """Stops a run whose spec gives this stack's image other checksums than it was uploaded
    from: names are unique per build, so that is another build under an old name, and carrying
    on would label the old bytes with the new build's checksum."""
    wanted = {c.algorithm: c.hexdigest for c in spec.checksums}
    if not wanted or image.glance_sha512 == wanted.get("sha512"):
        return  # no checksum to hold it to, or Glance's own hash proves the bytes
    recorded = {a: v for a in wanted if (v := image.source_checksum(a)) is not None}
    if recorded and all(recorded[a] == wanted[a] for a in recorded):
        return
    was = ", ".join(f"{a}:{v}" for a, v in recorded.items()) or "no checksum recorded"
    now = ", ".join(f"{a}:{v}" for a, v in wanted.items())
    raise TrustError(
        f"{label}: this stack's image {image.id} was uploaded from a source with {was}, but the "
        f"config now gives {now}. Image names are unique per build: give the new build a new "
        f"name (it is then uploaded and this image retired), or delete image {image.id} to "
        "upload the new build under this name"
    )


def retired_images(
    owned: Sequence[GlanceImage],
    wanted: Collection[str],
    ownership: Ownership,
    resource_name: Callable[[GlanceImage], str],
) -> list[GlanceImage]:
    """This stack's active images (of ``owned``) that no key wants any more, typically the
    previous release of an image: kept in Glance and in the stack, as clusters may still boot
    from them. ``resource_name`` gives each its name in the stack, which must be unique."""
    retired: dict[str, GlanceImage] = {}
    for image in owned:
        if not ownership.ours(image) or image.name in wanted or image.status != "active":
            continue
        name = resource_name(image)
        if name in retired:
            raise several_ours(f"image {image.name!r}", ownership.tag, [retired[name], image])
        retired[name] = image
    return list(retired.values())


def several_ours(label: str, tag: str, images: Sequence[GlanceImage]) -> TrustError:
    ids = ", ".join(i.id for i in images)
    return TrustError(
        f"{label}: several images of this project carry this stack's tag {tag!r} ({ids}); "
        "delete the extra ones or remove the tag from them"
    )
