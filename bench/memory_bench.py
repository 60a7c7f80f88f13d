"""Peak RSS of preparing one image (fetch → inspect → convert to raw), small vs large image.

    venv/bin/python -m bench.memory_bench [--large-gib 3]

Each preparation runs in a fresh child process, so its ru_maxrss is that preparation's own peak
(download, hashing, oslo inspection) and not a high-water mark left by image generation or an
earlier run. A child that only imports the same modules gives the baseline. The image server
runs in this (parent) process, standing in for the remote host.

qemu-img's peak is taken per invocation with /usr/bin/time, through a `qemu-img` wrapper put
first on the child's PATH. RUSAGE_CHILDREN would not do: a child spawned with vfork inherits the
Python parent's RSS as its own high-water mark, so it reports Python's size, not qemu-img's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.images import MiB, make_qcow2, quiet, spec_for
from components.config import ImageSpec
from components.fetch import Checksum
from components.prepare import prepare_image
from demo.imageserver import RunningServer, start_server

GiB = 1 << 30


TIME = Path("/usr/bin/time")


def python_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(argv: list[str]) -> None:
    if not argv:  # the baseline: the same imports, no work
        print(json.dumps({"python_kib": python_peak_kib()}))
        return
    name, url, sha256, cache = argv
    spec = ImageSpec(name=name, source_url=url, checksum=Checksum("sha256", sha256))
    start = time.perf_counter()
    output = prepare_image(name, spec, Path(cache), "raw", quiet)
    seconds = time.perf_counter() - start
    allocated = output.stat().st_blocks * 512
    report = {"python_kib": python_peak_kib(), "seconds": seconds, "output_allocated": allocated}
    print(json.dumps(report))


def qemu_img_wrapper(directory: Path) -> Path:
    """A directory whose `qemu-img` logs "<peak KiB> <subcommand>" per run to $QEMU_IMG_RSS."""
    real = shutil.which("qemu-img")
    if real is None:
        raise FileNotFoundError("qemu-img not found on PATH")
    wrapper = directory / "qemu-img"
    wrapper.write_text(f'#!/bin/sh\nexec {TIME} -a -o "$QEMU_IMG_RSS" -f "%M $1" {real} "$@"\n')
    wrapper.chmod(0o755)
    return directory


def run_child(env: dict[str, str], *argv: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.memory_bench", "--child", *argv],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


def prepare_in_child(
    server: RunningServer, spec: ImageSpec, cache: Path, wrapper_dir: Path | None
) -> dict[str, Any]:
    env = dict(os.environ)
    rss_log = cache.with_suffix(".qemu-img-rss")
    if wrapper_dir is not None:
        env["PATH"] = f"{wrapper_dir}{os.pathsep}{env['PATH']}"
        env["QEMU_IMG_RSS"] = str(rss_log)
    before = len(server.entries)
    report = run_child(env, spec.name, spec.source_url, spec.checksums[0].hexdigest, str(cache))
    requests = server.entries[before:]
    if [entry["status"] for entry in requests] != [200]:
        raise RuntimeError(f"expected one full download of {spec.name}, saw {requests}")
    if wrapper_dir is not None:
        peaks: dict[str, int] = {}
        for line in rss_log.read_text().splitlines():
            kib, _, sub = line.partition(" ")
            if kib.isdigit():  # time also logs "Command exited with non-zero status 63"
                peaks[sub] = max(peaks.get(sub, 0), int(kib))
        report["qemu_img"] = peaks
    return report


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-gib", type=int, default=3)
    args = parser.parse_args()
    sizes = {  # name: (virtual size, data)
        "small": (32 * MiB, 16 * MiB),
        "large": (args.large_gib * GiB + GiB, args.large_gib * GiB),
    }

    work = Path(tempfile.mkdtemp(prefix="community-images-membench-", dir="/tmp"))
    server: RunningServer | None = None
    try:
        root = work / "served"
        root.mkdir()
        server = start_server(root, log_path=work / "access.log")
        wrapper_dir = qemu_img_wrapper(work) if TIME.is_file() else None
        rows = [("imports only (baseline)", 0, run_child(dict(os.environ)))]
        for name, (virtual, data) in sizes.items():
            image = make_qcow2(root, f"mem-{name}", virtual, data)
            spec = spec_for(image, server.url)
            cache = work / f"cache-{name}"
            report = prepare_in_child(server, spec, cache, wrapper_dir)
            rows.append((f"{name}: {data / MiB:.0f} MiB data", image.stat().st_size, report))
            # Only one large image and its cache at a time on disk.
            shutil.rmtree(cache)
            image.unlink()

        print("| run | qcow2 MiB | raw written MiB | s | Python peak MiB | qemu-img peak MiB |")
        print("|---|---|---|---|---|---|")
        for label, qcow2_size, report in rows:
            written = report.get("output_allocated", 0) / MiB
            seconds = f"{report['seconds']:.1f}" if "seconds" in report else "-"
            qemu_img = ", ".join(
                f"{sub} {kib / 1024:.1f}" for sub, kib in report.get("qemu_img", {}).items()
            )
            print(
                f"| {label} | {qcow2_size / MiB:.0f} | {written:.0f} | {seconds}"
                f" | {report['python_kib'] / 1024:.1f} | {qemu_img or '-'} |"
            )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
