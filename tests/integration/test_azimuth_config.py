"""From azimuth-ops to this program and back, for real: an azimuth-config environment is
imported into a stack file, the stack goes up on the local cloud, and the export hands every
image ID back as variables that real Ansible templating (ansible-core in the venv) reads the way
azimuth-ops' roles do."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
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

VENV_BIN = Path(sys.executable).parent


def served(server: RunningServer, name: str, text: str) -> Path:
    return make_qcow2(server.root / f"{name}.qcow2", text)  # type: ignore[attr-defined]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def write_manifest(server: RunningServer, uid: str, entries: dict[str, Path]) -> None:
    """An azimuth-images release manifest of ``entries`` (build name → file)."""
    manifest = {
        build: {
            "name": path.stem,
            "url": f"{server.url}/{path.name}",
            "checksum_sha512": f"sha512:{sha512_of(path)}",
            **({"kubernetes_version": "v1.34.2"} if build.startswith("kubernetes") else {}),
        }
        for build, path in entries.items()
    }
    (server.root / f"manifest-{uid}.json").write_text(json.dumps(manifest))  # type: ignore[attr-defined]


def build_environment(
    root: Path, server: RunningServer, uid: str, workstation_id: str
) -> tuple[Path, set[str]]:
    """A base layer and a site layer, as in azimuth-config; the images are served on loopback
    (a release manifest, the Slurm image and an extra image). Returns the site's folder and the
    names of the files the stack must fetch."""
    kube = served(server, f"ubuntu-noble-kube-v1.34.2-{uid}", f"kube {uid}")
    # The site gives the workstation's ID itself, so the release's desktop is never fetched.
    desktop = served(server, f"ubuntu-desktop-{uid}", f"desktop {uid}")
    slurm = served(server, f"openhpc-{uid}", f"slurm {uid}")
    debian = served(server, f"debian-11-{uid}", f"debian {uid}")
    write_manifest(server, uid, {"kubernetes-1-34-noble": kube, "ubuntu-desktop": desktop})
    envs = root / "environments"
    write(
        envs / "base/inventory/group_vars/all/variables.yml",
        f"""
        image_server: {server.url}
        community_images_custom_properties:
          - hw_rng_model=virtio
        community_images_slurm:
          openhpc:
            name: {slurm.stem}
            source_url: "{{{{ image_server }}}}/{slurm.name}"
            source_disk_format: qcow2
            container_format: bare
        """,
    )
    site = envs / "my-site"
    write(site / "ansible.cfg", "[defaults]\ninventory = ../base/inventory,./inventory\n")
    write(
        site / "inventory/group_vars/all/variables.yml",
        f"""
        community_images_disk_format: raw
        community_images_azimuth_images_manifest_url: "{{{{ image_server }}}}/manifest-{uid}.json"
        community_images_custom_properties:
          - hw_scsi_model=virtio-scsi
        azimuth_caas_stackhpc_workstation_image: {workstation_id}
        """,
    )
    write(
        site / "inventory/group_vars/all/images.yml",
        f"""
        community_images_extra:
          debian_11:
            name: {debian.stem}
            source_url: "{{{{ image_server }}}}/{debian.name}"
            checksum_sha512: "sha512:{sha512_of(debian)}"
            properties:
              - os_distro=debian
        """,
    )
    return site, {kube.name, slurm.name, debian.name}


def tool(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tools.azimuth_config`` of the test's copy of the program, as an operator
    runs it from the checkout."""
    return subprocess.run(
        [sys.executable, "-m", "tools.azimuth_config", *args],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def ansible_reads(tmp_path: Path, exported: Path) -> dict[str, Any]:
    """The exported file as group_vars of a localhost inventory; a playbook prints what
    azimuth-ops' consumers would read (after the role's own combine, looped over
    ``community_images``) and writes the same to a JSON file for the test."""
    inventory = tmp_path / "ansible" / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "group_vars" / "all" / "community_images.yml").write_text(exported.read_text())
    (inventory / "hosts").write_text("localhost ansible_connection=local\n")
    playbook = tmp_path / "ansible" / "print.yml"
    result = tmp_path / "ansible" / "seen.json"
    write(
        playbook,
        f"""
        - hosts: localhost
          gather_facts: false
          vars:
            azimuth_capi_operator_cluster_template_annotations: {{}}
            azimuth_capi_operator_cluster_template_defaults: {{"values": {{}}}}
          tasks:
            # azimuth-ops roles/community_images/tasks/upload_image_and_store_id.yml, looped as
            # in tasks/main.yml: with community_images: {{}} it runs zero times.
            - ansible.builtin.set_fact:
                community_images_image_ids: >-
                  {{{{ community_images_image_ids | default({{}}) | combine({{item.key: "x"}}) }}}}
              loop: "{{{{ community_images | dict2items | list }}}}"
              register: combined
            - ansible.builtin.debug:
                var: community_images_image_ids.kube_1_34
            - ansible.builtin.copy:
                dest: {result}
                content: >-
                  {{{{ {{
                    "loop_results": combined.results,
                    "kube_1_34": community_images_image_ids.kube_1_34,
                    "image_ids": community_images_image_ids,
                    "templates": azimuth_capi_operator_cluster_templates_default,
                  }} | to_json }}}}
        """,
    )
    home = tmp_path / "ansible-home"
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory / "hosts"), str(playbook)],
        env={
            **os.environ,
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen: dict[str, Any] = json.loads(result.read_text())
    seen["stdout"] = done.stdout
    return seen


def check_export(
    tmp_path: Path, project: Path, env: dict[str, str], name: str, ids: dict[str, str]
) -> None:
    """``export`` gives every key of the stack's imageIds, and Ansible reads them."""
    exported = tmp_path / "community_images.yml"
    done = tool(project, env, "export", "--stack", name, "--output", str(exported))
    assert done.returncode == 0, done.stderr
    variables = yaml.safe_load(exported.read_text())
    assert variables["community_images"] == {}
    assert variables["community_images_image_ids"] == ids

    seen = ansible_reads(tmp_path, exported)
    assert seen["loop_results"] == []
    assert f'"community_images_image_ids.kube_1_34": "{ids["kube_1_34"]}"' in seen["stdout"]
    assert seen["kube_1_34"] == ids["kube_1_34"]
    assert seen["image_ids"] == ids
    spec = seen["templates"]["kube-1-34-2"]["spec"]
    # ansible-core 2.19 may keep a rendered map as its text; earlier versions gave the map.
    spec = ast.literal_eval(spec) if isinstance(spec, str) else spec
    assert spec["values"] == {"kubernetesVersion": "1.34.2", "machineImageId": ids["kube_1_34"]}
    assert spec["label"] == "v1.34.2"


def test_import_up_export_gives_every_key_and_ansible_reads_them(
    tmp_path: Path,
    project: Path,
    pulumi_env: dict[str, str],
    pulumi_cmd: auto.PulumiCommand,
    admin: Connection,
    image_server: RunningServer,
    glance_images: GlanceImages,
) -> None:
    uid = uuid.uuid4().hex[:8]
    packer = glance_images.upload(
        admin, f"packer-workstation-{uid}", served(image_server, f"packer-{uid}", "packer")
    )
    site, fetched = build_environment(tmp_path, image_server, uid, packer.id)
    name = f"test-{uuid.uuid4().hex[:12]}"
    env = {**pulumi_env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    stacks = Stacks(project, env, pulumi_cmd, admin)
    try:
        done = tool(project, env, "import", str(site), "--stack", name, "--cloud", "devcloud")
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"wrote {project / 'stacks' / f'Pulumi.{name}.yaml'}\n"

        # A stack created over the written file takes its config from it, as `pulumi stack
        # init` does for an operator.
        stack = stacks._select(name)
        stack.up(color="never")
        stack.preview(expect_no_changes=True, color="never")
        ids = outputs(stack)["imageIds"]
        assert set(ids) == {"kube_1_34", "workstation", "openhpc", "debian_11"}
        assert ids["workstation"] == packer.id
        served_paths = {
            Path(e["path"]).name for e in image_server.entries if e["path"].endswith(".qcow2")
        }
        assert served_paths == fetched
        kube = admin.image.get_image(ids["kube_1_34"])
        assert kube.disk_format == "raw"
        # openstacksdk gives Glance's well-known properties as attributes.
        assert kube.hw_scsi_model == "virtio-scsi"
        assert admin.image.get_image(ids["debian_11"]).os_distro == "debian"

        check_export(tmp_path, project, env, name, ids)
    finally:
        stacks.cleanup()
