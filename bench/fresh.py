"""The fresh ``up`` of the engine floor and of this project, alternated, the median kept.

A single fresh ``up`` moves with the machine more than the gap being measured: the same code on
the same 4 x 256 MiB raw set took 12.2 s and 17.5 s ten minutes apart, and the engine floor's
fresh ``up`` 4.6 s and 7.2 s with it. So, as bench/steady.py does for the no-op ``up``, the two
are taken side by side, ``repeats`` times, each on a new stack (this project's with an empty
cache; its images deleted by a destroy before the next); the last pair's stacks stay for the
steady runs.
"""

from __future__ import annotations

from pathlib import Path

from openstack.connection import Connection

from bench.engine_floor_runs import engine_floor, forget_floor
from bench.flows import digest
from bench.runs import Pulumi, Run, phases, stack_config, this_project
from bench.steady import median_run
from bench.web_download_floor import bytes_by_agent
from demo.imageserver import RunningServer


def fresh_runs(
    conn: Connection, pulumi: Pulumi, server: RunningServer, work: Path, tag: str,
    floor_images: list[tuple[str, str]], target: str, paths: list[Path], method: str,
    repeats: int,
) -> tuple[dict[str, Run], Path, Path]:  # fmt: skip
    """``floor fresh up`` and ``fresh up``, each the median of ``repeats``; and the floor's and
    this project's projects, whose stack ``tag`` stays for the steady runs."""
    events = work / "events"
    runs: dict[str, list[Run]] = {"floor fresh up": [], "fresh up": []}
    for attempt in range(repeats):
        stack = tag if attempt == repeats - 1 else f"{tag}-{attempt}"
        floor_run, floor_project = engine_floor(
            conn, pulumi, work, stack, floor_images, target, events
        )
        runs["floor fresh up"].append(floor_run)
        run, project = _this_project_fresh(pulumi, server, work, stack, target, paths, method)
        runs["fresh up"].append(run)
        if stack != tag:
            pulumi.run(project, "destroy", "--yes", "--stack", stack)
            forget_floor(pulumi, floor_project, stack)
    return {name: median_run(taken) for name, taken in runs.items()}, floor_project, project


def _this_project_fresh(
    pulumi: Pulumi, server: RunningServer, work: Path, tag: str, target: str,
    paths: list[Path], method: str,
) -> tuple[Run, Path]:  # fmt: skip
    """This project's fresh up, and the project."""
    project = this_project(work, f"p-{tag}")
    # web-download needs the sha512 to check what Glance stored; the upload path verifies
    # the cheaper sha256 when that is all the spec gives, as the plain flow does.
    algorithm = "sha256" if method == "upload" else "sha512"
    images = {
        f"img_{n}": {
            "name": p.stem,
            "sourceUrl": f"{server.url}/{p.name}",
            "checksum": f"{algorithm}:{digest(p, algorithm)}",
        }
        for n, p in enumerate(paths)
    }
    stack_config(
        project,
        tag,
        {
            "openstack:cloud": "devcloud",
            "community-images:images": images,
            "community-images:diskFormat": target,
            "community-images:cacheDir": str(work / f"cache-{tag}"),
            "community-images:retainOnDelete": False,
            "community-images:importMethod": method,
        },
    )
    pulumi.run(project, "stack", "init", tag)
    events = work / "events" / f"fresh-{tag}.jsonl"
    before = len(server.entries)
    fresh = pulumi.run(project, "up", "--yes", "--stack", tag, events=events)
    fresh.phases = phases(events)
    fresh.moved = bytes_by_agent(server.entries[before:], paths)
    return fresh, project
