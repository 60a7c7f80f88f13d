"""CPU seconds and peak RSS of process trees, for the deploy benchmark: this process and its
children (the whole `pulumi` tree, qemu-img), and the local cloud's services (Glance, Keystone,
PostgreSQL), read from /proc."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.images import MiB

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Cpu:
    """CPU seconds (user + system) spent during a run."""

    here: float = 0.0
    """This process (the image server; the plain flow's client) and its children (the whole
    ``pulumi`` process tree, qemu-img)."""
    cloud: float = 0.0
    """The local cloud: Glance, Keystone and PostgreSQL, workers and exited children included."""
    stolen: float = 0.0
    """Time the hypervisor gave this machine's cores to other guests (/proc/stat ``steal``),
    all cores: a run with seconds of it was timed on a busy host, and its wall times say more
    about that host than about the program (2026-12-02: 720 s of it in 2.5 h)."""

    @property
    def total(self) -> float:
        return self.here + self.cloud


def _tree_total(roots: list[int], value: Callable[[list[str]], int]) -> int:
    """The sum of ``value`` (of a process's /proc stat fields after the command name) over the
    processes under ``roots``, roots included."""
    children: dict[int, list[int]] = defaultdict(list)
    values: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children[int(stat[1])].append(pid)
        values[pid] = value(stat)
    total, todo = 0, list(roots)
    while todo:
        pid = todo.pop()
        total += values.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def _proc_tree_cpu(roots: list[int]) -> float:
    """CPU seconds of the processes under ``roots``: each live one's own time plus that of its
    exited children (cutime, cstime), so a worker or backend that ended is still counted."""
    ticks = _tree_total(roots, lambda stat: sum(int(x) for x in stat[11:15]))
    return ticks / os.sysconf("SC_CLK_TCK")


def _cloud_roots() -> list[int]:
    state = ROOT / ".devcloud"
    files = [state / "glance.pid", state / "keystone.pid", state / "pg" / "data" / "postmaster.pid"]
    return [int(f.read_text().split()[0]) for f in files if f.exists()]


def _stolen() -> float:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usages = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def settled_disk() -> None:
    """Writes out what earlier runs left dirty, before a timed run starts.

    The plain flow and Glance's floor put 2 GiB into Glance's store just before the engine
    floor's and this project's runs, and the kernel writes dirty pages back only after some 30 s
    (``vm.dirty_expire_centisecs``): without this, one run's writeback lands in a later run's
    time (measured on 4 x 256 MiB: this project's fresh ``up`` 15.3 s after the floors, 12.8 s
    with the disk settled first)."""
    os.sync()


@contextmanager
def measured_cpu(cpu: Cpu) -> Iterator[None]:
    """Fills ``cpu`` with what the block cost this process, its children and the cloud."""
    roots = _cloud_roots()
    here, cloud, stolen = _own_cpu(), _proc_tree_cpu(roots), _stolen()
    yield
    cpu.stolen = _stolen() - stolen
    cpu.here = _own_cpu() - here
    cpu.cloud = _proc_tree_cpu(roots) - cloud


class TreeRss:
    """Peak resident memory of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.cpu = 0.0
        """CPU seconds of the sampling itself, to leave out of the run's."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            pages = _tree_total([self.pid], lambda stat: int(stat[21]))
            self.peak = max(self.peak, pages * os.sysconf("SC_PAGE_SIZE"))
        self.cpu = time.thread_time()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / MiB
