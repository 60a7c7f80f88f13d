"""A fresh deploy against the local cloud, next to the plain flow, Glance's floor and the engine
floor, in one run.

    venv/bin/python -m bench.deploy_bench [--sets 4x256,16x64,64x1,256x1,4x256@32]
        [--targets raw,qcow2] [--web-download-sets 4x256,16x64] [--small-mib 16]
        [--event-logs DIR]

Needs the local cloud (make devcloud) and the toolchain (make tools). For each set of N images
of M MiB (random content, qcow2 sources served on 127.0.0.1; ``NxM@R``: served at R MiB/s per
connection, a distant object store) and each target format:

- plain: one image after another, download + sha256, ``qemu-img convert`` when the target
  differs, openstacksdk upload: what a script would do (not for 256 images or more);
- floor: the same final files uploaded to Glance all at once: Glance's own ingest time;
- web-download floor (the ``--web-download-sets``, qcow2 target, sources with a sha512 so that
  this project lets Glance fetch them): the same sources imported by Glance with web-download,
  all at once;
- empty: ``pulumi up`` and ``pulumi preview`` of a Python program that declares nothing;
- engine floor (bench/engine_floor): the resources this project declares for N images (an
  ``Image`` adopting each of the floor's images, a do-nothing dynamic resource like
  ``ImageProperties``), its fresh ``up``, no-op ``up`` and preview;
- fresh / no-op / preview: this project's ``pulumi up`` from an empty cache, then again, then
  ``pulumi preview`` (fresh ups, no-op ups and previews of floor and project alternated,
  ``--repeats`` fresh ups and ``--steady-repeats`` no-op ups and previews of each, the median
  kept: bench/fresh.py, bench/steady.py); peak RSS of the
  whole ``pulumi up`` process tree; and per-phase times from the run's own event log
  (download, hashing, inspection, conversion, each Image's upload).

Then the peak RSS of a fresh ``up`` of one small image, for the memory target. Prints markdown
tables with the ratios the targets are stated in (bench/report.py); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
import requests
from openstack.connection import Connection

from bench.engine_floor_runs import forget_floor
from bench.flows import floor, plain_flow
from bench.fresh import fresh_runs
from bench.images import MiB, make_qcow2
from bench.measure import measured_cpu, settled_disk
from bench.report import FRESH_UP_TO, BenchSet, across_sets, report
from bench.runs import ROOT, Pulumi, Run, empty_project, workdir
from bench.steady import steady_runs
from bench.web_download_floor import floor as web_download_floor
from demo.faults import FaultPlan
from demo.imageserver import start_server

SOURCE_STEM = "bench"


def timed(results: dict[str, Run], name: str, call: Callable[[], tuple[Any, ...]]) -> Any:
    """Runs ``call`` as the run ``name`` (wall and CPU time); returns the last thing it gives."""
    results[name] = Run(0.0)
    settled_disk()
    with measured_cpu(results[name].cpu):
        out = call()
    results[name].seconds = out[0]
    return out[-1]


def served(work: Path, tag: str, bench: BenchSet) -> tuple[Path, list[Path], FaultPlan]:
    """The set's qcow2 sources, and the server's faults: each file throttled for a slow set."""
    root = work / f"served-{tag}"
    root.mkdir()
    size = bench.mib * MiB
    paths = [make_qcow2(root, f"{SOURCE_STEM}-{tag}-{n}", size, size) for n in range(bench.count)]
    faults = FaultPlan()
    if bench.rate_mib:
        for path in paths:
            faults.throttle(path.name, bench.rate_mib * MiB, times=1 << 30)
    return root, paths, faults


def floors(
    conn: Connection, work: Path, tag: str, bench: BenchSet, target: str, urls: list[str],
    method: str, results: dict[str, Run],
) -> tuple[list[str], list[tuple[str, str]]]:  # fmt: skip
    """Plain flow (small sets), Glance's floor (and web-download's): the images made, and the
    floor's (name, ID) pairs for the engine floor to adopt."""
    scratch = work / f"plain-{tag}"
    scratch.mkdir()
    created: list[str] = []
    if bench.fresh_timed:
        files, ids = timed(results, "plain", lambda: _plain(conn, urls, target, scratch))
        created += ids
    else:
        files = [_final_file(url, target, scratch) for url in urls]
    names = [f"floor-{f.stem}" for f in files]
    ids = timed(results, "floor", lambda: floor(conn, files, target))
    created += ids
    shutil.rmtree(scratch)
    if method != "upload" and target == "qcow2":
        created += timed(results, "web-download floor", lambda: web_download_floor(conn, urls))
    return created, list(zip(names, ids, strict=True))


def _plain(
    conn: Connection, urls: list[str], target: str, out: Path
) -> tuple[float, tuple[list[Path], list[str]]]:
    seconds, files, ids = plain_flow(conn, urls, target, out)
    return seconds, (files, ids)


