"""The devcloud's Cinder (``bash devcloud/devcloud.sh start cinder``) answers as a site's Cinder
would: a volume of one project made from another project's community image carries that image's
id in its ``volume_image_metadata``, where an admin finds it across all projects; a project member
asking for all projects gets its own volumes only.

Cinder is started on demand by the ``cinder`` fixture; these tests fail, never skip, without it.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from openstack.connection import Connection

from tests.integration.conftest import GlanceImages, make_qcow2
from tests.integration.devcloud_services import devcloud, stop_and_start_warm
from tests.integration.volumes import delete_and_wait, wait_available

pytestmark = pytest.mark.integration

# The glance_metadata filter of volume listings needs block storage microversion 3.4 or later.
MICROVERSION = "3.4"


def ids_by_image(conn: Connection, image_id: str) -> list[str]:
    """The volumes of every project made from the image: the query a retirement check makes."""
    query = json.dumps({"image_id": image_id})
    response = conn.block_storage.get(
        f"/volumes/detail?all_tenants=1&glance_metadata={query}", microversion=MICROVERSION
    )
    assert response.status_code == 200, response.text
    return [v["id"] for v in response.json()["volumes"]]


def test_demo_volume_from_admin_community_image_is_listed_for_admin_only(
    cinder: Connection, demo_user: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """A volume of the demo project, made from the admin project's community image, becomes
    available; across all projects the admin finds it with the image's id in its
    volume_image_metadata (also by glance_metadata filter); the demo member's all-projects
    listing is not refused but, by Cinder's rule (only an admin's all_tenants widens a listing),
    holds the demo project's volumes alone."""
    name = f"cinder-test-{uuid.uuid4().hex[:8]}"
    image = glance_images.upload(cinder, name, make_qcow2(tmp_path / "disk.qcow2", name))
    created: list[tuple[Connection, str]] = []
    try:
        volume = demo_user.block_storage.create_volume(size=1, image_id=image.id, name=name)
        created.append((demo_user, volume.id))
        # The admin project's own volume, which the demo member must not see.
        other = cinder.block_storage.create_volume(size=1, name=f"{name}-admin")
        created.append((cinder, other.id))
        volume = wait_available(demo_user, volume)
        wait_available(cinder, other)
        assert volume.is_bootable

        listed = [
            v
            for v in cinder.block_storage.volumes(details=True, all_projects=True)
            if v.id == volume.id
        ]
        assert [(v.project_id, v.volume_image_metadata["image_id"]) for v in listed] == [
            (demo_user.current_project_id, image.id)
        ]
        assert ids_by_image(cinder, image.id) == [volume.id]

        demo_ids = {v.id for v in demo_user.block_storage.volumes(details=True, all_projects=True)}
        own_ids = {v.id for v in demo_user.block_storage.volumes(details=True)}
        assert volume.id in demo_ids
        assert other.id not in demo_ids
        assert demo_ids == own_ids
        assert ids_by_image(demo_user, image.id) == [volume.id]
    finally:
        for conn, volume_id in created:
            delete_and_wait(conn, volume_id)
    assert ids_by_image(cinder, image.id) == []


def test_cinder_stops_alone_and_starts_warm(
    cinder: Connection, demo_user: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """`stop cinder` leaves the core devcloud (and a Nova beside it) running; the next
    `start cinder` needs no pip and no one-time step, takes seconds, and its volume service takes
    creates at once."""
    stop_and_start_warm("cinder", "cinder-volume", other_pids)

    name = f"cinder-warm-{uuid.uuid4().hex[:8]}"
    image = glance_images.upload(cinder, name, make_qcow2(tmp_path / "disk.qcow2", name))
    volume = demo_user.block_storage.create_volume(size=1, image_id=image.id, name=name)
    try:
        wait_available(demo_user, volume)
    finally:
        delete_and_wait(demo_user, volume.id)


def other_pids() -> dict[str, str]:
    """The core's and Nova's services that run, by name: `stop cinder` must leave them be
    (RabbitMQ too while Nova uses it)."""
    status = devcloud("status", timeout=60).stdout
    running = dict(re.findall(r"devcloud: ([a-z-]+): running .*pid (\d+)", status))
    if "nova-api" not in running:
        running.pop("rabbitmq", None)
    return {name: pid for name, pid in running.items() if not name.startswith("cinder-")}
