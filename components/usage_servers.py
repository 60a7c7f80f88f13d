"""Nova: servers of any project booted from the image
(``servers/detail?image=…&all_tenants=1&soft_deleted=True``).

Listing every project's servers needs an admin-like role: a project member sees only its own
servers, and the images a stack publishes as community are booted by other projects. A
SOFT_DELETED server can still be restored, so it still needs its image; Nova lists it only when
asked with ``soft_deleted``, an admin-only option it silently drops for anyone else
(nova/api/openstack/compute/servers.py remove_invalid_options). So the check requires the admin
role up front and fails closed, naming ``pruneCloud``, without it.
"""

from __future__ import annotations

from collections.abc import Collection

import openstack

from components.glance import SDK_ERRORS
from components.prune_cloud import PruneCloud
from components.usage import CheckFailed


class ServersCheck:
    what = "servers"

    def __init__(self, cloud: PruneCloud) -> None:
        self._cloud = cloud

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        conn = self._cloud.connection()
        if not self._cloud.offers("compute"):
            raise CheckFailed(
                f"the catalog of {self._cloud.label} has no compute service, so servers "
                "cannot be listed"
            )
        self._cloud.require_admin(
            "it may not list the servers of all projects, and Nova would hide SOFT_DELETED "
            "servers (restorable, so still using their image) from it without a refusal"
        )
        found: dict[str, list[str]] = {}
        for image_id in image_ids:
            try:
                servers = conn.compute.servers(
                    details=True, all_projects=True, image=image_id, is_soft_deleted=True
                )
                found[image_id] = [server.id for server in servers]
            except openstack.exceptions.ForbiddenException as exc:
                # An admin refused all the same: the site's policy is stricter than Nova's own.
                raise CheckFailed(
                    f"{self._cloud.label} may not list the servers of all projects "
                    f"({exc.status_code}); set community-images:pruneCloud to a clouds.yaml "
                    "entry with an admin-like role"
                ) from exc
            except SDK_ERRORS as exc:
                raise CheckFailed(f"cannot list servers with {self._cloud.label}: {exc}") from exc
        return found
