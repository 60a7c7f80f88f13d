"""An image as this program sees it in Glance: the attributes and properties it decides on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.marks import (
    KEY_PROPERTY,
    PENDING_PROPERTY,
    SOURCE_CHECKSUM_PROPERTIES,
    SOURCE_SHA512_PROPERTY,
    VIA_PROPERTY,
)


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
    container_format: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    size: int | None = None
    owner: str | None = None
    """The project that owns it: the one thing about an image no other project can forge."""
    hash_algo: str | None = None
    source_sha256: str | None = None
    pending: bool = False
    """Created by this program's upload and never published: see PENDING_PROPERTY."""
    via: str | None = None
    """How this program brought it into Glance, if it recorded that (VIA_PROPERTY)."""
    key: str | None = None
    """The config key this program created it for (KEY_PROPERTY), if recorded."""
    created_at: str = ""
    """Glance's ISO 8601 creation time, which orders one key's releases."""
    protected: bool = False
    boot_overrides: tuple[str, ...] = ()
    """Those of BOOT_OVERRIDES the image sets: Nova boots what they name, not the image's bytes."""

    @property
    def glance_sha512(self) -> str | None:
        """Glance's own sha512 of the stored bytes, if that is the algorithm it hashes with."""
        return self.hash_value if self.hash_algo == "sha512" else None

    def source_checksum(self, algorithm: str) -> str | None:
        """The source checksum this program verified and recorded at upload, if any."""
        return {"sha512": self.source_sha512, "sha256": self.source_sha256}.get(algorithm)


# Properties with which Nova boots a kernel, an initrd or a command line of the image owner's
# choosing instead of the image's own (nova/compute/api.py, _handle_kernel_and_ramdisk).
BOOT_OVERRIDES = ("kernel_id", "ramdisk_id", "os_command_line")


def image_from_json(record: Mapping[str, Any]) -> GlanceImage:
    """An image from Glance's JSON, where properties are keys beside the attributes: read as
    JSON rather than as openstacksdk resources, which cost more CPU than the request itself
    when a listing holds hundreds of images."""
    return GlanceImage(
        id=record["id"],
        name=record.get("name") or "",
        status=record.get("status") or "",
        visibility=record.get("visibility") or "",
        disk_format=record.get("disk_format"),
        hash_value=record.get("os_hash_value"),
        tags=tuple(record.get("tags") or ()),
        source_sha512=record.get(SOURCE_SHA512_PROPERTY),
        container_format=record.get("container_format"),
        min_disk=record.get("min_disk") or 0,
        min_ram=record.get("min_ram") or 0,
        size=record.get("size"),
        owner=record.get("owner"),
        hash_algo=record.get("os_hash_algo"),
        source_sha256=record.get(SOURCE_CHECKSUM_PROPERTIES["sha256"]),
        pending=PENDING_PROPERTY in record,
        via=record.get(VIA_PROPERTY),
        key=record.get(KEY_PROPERTY),
        created_at=record.get("created_at") or "",
        protected=bool(record.get("protected")),
        boot_overrides=tuple(p for p in BOOT_OVERRIDES if record.get(p)),
    )
