"""Consumers of an image stack, with the real Pulumi CLI, the real openstack provider and the local
Keystone + Glance: the example cluster program resolves the IDs through a StackReference and, with
``verifyImage``, checks them through the provider.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def image_config(server: RunningServer, path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": path.stem,
        "sourceUrl": f"{server.url}/{path.name}",
        "checksumSha512": f"sha512:{sha512_of(path)}",
        **extra,
    }


@pytest.fixture
def image_stack(
    new_stack: Stacks, image_server: RunningServer
) -> tuple[auto.Stack, dict[str, str]]:
    """An image stack that is up, having created a Kubernetes and a workstation image; with
    their Glance IDs by key."""
    root: Path = image_server.root  # type: ignore[attr-defined]
    suffix = uuid.uuid4().hex[:8]
    kube = make_qcow2(root / f"kube-consumer-{suffix}.qcow2", f"kube {suffix}")
    desktop = make_qcow2(root / f"desktop-consumer-{suffix}.qcow2", f"desktop {suffix}")
    stack = new_stack(
        {
            "community-images:images": {
                "kube_1_34": image_config(image_server, kube, kubernetesVersion="v1.34.2"),
                "workstation": image_config(image_server, desktop),
            }
        }
    )
    stack.up(color="never")
    ids = outputs(stack)["imageIds"]
    assert sorted(ids) == ["kube_1_34", "workstation"]
    return stack, ids


ConsumerFactory = Callable[[auto.Stack, dict[str, str]], auto.Stack]


@pytest.fixture
def consumer_stack(new_stack: Stacks, pulumi_cmd: auto.PulumiCommand) -> Iterator[ConsumerFactory]:
    """A stack of examples/cluster (its copy in the test's project folder, so its config file
    stays out of the repository) on the image stack's backend; removed before the image stack,
    whose fixture was set up first."""
    stacks: list[auto.Stack] = []
    example = new_stack.project / "examples" / "cluster"

    def create(image_stack: auto.Stack, config: dict[str, str]) -> auto.Stack:
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(example), pulumi_command=pulumi_cmd, env_vars=new_stack.env
        )
        stack = auto.create_stack(
            stack_name=f"cluster-{uuid.uuid4().hex[:12]}", work_dir=str(example), opts=opts
        )
        stacks.append(stack)
        settings = {
            # On a file backend every stack is in the organization "organization".
            "imageStack": f"organization/community-images/{image_stack.name}",
            **config,
        }
        stack.set_all_config(
            {
                f"community-images-cluster:{key}": auto.ConfigValue(value)
                for key, value in settings.items()
            }
        )
        stack.set_config("openstack:cloud", auto.ConfigValue("devcloud"))
        return stack

    try:
        yield create
    finally:
        for stack in stacks:
            stack.destroy(color="never")
            stack.workspace.remove_stack(stack.name, force=True)


def test_a_cluster_stack_boots_the_image_glance_holds(
    image_stack: tuple[auto.Stack, dict[str, str]],
    consumer_stack: ConsumerFactory,
    admin: Connection,
) -> None:
    images, ids = image_stack
    # Another patch release of the same series: azimuth-ops keeps one image per series.
    cluster = consumer_stack(images, {"kubernetesVersion": "v1.34.7"})
    cluster.up(color="never")
    result = outputs(cluster)
    assert result["machineImageId"] == ids["kube_1_34"]
    assert admin.image.get_image(result["machineImageId"]).status == "active"
    # The version the image was built with, which the cluster must run.
    assert result["kubernetesVersion"] == "v1.34.2"
    assert result["applianceImageIds"] == {"workstation": ids["workstation"]}
    cluster.preview(expect_no_changes=True, color="never")


def test_verify_image_fails_naming_the_key_when_the_image_is_gone(
    image_stack: tuple[auto.Stack, dict[str, str]],
    consumer_stack: ConsumerFactory,
    admin: Connection,
) -> None:
    """The ID in the outputs outlived its image: the provider's lookup says so before a
    cluster tries to boot from it."""
    images, ids = image_stack
    admin.image.delete_image(ids["kube_1_34"])
    cluster = consumer_stack(images, {"kubernetesVersion": "v1.34.2"})
    with pytest.raises(auto.CommandError) as err:
        cluster.preview(color="never")
    message = str(err.value)
    assert f"image kube_1_34 ({ids['kube_1_34']}) is not an active image" in message
    assert "Traceback" not in message


def test_a_series_the_site_lacks_fails_listing_what_it_has(
    image_stack: tuple[auto.Stack, dict[str, str]], consumer_stack: ConsumerFactory
) -> None:
    images, _ = image_stack
    cluster = consumer_stack(images, {"kubernetesVersion": "1.35"})
    with pytest.raises(auto.CommandError) as err:
        cluster.preview(color="never")
    message = str(err.value)
    assert f"stack organization/community-images/{images.name} has no image 'kube_1_35'" in message
    assert "(it has: kube_1_34, workstation)" in message
    assert "Traceback" not in message


def test_preview_script_previews_every_stack_and_fails_if_any_failed(
    project: Path,
    pulumi_env: dict[str, str],
    image_server: RunningServer,
    demo_user: Connection,
    glance_images: GlanceImages,
    tmp_path: Path,
) -> None:
    root: Path = image_server.root  # type: ignore[attr-defined]
    kube = make_qcow2(root / f"kube-preview-{uuid.uuid4().hex[:8]}.qcow2", "preview")
    glance_images.upload(demo_user, kube.stem, kube)
    image = image_config(image_server, kube)
    (project / "stacks" / "Pulumi.good.yaml").write_text(
        "config:\n"
        "  openstack:cloud: devcloud\n"
        f"  community-images:cacheDir: {tmp_path / 'cache'}\n"
        "  community-images:images:\n"
        "    kube_1_34:\n" + "".join(f"      {key}: {value}\n" for key, value in image.items())
    )
    (project / "stacks" / "Pulumi.bad.yaml").write_text(
        "config:\n  openstack:cloud: devcloud\n  community-images:diskFormat: qcow3\n"
    )
    result = subprocess.run(
        ["bash", str(project / "tools" / "preview.sh"), "missing", "bad", "good"],
        env={**os.environ, **pulumi_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout[result.stdout.index("=== summary") :].splitlines()
    assert summary == [
        "=== summary: 1 of 3 previewed",
        "ok      good",
        "FAILED  missing",
        "FAILED  bad",
    ], result.stdout + result.stderr
    assert "no stacks/Pulumi.missing.yaml" in result.stderr
    assert "diskFormat: must be one of" in result.stdout + result.stderr
    # A typo creates nothing: no stack, and no config file with a fresh encryptionsalt.
    assert not (project / "stacks" / "Pulumi.missing.yaml").exists()
    backend = Path(pulumi_env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    assert not list(backend.glob("**/missing.json"))
    assert image_server.entries == []
