"""A shared cloud: the demo project plays another tenant, whose community images and tags must
never make their way into this stack's outputs or decisions; and inputs that change under an
old name (a checksum, a format, retainOnDelete) end as an operator would expect.

The real CLI, language host and openstack provider against the devcloud, as in test_images.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import openstack
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from components.marks import PENDING_PROPERTY, SOURCE_SHA512_PROPERTY
from components.ownership import owner_tag
from demo.imageserver import RunningServer
from tests.integration.conftest import GlanceImages, Stacks, make_qcow2, outputs, sha512_of
from tests.integration.test_images import (
    IMAGE,
    PROPERTIES,
    Steps,
    glance_record,
    image_gets,
    preview,
    served,
    spec,
    up,
)

pytestmark = pytest.mark.integration


def updated_at(conn: Connection, image_id: str) -> str:
    return conn.image.get_image(image_id).updated_at


def test_a_forged_source_property_on_another_projects_image_is_not_trusted(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    """Reproduction 1 of the issue: the demo project's image of the release's name, other bytes,
    and the release's sha512 in this program's own property."""
    release = served(image_server, "kube-next", "the release")
    other = make_qcow2(tmp_path / "other.qcow2", "someone else's bytes")
    theirs = glance_images.upload(
        demo_user, release.stem, other, **{SOURCE_SHA512_PROPERTY: sha512_of(release)}
    )
    stack = new_stack({"community-images:images": {"kube": spec(image_server, release)}})
    result = stack.up(color="never")
    image_id = outputs(stack)["imageIds"]["kube"]
    assert image_id != theirs.id
    mine = admin.image.get_image(image_id)
    assert mine.owner_id == admin.current_project_id
    assert mine.hash_value == sha512_of(release)
    assert "uploading this stack's own copy" in result.stdout
    assert theirs.id in result.stdout
    assert updated_at(demo_user, theirs.id) == theirs.updated_at
    # Its own image from now on: managed, no second copy.
    stack.preview(expect_no_changes=True, color="never")


def test_a_forged_tag_on_another_projects_images_makes_them_no_images_of_this_stack(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    """Reproduction 2: the demo project's active and queued images of that name carrying this
    stack's tag are neither imported, nor deleted as leftovers, nor deleted by a destroy."""
    release = served(image_server, "kube-tagged", "the release")
    stack = new_stack(
        {
            "community-images:images": {"kube": spec(image_server, release)},
            "community-images:retainOnDelete": False,
        }
    )
    tag = owner_tag("community-images", stack.name)
    other = make_qcow2(tmp_path / "other.qcow2", "someone else's bytes")
    active = glance_images.upload(demo_user, release.stem, other, tags=[tag])
    queued = [
        demo_user.image.create_image(
            name=release.stem,
            disk_format="qcow2",
            container_format="bare",
            visibility="community",
            allow_duplicates=True,
            tags=[tag],
        )
        for _ in range(2)
    ]
    for image in queued:
        glance_images.remember(demo_user, image.id)
    result = stack.up(color="never")
    image_id = outputs(stack)["imageIds"]["kube"]
    assert image_id != active.id
    assert admin.image.get_image(image_id).owner_id == admin.current_project_id
    assert result.summary.resource_changes.get("import") == 1
    for image in (active, *queued):
        assert f"image {image.id} ({release.stem!r}) of project {image.owner_id}" in result.stdout
        assert demo_user.image.get_image(image.id).status == image.status
    stack.destroy(color="never")
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_image(image_id)
    assert demo_user.image.get_image(active.id).status == "active"


def test_an_unfinished_upload_of_this_stack_is_deleted_by_the_next_run(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, glance_images: GlanceImages
) -> None:
    """What a run leaves whose upload check and clean-up both failed: private, complete, marked."""
    release = served(image_server, "kube-unfinished", "the release")
    stack = new_stack({"community-images:images": {"kube": spec(image_server, release)}})
    tag = owner_tag("community-images", stack.name)
    left = glance_images.upload(
        admin, release.stem, release, visibility="private", tags=[tag],
        **{PENDING_PROPERTY: "unfinished"},
    )  # fmt: skip
    result = stack.up(color="never")
    assert f"deleting {left.id}" in result.stdout
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_image(left.id)
    image = admin.image.get_image(outputs(stack)["imageIds"]["kube"])
    assert (image.visibility, image.status) == ("community", "active")
    assert PENDING_PROPERTY not in glance_record(admin, image.id)


