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
from components.bounds import GIB, ImageTooLargeError
from components.convert import ConversionError, convert_image
from components.inspection import InspectedImage, UnsafeImageError, inspect_image
from components.qemu_img import ADDRESS_SPACE_BYTES

NAME = "debian-11-generic"
Started = list[subprocess.Popen[Any]]


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
def started(monkeypatch: pytest.MonkeyPatch) -> Started:
    """Every process started from now on (qemu-img convert, and inspection's info/check)."""
    processes: Started = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], *more: Any, **options: Any) -> subprocess.Popen[Any]:
        processes.append(real_popen(args, *more, **options))
        return processes[-1]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    return processes


def conversions(started: Started) -> list[list[str]]:
    commands = [[str(arg) for arg in process.args] for process in started]
    return [argv for argv in commands if "convert" in argv]


def leftovers(cache_dir: Path) -> list[str]:
    """Cache entries other than the per-output lock files, which are kept by design."""
    return sorted(path.name for path in cache_dir.iterdir() if not path.name.endswith(".lock"))


def test_qcow2_to_raw_reproduces_the_data(raw: Path, qcow2: Path, cache_dir: Path) -> None:
    output = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name)

    assert output == cache_dir / f"{qcow2.name}.raw"
    assert output.read_bytes() == raw.read_bytes()
    assert inspect_image(NAME, output, "raw").format == "raw"
    assert leftovers(cache_dir) == [output.name]


def test_same_format_returns_the_source_without_copying(qcow2: Path, cache_dir: Path) -> None:
    assert convert_image(NAME, qcow2, "qcow2", "qcow2", cache_dir, qcow2.name) is qcow2
    assert not cache_dir.exists()


def test_existing_output_is_reused_without_running_qemu_img(
    qcow2: Path, cache_dir: Path, started: Started
) -> None:
    first = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name)
    inode = first.stat().st_ino
    started.clear()

    second = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name)

    assert second == first
    assert second.stat().st_ino == inode
    assert started == []


def test_concurrent_callers_share_one_conversion(
    raw: Path, qcow2: Path, cache_dir: Path, started: Started
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        outputs = list(
            pool.map(
                lambda _: convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name),
                range(3),
            )
        )

    assert len(conversions(started)) == 1
    assert len(set(outputs)) == 1
    assert outputs[0].read_bytes() == raw.read_bytes()


def test_partial_file_of_a_crashed_run_is_not_trusted(
    raw: Path, qcow2: Path, cache_dir: Path
) -> None:
    cache_dir.mkdir()
    debris = cache_dir / f".{qcow2.name}.raw.partial"
    debris.write_bytes(b"half-written by a killed run")

    output = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name)

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
    assert inspect_image(NAME, compressed, "qcow2").format == "qcow2"

    with pytest.raises(ConversionError) as caught:
        convert_image(NAME, compressed, "qcow2", "raw", cache_dir, compressed.name)

    message = str(caught.value)
    assert message.startswith(f"image '{NAME}': qemu-img convert from qcow2 to raw failed")
    assert "Input/output error" in message  # qemu-img's own stderr
    assert leftovers(cache_dir) == []


def test_output_failing_inspection_is_discarded(
    qcow2: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def inspect_source_only(
        name: str, path: Path, declared_format: str, **options: Any
    ) -> InspectedImage:
        if path.parent == cache_dir:
            raise UnsafeImageError(f"image {name!r}: declared raw but the file is iso")
        return inspect_image(name, path, declared_format, **options)

    monkeypatch.setattr(convert, "inspect_image", inspect_source_only)

    with pytest.raises(ConversionError, match=re.escape(f"image '{NAME}': the raw output")):
        convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, qcow2.name)
    assert leftovers(cache_dir) == []


def test_vhd_target_is_qemu_img_vpc(raw: Path, cache_dir: Path, started: Started) -> None:
    output = convert_image(NAME, raw, "raw", "vhd", cache_dir, raw.name)

    [argv] = conversions(started)
    assert argv[argv.index("-f") + 1] == "raw"
    assert argv[argv.index("-O") + 1] == "vpc"
    assert output.name == f"{raw.name}.vhd"
    assert inspect_image(NAME, output, "vhd").format == "vhd"
    assert json.loads(qemu_img("info", "-f", "vpc", "--output=json", output))["format"] == "vpc"


def test_progress_reports_increasing_percentages(raw: Path, cache_dir: Path) -> None:
    reported: list[float] = []

    convert_image(NAME, raw, "raw", "qcow2", cache_dir, raw.name, progress=reported.append)

    assert len(reported) >= 3
    assert reported == sorted(set(reported))
    assert reported[-1] == 100.0


