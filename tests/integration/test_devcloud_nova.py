"""The devcloud's Nova (``bash devcloud/devcloud.sh start nova``) answers as a site's Nova would:
servers of one project booted from another project's community image, found by image across all
projects by an admin only, with Neutron's real answers behind the server views.

Nova is started on demand by the ``nova`` fixture; these tests fail, never skip, without it.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import openstack
import pytest
from openstack.connection import Connection
from requests import Response

from tests.integration.conftest import GlanceImages, make_qcow2
from tests.integration.devcloud_services import devcloud, stop_and_start_warm

pytestmark = pytest.mark.integration

FLAVOR = "devcloud.tiny"
# `networks: none` needs compute microversion 2.37 or later.
MICROVERSION = "2.37"


def boot(conn: Connection, image_id: str, name: str) -> str:
    flavor = next(conn.compute.flavors(name=FLAVOR))
    response = conn.compute.post(
        "/servers",
        json={
            "server": {
                "name": name,
                "imageRef": image_id,
                "flavorRef": flavor.id,
                "networks": "none",
            }
        },
        microversion=MICROVERSION,
    )
    openstack.exceptions.raise_from_response(response)
    return response.json()["server"]["id"]


def wait_active(conn: Connection, server_id: str) -> None:
    server = conn.compute.wait_for_server(
        conn.compute.get_server(server_id), status="ACTIVE", failures=["ERROR"], wait=120
    )
    assert server.status == "ACTIVE"


def delete_and_wait(conn: Connection, server_id: str) -> None:
    conn.compute.delete_server(server_id, ignore_missing=True)
    deadline = time.monotonic() + 120
    while conn.compute.find_server(server_id, ignore_missing=True) is not None:
        assert time.monotonic() < deadline, f"server {server_id} not deleted within 120 s"
        time.sleep(0.5)


def servers_by_image(conn: Connection, image_id: str) -> Response:
    return conn.compute.get(
        f"/servers/detail?image={image_id}&all_tenants=1", microversion=MICROVERSION
    )


def test_demo_server_from_admin_community_image_is_listed_for_admin_only(
    nova: Connection, demo_user: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """A server of the demo project, booted from the admin project's community image with no
    network, becomes ACTIVE; by image and across all projects, the admin finds it and a project
    member is refused (403); its deletion completes, which needs Neutron's answers."""
    name = f"nova-test-{uuid.uuid4().hex[:8]}"
    image = glance_images.upload(nova, name, make_qcow2(tmp_path / "disk.qcow2", name))
    server_id = None
    try:
        server_id = boot(demo_user, image.id, name)
        wait_active(demo_user, server_id)

        listed = servers_by_image(nova, image.id)
        assert listed.status_code == 200, listed.text
        found = [s for s in listed.json()["servers"] if s["id"] == server_id]
        assert [(s["tenant_id"], s["image"]["id"]) for s in found] == [
            (demo_user.current_project_id, image.id)
        ]
        assert servers_by_image(demo_user, image.id).status_code == 403

        # The server view lists the server's Neutron ports: a real (empty) answer from Neutron.
        ports = demo_user.network.get(f"/ports?device_id={server_id}")
        assert (ports.status_code, ports.json()) == (200, {"ports": []})

        delete_and_wait(demo_user, server_id)
        server_id = None
        assert servers_by_image(nova, image.id).json()["servers"] == []
    finally:
        if server_id is not None:
            delete_and_wait(nova, server_id)


def test_nova_stops_alone_and_starts_warm(
    nova: Connection, demo_user: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """`stop nova` leaves the core devcloud running; the next `start nova` needs no pip and no
    one-time step, takes seconds, and its compute takes builds at once."""
    stop_and_start_warm("nova", "nova-compute", core_pids)

    name = f"nova-warm-{uuid.uuid4().hex[:8]}"
    image = glance_images.upload(nova, name, make_qcow2(tmp_path / "disk.qcow2", name))
    server_id = boot(demo_user, image.id, name)
    try:
        wait_active(demo_user, server_id)
    finally:
        delete_and_wait(demo_user, server_id)


def core_pids() -> dict[str, str]:
    status = devcloud("status", timeout=60).stdout
    return dict(re.findall(r"devcloud: (postgresql|keystone|glance): running .*pid (\d+)", status))
