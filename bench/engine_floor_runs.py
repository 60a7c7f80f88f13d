"""The engine floor's project (bench/engine_floor/) and its fresh ``up`` on images the bench put in
Glance beforehand, in the same run as this project's."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from openstack.connection import Connection

from bench.runs import ROOT, Pulumi, Run, stack_config
from components.records import IGNORED_IMAGE_INPUTS

PROGRAM = Path(__file__).resolve().parent / "engine_floor"


def engine_floor_project(work: Path, name: str) -> Path:
    """bench/engine_floor as a project of its own in ``work``, on the repo's venv."""
    project = work / name
    project.mkdir()
    for item in ("__main__.py", "noop_properties.py"):
        (project / item).symlink_to(PROGRAM / item)
    (project / "venv").symlink_to(ROOT / "venv")
    shutil.copy(PROGRAM / "Pulumi.yaml", project)
    (project / "stacks").mkdir()
    return project


def engine_floor(
    conn: Connection,
    pulumi: Pulumi,
    work: Path,
    tag: str,
    images: list[tuple[str, str]],
    target: str,
    events: Path,
) -> tuple[Run, Path]:
    """The fresh up of the engine floor declaring ``images`` (Glance name, ID), which get this
    floor's tag first, with its event log in ``events`` (a directory); and its project, whose
    stack ``tag`` stays for the steady runs (bench/steady.py) until ``forget_floor``."""
    owner = f"engine-floor-{tag}"
    for _, image_id in images:
        conn.image.add_tag(image_id, owner)
    project = engine_floor_project(work, f"f-{tag}")
    stack_config(project, tag, _config(images, target, owner))
    pulumi.run(project, "stack", "init", tag)
    up = ("up", "--yes", "--stack", tag)
    return pulumi.run(project, *up, events=events / f"floor-fresh-{tag}.jsonl"), project


def forget_floor(pulumi: Pulumi, project: Path, tag: str) -> None:
    """The bench deletes the images itself: the floor's stack goes without a destroy."""
    pulumi.run(project, "stack", "rm", "--force", "--yes", "--stack", tag)


def log_path(events: Path, every_log: bool, name: str) -> Path | None:
    return events / f"{name}.jsonl" if every_log else None


def _config(images: list[tuple[str, str]], target: str, owner: str) -> dict[str, Any]:
    """The floor's stack config: what components/records.py gives each Image."""
    return {
        "openstack:cloud": "devcloud",
        "engine-floor:images": [
            {
                "name": name,
                "id": image_id,
                "diskFormat": target,
                "containerFormat": "bare",
                "visibility": "community",
            }
            for name, image_id in images
        ],
        "engine-floor:tag": owner,
        "engine-floor:cloud": "devcloud",
        "engine-floor:retainOnDelete": False,
        "engine-floor:ignoreChanges": IGNORED_IMAGE_INPUTS,
    }
