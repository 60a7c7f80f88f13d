"""Who uses an image: every check asked, a check that cannot be made keeps the image."""

from __future__ import annotations

from collections.abc import Collection

import keystoneauth1.exceptions
import openstack
import pytest

from components.usage import CheckFailed, find_usage


class Found:
    def __init__(self, what: str, users: dict[str, list[str]]) -> None:
        self.what, self._users = what, users
        self.asked: list[list[str]] = []

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        self.asked.append(sorted(image_ids))
        return self._users


class Fails:
    what = "volumes"

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        raise CheckFailed("403 from Cinder")


def test_an_image_is_free_only_when_every_check_finds_nobody() -> None:
    servers = Found("servers", {"a": ["s1", "s2", "s3", "s4"]})
    stacks = Found("consumer stacks", {"b": ["org/proj/site"]})
    usage = find_usage([servers, stacks], ["a", "b", "c"])
    assert usage["a"].summary() == "4 servers (s1, s2, s3, …)"
    assert usage["b"].summary() == "1 consumer stack (org/proj/site)"
    assert usage["c"].free and usage["c"].summary() == "unused"
    assert servers.asked == [["a", "b", "c"]]


def test_a_check_that_cannot_be_made_keeps_every_image_and_says_why() -> None:
    usage = find_usage([Fails(), Found("servers", {})], ["a"])
    assert not usage["a"].free
    assert usage["a"].summary() == "unknown: the volumes check cannot be made: 403 from Cinder"


class Raises:
    what = "servers"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        raise self.error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (keystoneauth1.exceptions.ConnectFailure("reset by peer"), "ConnectFailure: reset by peer"),
        (openstack.exceptions.SDKException("token expired"), "SDKException: token expired"),
        (OSError(), "OSError"),
    ],
)
def test_a_check_that_raises_an_error_of_its_client_keeps_every_image(
    error: Exception, reason: str
) -> None:
    """Not a traceback: the image stays, saying why, and the other checks are still asked."""
    stacks = Found("consumer stacks", {"a": ["org/proj/site"]})
    usage = find_usage([Raises(error), stacks], ["a", "b"])
    assert usage["b"].summary() == f"unknown: the servers check cannot be made: {reason}"
    assert usage["a"].summary() == (
        f"1 consumer stack (org/proj/site); unknown: the servers check cannot be made: {reason}"
    )


def test_no_candidates_asks_nobody() -> None:
    servers = Found("servers", {})
    assert find_usage([servers], []) == {}
    assert servers.asked == []
