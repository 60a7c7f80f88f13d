"""inspect_image against real images made by qemu-img (and sfdisk for partition tables)."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from oslo_utils.imageutils import format_inspector

from components.bounds import ImageTooLargeError
from components.inspection import (
    FormatMismatchError,
    InspectedImage,
    UnsafeImageError,
    inspect_image,
)

NAME = "debian-11-generic"


def refused(error: type[Exception], reason: str) -> pytest.RaisesExc[Exception]:
    """Expect exactly `error` (not a subclass), its message naming the image, then `reason`."""
    return pytest.raises(
        error,
        match=f"^{re.escape(f'image {NAME!r}: {reason}')}",
        check=lambda raised: type(raised) is error,
    )


def qemu_img(*args: str | Path) -> None:
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True)


def partition(path: Path, script: str) -> None:
    subprocess.run(["sfdisk", "--quiet", str(path)], input=script, text=True, check=True)


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "disk.raw"
    # Non-zero so that qemu-img really stores data; no byte pattern of any format header.
    path.write_bytes(bytes(range(256)) * 4096)
    return path


@pytest.fixture
def qcow2(raw: Path, tmp_path: Path) -> Path:
    path = tmp_path / "disk.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, path)
    return path


def write_iso(path: Path) -> None:
    # oslo (like blkid) recognises ISO 9660 by its primary volume descriptor at 32 KiB.
    data = bytearray(64 * 1024)
    data[32 * 1024 : 32 * 1024 + 7] = b"\x01CD001\x01"
    data[34 * 1024 : 34 * 1024 + 7] = b"\xffCD001\x01"  # descriptor set terminator
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("declared", "qemu_format", "options"),
    [
        ("qcow2", "qcow2", []),
        ("vmdk", "vmdk", []),
        ("vmdk", "vmdk", ["-o", "subformat=streamOptimized"]),
        ("vhd", "vpc", []),
        ("vhdx", "vhdx", []),
        ("vdi", "vdi", []),
    ],
)
def test_accepts_image_in_declared_format(
    raw: Path, tmp_path: Path, declared: str, qemu_format: str, options: list[str]
) -> None:
    image = tmp_path / f"disk.{declared}"
    qemu_img("convert", "-f", "raw", "-O", qemu_format, *options, raw, image)

    assert inspect_image(NAME, image, declared).format == declared


def test_accepts_raw(raw: Path) -> None:
    assert inspect_image(NAME, raw, "raw").format == "raw"


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_accepts_partitioned_raw_disk_declared_raw(raw: Path, label: str) -> None:
    partition(raw, f"label: {label}\nstart=64, type=L\n")

    assert inspect_image(NAME, raw, "raw").format == "gpt"


def test_accepts_iso(tmp_path: Path) -> None:
    iso = tmp_path / "cd.iso"
    write_iso(iso)

    assert inspect_image(NAME, iso, "iso").format == "iso"


def test_accepts_bootable_iso_with_partition_table(tmp_path: Path) -> None:
    iso = tmp_path / "hybrid.iso"
    write_iso(iso)
    # Like isohybrid images: an MBR in the ISO's unused system area.
    partition(iso, "label: dos\nstart=64, type=17\n")

    assert inspect_image(NAME, iso, "iso").format == "iso"


def test_refuses_iso_declared_raw(tmp_path: Path) -> None:
    iso = tmp_path / "cd.iso"
    write_iso(iso)

    with refused(FormatMismatchError, "declared raw but the file is iso"):
        inspect_image(NAME, iso, "raw")


def test_refuses_qcow2_declared_raw(qcow2: Path) -> None:
    with refused(FormatMismatchError, "declared raw but the file is qcow2"):
        inspect_image(NAME, qcow2, "raw")


def test_refuses_qcow2_declared_vmdk(qcow2: Path) -> None:
    with refused(FormatMismatchError, "declared vmdk but the file is qcow2"):
        inspect_image(NAME, qcow2, "vmdk")


def test_refuses_raw_declared_qcow2(raw: Path) -> None:
    with refused(FormatMismatchError, "declared qcow2 but the file is raw"):
        inspect_image(NAME, raw, "qcow2")


def test_refuses_qcow2_with_backing_file(tmp_path: Path) -> None:
    image = tmp_path / "backed.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", image, "1M")

    with refused(UnsafeImageError, "unsafe qcow2: backing_file"):
        inspect_image(NAME, image, "qcow2")


def test_refuses_qcow2_with_external_data_file(tmp_path: Path) -> None:
    image = tmp_path / "external.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={tmp_path / 'data.raw'}", image, "1M")

    with refused(UnsafeImageError, "unsafe qcow2: data_file"):
        inspect_image(NAME, image, "qcow2")


@pytest.mark.parametrize("create_type", ["monolithicFlat", "monolithicSparse"])
def test_refuses_vmdk_with_extent_on_host_file(tmp_path: Path, create_type: str) -> None:
    descriptor = tmp_path / "descriptor.vmdk"
    descriptor.write_text(
        "# Disk DescriptorFile\n"
        "version=1\n"
        "CID=fffffffe\n"
        "parentCID=ffffffff\n"
        f'createType="{create_type}"\n'
        "\n"
        'RW 2048 FLAT "/etc/passwd" 0\n'
        "\n"
        'ddb.virtualHWVersion = "4"\n'
    )

    with refused(UnsafeImageError, "unsafe vmdk: descriptor"):
        inspect_image(NAME, descriptor, "vmdk")


def test_refuses_qcow2_truncated_inside_header(qcow2: Path) -> None:
    qcow2.write_bytes(qcow2.read_bytes()[:300])

    with refused(FormatMismatchError, "declared qcow2 but the file is raw"):
        inspect_image(NAME, qcow2, "qcow2")


def test_refuses_qcow2_truncated_after_header(qcow2: Path) -> None:
    content = qcow2.read_bytes()
    qcow2.write_bytes(content[: len(content) // 2])

    with refused(UnsafeImageError, "qemu-img check found the qcow2 file corrupt or truncated"):
        inspect_image(NAME, qcow2, "qcow2")


def test_refuses_file_with_two_format_headers(qcow2: Path) -> None:
    content = bytearray(qcow2.read_bytes())
    # An ISO volume descriptor in the unused rest of the qcow2 header cluster.
    content[32 * 1024 : 32 * 1024 + 7] = b"\x01CD001\x01"
    qcow2.write_bytes(bytes(content))

    with refused(UnsafeImageError, "the file matches several formats (iso, qcow2)"):
        inspect_image(NAME, qcow2, "qcow2")


@pytest.mark.parametrize(
    ("option", "reason"),
    [("backing_file=/etc/passwd,backing_fmt=raw", "backing_file"), ("data_file={}", "data_file")],
)
def test_qemu_img_refuses_what_oslo_would_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, reason: str
) -> None:
    image = tmp_path / "unsafe.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", option.format(tmp_path / "data.raw"), image, "1M")
    monkeypatch.setattr(format_inspector.QcowInspector, "safety_check", lambda self: None)

    with refused(UnsafeImageError, f"unsafe qcow2: {reason}"):
        inspect_image(NAME, image, "qcow2")


def test_unknown_declared_format_is_a_clear_error(raw: Path) -> None:
    with refused(ValueError, "unsupported disk format 'ami'"):
        inspect_image(NAME, raw, "ami")


def test_reports_the_virtual_size(raw: Path, qcow2: Path) -> None:
    size = raw.stat().st_size

    assert inspect_image(NAME, qcow2, "qcow2") == InspectedImage("qcow2", size)
    assert inspect_image(NAME, raw, "raw", max_bytes=size) == InspectedImage("raw", size)


@pytest.mark.parametrize("max_bytes", [None, 1 << 30])
def test_a_small_file_declaring_a_huge_disk_is_refused_before_qemu_img_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_bytes: int | None
) -> None:
    image = tmp_path / "huge.qcow2"
    qemu_img("create", "-f", "qcow2", image, "8T")
    assert image.stat().st_size < 400 * 1024
    started: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(args: list[str], *more: Any, **options: Any) -> Any:
        started.append(args)
        return real_run(args, *more, **options)

    monkeypatch.setattr(subprocess, "run", recording_run)
    bound = {} if max_bytes is None else {"max_bytes": max_bytes}  # None: the default, 256 GiB

    with pytest.raises(ImageTooLargeError) as caught:
        inspect_image(NAME, image, "qcow2", **bound)

    message = str(caught.value)
    assert message.startswith(
        f"image {NAME!r}: its virtual size is 8.0 TiB ({8 << 40} bytes); "
        "community-images:maxImageSize allows "
    )
    assert [argv[argv.index("-f") - 1] for argv in started] == ["info"]
