"""keepReleases against a real Nova (the devcloud's, started on demand): old releases go only
when no server, consumer stack or failed check says they may still be booted.

The real CLI, language host and openstack provider against the devcloud, as in test_images.py;
servers are booted in the demo project, as a cluster of another tenant would be.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from demo.imageserver import RunningServer
from tests.integration.conftest import ROOT, GlanceImages, Stacks, outputs
from tests.integration.test_images import IMAGE, preview, served, spec, up
from tests.integration.volumes import delete_and_wait, wait_available

pytestmark = pytest.mark.integration

FLAVOR = "devcloud.tiny"
IMAGES = "community-images:images"


class Releases:
    """One key's releases, each a distinct served image, brought up one after the other."""

    def __init__(self, stack: auto.Stack, server: RunningServer, paths: list[Path]) -> None:
        self.stack, self.server, self.paths = stack, server, paths
        self.ids: list[str] = []
        self.names = [path.stem for path in paths]

    def configure(self, index: int, **extra: Any) -> None:
        images = {"kube": spec(self.server, self.paths[index]), **extra}
        self.stack.set_config(IMAGES, auto.ConfigValue(json.dumps(images)))

    def up_to(self, index: int) -> None:
        """Up with each release in turn until ``index`` is the config's (not brought up)."""
        for current in range(len(self.ids), index):
            self.configure(current)
            up(self.stack)
            self.ids.append(outputs(self.stack)["imageIds"]["kube"])
        self.configure(index)


@pytest.fixture
def releases(
    nova: Connection, cinder: Connection, new_stack: Stacks, image_server: RunningServer
) -> Iterator[Any]:
    """Nova and Cinder run: once Cinder is in the catalog, a run without it fails closed."""

    def make(count: int = 3, **config: Any) -> Releases:
        paths = [served(image_server, f"kube-r{n}", f"release {n}") for n in range(count)]
        stack = new_stack({"community-images:keepReleases": 2, **config})
        return Releases(stack, image_server, paths)

    yield make


def exists(conn: Connection, image_id: str) -> bool:
    try:
        return conn.image.get_image(image_id).status == "active"
    except openstack.exceptions.NotFoundException:
        return False


def boot(demo_user: Connection, image_id: str) -> Any:
    """A server of the demo project booted from ``image_id``, ACTIVE."""
    flavor = demo_user.compute.find_flavor(FLAVOR, ignore_missing=False)
    server = demo_user.compute.create_server(
        name=f"retention-{uuid.uuid4().hex[:8]}",
        image_id=image_id,
        flavor_id=flavor.id,
        networks="none",
    )
    return demo_user.compute.wait_for_server(server, status="ACTIVE", wait=120)


def delete_server(conn: Connection, server: Any) -> None:
    conn.compute.delete_server(server, ignore_missing=True)
    conn.compute.wait_for_delete(server, wait=120)


def test_three_releases_keep_two_and_the_oldest_goes_shown_in_the_preview_first(
    nova: Connection, releases: Any, admin: Connection
) -> None:
    kube = releases()
    kube.up_to(2)
    steps, text = preview(kube.stack)
    assert ("delete", kube.names[0]) in steps.of(IMAGE)
    assert ("delete", kube.names[1]) not in steps.of(IMAGE)
    assert f"image {kube.ids[0]} ({kube.names[0]!r}): older than the 2 releases" in text
    assert "up deletes it" in text
    assert exists(admin, kube.ids[0])

    up(kube.stack)
    assert not exists(admin, kube.ids[0])
    result = outputs(kube.stack)
    assert result["retiredImageIds"] == {kube.names[1]: kube.ids[1]}
    retired = result["retiredImages"][kube.names[1]]
    assert retired["key"] == "kube" and retired["id"] == kube.ids[1]
    assert retired["inUse"] == "not checked: one of the 2 newest releases of kube"
    kube.stack.preview(expect_no_changes=True, color="never")


