"""Cinder: volumes of any project made from the image (``volume_image_metadata.image_id``).

A server booted from a volume has no image in Nova at all: only the volume remembers it, and the
volume still needs the image to be rebuilt or re-imaged. A cloud without block storage has no
such volumes, which is said once rather than taken as a failed check. Cinder's default policy
shows every project's volumes to the admin role only, and silently shows others their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import openstack

from components.glance import SDK_ERRORS
from components.prune_cloud import PruneCloud
from components.usage import SHOWN_USERS, CheckFailed

BLOCK_STORAGE_TYPES = ("block-storage", "volumev3", "volumev2", "volume")
# Cinder writes volume_image_metadata only once a volume's clone or download of its image is
# done (cinder/volume/flows/manager/create_volume.py; ``downloading`` while it copies): until
# then such a volume may be made from a candidate, and nothing says which.
BEING_MADE = frozenset({"creating", "downloading"})


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
        # Unlike Nova, Cinder answers a member's all_tenants=1 with that project's volumes
        # alone (cinder/volume/api.py get_all): no refusal to fail closed on.
        self._cloud.require_admin("Cinder lists only the caller's own volumes to anyone else")
        volumes = self._volumes(conn)
        unsaid = [v for v in volumes if _image_id(v) is None and v.status in BEING_MADE]
        if unsaid:
            raise CheckFailed(_being_made(unsaid))
        wanted = set(image_ids)
        found: dict[str, list[str]] = {}
        for volume in volumes:
            image_id = _image_id(volume)
            if image_id in wanted:
                found.setdefault(image_id, []).append(volume.id)
        return found

    def _volumes(self, conn: Any) -> list[Any]:
        """Every project's volumes, read in full here: the listing pages lazily, so its
        errors surface while it is read."""
        try:
            return list(conn.block_storage.volumes(details=True, all_projects=True))
        except openstack.exceptions.ForbiddenException as exc:
            raise CheckFailed(
                f"{self._cloud.label} may not list the volumes of all projects "
                f"({exc.status_code}); set community-images:pruneCloud to a clouds.yaml entry "
                "with an admin-like role"
            ) from exc
        except SDK_ERRORS as exc:
            raise CheckFailed(f"cannot list volumes with {self._cloud.label}: {exc}") from exc


def _image_id(volume: Any) -> str | None:
    return (volume.volume_image_metadata or {}).get("image_id")


def _being_made(volumes: Sequence[Any]) -> str:
    if len(volumes) == 1:
        volume = volumes[0]
        return (
            f"volume {volume.id} is {volume.status} and Cinder does not say yet from which "
            "image: kept until it is made"
        )
    shown = ", ".join(f"{volume.id} ({volume.status})" for volume in volumes[:SHOWN_USERS])
    more = ", …" if len(volumes) > SHOWN_USERS else ""
    return (
        f"{len(volumes)} volumes ({shown}{more}) are being made and Cinder does not say yet "
        "from which images: kept until they are made"
    )
