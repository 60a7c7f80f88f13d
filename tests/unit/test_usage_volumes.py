"""The volume check: a catalog without block storage has nothing to check (said once), a
credential Cinder would silently show only its own volumes fails closed, and so does a volume
still being made, whose image Cinder does not record until it is made."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from components.prune_cloud import PruneCloud
from components.usage import CheckFailed
from components.usage_volumes import VolumesCheck
from tests.unit.clouds import prune_cloud


def cloud(volumes: list[Any], roles: tuple[str, ...] = ("admin",)) -> PruneCloud:
    listing = SimpleNamespace(volumes=lambda **query: iter(volumes))
    return prune_cloud(["block-storage"], roles, block_storage=listing)


def volume(volume_id: str, image_id: str | None, status: str = "available") -> Any:
    metadata = {"image_id": image_id} if image_id else None
    return SimpleNamespace(id=volume_id, volume_image_metadata=metadata, status=status)


def test_without_block_storage_there_is_nothing_to_check_and_it_is_said() -> None:
    lines: list[str] = []
    check = VolumesCheck(prune_cloud(["compute"], []), lines.append)
    assert check.users(["a"]) == {}
    assert lines == [
        "the catalog of cloud 'site' has no block-storage service: no volumes to check"
    ]


def test_a_credential_without_the_admin_role_fails_closed() -> None:
    member = cloud([volume("v", "a")], roles=("member", "reader"))
    with pytest.raises(CheckFailed, match="community-images:pruneCloud"):
        VolumesCheck(member, print).users(["a"])


def test_volumes_made_from_a_candidate_are_its_users() -> None:
    volumes = [volume("v1", "a"), volume("v2", None), volume("v3", "a", status="creating")]
    assert VolumesCheck(cloud(volumes), print).users(["a", "b"]) == {"a": ["v1", "v3"]}


@pytest.mark.parametrize("status", ["creating", "downloading"])
def test_a_volume_being_made_without_its_image_recorded_yet_fails_closed(status: str) -> None:
    check = VolumesCheck(cloud([volume("v1", "a"), volume("v2", None, status)]), print)
    with pytest.raises(CheckFailed) as failed:
        check.users(["a"])
    assert str(failed.value) == (
        f"volume v2 is {status} and Cinder does not say yet from which image: kept until it is made"
    )


def test_several_volumes_being_made_are_named_up_to_three() -> None:
    volumes = [volume(f"v{n}", None, ("creating", "downloading")[n % 2]) for n in range(4)]
    with pytest.raises(CheckFailed) as failed:
        VolumesCheck(cloud(volumes), print).users(["a"])
    assert str(failed.value) == (
        "4 volumes (v0 (creating), v1 (downloading), v2 (creating), …) are being made and "
        "Cinder does not say yet from which images: kept until they are made"
    )


@pytest.mark.parametrize("status", ["available", "in-use", "error", "deleting", "reserved"])
def test_a_blank_volume_in_any_other_state_is_no_use(status: str) -> None:
    assert VolumesCheck(cloud([volume("v", None, status)]), print).users(["a"]) == {}