def test_a_server_booted_from_the_oldest_keeps_it_until_the_server_is_deleted(
    nova: Connection, releases: Any, admin: Connection, demo_user: Connection
) -> None:
    kube = releases()
    kube.up_to(2)
    server = boot(demo_user, kube.ids[0])
    try:
        steps, text = preview(kube.stack)
        assert ("delete", kube.names[0]) not in steps.of(IMAGE)
        assert f"in use: 1 server ({server.id})" in text
        up(kube.stack)
        assert exists(admin, kube.ids[0])
        in_use = outputs(kube.stack)["retiredImages"][kube.names[0]]["inUse"]
        assert in_use == f"1 server ({server.id})"
    finally:
        delete_server(demo_user, server)
    up(kube.stack)
    assert not exists(admin, kube.ids[0])
    assert kube.names[0] not in outputs(kube.stack)["retiredImages"]


CONSUMER_PROGRAM = """\
import pulumi
import pulumi_openstack as openstack

config = pulumi.Config()
server = openstack.compute.Instance(
    "node",
    image_id=config.require("imageId"),
    flavor_name=config.require("flavor"),
    network_mode="none",
)
pulumi.export("serverId", server.id)
"""


@pytest.fixture
def consumer(
    tmp_path: Path, pulumi_env: dict[str, str], pulumi_cmd: auto.PulumiCommand
) -> Iterator[Any]:
    """A cluster-like stack on the image stack's backend whose Instance boots the image."""
    work = tmp_path / "consumer"
    work.mkdir()
    (work / "Pulumi.yaml").write_text(
        "name: retention-consumer\nruntime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {ROOT / 'venv'}\n"
    )
    (work / "__main__.py").write_text(CONSUMER_PROGRAM)
    made: list[auto.Stack] = []

    def make(image_id: str) -> auto.Stack:
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work), pulumi_command=pulumi_cmd, env_vars=pulumi_env
        )
        stack = auto.create_stack(f"c-{uuid.uuid4().hex[:12]}", work_dir=str(work), opts=opts)
        made.append(stack)
        stack.set_all_config(
            {
                "openstack:cloud": auto.ConfigValue("devcloud"),
                "retention-consumer:imageId": auto.ConfigValue(image_id),
                "retention-consumer:flavor": auto.ConfigValue(FLAVOR),
            }
        )
        stack.up(color="never")
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.destroy(color="never")
            stack.workspace.remove_stack(stack.name, force=True)


def test_a_volume_made_from_the_oldest_keeps_it_until_the_volume_is_deleted(
    releases: Any, admin: Connection, demo_user: Connection
) -> None:
    """A server booted from a volume has no image in Nova: only the volume knows it."""
    kube = releases(count=2, **{"community-images:keepReleases": 1})
    kube.up_to(1)
    volume = demo_user.block_storage.create_volume(size=1, image_id=kube.ids[0])
    try:
        wait_available(demo_user, volume)
        steps, text = preview(kube.stack)
        assert ("delete", kube.names[0]) not in steps.of(IMAGE)
        assert f"in use: 1 volume ({volume.id})" in text
        up(kube.stack)
        assert exists(admin, kube.ids[0])
    finally:
        delete_and_wait(demo_user, volume.id)
    up(kube.stack)
    assert not exists(admin, kube.ids[0])


def test_a_consumer_stack_whose_instance_uses_the_old_id_keeps_it(
    nova: Connection, releases: Any, admin: Connection, consumer: Any
) -> None:
    kube = releases(count=2, **{"community-images:keepReleases": 1})
    kube.up_to(1)
    cluster = consumer(kube.ids[0])
    name = f"organization/retention-consumer/{cluster.name}"
    # Only the stack's state holds the ID now: the server itself is gone.
    delete_server(admin, admin.compute.get_server(outputs(cluster)["serverId"]))
    kube.stack.set_config(
        "community-images:pruneConsumerStacks", auto.ConfigValue(json.dumps([name]))
    )
    steps, text = preview(kube.stack)
    assert ("delete", kube.names[0]) not in steps.of(IMAGE)
    assert f"in use: 1 consumer stack ({name})" in text
    up(kube.stack)
    assert exists(admin, kube.ids[0])
    in_use = outputs(kube.stack)["retiredImages"][kube.names[0]]["inUse"]
    assert in_use == f"1 consumer stack ({name})"


