"""Every path that creates or changes an image: the program run by the real language host, with
the real openstack provider plugin, against the local Keystone + Glance.

Each test has its own temporary file backend, uuid stack names and images of its own (unique
names and contents); whatever a test kept in Glance is deleted afterwards (``Stacks.cleanup``).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from components.ownership import owner_tag
from demo.imageserver import RunningServer
from tests.integration.conftest import Stacks, make_qcow2, outputs, sha512_of

pytestmark = pytest.mark.integration

IMAGE = "openstack:images/image:Image"
PROPERTIES = "pulumi-python:dynamic/community-images:ImageProperties"


def served(server: RunningServer, stem: str, text: str) -> Path:
    """A real qcow2 of unique name and content, served by ``server``."""
    name = f"{stem}-{uuid.uuid4().hex[:8]}"
    return make_qcow2(server.root / f"{name}.qcow2", text + name)  # type: ignore[attr-defined]


def spec(server: RunningServer, path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": path.stem,
        "sourceUrl": f"{server.url}/{path.name}",
        "checksumSha512": f"sha512:{sha512_of(path)}",
        **extra,
    }


def glance_record(admin: Connection, image_id: str) -> dict[str, Any]:
    """The image as Glance shows it, properties at the top level (the SDK moves some of them,
    os_distro among them, to attributes of its own)."""
    response = admin.image.get(f"/images/{image_id}")
    openstack.exceptions.raise_from_response(response)
    return response.json()


def image_gets(server: RunningServer) -> list[str]:
    """Paths of image bytes served so far (manifests are not image bytes)."""
    return [
        e["path"]
        for e in server.entries
        if e["method"] == "GET" and not e["path"].endswith(".json")
    ]


class Steps:
    """The engine's steps of one operation, as (op, type, resource name)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None:
            meta = pre.metadata
            self.seen.append((meta.op.value, meta.type, meta.urn.rsplit("::", 1)[-1]))

    def of(self, typ: str) -> list[tuple[str, str]]:
        return sorted((op, name) for op, t, name in self.seen if t == typ and op != "same")

    def ops(self) -> set[str]:
        return {op for op, _, _ in self.seen}


def up(stack: auto.Stack, **kwargs: Any) -> Steps:
    steps = Steps()
    stack.up(color="never", on_event=steps, **kwargs)
    return steps


def preview(stack: auto.Stack, **kwargs: Any) -> tuple[Steps, str]:
    steps = Steps()
    result = stack.preview(color="never", on_event=steps, **kwargs)
    return steps, result.stdout


def test_smoke_up_preview_destroy(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    """The foundation's smoke test: up creates an image, a preview then shows no change, and
    destroy removes it (retainOnDelete off)."""
    path = served(image_server, "smoke", "smoke")
    stack = new_stack(
        {
            "community-images:images": {"smoke": spec(image_server, path)},
            "community-images:retainOnDelete": False,
        }
    )
    steps, _ = preview(stack)
    assert steps.of(IMAGE) == [("create", path.stem)]
    # The program uploads the image itself, then its Image resource adopts the finished image.
    steps = up(stack)
    assert steps.of(IMAGE) == [("import", path.stem)]
    image_id = outputs(stack)["imageIds"]["smoke"]
    assert admin.image.get_image(image_id).status == "active"
    stack.preview(expect_no_changes=True, color="never")
    stack.destroy(color="never")
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_image(image_id)


def test_first_up_creates_every_image_and_a_second_changes_nothing(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    kube = served(image_server, "kube", "kube")
    desktop = served(image_server, "desktop", "desktop")
    stack = new_stack(
        {
            "community-images:images": {
                "kube_1_34": spec(
                    image_server,
                    kube,
                    kubernetesVersion="v1.34.2",
                    properties=["os_distro=ubuntu", "site=kube-only"],
                ),
                "workstation": spec(image_server, desktop),
            },
            "community-images:customProperties": ["site=test", "hw_rng_model=virtio"],
        }
    )
    steps = up(stack)
    assert steps.of(IMAGE) == sorted([("import", kube.stem), ("import", desktop.stem)])
    ids = outputs(stack)["imageIds"]
    tag = owner_tag("community-images", stack.name)
    for key, path, own in (
        ("kube_1_34", kube, {"os_distro": "ubuntu", "site": "kube-only"}),
        ("workstation", desktop, {"site": "test"}),
    ):
        image = admin.image.get_image(ids[key])
        assert image.name == path.stem
        assert image.status == "active"
        assert image.visibility == "community"
        assert (image.disk_format, image.container_format) == ("qcow2", "bare")
        assert image.hash_value == sha512_of(path)
        assert tag in image.tags
        expected = {
            "hw_rng_model": "virtio",
            "community_images_source_sha512": sha512_of(path),
            **own,
        }
        record = glance_record(admin, ids[key])
        assert {k: record.get(k) for k in expected} == expected
    assert sorted(image_gets(image_server)) == sorted(f"/{p.name}" for p in (kube, desktop))

    stack.preview(expect_no_changes=True, color="never")
    again = up(stack)
    assert again.ops() == {"same"}
    assert outputs(stack)["imageIds"] == ids
    assert len(image_gets(image_server)) == 2
    # The providers started early (warm_providers.py) are the resources' own defaults, once each.
    resources = stack.export_stack().deployment["resources"]
    providers = sorted(r["type"] for r in resources if r["type"].startswith("pulumi:providers:"))
    assert providers == ["pulumi:providers:openstack", "pulumi:providers:pulumi-python"]

    # Retained: destroy leaves them to the clusters that may boot from them.
    stack.destroy(color="never")
    assert {admin.image.get_image(i).status for i in ids.values()} == {"active"}


def test_raw_target_converts_qcow2_and_uploads_raw_as_it_is(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path
) -> None:
    qcow2 = served(image_server, "to-raw", "converted")
    raw = image_server.root / f"plain-{uuid.uuid4().hex[:8]}.raw"  # type: ignore[attr-defined]
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)], check=True
    )
    expected_raw = tmp_path / "expected.raw"
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(expected_raw)],
        check=True,
    )
    stack = new_stack(
        {
            "community-images:diskFormat": "raw",
            "community-images:images": {
                "converted": spec(image_server, qcow2),
                "plain": spec(image_server, raw, sourceDiskFormat="raw"),
            },
        }
    )
    up(stack)
    ids = outputs(stack)["imageIds"]
    converted = admin.image.get_image(ids["converted"])
    assert converted.disk_format == "raw"
    assert converted.hash_value == sha512_of(expected_raw)
    # The trust check of a later run compares the source's sha512, which survives conversion.
    record = glance_record(admin, ids["converted"])
    assert record["community_images_source_sha512"] == sha512_of(qcow2)
    plain = admin.image.get_image(ids["plain"])
    assert plain.disk_format == "raw"
    assert plain.hash_value == sha512_of(raw)
    stack.preview(expect_no_changes=True, color="never")


