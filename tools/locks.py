"""Says whether the run holding a stack's lock is alive, on the stderr of ``tools/pulumi.sh``.

On a DIY backend (file, s3://, postgres://) the Pulumi CLI refuses a second run of a locked
stack with "Either wait for the other process(es) to end or delete the lock file with
`pulumi cancel`", followed by one line per lock (``<url>: created by user@host (pid N) at T``),
whether or not that run is alive; `pulumi cancel` on a live run's lock lets two runs write one
state. This filter passes the CLI's stderr through and replaces that advice with, for each lock,
whether its holder still runs, and names `pulumi cancel` only when every holder is gone.

    pulumi "$@" 2>&1 >&3 | python3 tools/locks.py "$@" >&2
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HEADER = re.compile(r"the stack is currently locked by (\d+) lock\(s\)\.")
_LOCK = re.compile(r"^\s+(\S+): created by (.*)@(\S+) \(pid (\d+)\) at (\S+)\s*$")
# A process that started this much after the lock's timestamp cannot have written it: its pid was
# reused. The slack covers clock-tick rounding of the start time.
_START_SLACK = 2.0


@dataclass(frozen=True)
class Lock:
    url: str
    user: str
    host: str
    pid: int
    since: str


def _process(pid: int, proc: Path) -> tuple[str, str, float] | None:
    """Name, state letter and start time (seconds since the epoch) of process ``pid``."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in (proc / "stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration):
        return None
    # The name is in parentheses and may itself hold spaces; after it come field 3 (state) and,
    # at field 22, the start time in clock ticks since boot.
    name, rest = stat.split("(", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return name, fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def holder_alive(lock: Lock, proc: Path = Path("/proc")) -> bool | None:
    """True if the run that wrote ``lock`` still runs, False if it is gone, None if this machine
    cannot tell (the lock was written on another host)."""
    if lock.host != socket.gethostname():
        return None
    process = _process(lock.pid, proc)
    if process is None:
        return False
    name, state, started = process
    try:
        written = datetime.fromisoformat(lock.since).timestamp()
    except ValueError:
        written = time.time()
    # A zombie has ended; a process not named pulumi, or started after the lock was written,
    # is a later one that got the pid again.
    return state not in "ZX" and name.startswith("pulumi") and started <= written + _START_SLACK


def stack_of(args: Sequence[str]) -> str | None:
    """The stack the command names (``--stack S``, ``--stack=S``, ``-s S``), if it does."""
    for i, arg in enumerate(args):
        if arg in ("--stack", "-s") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--stack="):
            return arg.split("=", 1)[1]
    return None


def explain(locks: Sequence[Lock], stack: str | None, alive: dict[Lock, bool | None]) -> str:
    lines = [f"error: the stack is locked by {len(locks)} other run(s):"]
    for lock in locks:
        state = alive[lock]
        holder = f"pid {lock.pid} on {lock.host} ({lock.user}), locked at {lock.since}"
        if state is True:
            lines.append(f"  {holder}: still running; wait for it to end")
        elif state is False:
            lines.append(f"  {holder}: no longer running (a lock left by a dead run)")
        else:
            lines.append(
                f"  {holder}: on another host, so not known here whether it still runs "
                f"(`ps -p {lock.pid}` on {lock.host})"
            )
        lines.append(f"    lock: {lock.url}")
    cancel = f"pulumi cancel --stack {stack}" if stack else "pulumi cancel"
    if all(alive[lock] is False for lock in locks):
        lines.append(
            f"Every run holding the lock is gone: remove it with `{cancel}`, then run the "
            "command again (a run killed in the middle may have left pending operations, "
            "which the next `up` reports)."
        )
    elif any(alive[lock] is True for lock in locks):
        lines.append(
            "Wait for the running update to end, then run the command again; do not cancel "
            "a live run's lock, that would let two runs write one state."
        )
    else:
        lines.append(
            f"Only once the run on {', '.join(sorted({lock.host for lock in locks}))} is known "
            f"to be gone is the lock a dead run's, to remove with `{cancel}`."
        )
    return "\n".join(lines) + "\n"


def rewrite(
    lines: Iterable[str],
    stack: str | None,
    alive: Callable[[Lock], bool | None] = holder_alive,
) -> Iterator[str]:
    """The CLI's stderr lines, with each lock refusal (its header line and the lock lines after
    it) replaced by :func:`explain`'s text."""
    pending: list[Lock] | None = None
    for line in lines:
        plain = _ANSI.sub("", line)
        if pending is not None:
            match = _LOCK.match(plain)
            if match:
                url, user, host, pid, since = match.groups()
                pending.append(Lock(url, user, host, int(pid), since))
                continue
            yield explain(pending, stack, {lock: alive(lock) for lock in pending})
            pending = None
        if _HEADER.search(plain):
            pending = []
            continue
        yield line
    if pending is not None:
        yield explain(pending, stack, {lock: alive(lock) for lock in pending})


def main(args: Sequence[str], stdin: TextIO = sys.stdin, stderr: TextIO = sys.stderr) -> int:
    for text in rewrite(iter(stdin.readline, ""), stack_of(args)):
        stderr.write(text)
        stderr.flush()
    return 0


if __name__ == "__main__":
    # Ctrl-C goes to the whole process group: the CLI winds its update down and keeps writing,
    # so this end of its pipe must stay open until the CLI closes it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(main(sys.argv[1:]))
