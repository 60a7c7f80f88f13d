"""``adoptUntagged``: this project's images of a wanted name that carry no stack's tag, such as
the ones azimuth-ops' role uploaded, become this stack's instead of being reused for ever.

Only bytes proven to be the source's are adopted: Glance's own sha512 of the image equal to the
source's published one, or, where the site's format needs the source converted (a raw cloud:
the role converted it too), equal to the sha512 of this program's own conversion of the
verified source. A raw conversion is deterministic, so the role's image and ours then hold the
same bytes; a mismatch means other bytes, and the stack uploads its own copy instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from components.glance_image import GlanceImage
from components.ownership import Ownership

STACK_TAG_PREFIX = "community-images:"
CHUNK = 1 << 20


def untagged(image: GlanceImage, ownership: Ownership) -> bool:
    """This project's active image with no stack's tag (never another project's: its owner is
    the one thing nobody else can forge)."""
    return (
        image.owner == ownership.project
        and image.status == "active"
        and not any(tag.startswith(STACK_TAG_PREFIX) for tag in image.tags)
    )


def adoptable(
    found: Sequence[GlanceImage],
    ownership: Ownership,
    wanted: tuple[str, str],
) -> list[GlanceImage]:
    """The untagged images of ``found`` in the site's (disk, container) format, whose bytes
    Glance hashed with sha512 (the only hash a proof can be compared with), by ID."""
    return sorted(
        (
            image
            for image in found
            if untagged(image, ownership)
            and (image.disk_format, image.container_format or "bare") == wanted
            and image.hash_algo == "sha512"
        ),
        key=lambda image: image.id,
    )


def file_sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
