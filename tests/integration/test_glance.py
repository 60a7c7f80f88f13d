"""components.glance against the real local Glance."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from openstack.connection import Connection

from components.glance import Glance, GlanceError
from components.marks import SOURCE_SHA512_PROPERTY
from tests.integration.conftest import GlanceImages, make_qcow2

pytestmark = pytest.mark.integration


@pytest.fixture
def glance(admin: Connection) -> Glance:
    return Glance(lambda: admin)


def test_find_sees_other_projects_community_images(
    glance: Glance,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    path = make_qcow2(tmp_path / "x.qcow2", "find me")
    theirs = glance_images.upload(
        demo_user, "glance-find-test", path, **{SOURCE_SHA512_PROPERTY: "ab" * 64}
    )
    other = glance_images.upload(admin, "glance-find-other, with a comma", path)
    result = glance.find(["glance-find-test", "glance-find-other, with a comma", "no-such"])
    assert [i.id for i in result["glance-find-other, with a comma"]] == [other.id]
    assert result["no-such"] == []
    (found,) = result["glance-find-test"]
    assert found.id == theirs.id
    assert found.status == "active"
    assert found.visibility == "community"
    assert found.hash_value == theirs.hash_value
    assert found.source_sha512 == "ab" * 64
    assert glance.get(theirs.id) == found
    assert glance.get("0b5c3c6e-9d0e-4a4e-8d59-3b8f3f0f7a11") is None


def test_properties_are_added_replaced_and_removed_and_glances_own_left_alone(
    glance: Glance, admin: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """os_* keys too, which the provider drops on update (REFERENCE.md §3)."""
    path = make_qcow2(tmp_path / "x.qcow2", "properties")
    image = glance_images.upload(
        admin, "glance-properties-test", path, os_distro="ubuntu", os_version="22.04", site="a"
    )
    old = {"os_distro": "ubuntu", "os_version": "22.04", "site": "a"}
    new = {"os_distro": "debian", "os_admin_user": "debian", "site": "b"}
    applied = glance.patch_properties(image.id, old, new)
    assert applied == [
        {"op": "add", "path": "/os_admin_user", "value": "debian"},
        {"op": "replace", "path": "/os_distro", "value": "debian"},
        {"op": "replace", "path": "/site", "value": "b"},
        {"op": "remove", "path": "/os_version"},
    ]
    raw = admin.image.get(f"/images/{image.id}").json()
    assert {k: raw.get(k) for k in (*old, *new)} == {**new, "os_version": None}
    # Keys outside old and new, Glance's read-only hash among them, are not touched.
    assert raw["os_hash_algo"] == "sha512"
    assert glance.patch_properties(image.id, new, new) == []


def test_owned_lists_the_images_of_a_tag_only(
    glance: Glance, admin: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    path = make_qcow2(tmp_path / "x.qcow2", "owned")
    tag = f"community-images:test/{uuid.uuid4().hex}"
    mine = glance_images.upload(admin, "glance-owned-test", path, tags=[tag])
    glance_images.upload(admin, "glance-owned-test", path)
    assert [i.id for i in glance.owned(tag)] == [mine.id]


def test_lookup_reads_many_names_and_hidden_owned_images_at_once(
    glance: Glance, admin: Connection, glance_images: GlanceImages, tmp_path: Path
) -> None:
    """More than one page of names (50 per ``in:`` query) and both halves of ``owned``."""
    path = make_qcow2(tmp_path / "x.qcow2", "lookup")
    run = uuid.uuid4().hex[:8]
    tag = f"community-images:test/{run}"
    names = [f"glance-lookup-{run}-{n:02d}" for n in range(60)]
    first = glance_images.upload(admin, names[0], path, tags=[tag])
    last = glance_images.upload(admin, names[-1], path)
    hidden = glance_images.upload(admin, f"glance-lookup-{run}-hidden", path, tags=[tag])
    admin.image.update_image(hidden.id, is_hidden=True)
    found, owned = glance.lookup(names, tag)
    assert [i.id for i in found[names[0]]] == [first.id]
    assert [i.id for i in found[names[-1]]] == [last.id]
    assert all(found[name] == [] for name in names[1:-1])
    assert {i.id for i in owned} == {first.id, hidden.id}
    assert (found, owned) == (glance.find(names), glance.owned(tag))


def test_unknown_cloud_is_a_clear_error(clouds_yaml: Path) -> None:
    glance = Glance.for_cloud("no-such-cloud")
    with pytest.raises(GlanceError, match=r"^cannot connect to OpenStack: .*no-such-cloud"):
        glance.find(["x"])
