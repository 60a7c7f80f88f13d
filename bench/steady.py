"""The no-op ``up`` and the preview of the engine floor and of this project, alternated.

A 2-core machine's background (Glance's workers, the devcloud's idle services) drifts over the
minutes between two runs as much as the gap being measured, so each pair is taken side by side:
floor no-op, project no-op, floor preview, project preview, ``repeats`` times; each result is
the run of median wall time.

Before them, each stack is brought to rest with ``SETTLE`` plain ups. The state an import
writes is not the state the next ``up`` computes for the same resource (the provider's Read
records ``imageId``, ``region`` and a null ``imageCachePath``; the program's inputs have none of
them), so the first two ups after the images were adopted change every Image's inputs, and
the engine writes the whole checkpoint after each of those steps instead of eliding the write:
N writes of a state that grows with N. Measured with ``-v=9`` on 4 images: the floor's first
and second ups wrote 4 times each, this project's 8 and 4 (its ImageProperties' upload flag
changes once too), the third 0, in both. At 256 images those writes are most of the run (the
CLI's ``SnapshotManager.saveSnapshot``, 77 % of its CPU under ``pulumi up --profiling``). An
operator's no-op ``up`` is the run at rest; the two after a fresh ``up`` are printed apart.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.runs import Pulumi, Run

KINDS = {"no-op up": ("up", "--yes"), "preview": ("preview",)}
SETTLE = 2


def steady_runs(
    pulumi: Pulumi,
    floor: Path,
    project: Path,
    tag: str,
    repeats: int,
    events: Path | None,
) -> dict[str, Run]:
    """``floor no-op up``, ``no-op up``, ``floor preview`` and ``preview``, each the median of
    ``repeats`` runs at rest, and ``floor settling up`` and ``settling up``, the first up after
    the fresh one; every run's event log goes to ``events`` (a directory) if given."""
    runs: dict[str, list[Run]] = {}
    for attempt in range(SETTLE):
        for name, where in (("floor settling up", floor), ("settling up", project)):
            run = pulumi.run(
                where, *KINDS["no-op up"], "--stack", tag, events=_log(events, name, tag, attempt)
            )
            runs.setdefault(name, []).append(run)
    settling = {name: taken[0] for name, taken in runs.items()}
    runs.clear()
    for attempt in range(repeats):
        for kind, args in KINDS.items():
            for name, where in ((f"floor {kind}", floor), (kind, project)):
                run = pulumi.run(
                    where, *args, "--stack", tag, events=_log(events, name, tag, attempt)
                )
                runs.setdefault(name, []).append(run)
    return {**settling, **{name: median_run(taken) for name, taken in runs.items()}}


def _log(events: Path | None, name: str, tag: str, attempt: int) -> Path | None:
    if events is None:
        return None
    return events / f"{name.replace(' ', '-')}-{tag}-{attempt}.jsonl"


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time (the lower of the two middle ones)."""
    middle = statistics.median_low(run.seconds for run in runs)
    return next(run for run in runs if run.seconds == middle)
