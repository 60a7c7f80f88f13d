"""The stack's image IDs as azimuth-config variables, so that azimuth-ops deploys Azimuth with
this stack's images and uploads none itself.

With ``community_images: {}`` the role's loop (tasks/main.yml) runs zero times, and its only
write to ``community_images_image_ids`` is a ``combine`` into ``community_images_image_ids |
default({})`` per uploaded image (tasks/upload_image_and_store_id.yml): the inventory value
given here passes through untouched to every consumer of it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.azimuth_config.errors import ToolError

_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackImages:
    image_ids: Mapping[str, str]
    kubernetes_versions: Mapping[str, str]
    """Key → Kubernetes version of the images that have one."""


def read_stack_images(stack: str, project: Path, show_secrets: bool = False) -> StackImages:
    command = [*_pulumi_command(), "stack", "output", "--json", "--stack", stack]
    if show_secrets:
        command.append("--show-secrets")
    try:
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"cannot run {' '.join(command)}: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise ToolError(f"`pulumi stack output --stack {stack}` failed: {detail}")
    try:
        outputs: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ToolError(f"`pulumi stack output` printed no JSON: {done.stdout[:200]!r}") from None
    return stack_images(outputs, stack)


def stack_images(outputs: Mapping[str, Any], stack: str) -> StackImages:
    ids = outputs.get("imageIds")
    if ids == "[secret]":
        raise ToolError(f"stack {stack}: imageIds is secret; run again with --show-secrets")
    if not isinstance(ids, dict):
        raise ToolError(f"stack {stack} has no imageIds output: run `pulumi up` for it first")
    kube = outputs.get("kubernetesImages")
    versions = {
        key: str(item["kubernetesVersion"])
        for key, item in (kube if isinstance(kube, dict) else {}).items()
        if isinstance(item, dict) and item.get("kubernetesVersion") and key in ids
    }
    return StackImages(dict(sorted(ids.items())), dict(sorted(versions.items())))


def _pulumi_command() -> list[str]:
    """The CLI on PATH, else this project's (tools/pulumi.sh builds or finds it)."""
    found = shutil.which("pulumi")
    return [found] if found else ["bash", str(_REPO / "tools" / "pulumi.sh")]


def render_export(images: StackImages, stack: str, kubernetes_templates: bool = True) -> str:
    variables: dict[str, Any] = {
        "community_images": {},
        "community_images_image_ids": dict(images.image_ids),
    }
    if kubernetes_templates:
        variables["azimuth_capi_operator_cluster_templates_default"] = templates(images)
    header = [
        f"# Written by `python -m tools.azimuth_config export --stack {stack}`: the images of",
        "# the community-images stack, which azimuth-ops then uses instead of uploading its own.",
        "# Put this file in the environment's inventory/group_vars/all/; export again after",
        "# each `pulumi up` that changes imageIds.",
    ]
    body = yaml.dump(
        variables, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=1000
    )
    return "\n".join(header) + "\n" + body


def templates(images: StackImages) -> dict[str, Any]:
    """One Kubernetes cluster template per Kubernetes image of the stack.

    azimuth-ops derives its default templates from ``community_images``, which the export
    empties; these take their place, named as azimuth-ops names them (``kube-1-34-2``, the
    ``templateName`` of this stack's ``kubernetesImages``), each the site's template defaults
    (``azimuth_capi_operator_cluster_template_defaults``) with this stack's image and version.
    """
    result: dict[str, Any] = {}
    for key, version in images.kubernetes_versions.items():
        bare = version.removeprefix("v")
        own = {
            "label": version,
            "description": f"Kubernetes {bare} with HA control plane.",
            "values": {"kubernetesVersion": bare, "machineImageId": images.image_ids[key]},
        }
        result[f"kube-{bare.replace('.', '-')}"] = {
            "annotations": "{{ azimuth_capi_operator_cluster_template_annotations }}",
            "spec": (
                "{{ azimuth_capi_operator_cluster_template_defaults | "
                f"combine({json.dumps(own)}, recursive=True) }}}}"
            ),
        }
    return result


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