def test_a_prune_cloud_without_the_right_to_list_all_projects_keeps_every_candidate(
    nova: Connection, releases: Any, admin: Connection
) -> None:
    kube = releases(
        count=2,
        **{"community-images:pruneCloud": "devcloud-demo", "community-images:keepReleases": 1},
    )
    kube.up_to(1)
    steps, text = preview(kube.stack)
    assert ("delete", kube.names[0]) not in steps.of(IMAGE)
    assert "may not list the servers of all projects" in text
    assert "set community-images:pruneCloud to a clouds.yaml entry with an admin-like role" in text
    up(kube.stack)
    assert exists(admin, kube.ids[0])
    in_use = outputs(kube.stack)["retiredImages"][kube.names[0]]["inUse"]
    assert in_use.startswith("unknown: the servers check cannot be made")


def test_a_reused_or_custom_image_is_never_touched(
    nova: Connection,
    releases: Any,
    admin: Connection,
    demo_user: Connection,
    glance_images: GlanceImages,
    image_server: RunningServer,
) -> None:
    """keepReleases 1 makes every retired image of this stack a candidate, and still leaves
    another project's reused image and a custom image alone."""
    kube = releases(count=2, **{"community-images:keepReleases": 1})
    theirs_path = served(image_server, "reused", "the demo project's")
    theirs = glance_images.upload(demo_user, theirs_path.stem, theirs_path)
    custom_path = served(image_server, "custom", "a custom image")
    custom = glance_images.upload(demo_user, custom_path.stem, custom_path)
    kube.stack.set_config(
        "community-images:customImageIds", auto.ConfigValue(json.dumps({"custom": custom.id}))
    )
    kube.configure(0, reused=spec(image_server, theirs_path))
    up(kube.stack)
    kube.ids.append(outputs(kube.stack)["imageIds"]["kube"])
    assert outputs(kube.stack)["imageIds"]["reused"] == theirs.id
    kube.stack.set_config("community-images:customImageIds", auto.ConfigValue("{}"))
    kube.configure(1)
    up(kube.stack)
    assert not exists(admin, kube.ids[0])
    for image in (theirs, custom):
        assert demo_user.image.get_image(image.id).updated_at == image.updated_at
    assert outputs(kube.stack)["retiredImages"] == {}


def test_an_image_glance_refuses_to_delete_is_reported_and_the_run_succeeds(
    nova: Connection, releases: Any, admin: Connection
) -> None:
    """The devcloud's file store cannot unlink an immutable file: Glance answers 403, as an RBD
    store with clones answers 409, and keeps the image."""
    kube = releases(count=2, **{"community-images:keepReleases": 1})
    kube.up_to(1)
    stuck = ROOT / ".devcloud" / "images" / kube.ids[0]
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    try:
        result = kube.stack.up(color="never")
        assert f"image {kube.ids[0]} ({kube.names[0]!r})" in result.stdout
        assert "Glance refuses to delete it" in result.stdout
        assert exists(admin, kube.ids[0])
        # The run did the rest: the new release is up.
        assert exists(admin, outputs(kube.stack)["imageIds"]["kube"])
        in_use = outputs(kube.stack)["retiredImages"][kube.names[0]]["inUse"]
        assert in_use.startswith("unused; Glance refused to delete it")
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    up(kube.stack)
    assert not exists(admin, kube.ids[0])
