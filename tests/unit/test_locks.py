"""tools/locks.py: the lock refusal of the Pulumi CLI rewritten with whether its holder is alive,
on the CLI's real message and on real processes."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.locks import Lock, holder_alive, main, rewrite, stack_of

HOST = socket.gethostname()
# What pulumi v3.274.1 prints (pkg/backend/diy/lock.go, checkForLock), with its ANSI colours.
REFUSAL = (
    "\x1b[31merror: \x1b[0mthe stack is currently locked by 2 lock(s). Either wait for the other "
    "process(es) to end or delete the lock file with `pulumi cancel`.\n",
    f"  s3://state/.pulumi/locks/organization/p/dev/a.json: created by root@{HOST} (pid 11) at "
    "2026-12-01T11:00:00Z\n",
    "  s3://state/.pulumi/locks/organization/p/dev/b.json: created by ci@runner-7 (pid 22) at "
    "2026-12-01T11:00:01+01:00\n",
    "Some other line\n",
)


def now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture
def named_pulumi(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process named pulumi, as the CLI's is."""
    binary = tmp_path / "pulumi"
    shutil.copy("/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_live_pulumi_holder_is_alive(named_pulumi: subprocess.Popen[bytes]) -> None:
    assert holder_alive(Lock("u", "root", HOST, named_pulumi.pid, now())) is True


def test_a_holder_that_ended_is_dead(named_pulumi: subprocess.Popen[bytes]) -> None:
    named_pulumi.kill()
    named_pulumi.wait()
    assert holder_alive(Lock("u", "root", HOST, named_pulumi.pid, now())) is False


def test_a_zombie_holder_is_dead(named_pulumi: subprocess.Popen[bytes]) -> None:
    named_pulumi.kill()
    # Not reaped yet: /proc still lists it, in state Z.
    for _ in range(100):
        stat = Path(f"/proc/{named_pulumi.pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            break
        subprocess.run(["sleep", "0.01"], check=True)
    assert holder_alive(Lock("u", "root", HOST, named_pulumi.pid, now())) is False


def test_a_reused_pid_is_not_the_holder(named_pulumi: subprocess.Popen[bytes]) -> None:
    """A pulumi process that started after the lock was written did not write it."""
    before = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert holder_alive(Lock("u", "root", HOST, named_pulumi.pid, before)) is False


def test_a_pid_held_by_another_program_is_not_the_holder() -> None:
    with subprocess.Popen(["sleep", "60"]) as other:
        try:
            assert holder_alive(Lock("u", "root", HOST, other.pid, now())) is False
        finally:
            other.kill()


def test_a_holder_on_another_host_is_unknown() -> None:
    assert holder_alive(Lock("u", "root", f"not-{HOST}", 1, now())) is None


@pytest.mark.parametrize(
    ("args", "stack"),
    [
        (["up", "--stack", "dev"], "dev"),
        (["up", "-s", "dev", "--yes"], "dev"),
        (["up", "--stack=dev"], "dev"),
        (["up", "--yes"], None),
    ],
)
def test_the_stack_is_read_from_the_arguments(args: list[str], stack: str | None) -> None:
    assert stack_of(args) == stack


def test_dead_holders_name_pulumi_cancel_with_the_stack() -> None:
    text = "".join(rewrite(REFUSAL, "dev", lambda lock: False))
    assert "currently locked" not in text
    assert "the stack is locked by 2 other run(s):" in text
    assert f"pid 11 on {HOST} (root), locked at 2026-12-01T11:00:00Z: no longer running" in text
    assert "lock: s3://state/.pulumi/locks/organization/p/dev/b.json" in text
    assert "remove it with `pulumi cancel --stack dev`" in text
    assert text.endswith("Some other line\n")


def test_a_live_holder_never_names_pulumi_cancel() -> None:
    """`pulumi cancel` removes every lock of the stack, so one live holder is enough to keep it
    out of the advice."""
    text = "".join(rewrite(REFUSAL, "dev", lambda lock: lock.pid == 11))
    assert "pid 11 on" in text
    assert "still running; wait for it to end" in text
    assert "pulumi cancel" not in text


def test_unknown_holders_name_cancel_only_once_known_to_be_gone() -> None:
    text = "".join(rewrite(REFUSAL[:1] + REFUSAL[2:3], None, lambda lock: None))
    assert (
        "on another host, so not known here whether it still runs (`ps -p 22` on runner-7)" in text
    )
    assert "Only once the run on runner-7 is known to be gone" in text
    assert "`pulumi cancel`" in text


def test_other_output_passes_unchanged() -> None:
    stderr = io.StringIO()
    assert main(["up"], io.StringIO("error: something else\nline 2\n"), stderr) == 0
    assert stderr.getvalue() == "error: something else\nline 2\n"


def test_a_refusal_at_the_end_of_the_output_is_rewritten() -> None:
    """The CLI exits right after the lock lines; the explanation must still come out."""
    text = "".join(rewrite(REFUSAL[:2], "dev", lambda lock: True))
    assert text.startswith("error: the stack is locked by 1 other run(s):\n")
    assert "wait for it to end" in text
