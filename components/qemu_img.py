"""Running qemu-img: where it is, how its errors read, and the limits it always runs under.

Crafted metadata can make qemu-img allocate or spin without bound (CVE-2015-5162), so Glance runs
it with an address-space and CPU cap, and so does every qemu-img command of this program (info,
check and convert). The limits are set by util-linux's ``prlimit`` before it execs qemu-img:
subprocess's preexec_fn is unsafe in a threaded program such as a Pulumi provider, and a Python
shim doing the same costs a Python start-up (40 ms of CPU) per call.
"""

from __future__ import annotations

import shutil

ADDRESS_SPACE_BYTES = 1024**3

_STDERR_TAIL_CHARS = 2000


def qemu_img_executable() -> str:
    """Absolute path of qemu-img, or a clear error when it is not installed."""
    return _executable("qemu-img", "qemu-utils")


def _executable(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found on PATH (Debian/Ubuntu package {package})")
    return found


def limited_argv(cpu_seconds: int, *args: str) -> list[str]:
    """The command line running ``qemu-img *args`` with at most ADDRESS_SPACE_BYTES of address
    space and ``cpu_seconds`` of CPU time (the kernel kills it past either)."""
    return [
        _executable("prlimit", "util-linux"),
        f"--as={ADDRESS_SPACE_BYTES}",
        f"--cpu={cpu_seconds}",
        "--",
        _executable("env", "coreutils"),
        # glibc reserves 64 MiB of address space for each thread's malloc arena: the I/O
        # threads of `qemu-img convert` would reach the cap without using the memory (1 run in
        # 10 did, to vmdk).
        "MALLOC_ARENA_MAX=2",
        qemu_img_executable(),
        *args,
    ]


def stderr_tail(stderr: str) -> str:
    """The end of a qemu-img error output, where the reason is, bounded for messages."""
    return stderr.strip()[-_STDERR_TAIL_CHARS:]
