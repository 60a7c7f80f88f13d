"""Faults of the image sources and hostile input, caused for real through the whole program.

Each run either succeeds, or stops with one error that names the image or config key (and the
URL or formats at fault) without a Python traceback, having uploaded nothing; after the cause is
fixed, the next plain `pulumi up` converges.
"""

from __future__ import annotations

import bz2
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from bench.images import make_qcow2 as bench_qcow2
from demo.imageserver import RunningServer
from tests.integration.conftest import Stacks, make_qcow2, outputs, sha512_of

pytestmark = pytest.mark.integration

MiB = 1 << 20


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def images_config(server: RunningServer, path: Path, **extra: Any) -> dict[str, Any]:
    spec = {"name": path.name.split(".")[0], "sourceUrl": f"{server.url}/{path.name}", **extra}
    return {"community-images:images": {"faulty": spec}, "community-images:diskFormat": "raw"}


def failed_up(stack: auto.Stack) -> str:
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert "Traceback" not in message, message
    return message


def glance_has(admin: Connection, name: str) -> bool:
    return bool(list(admin.image.images(name=name, visibility="all")))


def test_a_body_cut_short_is_resumed_and_verified(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = bench_qcow2(root, unique("cut"), 32 * MiB, 16 * MiB)
    image_server.faults.truncate(path.name, after=5 * MiB, times=3)
    stack = new_stack(images_config(image_server, path, checksumSha512=f"sha512:{sha512_of(path)}"))
    stack.up(color="never")
    image = admin.image.get_image(outputs(stack)["imageIds"]["faulty"])
    assert (image.status, image.disk_format) == ("active", "raw")
    gets = [e for e in image_server.entries if e["path"] == f"/{path.name}"]
    assert [e["range"] is not None for e in gets] == [False, True, True, True]


@pytest.mark.parametrize(
    ("content", "checksum", "expected"),
    [
        (
            b"<html><body>Sign in to download</body></html>\n",
            False,
            "declared qcow2 but the file is raw",
        ),
        (b"<html><body>Sign in to download</body></html>\n", True, "checksum mismatch"),
        (b"", False, "an empty file (0 bytes) is no image"),
    ],
    ids=["html-page", "html-page-with-checksum", "zero-length"],
)
def test_a_source_that_is_no_image_stops_the_run_naming_it(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    tmp_path: Path,
    content: bytes,
    checksum: bool,
    expected: str,
) -> None:
    """The server answers 200 with something else than the image; once it serves the image,
    the next up converges."""
    real = make_qcow2(tmp_path / f"{unique('source')}.qcow2", "real")
    served = image_server.root / real.name  # type: ignore[attr-defined]
    served.write_bytes(content)
    extra = {"checksumSha512": f"sha512:{sha512_of(real)}"} if checksum else {}
    stack = new_stack(images_config(image_server, served, **extra))
    message = failed_up(stack)
    assert f"image {real.stem!r}" in message
    assert f"{image_server.url}/{real.name}" in message
    assert expected in message
    assert not glance_has(admin, real.stem)

    served.write_bytes(real.read_bytes())
    stack.up(color="never")
    assert admin.image.get_image(outputs(stack)["imageIds"]["faulty"]).status == "active"


def test_a_corrupt_bz2_stops_the_run_naming_the_image_and_url(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path
) -> None:
    real = make_qcow2(tmp_path / f"{unique('corrupt')}.qcow2", "bz2")
    packed = bz2.compress(real.read_bytes())
    served = image_server.root / f"{real.name}.bz2"  # type: ignore[attr-defined]
    served.write_bytes(packed[: len(packed) // 2] + b"\0" * 4096 + packed[len(packed) // 2 :])
    stack = new_stack(images_config(image_server, served))
    message = failed_up(stack)
    assert f"image {real.stem!r} from {image_server.url}/{served.name}" in message
    assert "cannot decompress bz2 data" in message
    assert not glance_has(admin, real.stem)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, "404"),
        ("this is not JSON", "cannot read"),
        ('{"ubuntu-desktop": {"checksum": "sha256:xyz"}}', ".ubuntu-desktop.name: is required"),
    ],
    ids=["404", "not-json", "missing-keys"],
)
def test_a_bad_manifest_names_the_key_and_url(
    new_stack: Stacks, image_server: RunningServer, body: str | None, expected: str
) -> None:
    name = f"{unique('manifest')}.json"
    if body is not None:
        (image_server.root / name).write_text(body)  # type: ignore[attr-defined]
    url = f"{image_server.url}/{name}"
    stack = new_stack(
        {"community-images:azimuthImagesManifestUrl": url, "community-images:slurmImages": {}}
    )
    message = failed_up(stack)
    assert "azimuthImagesManifestUrl" in message
    assert url in message
    assert expected in message


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def fake_iso(path: Path) -> Path:
    """An ISO 9660 volume as far as any format probe goes: the descriptor at sector 16."""
    with path.open("wb") as out:
        out.truncate(1 << 20)
        out.seek(16 * 2048)
        out.write(b"\x01CD001\x01")
    return path


def formats_case(kind: str, directory: Path) -> tuple[Path, str, str]:
    """(file, declared format, real format) of one kind of confusion."""
    name = unique(kind)
    if kind == "qcow2-as-raw":
        return make_qcow2(directory / f"{name}.img", kind), "raw", "qcow2"
    if kind == "backing-file-as-raw":
        path = directory / f"{name}.img"
        qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(path), "1M")
        return path, "raw", "qcow2"
    if kind == "raw-as-qcow2":
        path = directory / f"{name}.qcow2"
        path.write_bytes(b"plain bytes, no qcow2 header\n" * 4096)
        return path, "qcow2", "raw"
    if kind == "vmdk-as-qcow2":
        source = make_qcow2(directory / f"{name}-src.qcow2", kind)
        path = directory / f"{name}.qcow2"
        qemu_img("convert", "-f", "qcow2", "-O", "vmdk", str(source), str(path))
        source.unlink()
        return path, "qcow2", "vmdk"
    return fake_iso(directory / f"{name}.qcow2"), "qcow2", "iso"


@pytest.mark.parametrize(
    "kind",
    ["qcow2-as-raw", "backing-file-as-raw", "raw-as-qcow2", "vmdk-as-qcow2", "iso-as-qcow2"],
)
def test_a_format_other_than_declared_is_refused_before_conversion_or_upload(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path, kind: str
) -> None:
    """The bytes decide, never the declaration or the file name."""
    path, declared, real = formats_case(kind, image_server.root)  # type: ignore[attr-defined]
    cache = tmp_path / "fault-cache"
    stack = new_stack(images_config(image_server, path, sourceDiskFormat=declared), cache=cache)
    message = failed_up(stack)
    name = path.name.split(".")[0]
    assert f"image {name!r}" in message
    assert declared in message and real in message
    assert not glance_has(admin, name)
    assert not [p for p in (cache / "converted").glob("*") if not p.name.endswith(".lock")]
