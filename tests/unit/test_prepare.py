"""prepare_image end to end on real files: fetch, inspection before any qemu-img read, convert."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from components.config import ImageSpec
from components.fetch import Checksum
from components.inspection import UnsafeImageError
from components.prepare import prepare_image


def qemu_img(*args: str | Path) -> None:
    subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def clean_qcow2(tmp_path: Path) -> Path:
    raw = tmp_path / "clean.raw"
    raw.write_bytes(b"community-images" * 65536)
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, tmp_path / "clean.qcow2")
    return tmp_path / "clean.qcow2"


@pytest.fixture
def backed_qcow2(tmp_path: Path) -> Path:
    path = tmp_path / "backed.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", path, "1M")
    return path


def test_same_format_is_uploaded_as_fetched(clean_qcow2: Path, tmp_path: Path) -> None:
    said: list[str] = []
    sha512 = hashlib.sha512(clean_qcow2.read_bytes()).hexdigest()
    spec = ImageSpec(
        name="clean", source_url=str(clean_qcow2), checksum_sha512=Checksum("sha512", sha512)
    )
    prepared = prepare_image("key", spec, tmp_path / "cache", "qcow2", said.append)
    assert prepared.path.read_bytes() == clean_qcow2.read_bytes()
    # The file is the verified source, so Glance's hash of it can be checked against this.
    assert prepared.sha512 == sha512
    assert said[0] == f"key (clean): fetching {clean_qcow2}"
    assert said[-1].startswith("key (clean): inspected qcow2 in ")
    assert not (tmp_path / "cache" / "converted").exists()


def test_other_format_is_converted(clean_qcow2: Path, tmp_path: Path) -> None:
    said: list[str] = []
    spec = ImageSpec(name="clean", source_url=str(clean_qcow2))
    prepared = prepare_image("key", spec, tmp_path / "cache", "raw", said.append)
    assert prepared.path.parent == tmp_path / "cache" / "converted"
    assert prepared.path.read_bytes().startswith(b"community-images")
    assert prepared.sha512 is None
    assert said[-2] == "key (clean): converting qcow2 to raw"
    assert said[-1].startswith("key (clean): converted to raw, inspection included, in ")


@pytest.mark.parametrize("target", ["qcow2", "raw"])
def test_backing_file_is_refused_whatever_the_target(
    backed_qcow2: Path, tmp_path: Path, target: str
) -> None:
    spec = ImageSpec(name="backed", source_url=str(backed_qcow2))
    with pytest.raises(UnsafeImageError, match=r"^image 'backed': unsafe qcow2: backing_file"):
        prepare_image("key", spec, tmp_path / "cache", target, lambda _: None)
    converted = tmp_path / "cache" / "converted"
    assert not converted.exists() or not any(p.suffix == f".{target}" for p in converted.iterdir())