def test_a_changed_checksum_under_the_same_name_stops_the_run_naming_both(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    release = served(image_server, "kube-rebuilt", "first build")
    stack = new_stack({"community-images:images": {"kube": spec(image_server, release)}})
    stack.up(color="never")
    first = sha512_of(release)
    make_qcow2(release, "second build under the same name")
    stack.set_config(
        "community-images:images",
        auto.ConfigValue(json.dumps({"kube": spec(image_server, release)})),
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert "Traceback" not in message
    assert f"image kube ({release.stem!r})" in message
    assert first in message and sha512_of(release) in message
    record = glance_record(admin, outputs(stack)["imageIds"]["kube"])
    assert record[SOURCE_SHA512_PROPERTY] == first


def test_a_format_change_previews_a_replacement_and_keeps_the_old_image(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    release = served(image_server, "kube-format", "the release")
    stack = new_stack({"community-images:images": {"kube": spec(image_server, release)}})
    stack.up(color="never")
    old_id = outputs(stack)["imageIds"]["kube"]
    stack.set_config("community-images:diskFormat", auto.ConfigValue("raw"))
    steps, _ = preview(stack)
    assert ("replace", release.stem) in steps.of(IMAGE)
    steps = up(stack)
    assert ("import-replacement", release.stem) in steps.of(IMAGE)
    new_id = outputs(stack)["imageIds"]["kube"]
    assert new_id != old_id
    assert admin.image.get_image(new_id).disk_format == "raw"
    assert outputs(stack)["retiredImageIds"] == {f"{release.stem}@qcow2/bare": old_id}
    assert admin.image.get_image(old_id).status == "active"
    stack.preview(expect_no_changes=True, color="never")


def test_retain_on_delete_turned_off_deletes_the_retired_images(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    old, new = served(image_server, "kube-old", "old"), served(image_server, "kube-new", "new")
    stack = new_stack({"community-images:images": {"kube": spec(image_server, old)}})
    stack.up(color="never")
    old_id = outputs(stack)["imageIds"]["kube"]
    stack.set_config(
        "community-images:images", auto.ConfigValue(json.dumps({"kube": spec(image_server, new)}))
    )
    stack.up(color="never")
    assert outputs(stack)["retiredImageIds"] == {old.stem: old_id}
    stack.set_config("community-images:retainOnDelete", auto.ConfigValue("false"))
    stack.up(color="never")
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_image(old_id)
    assert outputs(stack)["retiredImageIds"] == {}
    stack.preview(expect_no_changes=True, color="never")


def test_secret_source_urls_and_properties_stay_secret(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    pulumi_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Neither in the state as it is stored (the backend's files: state, history, backups), nor
    in the run's output, nor in the cache's records."""
    release = served(image_server, "kube-secret", "the release")
    url = image_server.url.replace("http://", "http://reader:pa55word@")
    source = f"{url}/{release.name}?temp_url_sig=s1gnature"
    cache = tmp_path / "secret-cache"
    stack = new_stack(
        {"community-images:images": {"kube": {**spec(image_server, release), "sourceUrl": ""}}},
        cache=cache,
    )
    stack.set_config(
        "community-images:images",
        auto.ConfigValue(
            json.dumps({"kube": {**spec(image_server, release), "sourceUrl": source}}), secret=True
        ),
    )
    stack.set_config(
        "community-images:customProperties",
        auto.ConfigValue(json.dumps(["licence_key=k3y-v4lue"]), secret=True),
    )
    result = stack.up(color="never")
    assert glance_record(admin, outputs(stack)["imageIds"]["kube"])["licence_key"] == "k3y-v4lue"
    backend = Path(pulumi_env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    stored = "".join(p.read_text() for p in backend.rglob("*") if p.is_file())
    assert stack.name in stored
    said = result.stdout + result.stderr + "".join(p.read_text() for p in cache.rglob("*.json"))
    for secret in ("pa55word", "s1gnature", "k3y-v4lue"):
        assert secret not in stored
        assert secret not in said
    assert f"{image_server.url}/{release.name}" in result.stdout


def test_an_up_limited_by_target_still_records_each_image_it_uploads(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    """The program runs whole under --target, so a new image is uploaded; the engine imports an
    Image whatever the targets (only its ImageProperties waits for the next up), so no image is
    left in Glance that the state does not know."""
    first, second = served(image_server, "kube-first", "1"), served(image_server, "kube-2nd", "2")
    stack = new_stack({"community-images:images": {"a": spec(image_server, first)}})
    stack.up(color="never")
    urn = next(r["urn"] for r in stack.export_stack().deployment["resources"] if r["type"] == IMAGE)
    both = {"a": spec(image_server, first), "b": spec(image_server, second)}
    stack.set_config("community-images:images", auto.ConfigValue(json.dumps(both)))
    steps = Steps()
    stack.up(color="never", target=[urn], on_event=steps)
    assert steps.of(IMAGE) == [("import", second.stem)]
    assert steps.of(PROPERTIES) == []
    recorded = {r["urn"] for r in stack.export_stack().deployment["resources"]}
    assert any(u.endswith(f"{IMAGE}::{second.stem}") for u in recorded)
    image_id = outputs(stack)["imageIds"]["b"]
    assert admin.image.get_image(image_id).status == "active"
    steps = up(stack)
    assert steps.of(IMAGE) == []
    assert steps.of(PROPERTIES) == [("create", second.stem)]
    assert outputs(stack)["imageIds"]["b"] == image_id
    assert len(image_gets(image_server)) == 2


def test_a_remote_manifest_cannot_publish_a_file_of_the_deploying_host(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path
) -> None:
    host_file = make_qcow2(tmp_path / "host-secret.qcow2", "a file of the deploying host")
    manifest = {"ubuntu-desktop": {"name": "host-file", "url": f"file://{host_file}"}}
    root: Path = image_server.root  # type: ignore[attr-defined]
    (root / "manifest.json").write_text(json.dumps(manifest))
    stack = new_stack(
        {
            "community-images:azimuthImagesManifestUrl": f"{image_server.url}/manifest.json",
            "community-images:slurmImages": {},
        }
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    assert "may only name http(s) sources" in str(err.value)
    assert not list(admin.image.images(name="host-file", visibility="all"))


def test_an_image_declaring_more_than_max_image_size_is_refused_before_conversion(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    root: Path = image_server.root  # type: ignore[attr-defined]
    bomb = root / "eight-tib.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(bomb), "8T"], check=True)
    stack = new_stack(
        {
            "community-images:images": {"bomb": spec(image_server, bomb)},
            "community-images:diskFormat": "raw",
        }
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert "Traceback" not in message
    assert "maxImageSize" in message and "eight-tib" in message
    assert not list(admin.image.images(name="eight-tib", visibility="all"))
