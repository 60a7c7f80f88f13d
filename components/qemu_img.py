"""Running qemu-img: where it is, how its errors read, and the limits it always runs under.

Crafted metadata can make qemu-img allocate or spin without bound (CVE-2015-5162), so Glance runs
it with an address-space and CPU cap, and so does every qemu-img command of this program (info,
check and convert). The limits are set in a small exec shim because subprocess's preexec_fn is
unsafe in a threaded program such as a Pulumi provider.
"""

from __future__ import annotations

import shutil
import sys

ADDRESS_SPACE_BYTES = 1024**3

_LIMITED_EXEC = (
    "import os, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]),) * 2)\n"
    "resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[2]),) * 2)\n"
    # glibc reserves 64 MiB of address space for each thread's malloc arena: the I/O threads of
    # `qemu-img convert` would reach the cap without using the memory (1 run in 10 did, to vmdk).
    "os.environ['MALLOC_ARENA_MAX'] = '2'\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)

_STDERR_TAIL_CHARS = 2000


def qemu_img_executable() -> str:
    """Absolute path of qemu-img, or a clear error when it is not installed."""
    found = shutil.which("qemu-img")
    if found is None:
        raise FileNotFoundError("qemu-img not found on PATH (Debian/Ubuntu package qemu-utils)")
    return found


def limited_argv(cpu_seconds: int, *args: str) -> list[str]:
    """The command line running ``qemu-img *args`` with at most ADDRESS_SPACE_BYTES of address
    space and ``cpu_seconds`` of CPU time (the kernel kills it past either)."""
    return [
        sys.executable,
        "-I",
        "-c",
        _LIMITED_EXEC,
        str(ADDRESS_SPACE_BYTES),
        str(cpu_seconds),
        qemu_img_executable(),
        *args,
    ]


def stderr_tail(stderr: str) -> str:
    """The end of a qemu-img error output, where the reason is, bounded for messages."""
    return stderr.strip()[-_STDERR_TAIL_CHARS:]
