"""The no-op ``up`` and the preview of the engine floor and of this project, alternated.

A 2-core machine's background (Glance's workers, the devcloud's idle services) drifts over the
minutes between two runs as much as the gap being measured, so each pair is taken side by side:
floor no-op, project no-op, floor preview, project preview, ``repeats`` times; each result is
the run of median wall time.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.runs import Pulumi, Run

KINDS = {"no-op up": ("up", "--yes"), "preview": ("preview",)}


def steady_runs(
    pulumi: Pulumi,
    floor: Path,
    project: Path,
    tag: str,
    repeats: int,
    events: Path | None,
) -> dict[str, Run]:
    """``floor no-op up``, ``no-op up``, ``floor preview`` and ``preview``, each the median of
    ``repeats`` runs; every run's event log goes to ``events`` (a directory) if given."""
    runs: dict[str, list[Run]] = {}
    for attempt in range(repeats):
        for kind, args in KINDS.items():
            for name, where in ((f"floor {kind}", floor), (kind, project)):
                log = None
                if events is not None:
                    log = events / f"{name.replace(' ', '-')}-{tag}-{attempt}.jsonl"
                run = pulumi.run(where, *args, "--stack", tag, events=log)
                runs.setdefault(name, []).append(run)
    return {name: _median(taken) for name, taken in runs.items()}


def _median(runs: list[Run]) -> Run:
    middle = statistics.median_low(run.seconds for run in runs)
    return next(run for run in runs if run.seconds == middle)
