"""What Glance already holds, read with openstacksdk using the same cloud as the provider."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import keystoneauth1.exceptions
import openstack
from openstack.connection import Connection
from openstack.image.v2.image import Image as SdkImage

from components.errors import CommunityImagesError

# Set on every image this program uploads: Glance hashes what it stores, so after a conversion
# ``os_hash_value`` no longer equals the source's sha512 that manifests publish.
SOURCE_SHA512_PROPERTY = "community_images_source_sha512"


class GlanceError(CommunityImagesError):
    """A Glance lookup failed or returned something unusable; names the image or key."""


@dataclass(frozen=True)
class GlanceImage:
    id: str
    name: str
    status: str
    visibility: str
    disk_format: str | None
    hash_value: str | None
    tags: tuple[str, ...]
    source_sha512: str | None


def _image(sdk: SdkImage) -> GlanceImage:
    properties = sdk.properties or {}
    return GlanceImage(
        id=sdk.id,
        name=sdk.name,
        status=sdk.status,
        visibility=sdk.visibility,
        disk_format=sdk.disk_format,
        hash_value=sdk.hash_value,
        tags=tuple(sdk.tags or ()),
        source_sha512=properties.get(SOURCE_SHA512_PROPERTY),
    )


_SDK_ERRORS = (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException)


class Glance:
    """Connects on first use: a site with nothing to look up (``images: {}``) needs no cloud."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect

    @classmethod
    def for_cloud(cls, cloud: str | None) -> Glance:
        """The cloud the provider uses: ``openstack:cloud``, else ``OS_CLOUD`` or ``OS_*``."""
        return cls(lambda: openstack.connect(cloud=cloud or os.environ.get("OS_CLOUD")))

    @cached_property
    def _conn(self) -> Connection:
        try:
            return self._connect()
        except _SDK_ERRORS as exc:
            raise GlanceError(f"cannot connect to OpenStack: {exc}") from exc

    def find(self, name: str) -> list[GlanceImage]:
        """Every image of that name this project can see, other projects' community ones too.

        The default listing leaves out other projects' community images, which is exactly the
        case of a shared cloud where another site already uploaded the same release.
        """
        try:
            found = self._conn.image.images(name=name, visibility="all")
            return sorted((_image(i) for i in found), key=lambda i: i.id)
        except _SDK_ERRORS as exc:
            raise GlanceError(f"cannot list images named {name!r}: {exc}") from exc

    def get(self, image_id: str) -> GlanceImage | None:
        try:
            return _image(self._conn.image.get_image(image_id))
        except openstack.exceptions.NotFoundException:
            return None
        except _SDK_ERRORS as exc:
            raise GlanceError(f"cannot read image {image_id}: {exc}") from exc

    def set_os_properties(
        self, image_id: str, old: Mapping[str, str], new: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Brings the image's ``os_*`` properties to ``new``; returns the JSON patch it applied.

        The openstack provider (Terraform provider v3.4.0) treats every ``os_*`` property as
        read-only on update and silently drops changes to them (``os_distro``, ``os_version``
        …), so they are patched here after the provider's update.
        """
        path = f"/images/{image_id}"
        try:
            current = self._conn.image.get(path).json()
            ops = os_property_patch(current, old, new)
            if ops:
                response = self._conn.image.patch(
                    path,
                    json=ops,
                    headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
                )
                openstack.exceptions.raise_from_response(response)
        except _SDK_ERRORS as exc:
            raise GlanceError(f"cannot update os_* properties of image {image_id}: {exc}") from exc
        return ops


def os_property_patch(
    current: Mapping[str, Any], old: Mapping[str, str], new: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Glance JSON-patch operations that make the ``os_*`` keys of ``new`` hold on an image whose
    properties are ``current``, and remove those that only ``old`` had."""
    ops: list[dict[str, Any]] = []
    for key, value in sorted(new.items()):
        if key.startswith("os_") and current.get(key) != value:
            ops.append(
                {"op": "replace" if key in current else "add", "path": f"/{key}", "value": value}
            )
    for key in sorted(old):
        if key.startswith("os_") and key not in new and key in current:
            ops.append({"op": "remove", "path": f"/{key}"})
    return ops
