"""The deploy benchmark's `pulumi` runs: the CLI on a file backend of its own, the projects it
runs (an empty program, this project, the engine floor), and per-phase times from event logs."""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import Cpu, TreeRss, measured_cpu, settled_disk

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    seconds: float
    peak_rss_mib: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    cpu: Cpu = field(default_factory=Cpu)
    moved: dict[str, int] = field(default_factory=dict)
    """Image bytes served during the run, by User-Agent (python-requests: this program)."""


class Pulumi:
    """The toolchain's CLI on a file backend of its own."""

    def __init__(self, work: Path) -> None:
        root = subprocess.run(
            ["bash", str(ROOT / "tools" / "toolchain.sh")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        backend = work / "state"
        backend.mkdir()
        self.env = {
            **os.environ,
            "PATH": f"{root}/bin:{os.environ['PATH']}",
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # Enables --event-log, where the per-phase times come from.
            "PULUMI_DEBUG_COMMANDS": "true",
            "OS_CLIENT_CONFIG_FILE": str(ROOT / ".devcloud" / "clouds.yaml"),
        }

    def run(self, project: Path, *args: str, events: Path | None = None) -> Run:
        extra = ["--event-log", str(events)] if events else []
        settled_disk()
        cpu = Cpu()
        with measured_cpu(cpu):
            start = time.perf_counter()
            process = subprocess.Popen(
                ["pulumi", *args, *extra],
                cwd=project,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            sampler = TreeRss(process.pid)
            output, _ = process.communicate()
            seconds = time.perf_counter() - start
            peak = sampler.stop()
        cpu.here -= sampler.cpu
        if process.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{output}")
        return Run(seconds, peak, cpu=cpu)


def empty_project(work: Path) -> Path:
    project = work / "empty"
    project.mkdir(parents=True)
    (project / "Pulumi.yaml").write_text(
        "name: empty-bench\nruntime:\n  name: python\n"
        f"  options:\n    toolchain: pip\n    virtualenv: {ROOT / 'venv'}\n"
    )
    (project / "__main__.py").write_text("import pulumi  # noqa: F401\n")
    return project


def this_project(work: Path, name: str) -> Path:
    project = work / name
    project.mkdir()
    for item in ("components", "__main__.py", "venv"):
        (project / item).symlink_to(ROOT / item)
    # As `make venv` leaves it: compiled, which PYTHONDONTWRITEBYTECODE would leave to each pass.
    compileall.compile_dir(ROOT / "components", quiet=1)
    shutil.copy(ROOT / "Pulumi.yaml", project)
    (project / "stacks").mkdir()
    return project


def stack_config(project: Path, stack: str, config: dict[str, Any]) -> None:
    # JSON is YAML, and `pulumi stack init` keeps the values as they are.
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": config}))


_PHASE = re.compile(
    r": (fetched|inspected|converted|uploaded) .*in ([0-9.]+) s(?:, hashing ([0-9.]+) s)?"
)


def phases(events: Path) -> dict[str, float]:
    """Seconds per phase, summed over images, from the run's event log: the program's own log
    lines, and each Image's adoption from its start to its outputs."""
    totals: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if "diagnosticEvent" in event:
            match = _PHASE.search(event["diagnosticEvent"]["message"])
            if match:
                phase = {
                    "fetched": "download",
                    "inspected": "inspection",
                    "converted": "conversion (inspection included)",
                    "uploaded": "upload (Glance storing and hashing)",
                }[match.group(1)]
                totals[phase] += float(match.group(2))
                if match.group(3):
                    totals["hashing"] += float(match.group(3))
        meta = (event.get("resourcePreEvent") or event.get("resOutputsEvent") or {}).get(
            "metadata", {}
        )
        if meta.get("type") == "openstack:images/image:Image" and meta.get("op") == "import":
            if "resourcePreEvent" in event:
                started[meta["urn"]] = event["timestamp"]
            else:
                totals["Image import"] += event["timestamp"] - started[meta["urn"]]
    return dict(totals)


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="community-images-deploy-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