def test_property_changes_show_in_the_preview_and_apply_in_place(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    path = served(image_server, "props", "props")
    stack = new_stack(
        {
            "community-images:images": {
                "debian": spec(image_server, path, properties=["os_distro=debian", "purpose=ci"])
            },
            "community-images:customProperties": ["site=one"],
        }
    )
    up(stack)
    image_id = outputs(stack)["imageIds"]["debian"]

    stack.set_config(
        "community-images:images",
        auto.ConfigValue(
            json.dumps({"debian": spec(image_server, path, properties=["os_distro=ubuntu"])})
        ),
    )
    stack.set_config("community-images:customProperties", auto.ConfigValue('["site=two"]'))
    steps, shown = preview(stack, diff=True)
    assert steps.of(PROPERTIES) == [("update", path.stem)]
    assert steps.of(IMAGE) == []
    for change in ('"debian" => "ubuntu"', '"one" => "two"', "- purpose"):
        assert change in shown, shown

    steps = up(stack)
    assert steps.of(PROPERTIES) == [("update", path.stem)]
    assert steps.of(IMAGE) == []
    assert outputs(stack)["imageIds"]["debian"] == image_id
    properties = glance_record(admin, image_id)
    assert properties["os_distro"] == "ubuntu"
    assert properties["site"] == "two"
    assert "purpose" not in properties
    # Glance's own read-only keys are left alone.
    assert properties["os_hash_algo"] == "sha512"
    stack.preview(expect_no_changes=True, color="never")
    assert len(image_gets(image_server)) == 1


def test_a_property_update_that_glance_refuses_names_the_image_without_a_traceback(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    """The dynamic provider's own failure (here Glance refuses more properties on one image than
    its image_property_quota, 128 by default; config validation cannot know a cloud's quota)
    reaches the operator as one message naming the image, not as a Python traceback; the image
    keeps its properties."""
    path = served(image_server, "refused", "refused")
    stack = new_stack(
        {"community-images:images": {"img": spec(image_server, path, properties=["a=1"])}}
    )
    up(stack)
    image_id = outputs(stack)["imageIds"]["img"]
    stack.set_config(
        "community-images:images",
        auto.ConfigValue(
            json.dumps(
                {"img": spec(image_server, path, properties=[f"p{n}=2" for n in range(130)])}
            )
        ),
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert f"image {path.stem!r}: cannot update its properties" in message
    assert "Traceback" not in message
    assert glance_record(admin, image_id)["a"] == "1"


def test_lost_state_adopts_every_image_without_update_download_or_duplicate(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    kube = served(image_server, "adopt-kube", "kube")
    desktop = served(image_server, "adopt-desktop", "desktop")
    stack = new_stack(
        {
            "community-images:images": {
                "kube_1_34": spec(image_server, kube, properties=["os_distro=ubuntu"]),
                "workstation": spec(image_server, desktop),
            }
        }
    )
    up(stack)
    ids = outputs(stack)["imageIds"]

    stack = new_stack.lose_state(stack)
    steps = up(stack)
    assert steps.of(IMAGE) == sorted([("import", kube.stem), ("import", desktop.stem)])
    assert not steps.ops() & {"update", "replace", "delete"}
    assert outputs(stack)["imageIds"] == ids
    assert len(image_gets(image_server)) == 2
    for path in (kube, desktop):
        assert len(list(admin.image.images(name=path.stem, visibility="all"))) == 1
    stack.preview(expect_no_changes=True, color="never")


def write_manifest(server: RunningServer, entries: dict[str, Path]) -> str:
    """An azimuth-images release manifest of ``entries`` (build name → file); returns its URL."""
    manifest = {
        build: {
            "name": path.stem,
            "url": f"{server.url}/{path.name}",
            "checksum_sha512": f"sha512:{sha512_of(path)}",
            **({"kubernetes_version": "v1.34.2"} if build.startswith("kubernetes") else {}),
        }
        for build, path in entries.items()
    }
    name = f"manifest-{uuid.uuid4().hex[:8]}.json"
    (server.root / name).write_text(json.dumps(manifest))  # type: ignore[attr-defined]
    return f"{server.url}/{name}"


ReleaseStack = Callable[..., tuple[auto.Stack, Path]]


@pytest.fixture
def release_stack(new_stack: Stacks, image_server: RunningServer) -> ReleaseStack:
    """A stack of a release's manifest (a Kubernetes and a desktop image) that is up; returns it
    and its desktop image file."""

    def make(**config: Any) -> tuple[auto.Stack, Path]:
        kube = served(image_server, "ubuntu-noble-kube-v1.34.2", "release 1")
        desktop = served(image_server, "ubuntu-desktop", "desktop")
        url = write_manifest(
            image_server, {"kubernetes-1-34-noble": kube, "ubuntu-desktop": desktop}
        )
        stack = new_stack(
            {
                "community-images:azimuthImagesManifestUrl": url,
                "community-images:slurmImages": {},
                **config,
            }
        )
        up(stack)
        return stack, desktop

    return make


def next_release(stack: auto.Stack, server: RunningServer, desktop: Path) -> Path:
    """Points the stack at a release whose Kubernetes image is new; returns its file."""
    kube = served(server, "ubuntu-noble-kube-v1.34.3", "release 2")
    url = write_manifest(server, {"kubernetes-1-34-noble": kube, "ubuntu-desktop": desktop})
    stack.set_config("community-images:azimuthImagesManifestUrl", auto.ConfigValue(url))
    return kube


def test_new_release_creates_only_the_changed_image_and_keeps_the_old(
    release_stack: ReleaseStack, image_server: RunningServer, admin: Connection
) -> None:
    stack, desktop = release_stack()
    before = outputs(stack)["imageIds"]
    old = admin.image.get_image(before["kube_1_34"])
    fetched = len(image_gets(image_server))

    kube = next_release(stack, image_server, desktop)
    steps, _ = preview(stack)
    assert steps.of(IMAGE) == [("create", kube.stem)]
    assert "delete" not in steps.ops()
    assert len(image_gets(image_server)) == fetched

    steps = up(stack)
    assert steps.of(IMAGE) == [("import", kube.stem)]
    assert "delete" not in steps.ops()
    after = outputs(stack)
    assert after["imageIds"]["workstation"] == before["workstation"]
    assert after["imageIds"]["kube_1_34"] != old.id
    assert admin.image.get_image(after["imageIds"]["kube_1_34"]).name == kube.stem
    # The old image stays, for the clusters that may still boot from it.
    assert admin.image.get_image(old.id).status == "active"
    assert after["retiredImageIds"] == {old.name: old.id}
    assert image_gets(image_server)[fetched:] == [f"/{kube.name}"]
    stack.preview(expect_no_changes=True, color="never")


def test_without_retain_on_delete_up_deletes_an_image_that_left_the_config(
    release_stack: ReleaseStack, image_server: RunningServer, admin: Connection
) -> None:
    stack, desktop = release_stack(**{"community-images:retainOnDelete": False})
    old = admin.image.get_image(outputs(stack)["imageIds"]["kube_1_34"])
    kube = next_release(stack, image_server, desktop)
    steps = up(stack)
    assert steps.of(IMAGE) == sorted([("import", kube.stem), ("delete", old.name)])
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.image.get_image(old.id)
    assert outputs(stack)["retiredImageIds"] == {}


def test_an_image_the_cloud_refuses_fails_the_run_without_a_traceback(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path
) -> None:
    """Glance refuses one image (only admins may make an image public) while another is still
    being prepared: the error names the image, no Python traceback reaches the operator, and
    nothing of the refused image is left in Glance."""
    public = served(image_server, "public", "public")
    # Large enough to be still downloading or converting when the other one fails.
    big = image_server.root / f"big-{uuid.uuid4().hex[:8]}.raw"  # type: ignore[attr-defined]
    with big.open("wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    stack = new_stack(
        {
            "openstack:cloud": "devcloud-demo",
            "community-images:images": {
                "public": spec(image_server, public, visibility="public"),
                "big": spec(image_server, big, sourceDiskFormat="raw"),
            },
        }
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert (
        f"image {public.stem!r}: the cloud's policy does not let this user make images public"
        in message
    )
    assert "Traceback" not in message
    assert list(admin.image.images(name=public.stem, visibility="all")) == []
