"""The stack's record of one Glance image: an ``openstack.images.Image`` adopting it, and the
ImageProperties resource that owns its properties."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.glance_image import GlanceImage
from components.properties import ImageProperties

# Inputs the Image resource must not diff on. ``properties`` is owned by ImageProperties after
# creation; the others are provider defaults that an import does not read back from Glance.
IGNORED_IMAGE_INPUTS = [
    "properties",
    "imageCachePath",
    "verifyChecksum",
    "decompress",
    "webDownload",
]


@dataclass(frozen=True)
class ImageArgs:
    name: str
    disk_format: str
    container_format: str
    visibility: str
    min_disk_gb: int | None = None
    min_ram_mb: int | None = None

    @classmethod
    def of(cls, image: GlanceImage, disk_format: str) -> ImageArgs:
        """The attributes ``image`` has in Glance, so that adopting it changes nothing."""
        return cls(
            name=image.name,
            disk_format=image.disk_format or disk_format,
            container_format=image.container_format or "bare",
            visibility=image.visibility,
            min_disk_gb=image.min_disk or None,
            min_ram_mb=image.min_ram or None,
        )


def resource_name(args: ImageArgs, disk_format: str, container_format: str = "bare") -> str:
    """An image's name in the stack: its Glance name, and for an image kept in another format
    than the site's (after a change of ``diskFormat``) the format too, so that it and the
    image that replaced it under the same Glance name are two resources."""
    if (args.disk_format, args.container_format) == (disk_format, container_format):
        return args.name
    return f"{args.name}@{args.disk_format}/{args.container_format}"


@dataclass(frozen=True)
class Records:
    """Declares records under ``parent``: tagged with ``tag``, retained on delete as the site
    says, properties applied with the clouds.yaml entry ``cloud``."""

    parent: pulumi.Resource
    tag: str
    cloud: str | None
    retain_on_delete: bool

    def image(
        self,
        args: ImageArgs,
        properties: Mapping[str, str] | None,
        import_id: str | None,
        name: str | None = None,
        set_at_upload: bool = False,
        secret: bool = False,
    ) -> openstack.images.Image:
        """The Image ``name`` (default: the Glance name), adopting the Glance image ``import_id``
        if given (a no-op once in the state), and the ImageProperties that own its properties;
        ``properties=None`` keeps those it has (an image kept after it left the config), and
        ``secret`` keeps them secret in the state (they came from a secret config value)."""
        name = name or args.name
        wanted: pulumi.Input[Mapping[str, str]] | None = properties
        if properties is not None and secret:
            wanted = pulumi.Output.secret(dict(properties))
        image = openstack.images.Image(
            name,
            name=args.name,
            disk_format=args.disk_format,
            container_format=args.container_format,
            visibility=args.visibility,
            properties=wanted,
            tags=[self.tag],
            min_disk_gb=args.min_disk_gb,
            min_ram_mb=args.min_ram_mb,
            opts=pulumi.ResourceOptions(
                parent=self.parent,
                ignore_changes=IGNORED_IMAGE_INPUTS,
                retain_on_delete=self.retain_on_delete,
                import_=import_id,
                # What the provider reads back from Glance (a refresh, a lost state's adoption).
                additional_secret_outputs=["properties"] if secret else None,
            ),
        )
        ImageProperties(
            name,
            image_id=image.id,
            image_name=args.name,
            cloud=self.cloud,
            properties=properties,
            set_at_upload=set_at_upload,
            secret=secret,
            opts=pulumi.ResourceOptions(parent=self.parent),
        )
        return image
