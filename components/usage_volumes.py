"""Cinder: volumes of any project made from the image (``volume_image_metadata.image_id``).

A server booted from a volume has no image in Nova at all: only the volume remembers it, and the
volume still needs the image to be rebuilt or re-imaged. A cloud without block storage has no
such volumes, which is said once rather than taken as a failed check. Cinder's default policy
shows every project's volumes to the admin role only, and silently shows others their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import openstack

from components.glance import SDK_ERRORS
from components.prune_cloud import PruneCloud
from components.usage import CheckFailed

BLOCK_STORAGE_TYPES = ("block-storage", "volumev3", "volumev2", "volume")


class VolumesCheck:
    what = "volumes"

    def __init__(self, cloud: PruneCloud, say: Callable[[str], None]) -> None:
        self._cloud, self._say = cloud, say

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        conn = self._cloud.connection()
        if not self._cloud.offers(*BLOCK_STORAGE_TYPES):
            self._say(
                f"the catalog of {self._cloud.label} has no block-storage service: no volumes "
                "to check"
            )
            return {}
        if "admin" not in self._cloud.roles():
            # Unlike Nova, Cinder answers a member's all_tenants=1 with that project's volumes
            # alone (cinder/volume/api.py get_all): no refusal to fail closed on.
            raise CheckFailed(
                f"{self._cloud.label} has no admin role, and Cinder lists only the caller's "
                "own volumes to anyone else; set community-images:pruneCloud to a clouds.yaml "
                "entry with the admin role"
            )
        wanted = set(image_ids)
        found: dict[str, list[str]] = {}
        try:
            for volume in conn.block_storage.volumes(details=True, all_projects=True):
                image_id = (volume.volume_image_metadata or {}).get("image_id")
                if image_id in wanted:
                    found.setdefault(image_id, []).append(volume.id)
        except openstack.exceptions.ForbiddenException as exc:
            raise CheckFailed(
                f"{self._cloud.label} may not list the volumes of all projects "
                f"({exc.status_code}); set community-images:pruneCloud to a clouds.yaml entry "
                "with an admin-like role"
            ) from exc
        except SDK_ERRORS as exc:
            raise CheckFailed(f"cannot list volumes with {self._cloud.label}: {exc}") from exc
        return found
