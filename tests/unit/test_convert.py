"""convert_image with real qemu-img conversions of small images."""

import json
import re
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from components import convert
from components.convert import ConversionError, convert_image
from components.inspection import UnsafeImageError, inspect_image

NAME = "debian-11-generic"


def qemu_img(*args: str | Path) -> str:
    done = subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "sources" / "sha256-0123abcd"
    path.parent.mkdir()
    # 8 MiB of non-zero data: enough for qemu-img to report progress several times.
    path.write_bytes(bytes(range(256)) * 4096 * 8)
    return path


@pytest.fixture
def qcow2(raw: Path) -> Path:
    path = raw.with_name("sha256-4567cdef")
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, path)
    return path


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def started_commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command line started from now on (qemu-img convert, and inspection's info/check)."""
    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], *more: Any, **options: Any) -> subprocess.Popen[Any]:
        started.append([str(arg) for arg in args])
        return real_popen(args, *more, **options)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    return started


def conversions(started: list[list[str]]) -> list[list[str]]:
    return [argv for argv in started if "convert" in argv]


def leftovers(cache_dir: Path) -> list[str]:
    """Cache entries other than the per-output lock files, which are kept by design."""
    return sorted(path.name for path in cache_dir.iterdir() if not path.name.endswith(".lock"))


def test_qcow2_to_raw_reproduces_the_data(raw: Path, qcow2: Path, cache_dir: Path) -> None:
    output = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir)

    assert output == cache_dir / f"{qcow2.name}.raw"
    assert output.read_bytes() == raw.read_bytes()
    assert inspect_image(NAME, output, "raw") == "raw"
    assert leftovers(cache_dir) == [output.name]


def test_same_format_returns_the_source_without_copying(qcow2: Path, cache_dir: Path) -> None:
    assert convert_image(NAME, qcow2, "qcow2", "qcow2", cache_dir) is qcow2
    assert not cache_dir.exists()


def test_existing_output_is_reused_without_running_qemu_img(
    qcow2: Path, cache_dir: Path, started_commands: list[list[str]]
) -> None:
    first = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir)
    inode = first.stat().st_ino
    started_commands.clear()

    second = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir)

    assert second == first
    assert second.stat().st_ino == inode
    assert started_commands == []


def test_concurrent_callers_share_one_conversion(
    raw: Path, qcow2: Path, cache_dir: Path, started_commands: list[list[str]]
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        outputs = list(
            pool.map(lambda _: convert_image(NAME, qcow2, "qcow2", "raw", cache_dir), range(3))
        )

    assert len(conversions(started_commands)) == 1
    assert len(set(outputs)) == 1
    assert outputs[0].read_bytes() == raw.read_bytes()


def test_partial_file_of_a_crashed_run_is_not_trusted(
    raw: Path, qcow2: Path, cache_dir: Path
) -> None:
    cache_dir.mkdir()
    debris = cache_dir / f".{qcow2.name}.raw.partial"
    debris.write_bytes(b"half-written by a killed run")

    output = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir)

    assert output.read_bytes() == raw.read_bytes()
    assert leftovers(cache_dir) == [output.name]


def corrupt_first_compressed_cluster(image: Path) -> None:
    """Garble compressed data: header, tables and `qemu-img check` stay happy, reading fails."""
    content = bytearray(image.read_bytes())
    (cluster_bits,) = struct.unpack_from(">I", content, 20)
    (l1_offset,) = struct.unpack_from(">Q", content, 40)
    (l1_entry,) = struct.unpack_from(">Q", content, l1_offset)
    (l2_entry,) = struct.unpack_from(">Q", content, l1_entry & 0x00FF_FFFF_FFFF_FE00)
    assert l2_entry & 1 << 62, "first cluster is not compressed"
    # qcow2 spec: a compressed cluster descriptor's host offset is its low 62 - (bits - 8) bits.
    data_offset = l2_entry & ((1 << (62 - (cluster_bits - 8))) - 1)
    content[data_offset : data_offset + 64] = b"\xa5" * 64
    image.write_bytes(bytes(content))


def test_failed_conversion_names_the_image_and_leaves_nothing(raw: Path, cache_dir: Path) -> None:
    compressed = raw.with_name("sha256-89abef01")
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, compressed)
    corrupt_first_compressed_cluster(compressed)
    assert inspect_image(NAME, compressed, "qcow2") == "qcow2"

    with pytest.raises(ConversionError) as caught:
        convert_image(NAME, compressed, "qcow2", "raw", cache_dir)

    message = str(caught.value)
    assert message.startswith(f"image '{NAME}': qemu-img convert from qcow2 to raw failed")
    assert "Input/output error" in message  # qemu-img's own stderr
    assert leftovers(cache_dir) == []


def test_output_failing_inspection_is_discarded(
    qcow2: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def inspect_source_only(name: str, path: Path, declared_format: str) -> str:
        if path.parent == cache_dir:
            raise UnsafeImageError(f"image {name!r}: declared raw but the file is iso")
        return inspect_image(name, path, declared_format)

    monkeypatch.setattr(convert, "inspect_image", inspect_source_only)

    with pytest.raises(ConversionError, match=re.escape(f"image '{NAME}': the raw output")):
        convert_image(NAME, qcow2, "qcow2", "raw", cache_dir)
    assert leftovers(cache_dir) == []


def test_vhd_target_is_qemu_img_vpc(
    raw: Path, cache_dir: Path, started_commands: list[list[str]]
) -> None:
    output = convert_image(NAME, raw, "raw", "vhd", cache_dir)

    [argv] = conversions(started_commands)
    assert argv[argv.index("-f") + 1] == "raw"
    assert argv[argv.index("-O") + 1] == "vpc"
    assert output.name == f"{raw.name}.vhd"
    assert inspect_image(NAME, output, "vhd") == "vhd"
    assert json.loads(qemu_img("info", "-f", "vpc", "--output=json", output))["format"] == "vpc"


def test_progress_reports_increasing_percentages(raw: Path, cache_dir: Path) -> None:
    reported: list[float] = []

    convert_image(NAME, raw, "raw", "qcow2", cache_dir, progress=reported.append)

    assert len(reported) >= 3
    assert reported == sorted(set(reported))
    assert reported[-1] == 100.0


def test_interrupted_conversion_leaves_nothing(raw: Path, cache_dir: Path) -> None:
    def interrupt(percent: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_image(NAME, raw, "raw", "qcow2", cache_dir, progress=interrupt)

    assert leftovers(cache_dir) == []


def test_backing_file_is_refused_before_qemu_img_reads_it(
    tmp_path: Path, cache_dir: Path, started_commands: list[list[str]]
) -> None:
    # `qemu-img convert` of this file copies the host's /etc/passwd into the output.
    leaky = tmp_path / "sha256-leaky"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", leaky, "1M")
    started_commands.clear()

    with pytest.raises(
        UnsafeImageError, match=re.escape(f"image '{NAME}': unsafe qcow2: backing_file")
    ):
        convert_image(NAME, leaky, "qcow2", "raw", cache_dir)

    assert conversions(started_commands) == []
    assert leftovers(cache_dir) == []


@pytest.mark.parametrize(("source_format", "target_format"), [("iso", "raw"), ("qcow2", "ami")])
def test_formats_outside_qemu_img_conversion_are_refused(
    qcow2: Path, cache_dir: Path, source_format: str, target_format: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"image '{NAME}': cannot convert")):
        convert_image(NAME, qcow2, source_format, target_format, cache_dir)
    assert not cache_dir.exists()
