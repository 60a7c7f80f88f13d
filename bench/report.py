"""The deploy benchmark's markdown tables: each set's runs and the ratios the targets of issue 15
are stated in (engine floor, work floor), then the ratios across sets."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.images import MiB
from bench.runs import Run

FRESH_UP_TO = 64
"""Sets of more images time no fresh ``up`` against the floors (it is only how the stack gets
its images) and run no plain flow: the targets ask only their no-op ``up`` and preview."""


@dataclass(frozen=True)
class BenchSet:
    count: int
    mib: int
    rate_mib: int | None = None
    """MiB/s per connection the image server sends each file at (a distant object store)."""

    @classmethod
    def parse(cls, text: str) -> BenchSet:
        """``NxM`` (N images of M MiB) or ``NxM@R`` (served at R MiB/s per connection)."""
        size, _, rate = text.partition("@")
        count, mib = (int(x) for x in size.split("x"))
        return cls(count, mib, int(rate) if rate else None)

    @property
    def text(self) -> str:
        return f"{self.count}x{self.mib}" + (f"@{self.rate_mib}" if self.rate_mib else "")

    @property
    def label(self) -> str:
        rate = f" at {self.rate_mib} MiB/s per connection" if self.rate_mib else ""
        return f"{self.count} x {self.mib} MiB{rate}"

    @property
    def fresh_timed(self) -> bool:
        return self.count <= FRESH_UP_TO


def work_floor(r: dict[str, Run]) -> float:
    """The plain flow's CPU here plus Glance's CPU in the parallel upload floor, over the cores:
    the least time the bytes' own work takes on this machine."""
    return (r["plain"].cpu.here + r["floor"].cpu.cloud) / (os.cpu_count() or 1)


def runs_table(r: dict[str, Run]) -> None:
    cores = os.cpu_count() or 1
    print(
        "| run | seconds | peak RSS MiB | CPU s here | CPU s cloud | CPU-bound minimum s "
        "| stolen s |\n|---|---|---|---|---|---|---|"
    )
    for name, run in r.items():
        rss = f"{run.peak_rss_mib:.0f}" if run.peak_rss_mib else ""
        print(
            f"| {name} | {run.seconds:.2f} | {rss} | {run.cpu.here:.2f} | {run.cpu.cloud:.2f} "
            f"| {run.cpu.total / cores:.2f} | {run.cpu.stolen:.2f} |"
        )


def ratios(bench: BenchSet, r: dict[str, Run]) -> list[tuple[str, float, str]]:
    """(ratio, value, target) of one set: issue 15's, then issue 8's older ones."""
    fresh, empty_up = r["fresh up"].seconds, r["empty up"].seconds
    rows: list[tuple[str, float, str]] = []
    web_download = "web-download floor" in r
    # Glance fetches a web-download set's bytes itself: its target is the web-download floor's.
    if bench.fresh_timed and not web_download:
        work = work_floor(r)
        bound = r["floor fresh up"].seconds + work
        rows.append(
            (f"fresh / (engine floor fresh {r['floor fresh up'].seconds:.2f} + work floor "
             f"{work:.2f})", fresh / bound, "≤ 1.25")
        )  # fmt: skip
    rows += [
        ("no-op up / engine floor no-op up", r["no-op up"].seconds / r["floor no-op up"].seconds,
         "≤ 1.25"),
        ("preview / engine floor preview", r["preview"].seconds / r["floor preview"].seconds,
         "≤ 1.25"),
        ("first up after the fresh one / the floor's", r["settling up"].seconds
         / r["floor settling up"].seconds, "(rewrites the imported inputs: bench/steady.py)"),
    ]  # fmt: skip
    cores = os.cpu_count() or 1
    for name, floor_name in (("no-op up", "floor no-op up"), ("preview", "floor preview")):
        cpu, floor_cpu = r[name].cpu.total / cores, r[floor_name].cpu.total / cores
        rows.append(
            (
                f"{name} / engine floor {name}, CPU-bound minimum",
                cpu / floor_cpu,
                "(CPU; steadier under load)",
            )
        )
    if bench.fresh_timed:
        plain = r["plain"].seconds
        rows.append(("fresh / plain", fresh / plain, "≤ 0.45" if bench.rate_mib else "≤ 0.7"))
        floor_s = r["floor"].seconds
        rows.append(("fresh / (floor + empty up)", fresh / (floor_s + empty_up), "≤ 1.3"))
    rows.append(("no-op up / empty up", r["no-op up"].seconds / empty_up, "≤ 1.5"))
    rows.append(("preview / empty preview", r["preview"].seconds / r["empty preview"].seconds,
                 "≤ 1.5"))  # fmt: skip
    if web_download:
        wd = r["web-download floor"].seconds
        rows.append(("fresh / (web-download floor + empty up)", fresh / (wd + empty_up), "≤ 1.3"))
        engine = r["floor fresh up"].seconds
        rows.append(
            (f"fresh / (web-download floor {wd:.2f} + engine floor fresh {engine:.2f})",
             fresh / (wd + engine), "≤ 1.25")
        )  # fmt: skip
    return rows


def report(label: str, bench: BenchSet, r: dict[str, Run]) -> None:
    print(f"\n### {label}\n")
    runs_table(r)
    print("\n| ratio | value | target |\n|---|---|---|")
    for name, value, target in ratios(bench, r):
        print(f"| {name} | {value:.2f} | {target} |")
    moved = ", ".join(f"{agent} {n / MiB:.1f} MiB" for agent, n in r["fresh up"].moved.items())
    print(f"\nImage bytes served during the fresh up, by User-Agent: {moved}")
    print("\n| phase of the fresh up (summed over images) | seconds |\n|---|---|")
    for phase, seconds in sorted(r["fresh up"].phases.items()):
        print(f"| {phase} | {seconds:.2f} |")
    print(flush=True)


def across_sets(
    sets: list[BenchSet],
    targets: list[str],
    fresh_by: dict[tuple[str, str], Run],
    small: Run | None,
    small_mib: int,
) -> None:
    if small is None:
        return
    print("\n### Across sets\n")
    print("| ratio | value | target |\n|---|---|---|")
    largest = max(sets, key=lambda s: s.mib).text
    for target in targets:
        big = fresh_by[largest, target].peak_rss_mib
        print(
            f"| peak RSS {largest}: {big:.0f} MiB / (1.2 x {small.peak_rss_mib:.0f} MiB with one "
            f"{small_mib} MiB image + 20 MiB), {target} | "
            f"{big / (1.2 * small.peak_rss_mib + 20):.2f} | ≤ 1.0 |"
        )
