"""components.qemu_img: the limits every qemu-img runs under, seen by the process itself."""

from __future__ import annotations

import subprocess

from components.qemu_img import ADDRESS_SPACE_BYTES, limited_argv, stderr_tail


def test_limited_argv_runs_qemu_img() -> None:
    done = subprocess.run(limited_argv(10, "--version"), capture_output=True, text=True)

    assert done.returncode == 0
    assert done.stdout.startswith("qemu-img version ")


def test_the_limits_are_set_before_the_exec() -> None:
    """What the exec'd program sees, with qemu-img swapped for a shell that reports it."""
    argv = limited_argv(7, "--version")
    executable = argv.index("--version") - 1
    argv[executable:] = [
        "/bin/sh",
        "-c",
        'cat /proc/self/limits; echo "arenas=$MALLOC_ARENA_MAX"',
    ]

    report = subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    limits = {line[:26].strip(): line[26:].split() for line in report.splitlines()[1:]}
    assert limits["Max cpu time"][:2] == ["7", "7"]
    assert limits["Max address space"][:2] == [str(ADDRESS_SPACE_BYTES)] * 2
    assert "arenas=2" in report


def test_stderr_tail_keeps_the_end() -> None:
    assert stderr_tail("  start " + "x" * 3000 + " reason\n") == ("x" * 3000 + " reason")[-2000:]
