"""What the stack exports about each image, beside its ID: for people and for consumer stacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.glance_image import GlanceImage
from components.plan import Decision, Plan


def image_summary(
    plan: Plan, image_id: Any, disk_format: str, visibility: str, via: Any
) -> dict[str, Any]:
    """``via``: how a created image came (upload or web-download; None when not recorded)."""
    spec = plan.spec
    return {
        "id": image_id,
        "name": spec.name,
        "diskFormat": disk_format,
        "visibility": visibility,
        "checksum": str(spec.checksum_sha512 or spec.checksum or "") or None,
        "source": "reused" if plan.decision is Decision.REUSE else "created",
        "kubernetesVersion": spec.kubernetes_version,
        "via": via,
    }


def custom_summary(image: GlanceImage) -> dict[str, Any]:
    return {
        "id": image.id,
        "name": image.name,
        "diskFormat": image.disk_format,
        "visibility": image.visibility,
        "checksum": f"sha512:{image.hash_value}" if image.hash_value else None,
        "source": "custom",
        "kubernetesVersion": None,
        "via": None,
    }


def kubernetes_images(plans: list[Plan], ids: Mapping[str, Any]) -> dict[str, Any]:
    """Key → version, image ID and the Azimuth template name (``kube-1-34-2``)."""
    result = {}
    for plan in plans:
        version = plan.spec.kubernetes_version
        if version:
            result[plan.key] = {
                "kubernetesVersion": version,
                "imageId": ids[plan.key],
                "templateName": "kube-" + version.removeprefix("v").replace(".", "-"),
            }
    return result
