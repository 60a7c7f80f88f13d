"""ImageProperties' diff and Glance patch, without a cloud."""

from __future__ import annotations

from components.glance import property_patch
from components.properties import ImagePropertiesProvider

PROVIDER = ImagePropertiesProvider()


def state(image_id: str = "id-1", retired: bool = False, **properties: str) -> dict[str, object]:
    return {
        "imageId": image_id,
        "imageName": "img",
        "cloud": "c",
        "properties": properties,
        "retired": retired,
    }


def test_a_changed_or_removed_property_is_a_change() -> None:
    assert PROVIDER.diff("id-1", state(os_distro="debian"), state(os_distro="ubuntu")).changes
    assert PROVIDER.diff("id-1", state(a="1", b="2"), state(a="1")).changes


def test_same_properties_are_no_change_whatever_else_differs() -> None:
    old = {**state(a="1"), "cloud": "other", "__provider": "old pickle"}
    diff = PROVIDER.diff("id-1", old, {**state(a="1"), "__provider": "new pickle"})
    assert diff.changes is False


def test_a_new_image_replaces_its_properties() -> None:
    diff = PROVIDER.diff("id-1", state("id-1", a="1"), state("id-2", a="1"))
    assert diff.replaces == ["imageId"]


def test_a_retired_image_keeps_its_properties() -> None:
    assert PROVIDER.diff("id-1", state(a="1"), state(retired=True)).changes is False


def test_patch_touches_only_wanted_and_formerly_wanted_keys() -> None:
    current = {"a": "1", "b": "2", "os_hash_algo": "sha512", "stores": "file"}
    assert property_patch(current, {"a": "1", "b": "2"}, {"a": "9", "c": "3"}) == [
        {"op": "replace", "path": "/a", "value": "9"},
        {"op": "add", "path": "/c", "value": "3"},
        {"op": "remove", "path": "/b"},
    ]
    assert property_patch(current, {"gone": "x"}, {}) == []
