"""prepare_image end to end on real files: fetch, inspection before any qemu-img read, convert."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from components.bounds import ImageTooLargeError
from components.config import ImageSpec
from components.fetch import Checksum
from components.inspection import UnsafeImageError
from components.prepare import prepare_image
from tests.unit.served import Served


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


def test_only_the_verified_checksum_is_reported(clean_qcow2: Path, tmp_path: Path) -> None:
    data = clean_qcow2.read_bytes()
    sha256 = Checksum("sha256", hashlib.sha256(data).hexdigest())
    sha512 = Checksum("sha512", hashlib.sha512(data).hexdigest())
    cases = [
        (ImageSpec(name="a", source_url=str(clean_qcow2), checksum=sha256), {"sha256": sha256}),
        (
            ImageSpec(
                name="b", source_url=str(clean_qcow2), checksum=sha256, checksum_sha512=sha512
            ),
            {"sha512": sha512},
        ),
        (ImageSpec(name="c", source_url=str(clean_qcow2)), {}),
    ]
    for spec, verified in cases:
        prepared = prepare_image("key", spec, tmp_path / "cache", "qcow2", lambda _: None)
        assert prepared.verified == {a: c.hexdigest for a, c in verified.items()}
        assert prepared.sha512 == (sha512.hexdigest if "sha512" in verified else None)


def make_qcow2(path: Path, fill: bytes) -> bytes:
    """A qcow2 of `fill` repeated to 1 MiB at `path`; returns the raw disk."""
    raw = path.with_suffix(".raw")
    raw.write_bytes((fill * (1 << 20))[: 1 << 20])
    qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, path)
    return raw.read_bytes()


def test_a_new_build_at_the_same_url_without_checksum_is_converted_anew(
    served: Served, tmp_path: Path
) -> None:
    spec = ImageSpec(name="nightly", source_url=served.url("nightly.qcow2"))
    cache = tmp_path / "cache"
    first_disk = make_qcow2(served.root / "nightly.qcow2", b"first build ")
    first = prepare_image("key", spec, cache, "raw", lambda _: None)
    assert first.path.read_bytes() == first_disk
    # The download cache of a checksum-less source only notices a new build once it is gone.
    shutil.rmtree(cache / "downloads")
    second_disk = make_qcow2(served.root / "nightly.qcow2", b"second build ")

    second = prepare_image("key", spec, cache, "raw", lambda _: None)

    assert second.path != first.path
    assert second.path.read_bytes() == second_disk


def test_a_huge_virtual_size_is_refused_before_conversion_and_stays_cached(
    served: Served, tmp_path: Path
) -> None:
    qemu_img("create", "-f", "qcow2", served.root / "huge.qcow2", "8T")
    spec = ImageSpec(name="huge", source_url=served.url("huge.qcow2"))

    for _ in range(2):
        with pytest.raises(ImageTooLargeError) as caught:
            prepare_image("key", spec, tmp_path / "cache", "raw", lambda _: None, max_bytes=1 << 30)
        assert str(caught.value).startswith(
            f"image 'huge': its virtual size is 8.0 TiB ({8 << 40} bytes); "
            "community-images:maxImageSize allows 1.0 GiB of virtual size"
        )

    assert [entry["path"] for entry in served.requests()] == ["/huge.qcow2"]  # verified, kept
    assert not list((tmp_path / "cache" / "converted").glob("*.raw"))


def test_what_is_said_shows_no_secret_of_the_url(
    served: Served, clean_qcow2: Path, tmp_path: Path
) -> None:
    shutil.copy(clean_qcow2, served.root / "clean.qcow2")
    url = served.url("clean.qcow2").replace("//", "//user:hunter2@") + "?sig=s3cr3t"
    said: list[str] = []

    prepare_image("key", ImageSpec(name="clean", source_url=url), tmp_path, "qcow2", said.append)

    assert said[0] == f"key (clean): fetching {served.url('clean.qcow2')}"
    cache_files = [p.read_text() for p in tmp_path.rglob("*.json")]
    assert cache_files
    for text in [*said, *cache_files]:
        assert "hunter2" not in text and "s3cr3t" not in text
