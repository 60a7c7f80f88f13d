"""Wall time of prepare_image for N images: one after another vs concurrently, cold vs warm cache.

    venv/bin/python -m bench.prepare_bench [--images 4] [--data-mib 128] [--virtual-mib 256]
                                           [--runs 3]

Every cold run starts from an empty cache dir, so each image is downloaded (and converted) once;
the warm re-run then reuses that cache dir and must make no HTTP request at all, which is
checked against the image server's access log. Prints markdown tables; times are not asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.images import MiB, make_qcow2, quiet, spec_for
from components.config import ImageSpec
from components.convert import convert_image
from components.fetch import fetch
from components.inspection import inspect_image
from components.prepare import prepare_image
from demo.imageserver import RunningServer, start_server

WORKERS = (1, 2, 4)  # 1 is the sequential baseline
TARGETS = ("raw", "qcow2")  # raw converts every image; qcow2 is the source format: no conversion


def cpu_seconds() -> float:
    """User + system time of this process (the server's threads too) and its reaped children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def prepare_all(specs: list[ImageSpec], cache: Path, target: str, workers: int) -> float:
    def one(spec: ImageSpec) -> Path:
        return prepare_image(spec.name, spec, cache, target, quiet)

    start = time.perf_counter()
    if workers == 1:
        results = [one(spec) for spec in specs]
    else:
        # As components/component.py does: one pool bounded by `parallel`, one task per image.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare") as pool:
            results = list(pool.map(one, specs))
    elapsed = time.perf_counter() - start
    if not all(path.is_file() for path in results):
        raise RuntimeError(f"prepare_image returned a missing file: {results}")
    return elapsed


def logged_run(
    server: RunningServer, specs: list[ImageSpec], cache: Path, target: str, workers: int
) -> tuple[float, list[str]]:
    """prepare_all's time, and the requests the server logged meanwhile."""
    before = len(server.entries)
    elapsed = prepare_all(specs, cache, target, workers)
    return elapsed, [f"{e['method']} {e['path']} {e['status']}" for e in server.entries[before:]]


def measure(
    server: RunningServer, specs: list[ImageSpec], work: Path, target: str, workers: int, runs: int
) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds of the cold runs, CPU seconds of the cold runs, wall seconds of the warm."""
    cold, cpu, warm = [], [], []
    for run in range(runs):
        cache = work / f"cache-{target}-{workers}-{run}"
        cpu_before = cpu_seconds()
        elapsed, seen = logged_run(server, specs, cache, target, workers)
        cpu.append(cpu_seconds() - cpu_before)
        expected = {f"GET /{spec.source_url.rsplit('/', 1)[1]} 200" for spec in specs}
        if len(seen) != len(specs) or set(seen) != expected:
            raise RuntimeError(f"a cold run should GET each image once, saw {seen}")
        cold.append(elapsed)
        elapsed, seen = logged_run(server, specs, cache, target, workers)
        if seen:
            raise RuntimeError(f"the warm re-run made HTTP requests: {seen}")
        warm.append(elapsed)
        shutil.rmtree(cache)  # keeps the disk footprint at one run's worth
    return cold, cpu, warm


def phase_run(spec: ImageSpec, cache: Path) -> dict[str, float]:
    """Seconds of each step of preparing one image, each run on its own, in order."""
    source = cache / "downloads" / f"sha256-{spec.checksums[0].hexdigest}.img"

    def get_only() -> None:
        with requests.get(spec.source_url, stream=True, timeout=60) as response:
            for _ in response.iter_content(MiB):
                pass

    def hash_only() -> None:
        # What fetch computes while streaming: the one digest it verifies (the spec's sha256).
        digest = hashlib.sha256()
        with source.open("rb") as data:
            while chunk := data.read(MiB):
                digest.update(chunk)

    def write_only() -> None:
        # The disk's share of fetch: the same bytes written and fsynced, with no network or hash.
        with source.open("rb") as data, (cache / "copy").open("wb") as out:
            shutil.copyfileobj(data, out, MiB)
            out.flush()
            os.fsync(out.fileno())

    steps: dict[str, Callable[[], object]] = {
        "HTTP GET only, body discarded": get_only,
        "fetch: GET + sha256 + write + fsync": lambda: fetch(
            spec.name, spec.source_url, cache / "downloads", spec.checksums
        ),
        "sha256 of the file alone (page cache)": hash_only,
        "write + fsync of the file alone": write_only,
        "inspect_image (oslo + qemu-img info + check)": lambda: inspect_image(
            spec.name, source, "qcow2"
        ),
        "convert_image to raw (inspects in and out again)": lambda: convert_image(
            spec.name, source, "qcow2", "raw", cache / "converted", source.stem
        ),
    }
    times = {}
    for label, step in steps.items():
        start = time.perf_counter()
        step()
        times[label] = time.perf_counter() - start
    return times


def phases(spec: ImageSpec, work: Path, runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {}
    for run in range(runs):
        cache = work / f"phases-{run}"
        for label, seconds in phase_run(spec, cache).items():
            samples.setdefault(label, []).append(seconds)
        shutil.rmtree(cache)
    return {label: statistics.median(times) for label, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--data-mib", type=int, default=128)
    parser.add_argument("--virtual-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="community-images-bench-", dir="/tmp"))
    server: RunningServer | None = None
    try:
        root = work / "served"
        root.mkdir()
        images = [
            make_qcow2(root, f"bench-{i}", args.virtual_mib * MiB, args.data_mib * MiB)
            for i in range(args.images)
        ]
        server = start_server(root, log_path=work / "access.log")
        specs = [spec_for(path, server.url) for path in images]
        total_mib = sum(path.stat().st_size for path in images) / MiB
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(
            f"{args.images} qcow2 images, {args.virtual_mib} MiB virtual, {args.data_mib} MiB"
            f" data each ({total_mib:.0f} MiB to download in all); median of {args.runs} runs\n"
        )

        print(
            "| target | workers | cold: median s (min-max) | MiB/s | speed-up | cold CPU s"
            " | warm s |"
        )
        print("|---|---|---|---|---|---|---|")
        for target in TARGETS:
            baseline = 0.0
            for workers in WORKERS:
                cold, cpu, warm = measure(server, specs, work, target, workers, args.runs)
                median = statistics.median(cold)
                baseline = baseline or median
                name = "sequential" if workers == 1 else f"{workers} threads"
                print(
                    f"| {target} | {name} | {median:.2f} ({min(cold):.2f}-{max(cold):.2f})"
                    f" | {total_mib / median:.0f} | {baseline / median:.2f}x"
                    f" | {statistics.median(cpu):.2f} | {statistics.median(warm):.3f} |",
                    flush=True,
                )

        print(f"\nOne image ({images[0].stat().st_size / MiB:.0f} MiB qcow2), step by step:\n")
        print("| step | median s |")
        print("|---|---|")
        for label, seconds in phases(specs[0], work, args.runs).items():
            print(f"| {label} | {seconds:.3f} |")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