def _final_file(url: str, target: str, out: Path) -> Path:
    """A source as the floor uploads it (converted to ``target``), for a set without a plain
    flow."""
    path = out / url.rsplit("/", 1)[1]
    with requests.get(url, timeout=60) as resp:
        resp.raise_for_status()
        path.write_bytes(resp.content)
    if target == "qcow2":
        return path
    final = path.with_suffix(f".{target}")
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", target, str(path), str(final)], check=True
    )
    return final


def measure(
    conn: Connection, pulumi: Pulumi, work: Path, bench: BenchSet, target: str,
    method: str = "upload", every_log: bool = False, repeats: int = 3, steady_repeats: int = 5,
) -> dict[str, Run]:  # fmt: skip
    tag = uuid.uuid4().hex[:6]
    root, paths, faults = served(work, tag, bench)
    results: dict[str, Run] = {}
    created: list[str] = []
    with start_server(root, faults=faults) as server:
        try:
            urls = [f"{server.url}/{p.name}" for p in paths]
            made, floor_images = floors(conn, work, tag, bench, target, urls, method, results)
            created += made
            empty = empty_project(work / f"e-{tag}")
            pulumi.run(empty, "stack", "init", tag)
            results["empty up"] = pulumi.run(empty, "up", "--yes", "--stack", tag)
            results["empty preview"] = pulumi.run(empty, "preview", "--stack", tag)
            fresh, floor_project, project = fresh_runs(
                conn, pulumi, server, work, tag, floor_images, target, paths, method,
                repeats if bench.fresh_timed else 1,
            )  # fmt: skip
            results.update(fresh)
            events = work / "events"
            results.update(
                steady_runs(pulumi, floor_project, project, tag, steady_repeats,
                            events if every_log else None)
            )  # fmt: skip
            pulumi.run(project, "destroy", "--yes", "--stack", tag)
            forget_floor(pulumi, floor_project, tag)
        finally:
            for image_id in created:
                conn.image.delete_image(image_id, ignore_missing=True)
            for p in paths:
                p.unlink(missing_ok=True)
    return results


DEFAULT_SETS = "4x256,16x64,64x1,256x1,4x256@32"
DEFAULT_WEB_DOWNLOAD_SETS = "4x256,16x64"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=DEFAULT_SETS, help=f"default {DEFAULT_SETS}")
    parser.add_argument("--targets", default="raw,qcow2")
    parser.add_argument("--small-mib", type=int, default=16, help="0: no memory run")
    parser.add_argument(
        "--web-download-sets",
        default=DEFAULT_WEB_DOWNLOAD_SETS,
        help=f"qcow2, imported by Glance itself; default {DEFAULT_WEB_DOWNLOAD_SETS}, '' for none",
    )
    parser.add_argument(
        "--event-logs", type=Path, help="keep every run's event log (all runs log) here"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="fresh ups taken of each; median kept"
    )
    # A preview of 4 or 16 images lasts 2-3 s, and this program's fixed cost in it (importing
    # openstacksdk, logging in, listing Glance: about 0.4 s) is a sixth of the floor's; two runs
    # in a row of the same preview differ by as much (2.2-3.0 s measured), so three were too few.
    parser.add_argument(
        "--steady-repeats", type=int, default=5,
        help="no-op ups and previews taken of each; median kept",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(ROOT / ".devcloud" / "clouds.yaml")
    conn = openstack.connect(cloud="devcloud")
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f}; fresh ups (up to {FRESH_UP_TO} images): the median of "
        f"{args.repeats}; no-op ups and previews: the median of {args.steady_repeats}; "
        "engine floor and project alternated"
    )
    sets = [BenchSet.parse(item) for item in args.sets.split(",") if item]
    targets = args.targets.split(",")
    # "auto" gives the sources a sha512, so Glance fetches each image itself (web-download).
    web_download = [BenchSet.parse(item) for item in args.web_download_sets.split(",") if item]
    runs = [(bench, target, "upload") for target in targets for bench in sets]
    runs += [(bench, "qcow2", "auto") for bench in web_download]
    fresh_by: dict[tuple[str, str], Run] = {}
    with workdir() as work:
        (work / "events").mkdir()
        pulumi = Pulumi(work)
        for bench, target, method in runs:
            results = measure(
                conn, pulumi, work, bench, target, method, args.event_logs is not None,
                args.repeats, args.steady_repeats,
            )  # fmt: skip
            if method == "upload":
                fresh_by[bench.text, target] = results["fresh up"]
            way = ", web-download" if method == "auto" else ""
            report(f"{bench.label}, target {target}{way}", bench, results)
            print(f"load {os.getloadavg()[0]:.2f}", flush=True)
        small = None
        if args.small_mib:
            small_set = BenchSet(1, args.small_mib)
            runs_once = measure(conn, pulumi, work, small_set, "raw", repeats=1, steady_repeats=1)
            small = runs_once["fresh up"]
        if args.event_logs:
            shutil.copytree(work / "events", args.event_logs, dirs_exist_ok=True)
    across_sets(sets, targets, fresh_by, small, args.small_mib)


if __name__ == "__main__":
    main()
