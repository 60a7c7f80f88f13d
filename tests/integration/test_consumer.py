"""Consumers of an image stack, with the real Pulumi CLI and the local Keystone + Glance.

The image stack's images are uploaded beforehand and reused, so no openstack provider plugin is
needed (it cannot be had here, see README). For the same reason the example cluster program
runs with ``verifyImage`` false: its check is a provider function call.
"""

from __future__ import annotations

import os
import runpy
import shutil
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
    StackFactory,
    destroy_all,
    make_qcow2,
    outputs,
    sha512_of,
)
from tools.stack import ROOT

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "cluster"


def run_example() -> None:
    runpy.run_path(str(EXAMPLE / "__main__.py"), run_name="__main__")


def image_config(server: RunningServer, path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": path.stem,
        "sourceUrl": f"{server.url}/{path.name}",
        "checksumSha512": f"sha512:{sha512_of(path)}",
        **extra,
    }


@pytest.fixture
def image_stack(
    new_stack: StackFactory,
    image_server: RunningServer,
    demo_user: Connection,
    glance_images: GlanceImages,
) -> tuple[auto.Stack, dict[str, str]]:
    """An image stack that is up, holding a Kubernetes and a workstation image that another
    project uploaded already; with their Glance IDs by key."""
    root: Path = image_server.root  # type: ignore[attr-defined]
    suffix = uuid.uuid4().hex[:8]
    kube = make_qcow2(root / f"kube-consumer-{suffix}.qcow2", f"kube {suffix}")
    desktop = make_qcow2(root / f"desktop-consumer-{suffix}.qcow2", f"desktop {suffix}")
    ids = {
        "kube_1_34": glance_images.upload(demo_user, kube.stem, kube).id,
        "workstation": glance_images.upload(demo_user, desktop.stem, desktop).id,
    }
    stack = new_stack(
        {
            "community-images:images": {
                "kube_1_34": image_config(image_server, kube, kubernetesVersion="v1.34.2"),
                "workstation": image_config(image_server, desktop),
            }
        }
    )
    stack.up(color="never")
    assert outputs(stack)["imageIds"] == ids
    return stack, ids


ConsumerFactory = Callable[[auto.Stack, dict[str, str]], auto.Stack]


@pytest.fixture
def consumer_stack(tmp_path: Path, pulumi_cmd: auto.PulumiCommand) -> Iterator[ConsumerFactory]:
    """A stack of examples/cluster on the image stack's backend, removed afterwards (before the
    image stack, whose fixture was set up first)."""
    stacks: list[auto.Stack] = []

    def create(image_stack: auto.Stack, config: dict[str, str]) -> auto.Stack:
        work_dir = tmp_path / f"consumer-{len(stacks)}"
        work_dir.mkdir()
        # The example's own project file, so its name and runtime are what is tested; a copy,
        # so the stack's config file is not written into the repository.
        shutil.copy(EXAMPLE / "Pulumi.yaml", work_dir)
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_command=pulumi_cmd,
            env_vars=dict(image_stack.workspace.env_vars),
        )
        stack = auto.create_stack(
            stack_name=f"cluster-{uuid.uuid4().hex[:12]}",
            project_name="community-images-cluster",
            program=run_example,
            opts=opts,
        )
        stacks.append(stack)
        settings = {
            # On a file backend every stack is in the organization "organization".
            "imageStack": f"organization/community-images/{image_stack.name}",
            # The provider check is a provider function call, and the openstack provider
            # plugin cannot be had here (README, "What is blocked").
            "verifyImage": "false",
            **config,
        }
        stack.set_all_config(
            {
                f"community-images-cluster:{key}": auto.ConfigValue(value)
                for key, value in settings.items()
            }
        )
        return stack

    try:
        yield create
    finally:
        destroy_all(stacks)


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


def copy_program(target: Path) -> Path:
    """The program and its runner in a folder of their own, with the project's venv, so that
    tools/preview.sh runs exactly as in the repository while its stacks/ are the test's."""
    for name in ("components", "tools"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, target)
    (target / "venv").symlink_to(ROOT / "venv")
    (target / "stacks").mkdir()
    return target


def test_preview_script_previews_every_stack_and_fails_if_any_failed(
    tmp_path: Path,
    image_server: RunningServer,
    demo_user: Connection,
    glance_images: GlanceImages,
    pulumi_cmd: auto.PulumiCommand,
    clouds_yaml: Path,
) -> None:
    repo = copy_program(tmp_path / "repo")
    root: Path = image_server.root  # type: ignore[attr-defined]
    kube = make_qcow2(root / f"kube-preview-{uuid.uuid4().hex[:8]}.qcow2", "preview")
    glance_images.upload(demo_user, kube.stem, kube)
    image = image_config(image_server, kube)
    (repo / "stacks" / "Pulumi.good.yaml").write_text(
        "config:\n"
        "  openstack:cloud: devcloud\n"
        f"  community-images:cacheDir: {tmp_path / 'cache'}\n"
        "  community-images:images:\n"
        "    kube_1_34:\n" + "".join(f"      {key}: {value}\n" for key, value in image.items())
    )
    (repo / "stacks" / "Pulumi.bad.yaml").write_text(
        "config:\n  openstack:cloud: devcloud\n  community-images:diskFormat: qcow3\n"
    )
    backend = tmp_path / "state"
    backend.mkdir()
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": "test",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_TOOLCHAIN": pulumi_cmd.command.removesuffix("/bin/pulumi"),
        "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
    }
    result = subprocess.run(
        ["bash", str(repo / "tools" / "preview.sh"), "missing", "bad", "good"],
        env=env,
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
    ]
    assert "no stacks/Pulumi.missing.yaml" in result.stderr
    assert "diskFormat: must be one of" in result.stdout + result.stderr
    # A typo creates nothing: no stack, and no config file with a fresh encryptionsalt.
    assert not (repo / "stacks" / "Pulumi.missing.yaml").exists()
    assert not list(backend.glob("**/missing.json"))
    assert image_server.entries == []
