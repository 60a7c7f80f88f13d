"""The volume check: a catalog without block storage has nothing to check (said once), and a
credential Cinder would silently show only its own volumes fails closed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from components.usage import CheckFailed
from components.usage_volumes import VolumesCheck


class Cloud:
    label = "cloud 'site'"

    def __init__(self, block_storage: bool, roles: frozenset[str], volumes: list[Any]) -> None:
        self._block_storage, self._roles = block_storage, roles
        self._conn = SimpleNamespace(
            block_storage=SimpleNamespace(volumes=lambda **query: iter(volumes))
        )

    def connection(self) -> Any:
        return self._conn

    def offers(self, *service_types: str) -> bool:
        return self._block_storage and "block-storage" in service_types

    def roles(self) -> frozenset[str]:
        return self._roles


def volume(volume_id: str, image_id: str | None) -> Any:
    metadata = {"image_id": image_id} if image_id else None
    return SimpleNamespace(id=volume_id, volume_image_metadata=metadata)


def test_without_block_storage_there_is_nothing_to_check_and_it_is_said() -> None:
    lines: list[str] = []
    check = VolumesCheck(Cloud(False, frozenset(), []), lines.append)  # type: ignore[arg-type]
    assert check.users(["a"]) == {}
    assert lines == [
        "the catalog of cloud 'site' has no block-storage service: no volumes to check"
    ]


def test_a_credential_without_the_admin_role_fails_closed() -> None:
    cloud = Cloud(True, frozenset({"member", "reader"}), [volume("v", "a")])
    with pytest.raises(CheckFailed, match="community-images:pruneCloud"):
        VolumesCheck(cloud, print).users(["a"])  # type: ignore[arg-type]


def test_volumes_made_from_a_candidate_are_its_users() -> None:
    cloud = Cloud(True, frozenset({"admin"}), [volume("v1", "a"), volume("v2", None)])
    assert VolumesCheck(cloud, print).users(["a", "b"]) == {"a": ["v1"]}  # type: ignore[arg-type]
