"""Pruner: unused candidates are deleted (a preview only says so), the rest stay with why."""

from __future__ import annotations

from collections.abc import Collection

from components.glance import GlanceError
from components.pruning import Pruner
from components.retention import RetentionPolicy
from tests.unit.test_retention import release


class Glance:
    def __init__(self, refuse: Collection[str] = ()) -> None:
        self.refuse, self.deleted = set(refuse), []

    def delete(self, image_id: str) -> None:
        if image_id in self.refuse:
            raise GlanceError(f"cannot delete image {image_id}: 403 Forbidden")
        self.deleted.append(image_id)


class Servers:
    what = "servers"

    def __init__(self, users: dict[str, list[str]]) -> None:
        self._users = users

    def users(self, image_ids: Collection[str]) -> dict[str, list[str]]:
        return self._users


RETIRED = {
    "kube-1": release("kube-1", "2026-01-01"),
    "kube-2": release("kube-2", "2026-02-01"),
    "kube-3": release("kube-3", "2026-03-01"),
}


def pruner(glance: Glance, users: dict[str, list[str]], dry_run: bool, lines: list[str]):
    return Pruner(
        RetentionPolicy(keep_releases=2),
        glance,  # type: ignore[arg-type]
        [Servers(users)],
        dry_run,
        lines.append,
        lambda line: lines.append(f"warning: {line}"),
    )


def test_up_deletes_unused_candidates_and_keeps_used_ones() -> None:
    glance, lines = Glance(), []
    kept = pruner(glance, {"id-kube-1": ["server-a"]}, False, lines).retire(RETIRED)
    assert glance.deleted == ["id-kube-2"]
    assert {item.name: item.in_use for item in kept} == {
        "kube-1": "1 server (server-a)",
        "kube-3": "not checked: one of the 2 newest releases of kube",
    }
    assert any("kube-1" in line and "in use: 1 server (server-a)" in line for line in lines)
    assert kept[0].output() == {
        "id": "id-kube-1",
        "key": "kube",
        "createdAt": "2026-01-01",
        "inUse": "1 server (server-a)",
    }


def test_a_preview_deletes_nothing_and_says_what_up_deletes() -> None:
    glance, lines = Glance(), []
    kept = pruner(glance, {}, True, lines).retire(RETIRED)
    assert glance.deleted == []
    assert [item.name for item in kept] == ["kube-3"]
    assert sum("up deletes it" in line for line in lines) == 2


def test_a_delete_glance_refuses_keeps_that_image_only() -> None:
    glance, lines = Glance(refuse={"id-kube-1"}), []
    kept = pruner(glance, {}, False, lines).retire(RETIRED)
    assert glance.deleted == ["id-kube-2"]
    refused = next(item for item in kept if item.name == "kube-1")
    assert refused.in_use.startswith("unused; Glance refused to delete it")
    assert any(line.startswith("warning: image id-kube-1") for line in lines)
