"""Which retired images keepReleases keeps, and its config."""

from __future__ import annotations

from components.retention import RetentionPolicy, parse_retention, select
from components.values import Problems
from tests.unit.test_component import glance_image


def release(name: str, created: str, key: str | None = "kube", **extra: object):
    return glance_image(name, f"id-{name}", key=key, created_at=created, **extra)


def test_without_keep_releases_every_retired_image_stays() -> None:
    old = release("kube-1", "2026-01-01T00:00:00Z")
    selection = select({"kube-1": old}, None)
    assert selection.candidates == {}
    assert selection.kept == {"kube-1": "keepReleases is not set"}


def test_the_newest_releases_of_a_key_stay_and_older_ones_are_candidates() -> None:
    retired = {
        "kube-1": release("kube-1", "2026-01-01T00:00:00Z"),
        "kube-3": release("kube-3", "2026-03-01T00:00:00Z"),
        "kube-2": release("kube-2", "2026-02-01T00:00:00Z"),
        "desk-1": release("desk-1", "2026-01-05T00:00:00Z", key="desktop"),
    }
    selection = select(retired, 3)
    # Three releases with the current one: two retired of each key stay.
    assert set(selection.kept) == {"kube-3", "kube-2", "desk-1"}
    assert set(selection.candidates) == {"kube-1"}
    assert "3 newest releases of kube" in selection.kept["kube-2"]


def test_keep_one_makes_every_retired_release_a_candidate() -> None:
    retired = {"kube-1": release("kube-1", "2026-01-01"), "kube-2": release("kube-2", "2026-02-01")}
    assert set(select(retired, 1).candidates) == {"kube-1", "kube-2"}


def test_no_key_recorded_or_protected_is_never_a_candidate() -> None:
    retired = {
        "old": release("old", "2025-01-01", key=None),
        "locked": release("locked", "2025-02-01", protected=True),
    }
    selection = select(retired, 1)
    assert selection.candidates == {}
    assert "no key recorded" in selection.kept["old"]
    assert selection.kept["locked"] == "protected"


def test_config_is_validated_with_every_problem() -> None:
    problems = Problems()
    parse_retention(
        {"keepReleases": 0, "pruneConsumerStacks": ["proj/stack", 3], "pruneCloud": 5}, problems
    )
    assert problems.items == [
        "keepReleases: must be a whole number of at least 1, got 0",
        "pruneCloud: must be a string, got int",
        "pruneConsumerStacks[0]: must be a fully qualified stack name "
        "(organization/project/stack), got 'proj/stack'",
        "pruneConsumerStacks[1]: must be a fully qualified stack name "
        "(organization/project/stack), got 3",
    ]


def test_config_defaults_keep_everything() -> None:
    problems = Problems()
    assert parse_retention({}, problems) == RetentionPolicy()
    assert problems.items == []
