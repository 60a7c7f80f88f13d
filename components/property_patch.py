"""The JSON patch that brings an image's properties from what the stack set to what it wants,
leaving alone what Glance or someone else set, and this program's upload record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.marks import UPLOAD_RECORD_PROPERTIES


def property_patch(
    current: Mapping[str, Any], old: Mapping[str, str], new: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Glance JSON-patch operations that make the keys of ``new`` hold on an image whose
    properties are ``current``, and remove those that only ``old`` had. The checksums recorded
    at upload are never touched: a spec's new checksum must not relabel old bytes."""
    ops: list[dict[str, Any]] = []
    for key, value in sorted(new.items()):
        if key in UPLOAD_RECORD_PROPERTIES:
            continue
        if current.get(key) != value:
            ops.append(
                {"op": "replace" if key in current else "add", "path": f"/{key}", "value": value}
            )
    for key in sorted(old):
        if key not in new and key in current and key not in UPLOAD_RECORD_PROPERTIES:
            ops.append({"op": "remove", "path": f"/{key}"})
    return ops
