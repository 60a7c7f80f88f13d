"""The server check: only an admin sees every project's servers and the SOFT_DELETED ones, so a
credential without the admin role fails closed, naming pruneCloud, before anything is listed."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import openstack
import pytest
from openstack.compute.v2.server import Server

from components.usage import CheckFailed
from components.usage_servers import ServersCheck
from tests.unit.clouds import prune_cloud


class Compute:
    """Answers servers() by image; records each query."""

    def __init__(self, by_image: dict[str, list[str]], fails: Exception | None = None) -> None:
        self.by_image, self.fails = by_image, fails
        self.queries: list[dict[str, Any]] = []

    def servers(self, **query: Any) -> Iterator[Any]:
        self.queries.append(query)
        if self.fails is not None:
            raise self.fails
        return iter(SimpleNamespace(id=i) for i in self.by_image.get(query["image"], []))


def test_soft_deleted_servers_of_every_project_are_asked_for() -> None:
    compute = Compute({"a": ["s1", "s2"]})
    check = ServersCheck(prune_cloud(["compute"], ["admin"], compute=compute))
    assert check.users(["a", "b"]) == {"a": ["s1", "s2"], "b": []}
    query = compute.queries[0]
    assert query == {"details": True, "all_projects": True, "image": "a", "is_soft_deleted": True}
    # As openstacksdk sends it: Nova's own names for the options.
    sent = Server._query_mapping._transpose(
        {k: v for k, v in query.items() if k != "details"}, Server
    )
    assert sent == {"all_tenants": True, "image": "a", "soft_deleted": True}


def test_a_credential_without_the_admin_role_fails_closed_before_listing() -> None:
    compute = Compute({"a": ["s1"]})
    check = ServersCheck(prune_cloud(["compute"], ["member"], compute=compute))
    with pytest.raises(CheckFailed) as failed:
        check.users(["a"])
    message = str(failed.value)
    assert "may not list the servers of all projects" in message
    assert "SOFT_DELETED" in message
    assert "set community-images:pruneCloud to a clouds.yaml entry with an admin-like role" in (
        message
    )
    assert compute.queries == []


def test_an_admin_refused_by_the_site_policy_fails_closed_naming_prune_cloud() -> None:
    refused = openstack.exceptions.ForbiddenException("policy", http_status=403)
    compute = Compute({}, fails=refused)
    check = ServersCheck(prune_cloud(["compute"], ["admin"], compute=compute))
    with pytest.raises(CheckFailed, match="community-images:pruneCloud"):
        check.users(["a"])


def test_a_catalog_without_compute_fails_closed() -> None:
    check = ServersCheck(prune_cloud(["image"], ["admin"], compute=Compute({})))
    with pytest.raises(CheckFailed, match="has no compute service"):
        check.users(["a"])
