"""Waits on the devcloud's Cinder volumes that tests make, saying why when one fails."""

from __future__ import annotations

import time

import pytest
from openstack import exceptions
from openstack.block_storage.v3.volume import Volume
from openstack.connection import Connection

WAIT_SECONDS = 120
# User messages (why a volume went to error) need block storage microversion 3.3 or later.
MESSAGES_MICROVERSION = "3.3"


def why_failed(conn: Connection, volume_id: str) -> str:
    """Cinder's own words on what went wrong with the volume: its user messages."""
    response = conn.block_storage.get(
        f"/messages?resource_uuid={volume_id}", microversion=MESSAGES_MICROVERSION
    )
    if response.status_code != 200:
        return f"(its messages could not be listed: HTTP {response.status_code})"
    messages = [m["user_message"] for m in response.json().get("messages", [])]
    return "; ".join(messages) or "(Cinder left no message)"


def wait_available(conn: Connection, volume: Volume) -> Volume:
    try:
        volume = conn.block_storage.wait_for_status(
            volume, status="available", failures=["error"], interval=0.5, wait=WAIT_SECONDS
        )
    except exceptions.ResourceFailure:
        pytest.fail(f"volume {volume.id} went to error: {why_failed(conn, volume.id)}")
    assert volume.status == "available"
    return volume


def delete_and_wait(conn: Connection, volume_id: str) -> None:
    conn.block_storage.delete_volume(volume_id, ignore_missing=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while conn.block_storage.find_volume(volume_id, ignore_missing=True) is not None:
        assert time.monotonic() < deadline, f"volume {volume_id} not deleted in {WAIT_SECONDS} s"
        time.sleep(0.5)
