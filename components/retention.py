"""The retention policy: which of this stack's retired images stay, and which may go.

Each azimuth-images release adds an image per key, several GB each; ``keepReleases`` keeps the
newest releases of each key and makes the older ones candidates. A candidate is only deleted
once nothing uses it (``components/usage.py``); this module only says which are candidates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.glance_image import GlanceImage
from components.values import Problems, integer, kind, string

# Pulumi's fully qualified stack names: organization/project/stack (the DIY backends'
# organization is "organization").
STACK_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RetentionPolicy:
    keep_releases: int | None = None
    """``keepReleases``: releases of each key kept, the config's current one included; None
    keeps every release."""
    prune_cloud: str | None = None
    """``pruneCloud``: the clouds.yaml entry that asks Nova and Cinder who uses an image;
    None asks with the stack's own cloud (``openstack:cloud``)."""
    consumer_stacks: tuple[str, ...] = ()
    """``pruneConsumerStacks``: stacks whose outputs and inputs may hold this stack's IDs."""


RETENTION_KEYS = ("keepReleases", "pruneCloud", "pruneConsumerStacks")


def parse_retention(raw: Mapping[str, Any], problems: Problems) -> RetentionPolicy:
    keep = integer(raw, "keepReleases", None, problems, minimum=1)
    cloud = string(raw, "pruneCloud", problems)
    stacks = raw.get("pruneConsumerStacks", [])
    names: list[str] = []
    if not isinstance(stacks, list):
        problems.add("pruneConsumerStacks", f"must be a list of stack names, got {kind(stacks)}")
        stacks = []
    for index, item in enumerate(stacks):
        if isinstance(item, str) and STACK_NAME_RE.fullmatch(item):
            names.append(item)
        else:
            problems.add(
                f"pruneConsumerStacks[{index}]",
                f"must be a fully qualified stack name (organization/project/stack), got {item!r}",
            )
    return RetentionPolicy(keep, cloud, tuple(names))


@dataclass(frozen=True)
class Selection:
    kept: dict[str, str]
    """Name in the stack → why it stays without asking who uses it."""
    candidates: dict[str, GlanceImage]
    """Name in the stack → image that goes once nothing uses it."""


def select(retired: Mapping[str, GlanceImage], keep_releases: int | None) -> Selection:
    """Splits this stack's retired images (name in the stack → image): per key, newest first
    by Glance's creation time, the first ``keep_releases - 1`` stay beside the current one."""
    if keep_releases is None:
        return Selection({name: "keepReleases is not set" for name in retired}, {})
    kept: dict[str, str] = {}
    by_key: dict[str, list[tuple[str, GlanceImage]]] = {}
    for name, image in retired.items():
        if image.key is None:
            kept[name] = "no key recorded on it (created before keepReleases existed)"
        elif image.protected:
            kept[name] = "protected"
        else:
            by_key.setdefault(image.key, []).append((name, image))
    candidates: dict[str, GlanceImage] = {}
    for key, images in by_key.items():
        images.sort(key=lambda item: (item[1].created_at, item[1].id), reverse=True)
        for index, (name, image) in enumerate(images):
            if index < keep_releases - 1:
                kept[name] = f"one of the {keep_releases} newest releases of {key}"
            else:
                candidates[name] = image
    return Selection(kept, candidates)
