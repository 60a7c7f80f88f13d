"""ImageProperties' diff and Glance patch, without a cloud."""

from __future__ import annotations

import pytest

from components import properties as properties_module
from components.properties import ImagePropertiesProvider
from components.property_patch import property_patch

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
    old = {**state(a="1"), "cloud": "other", "__provider": "old pickle", "setAtUpload": True}
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


def test_the_upload_record_is_neither_a_change_nor_ever_patched() -> None:
    """A stack made before the record was kept apart has the checksum among its properties."""
    recorded = {"community_images_source_sha512": "c" * 128}
    assert PROVIDER.diff("id-1", state(a="1", **recorded), state(a="1")).changes is False
    current = {"a": "1", **recorded, "community_images_upload": "unfinished"}
    new = {"a": "1", "community_images_source_sha512": "d" * 128}
    assert property_patch(current, {"a": "1", **recorded}, new) == []
    assert property_patch(current, {"community_images_upload": "x"}, {}) == []


class RecordingGlance:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def patch_properties(self, image_id: str, old: dict[str, str], new: dict[str, str]) -> None:
        self.patches.append((image_id, old, new))


@pytest.fixture
def glance(monkeypatch: pytest.MonkeyPatch) -> RecordingGlance:
    recording = RecordingGlance()
    monkeypatch.setattr(properties_module, "_glance", lambda _cloud: recording)
    return recording


def test_creating_properties_of_an_adopted_image_applies_them(glance: RecordingGlance) -> None:
    PROVIDER.create(state(os_distro="ubuntu"))
    assert glance.patches == [("id-1", {}, {"os_distro": "ubuntu"})]


def test_properties_set_at_upload_need_no_glance_request(glance: RecordingGlance) -> None:
    result = PROVIDER.create({**state(os_distro="ubuntu"), "setAtUpload": True})
    assert result.id == "id-1"
    assert result.outs["properties"] == {"os_distro": "ubuntu"}
    assert glance.patches == []


def test_an_update_patches_from_the_last_applied_properties(glance: RecordingGlance) -> None:
    PROVIDER.update("id-1", state(os_distro="debian"), state(os_distro="ubuntu", a="1"))
    assert glance.patches == [("id-1", {"os_distro": "debian"}, {"os_distro": "ubuntu", "a": "1"})]


def test_the_provider_process_logs_in_once_per_cloud() -> None:
    # Glance.for_cloud connects on first use only, so this needs no cloud.
    assert properties_module._glance("one") is properties_module._glance("one")
    assert properties_module._glance("one") is not properties_module._glance("two")
