"""pruneCloud: the admin role is required where Nova or Cinder would silently answer less."""

from __future__ import annotations

import pytest

from components.usage import CheckFailed
from tests.unit.clouds import LABEL, prune_cloud


def test_the_admin_role_passes() -> None:
    cloud = prune_cloud(["compute"], ["admin", "member"])
    cloud.require_admin("it would miss things")
    assert cloud.roles() == frozenset({"admin", "member"})


def test_without_the_admin_role_it_fails_closed_saying_what_would_be_missed() -> None:
    cloud = prune_cloud(["compute"], ["member", "reader"])
    with pytest.raises(CheckFailed) as failed:
        cloud.require_admin("it would miss the servers of other projects")
    assert str(failed.value) == (
        f"{LABEL} has no admin role: it would miss the servers of other projects; set "
        "community-images:pruneCloud to a clouds.yaml entry with an admin-like role (its "
        "token's roles must include admin)"
    )
