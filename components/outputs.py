"""Typed access to a community-images stack's outputs, for the stacks that boot its images.

    images = CommunityImageOutputs("organization/community-images/prod")
    machine_image_id = images.machine_image_id("v1.34.2")   # imageIds["kube_1_34"]
    appliances = images.appliance_image_ids()               # workstation, repo2docker, ...

Lookups fail with a ``MissingImageError`` that lists the keys the stack does have, so a typo or
a Kubernetes series the site does not carry is fixed from the message alone. The key rules are
azimuth-ops' (see components/manifest.py), and the pure functions below hold all the logic so
they can be tested without Pulumi.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pulumi

from components.errors import CommunityImagesError
from components.manifest import kubernetes_key

# The CaaS appliances' image keys in azimuth-ops (the manifest's three, and the Slurm image).
APPLIANCE_KEYS = ("workstation", "repo2docker", "rstudio", "openhpc")


class ImageOutputsError(CommunityImagesError):
    """A consumer asked for something the image stack's outputs cannot answer."""


class MissingImageError(ImageOutputsError):
    def __init__(self, key: str, available: Iterable[str], stack: str, output: str) -> None:
        self.key = key
        self.available = sorted(available)
        keys = ", ".join(self.available) or "none"
        super().__init__(f"stack {stack} has no image {key!r} in its {output} (it has: {keys})")


def kubernetes_image_key(version: str) -> str:
    """The image key of a Kubernetes version, as the image stack keyed it."""
    key = kubernetes_key(version)
    if key is None:
        raise ImageOutputsError(
            f"Kubernetes version {version!r} is not of the form v1.34.2, 1.34.2 or 1.34"
        )
    return key


def require_output(values: Mapping[str, Any] | None, stack: str, output: str) -> Mapping[str, Any]:
    """A stack reference gives None for an output the stack does not have."""
    if values is None:
        raise ImageOutputsError(
            f"stack {stack} has no {output} output: is it a community-images stack, "
            "and has it been deployed (pulumi up)?"
        )
    return values


def lookup(values: Mapping[str, Any] | None, key: str, stack: str, output: str) -> Any:
    """``values[key]``, or a MissingImageError naming the keys there are."""
    present = require_output(values, stack, output)
    if key not in present:
        raise MissingImageError(key, present, stack, output)
    return present[key]


def appliance_ids(image_ids: Mapping[str, str] | None, stack: str) -> dict[str, str]:
    """The appliance images the stack has; a site without, say, RStudio simply has no key."""
    present = require_output(image_ids, stack, "imageIds")
    return {key: present[key] for key in APPLIANCE_KEYS if key in present}


def require_active(key: str, image_id: str, active_ids: Iterable[str]) -> str:
    """``image_id`` if it is among the active images this project can see, else an error: an
    ID taken from outputs can outlive its image (deleted, deactivated or made private since)."""
    if image_id not in set(active_ids):
        raise ImageOutputsError(
            f"image {key} ({image_id}) is not an active image this project can see in Glance: "
            "it was deleted, deactivated or its visibility changed since the image stack's "
            "last update"
        )
    return image_id


class CommunityImageOutputs:
    """The outputs of one community-images stack, read through a ``pulumi.StackReference``.

    ``stack`` is the stack's fully qualified name (``organization/community-images/<stack>`` on
    a file backend, ``<org>/community-images/<stack>`` on Pulumi Cloud), or a StackReference
    the program already has.
    """

    def __init__(
        self, stack: str | pulumi.StackReference, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self.reference = (
            stack
            if isinstance(stack, pulumi.StackReference)
            else pulumi.StackReference(stack, opts=opts)
        )

    def _lookup(self, output: str, key: str) -> pulumi.Output[Any]:
        values = self.reference.get_output(output)
        return pulumi.Output.all(self.reference.name, values).apply(
            lambda args: lookup(args[1], key, args[0], output)
        )

    def image_id(self, key: str) -> pulumi.Output[str]:
        """The Glance ID of the image with this key (``kube_1_34``, ``workstation``, ...)."""
        return self._lookup("imageIds", key)

    def image(self, key: str) -> pulumi.Output[dict[str, Any]]:
        """The image's summary: id, name, diskFormat, visibility, checksum, source and
        kubernetesVersion."""
        return self._lookup("images", key)

    def machine_image_id(self, kubernetes_version: str) -> pulumi.Output[str]:
        """The image for a Kubernetes version, found as azimuth-ops finds the HA cluster's and
        the templates' ``machineImageId``."""
        return self.image_id(kubernetes_image_key(kubernetes_version))

    def appliance_image_ids(self) -> pulumi.Output[dict[str, str]]:
        """The CaaS appliance image IDs the stack has, by key."""
        image_ids = self.reference.get_output("imageIds")
        return pulumi.Output.all(self.reference.name, image_ids).apply(
            lambda args: appliance_ids(args[1], args[0])
        )