def test_interrupted_conversion_leaves_nothing(raw: Path, cache_dir: Path) -> None:
    def interrupt(percent: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_image(NAME, raw, "raw", "qcow2", cache_dir, raw.name, progress=interrupt)

    assert leftovers(cache_dir) == []


def test_backing_file_is_refused_before_qemu_img_reads_it(
    tmp_path: Path, cache_dir: Path, started: Started
) -> None:
    # `qemu-img convert` of this file copies the host's /etc/passwd into the output.
    leaky = tmp_path / "sha256-leaky"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", leaky, "1M")
    started.clear()

    with pytest.raises(
        UnsafeImageError, match=re.escape(f"image '{NAME}': unsafe qcow2: backing_file")
    ):
        convert_image(NAME, leaky, "qcow2", "raw", cache_dir, leaky.name)

    assert conversions(started) == []
    assert leftovers(cache_dir) == []


@pytest.mark.parametrize(("source_format", "target_format"), [("iso", "raw"), ("qcow2", "ami")])
def test_formats_outside_qemu_img_conversion_are_refused(
    qcow2: Path, cache_dir: Path, source_format: str, target_format: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"image '{NAME}': cannot convert")):
        convert_image(NAME, qcow2, source_format, target_format, cache_dir, qcow2.name)
    assert not cache_dir.exists()


def test_the_output_is_named_by_the_content_id(raw: Path, qcow2: Path, cache_dir: Path) -> None:
    """A new build under the same name (no checksum) has another content id: converted anew."""
    first = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, "sha256-0001")
    other_raw = raw.with_name("other.raw")
    other_raw.write_bytes(bytes(reversed(range(256))) * 4096 * 8)
    qemu_img("convert", "-f", "raw", "-O", "qcow2", other_raw, qcow2)

    second = convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, "sha256-0002.unbz2")

    assert (first.name, second.name) == ("sha256-0001.raw", "sha256-0002.unbz2.raw")
    assert first.read_bytes() == raw.read_bytes()
    assert second.read_bytes() == other_raw.read_bytes()


@pytest.mark.parametrize("content_id", ["../escape", ".hidden", "a/b", ""])
def test_a_content_id_must_name_a_file(qcow2: Path, cache_dir: Path, content_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a file"):
        convert_image(NAME, qcow2, "qcow2", "raw", cache_dir, content_id)
    assert not cache_dir.exists()


def test_qemu_img_convert_runs_under_the_limits(
    raw: Path, cache_dir: Path, started: Started
) -> None:
    limits: list[str] = []

    def read_limits(percent: float) -> None:
        if not limits:  # qemu-img is running: it reports progress
            [converting] = [p for p in started if "convert" in p.args]
            limits.extend(Path(f"/proc/{converting.pid}/limits").read_text().splitlines())

    convert_image(NAME, raw, "raw", "qcow2", cache_dir, raw.name, progress=read_limits)

    values = {line[:26].strip(): line[26:].split()[:2] for line in limits[1:]}
    assert values["Max cpu time"] == ["360", "360"]  # 300 s + 60 s for its (first) GiB
    assert values["Max address space"] == [str(ADDRESS_SPACE_BYTES)] * 2
    assert [convert.conversion_seconds(size) for size in (GIB, GIB + 1)] == [360, 420]


def test_a_conversion_past_its_time_is_killed_and_leaves_nothing(
    raw: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(convert, "CONVERT_BASE_SECONDS", 0)
    monkeypatch.setattr(convert, "CONVERT_SECONDS_PER_GIB", 0)

    with pytest.raises(ConversionError) as caught:
        convert_image(NAME, raw, "raw", "qcow2", cache_dir, raw.name)

    assert str(caught.value).startswith(
        f"image '{NAME}': qemu-img convert from raw to qcow2 did not finish in 0 s, the limit "
        "for 8.0 MiB of virtual size"
    )
    assert leftovers(cache_dir) == []


def test_a_source_past_the_size_bound_is_never_converted(
    tmp_path: Path, cache_dir: Path, started: Started
) -> None:
    huge = tmp_path / "sha256-huge"
    qemu_img("create", "-f", "qcow2", huge, "8T")
    started.clear()

    with pytest.raises(ImageTooLargeError, match=r"virtual size is 8\.0 TiB"):
        convert_image(NAME, huge, "qcow2", "raw", cache_dir, huge.name, max_bytes=GIB)

    assert conversions(started) == []
    assert leftovers(cache_dir) == []
