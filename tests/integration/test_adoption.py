"""adoptUntagged: images uploaded the way azimuth-ops' role does (same name, no tag, community,
this project) become this stack's when their bytes are proven to be the source's.

The real CLI, language host and openstack provider against the devcloud, as in test_images.py.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from openstack.connection import Connection

from components.marks import KEY_PROPERTY, SOURCE_SHA512_PROPERTY
from components.ownership import owner_tag
from demo.imageserver import RunningServer
from tests.integration.conftest import GlanceImages, Stacks, make_qcow2, outputs, sha512_of
from tests.integration.test_images import (
    IMAGE,
    PROPERTIES,
    glance_record,
    image_gets,
    preview,
    served,
    spec,
    up,
)

pytestmark = pytest.mark.integration

SITE_PROPERTIES = ["site=adopting"]


def role_upload(
    glance_images: GlanceImages, conn: Connection, name: str, path: Path, disk_format: str
):
    """As the role does: ``openstack image create --disk-format … --file …``, community."""
    return glance_images.upload(conn, name, path, disk_format=disk_format)


def to_raw(qcow2: Path, raw: Path) -> Path:
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)], check=True
    )
    return raw


def settings(image_server: RunningServer, release: Path, **extra: object) -> dict[str, object]:
    return {
        "community-images:images": {"kube": spec(image_server, release)},
        "community-images:adoptUntagged": True,
        "community-images:customProperties": SITE_PROPERTIES,
        **extra,
    }


def test_the_roles_image_with_the_sources_sha512_is_adopted_without_a_download(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, glance_images: GlanceImages
) -> None:
    release = served(image_server, "kube-role", "uploaded by the role")
    role = role_upload(glance_images, admin, release.stem, release, "qcow2")
    stack = new_stack(settings(image_server, release))
    steps, text = preview(stack)
    # The preview shows the adoption first: the import, its tag added, its properties set.
    assert steps.of(IMAGE) == [("import", release.stem), ("update", release.stem)]
    assert steps.of(PROPERTIES) == [("create", release.stem)]
    assert f"up adopts this project's untagged image {role.id}" in text
    assert admin.image.get_image(role.id).tags == []

    up(stack)
    tag = owner_tag("community-images", stack.name)
    assert outputs(stack)["imageIds"] == {"kube": role.id}
    assert outputs(stack)["images"]["kube"]["source"] == "created"
    record = glance_record(admin, role.id)
    assert record["tags"] == [tag]
    assert record["site"] == "adopting"
    assert record[KEY_PROPERTY] == "kube"
    assert record[SOURCE_SHA512_PROPERTY] == sha512_of(release)
    assert image_gets(image_server) == []
    stack.preview(expect_no_changes=True, color="never")


def test_the_roles_image_with_other_bytes_is_left_alone_and_the_stack_uploads_its_own(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    release = served(image_server, "kube-role-other", "the release")
    other = make_qcow2(tmp_path / "other.qcow2", "other bytes under the release's name")
    role = role_upload(glance_images, admin, release.stem, other, "qcow2")
    stack = new_stack(settings(image_server, release))
    up(stack)
    image_id = outputs(stack)["imageIds"]["kube"]
    assert image_id != role.id
    assert admin.image.get_image(image_id).hash_value == sha512_of(release)
    untouched = admin.image.get_image(role.id)
    assert untouched.tags == [] and untouched.updated_at == role.updated_at


def test_the_other_projects_image_of_the_release_is_reused_never_adopted(
    new_stack: Stacks,
    image_server: RunningServer,
    demo_user: Connection,
    glance_images: GlanceImages,
) -> None:
    release = served(image_server, "kube-demo-role", "the demo project's role")
    theirs = role_upload(glance_images, demo_user, release.stem, release, "qcow2")
    stack = new_stack(settings(image_server, release))
    up(stack)
    assert outputs(stack)["imageIds"] == {"kube": theirs.id}
    assert outputs(stack)["images"]["kube"]["source"] == "reused"
    assert demo_user.image.get_image(theirs.id).tags == []


@pytest.mark.parametrize("same_bytes", [True, False], ids=["same-conversion", "other-bytes"])
def test_on_a_raw_cloud_the_roles_converted_image_is_checked_by_converting_the_source(
    same_bytes: bool,
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    """The role converts the qcow2 to raw before uploading it: Glance's hash is the raw file's,
    which no manifest publishes."""
    release = served(image_server, "kube-raw-role", "converted by the role")
    source = release if same_bytes else make_qcow2(tmp_path / "o.qcow2", "other" + uuid.uuid4().hex)
    converted, expected = to_raw(source, tmp_path / "role.raw"), to_raw(release, tmp_path / "e.raw")
    role = role_upload(glance_images, admin, release.stem, converted, "raw")
    stack = new_stack(settings(image_server, release, **{"community-images:diskFormat": "raw"}))
    up(stack)
    image_id = outputs(stack)["imageIds"]["kube"]
    # The source was fetched and converted either way, to compare.
    assert image_gets(image_server) == [f"/{release.name}"]
    if same_bytes:
        assert image_id == role.id
        assert glance_record(admin, role.id)["tags"] == [owner_tag("community-images", stack.name)]
    else:
        assert image_id != role.id
        assert admin.image.get_image(role.id).tags == []
        assert admin.image.get_image(image_id).hash_value == sha512_of(expected)
    stack.preview(expect_no_changes=True, color="never")
