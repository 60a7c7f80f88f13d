"""The program end to end with the real Pulumi CLI and the local Keystone + Glance, for the paths
that create nothing: images that already exist are reused without a download, custom IDs are
checked, an empty ``images`` uploads nothing, and bad config fails before anything is fetched.
(test_images.py covers creating and changing images.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from demo.imageserver import RunningServer
from tests.integration.conftest import (
    GlanceImages,
    Stacks,
    make_qcow2,
    outputs,
    sha512_of,
)

pytestmark = pytest.mark.integration


def served_image(server: RunningServer, name: str, text: str) -> Path:
    return make_qcow2(server.root / f"{name}.qcow2", text)  # type: ignore[attr-defined]


def kube_image(server: RunningServer, path: Path, **extra: str) -> dict[str, object]:
    """Config of a single image ``kube_1_34`` served from ``path``, with its real sha512."""
    spec = {
        "name": path.stem,
        "sourceUrl": f"{server.url}/{path.name}",
        "checksumSha512": f"sha512:{sha512_of(path)}",
        **extra,
    }
    return {"community-images:images": {"kube_1_34": spec}}


def test_existing_trusted_image_is_reused_without_a_download(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
) -> None:
    """Another project's community image of the same name and data: its ID is used, nothing is
    fetched, a second run changes nothing, and destroy leaves the image alone."""
    path = served_image(image_server, "kube-reused", "reused")
    theirs = glance_images.upload(demo_user, path.stem, path)
    stack = new_stack(kube_image(image_server, path, kubernetesVersion="v1.34.2"))
    stack.up(color="never")
    result = outputs(stack)
    assert result["imageIds"] == {"kube_1_34": theirs.id}
    assert result["images"]["kube_1_34"]["source"] == "reused"
    assert result["kubernetesImages"]["kube_1_34"] == {
        "kubernetesVersion": "v1.34.2",
        "imageId": theirs.id,
        "templateName": "kube-1-34-2",
    }
    stack.preview(expect_no_changes=True, color="never")
    stack.destroy(color="never")
    assert admin.image.get_image(theirs.id).status == "active"
    assert image_server.entries == []


def test_same_name_with_other_data_gets_a_copy_of_the_stacks_own(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
) -> None:
    """Another project's image of that name whose bytes are not the source's: the stack uploads
    its own and says why, and turning verification off does not make a stranger's name enough."""
    path = served_image(image_server, "kube-impostor", "expected data")
    impostor = glance_images.upload(
        demo_user, path.stem, make_qcow2(path.parent / "other.qcow2", "other data")
    )
    stack = new_stack(kube_image(image_server, path))
    stack.set_config("community-images:verifyExisting", auto.ConfigValue("false"))
    result = stack.up(color="never")
    assert "image kube_1_34 ('kube-impostor'): uploading this stack's own copy" in result.stdout
    assert impostor.id in result.stdout
    mine = outputs(stack)["imageIds"]["kube_1_34"]
    assert mine != impostor.id
    assert admin.image.get_image(mine).hash_value == sha512_of(path)


def test_empty_images_uploads_nothing(new_stack: Stacks, admin: Connection) -> None:
    before = {image.id for image in admin.image.images(visibility="all")}
    stack = new_stack({"community-images:images": {}})
    stack.up(color="never")
    assert outputs(stack)["imageIds"] == {}
    assert {image.id for image in admin.image.images(visibility="all")} == before
    # Starting providers early (warm_providers.py) adds nothing to the stack.
    types = [r["type"] for r in stack.export_stack().deployment["resources"]]
    assert types == ["pulumi:pulumi:Stack", "community-images:index:CommunityImages"]


def test_a_cloud_missing_from_clouds_yaml_is_one_error_naming_it(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    """The providers start as the program does (warm_providers.py): the openstack provider's
    configure error may end the run before the program's own; either names the cloud, alone."""
    path = served_image(image_server, "no-cloud", "x")
    stack = new_stack(
        {
            "openstack:cloud": "no-such-cloud",
            "community-images:images": {
                "x": {"name": path.stem, "sourceUrl": f"{image_server.url}/{path.name}"}
            },
        }
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert "no-such-cloud" in message
    assert "Traceback" not in message, message
    assert not list(admin.image.images(name=path.stem, visibility="all"))


def test_custom_image_ids_are_checked_against_glance(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    glance_images: GlanceImages,
) -> None:
    packer = glance_images.upload(
        admin, "packer-workstation", served_image(image_server, "packer", "built with packer")
    )
    stack = new_stack(
        {
            "community-images:images": {},
            "community-images:customImageIds": {"workstation": packer.id},
        }
    )
    stack.up(color="never")
    assert outputs(stack)["imageIds"] == {"workstation": packer.id}
    assert outputs(stack)["images"]["workstation"]["name"] == "packer-workstation"

    missing = "0b5c3c6e-9d0e-4a4e-8d59-3b8f3f0f7a11"
    stack.set_config(
        "community-images:customImageIds", auto.ConfigValue(f'{{"rstudio": "{missing}"}}')
    )
    with pytest.raises(auto.CommandError, match=rf"customImageIds\.rstudio: no image {missing}"):
        stack.up(color="never")


def test_bad_config_is_reported_at_once_before_any_download(
    new_stack: Stacks, image_server: RunningServer
) -> None:
    path = served_image(image_server, "never-fetched", "x")
    stack = new_stack(
        {
            "community-images:diskFormat": "qcow3",
            "community-images:extraImages": {
                "debian_11": {"sourceUrl": f"{image_server.url}/{path.name}", "checksum": "md5:1"},
                "twin_a": {"name": "twin", "sourceUrl": f"{image_server.url}/a", "checksum": "x"},
                "twin_b": {"name": "twin"},
            },
            "community-images:azimuthImagesManifestUrl": f"{image_server.url}/manifest.json",
            # A typo: read by nothing, it would leave the site on the default disk format.
            "community-images:diskFromat": "raw",
        }
    )
    with pytest.raises(auto.CommandError) as err:
        stack.preview(color="never")
    message = str(err.value)
    assert "diskFromat: not a setting of this program (known: azimuthImagesVersion" in message
    assert "diskFormat: must be one of" in message
    assert "extraImages.debian_11.name: is required" in message
    assert "extraImages.debian_11.checksum:" in message
    assert "extraImages.twin_a.checksum:" in message
    assert "extraImages.twin_b.sourceUrl: is required" in message
    assert (
        "extraImages.twin_a.name: image name 'twin' is also used by extraImages.twin_b.name"
        in message
    )
    assert "Traceback" not in message
    assert image_server.entries == []
