"""A fresh deploy against the local cloud, next to the plain flow and Glance's floor, in one run.

    venv/bin/python -m bench.deploy_bench [--sets 4x256,16x64] [--targets raw,qcow2]
                                          [--small-mib 16] [--method upload|auto]

Needs the local cloud (make devcloud) and the toolchain (make tools). For each set of N images
of M MiB (random content, qcow2 sources served on 127.0.0.1) and each target format:

- plain: one image after another, download + sha256, ``qemu-img convert`` when the target
  differs, openstacksdk upload: what a script would do;
- floor: the same final files uploaded to Glance all at once: Glance's own ingest time;
- web-download floor (``--method auto``, qcow2 target): the same sources imported by Glance with
  web-download, all at once;
- empty: ``pulumi up`` and ``pulumi preview`` of a Python program that declares nothing;
- fresh / no-op / preview: this project's ``pulumi up`` from an empty cache, then again, then
  ``pulumi preview``; peak RSS of the whole ``pulumi up`` process tree; and per-phase times
  from the run's own event log (download, hashing, inspection, conversion, each Image's upload).

Then the peak RSS of a fresh ``up`` of one small image, for the memory target. Prints markdown
tables with the ratios the targets are stated in; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
import requests
from openstack.connection import Connection

from bench.images import MiB, make_qcow2
from bench.measure import Cpu, TreeRss, measured_cpu
from bench.web_download_floor import bytes_by_agent
from bench.web_download_floor import floor as web_download_floor
from demo.imageserver import start_server

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


def plain_flow(
    conn: Connection, urls: list[str], target: str, out: Path
) -> tuple[float, list[Path], list[str]]:
    """One image after another: download + sha256, convert when needed, upload, wait active."""
    files, ids = [], []
    start = time.perf_counter()
    for url in urls:
        source = out / url.rsplit("/", 1)[1]
        digest = hashlib.sha256()
        with requests.get(url, stream=True, timeout=60) as resp, source.open("wb") as f:
            resp.raise_for_status()
            for chunk in resp.iter_content(MiB):
                f.write(chunk)
                digest.update(chunk)
        final = source
        if target != "qcow2":
            final = source.with_suffix(f".{target}")
            subprocess.run(
                ["qemu-img", "convert", "-f", "qcow2", "-O", target, str(source), str(final)],
                check=True,
            )
        ids.append(upload(conn, f"plain-{final.stem}", final, target))
        files.append(final)
    return time.perf_counter() - start, files, ids


def upload(conn: Connection, name: str, path: Path, disk_format: str) -> str:
    image = conn.image.create_image(
        name=name,
        disk_format=disk_format,
        container_format="bare",
        visibility="community",
        allow_duplicates=True,
    )
    with path.open("rb") as data:
        openstack.exceptions.raise_from_response(image.upload(conn.image, data=data))
    status = conn.image.get_image(image.id).status
    if status != "active":
        raise RuntimeError(f"{name} is {status} after its upload")
    return image.id


def floor(conn: Connection, files: list[Path], target: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        ids = list(pool.map(lambda f: upload(conn, f"floor-{f.stem}", f, target), files))
    return time.perf_counter() - start, ids


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="community-images-deploy-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def measure(
    conn: Connection,
    pulumi: Pulumi,
    work: Path,
    count: int,
    mib: int,
    target: str,
    method: str = "upload",
) -> dict[str, Run]:
    tag = uuid.uuid4().hex[:6]
    served = work / f"served-{tag}"
    served.mkdir()
    paths = [make_qcow2(served, f"bench-{tag}-{n}", mib * MiB, mib * MiB) for n in range(count)]
    results: dict[str, Run] = {}
    created: list[str] = []
    with start_server(served) as server:
        try:
            urls = [f"{server.url}/{p.name}" for p in paths]
            scratch = work / f"plain-{tag}"
            scratch.mkdir()
            results["plain"] = Run(0.0)
            with measured_cpu(results["plain"].cpu):
                seconds, files, ids = plain_flow(conn, urls, target, scratch)
            created += ids
            results["plain"].seconds = seconds
            results["floor"] = Run(0.0)
            with measured_cpu(results["floor"].cpu):
                seconds, ids = floor(conn, files, target)
            created += ids
            results["floor"].seconds = seconds
            shutil.rmtree(scratch)
            if method != "upload" and target == "qcow2":
                results["web-download floor"] = Run(0.0)
                with measured_cpu(results["web-download floor"].cpu):
                    seconds, ids = web_download_floor(conn, urls)
                created += ids
                results["web-download floor"].seconds = seconds

            empty = empty_project(work / f"e-{tag}")
            pulumi.run(empty, "stack", "init", tag)
            results["empty up"] = pulumi.run(empty, "up", "--yes", "--stack", tag)
            results["empty preview"] = pulumi.run(empty, "preview", "--stack", tag)

            project = this_project(work, f"p-{tag}")
            # web-download needs the sha512 to check what Glance stored; the upload path verifies
            # the cheaper sha256 when that is all the spec gives, as the plain flow does.
            algorithm = "sha256" if method == "upload" else "sha512"
            images = {
                f"img_{n}": {
                    "name": p.stem,
                    "sourceUrl": url,
                    "checksum": f"{algorithm}:{digest(p, algorithm)}",
                }
                for n, (p, url) in enumerate(zip(paths, urls, strict=True))
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
            events = work / f"events-{tag}.jsonl"
            before = len(server.entries)
            fresh = pulumi.run(project, "up", "--yes", "--stack", tag, events=events)
            fresh.phases = phases(events)
            fresh.moved = bytes_by_agent(server.entries[before:], paths)
            results["fresh up"] = fresh
            results["no-op up"] = pulumi.run(project, "up", "--yes", "--stack", tag)
            results["preview"] = pulumi.run(project, "preview", "--stack", tag)
            pulumi.run(project, "destroy", "--yes", "--stack", tag)
        finally:
            for image_id in created:
                conn.image.delete_image(image_id, ignore_missing=True)
            for p in paths:
                p.unlink(missing_ok=True)
    return results


def digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as data:
        while chunk := data.read(MiB):
            hasher.update(chunk)
    return hasher.hexdigest()


def report(label: str, r: dict[str, Run]) -> None:
    fresh, plain, floor_s = r["fresh up"].seconds, r["plain"].seconds, r["floor"].seconds
    empty_up, empty_pre = r["empty up"].seconds, r["empty preview"].seconds
    cores = os.cpu_count() or 1
    print(f"\n### {label}\n")
    print(
        "| run | seconds | peak RSS MiB | CPU s here | CPU s cloud | CPU-bound minimum s |\n"
        "|---|---|---|---|---|---|"
    )
    for name, run in r.items():
        rss = f"{run.peak_rss_mib:.0f}" if run.peak_rss_mib else ""
        print(
            f"| {name} | {run.seconds:.2f} | {rss} | {run.cpu.here:.2f} | {run.cpu.cloud:.2f} "
            f"| {run.cpu.total / cores:.2f} |"
        )
    print("\n| ratio | value | target |\n|---|---|---|")
    print(f"| fresh / plain | {fresh / plain:.2f} | ≤ 0.7 |")
    print(f"| fresh / (floor + empty up) | {fresh / (floor_s + empty_up):.2f} | ≤ 1.3 |")
    print(f"| no-op up / empty up | {r['no-op up'].seconds / empty_up:.2f} | ≤ 1.5 |")
    print(f"| preview / empty preview | {r['preview'].seconds / empty_pre:.2f} | ≤ 1.5 |")
    if "web-download floor" in r:
        wd = r["web-download floor"].seconds
        print(
            f"| fresh / (web-download floor + empty up) | {fresh / (wd + empty_up):.2f} | ≤ 1.3 |"
        )
    moved = ", ".join(f"{agent} {n / MiB:.1f} MiB" for agent, n in r["fresh up"].moved.items())
    print(f"\nImage bytes served during the fresh up, by User-Agent: {moved}")
    print("\n| phase of the fresh up (summed over images) | seconds |\n|---|---|")
    for phase, seconds in sorted(r["fresh up"].phases.items()):
        print(f"| {phase} | {seconds:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="4x256,16x64")
    parser.add_argument("--targets", default="raw,qcow2")
    parser.add_argument("--small-mib", type=int, default=16)
    parser.add_argument("--method", default="upload", choices=("upload", "auto"))
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(ROOT / ".devcloud" / "clouds.yaml")
    conn = openstack.connect(cloud="devcloud")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    fresh_by: dict[tuple[str, str], Run] = {}
    sets = args.sets.split(",")
    with workdir() as work:
        pulumi = Pulumi(work)
        for target in args.targets.split(","):
            for item in sets:
                count, mib = (int(x) for x in item.split("x"))
                results = measure(conn, pulumi, work, count, mib, target, args.method)
                fresh_by[item, target] = results["fresh up"]
                report(f"{count} x {mib} MiB, target {target}", results)
        small = measure(conn, pulumi, work, 1, args.small_mib, "raw")["fresh up"]
    print("\n### Across sets\n")
    print("| ratio | value | target |\n|---|---|---|")
    largest = max(sets, key=lambda item: int(item.split("x")[1]))
    for target in args.targets.split(","):
        if len(sets) == 2:
            a, b = (fresh_by[s, target].seconds for s in sets)
            print(f"| {sets[1]} / {sets[0]} time, {target} | {b / a:.2f} | ≤ 1.3 |")
        big = fresh_by[largest, target].peak_rss_mib
        print(
            f"| peak RSS {largest}: {big:.0f} MiB / (1.2 x {small.peak_rss_mib:.0f} MiB with one "
            f"{args.small_mib} MiB image + 20 MiB), {target} | "
            f"{big / (1.2 * small.peak_rss_mib + 20):.2f} | ≤ 1.0 |"
        )


if __name__ == "__main__":
    main()
