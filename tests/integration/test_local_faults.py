"""Local faults: a cache that fills up, two stacks sharing one cache at the same time, and the
cloud's secrets, which must never show anywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import openstack.config
import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from bench.images import make_qcow2
from demo.imageserver import RunningServer
from tests.integration.conftest import Stacks, outputs, sha512_of

pytestmark = pytest.mark.integration

MiB = 1 << 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 100 MiB filesystem of its own (tmpfs; the tests run as root, as CI does)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(disk: Path, leave_mib: int) -> Path:
    """Takes all the space of ``disk`` but ``leave_mib`` MiB; delete the file to free it."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free // MiB
    with filler.open("wb") as out:
        for _ in range(free - leave_mib):
            out.write(b"\1" * MiB)
    return filler


@pytest.mark.parametrize(("leave_mib", "phase"), [(20, "download"), (70, "conversion")])
def test_a_full_cache_names_cache_dir_and_the_image_and_a_later_run_succeeds(
    new_stack: Stacks,
    image_server: RunningServer,
    admin: Connection,
    small_disk: Path,
    leave_mib: int,
    phase: str,
) -> None:
    """48 MiB to download, then 48 MiB more for its raw conversion: with 20 MiB free the download
    fails, with 70 MiB free the conversion does."""
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = make_qcow2(root, f"full-{phase}-{small_disk.parent.name[-6:]}", 64 * MiB, 48 * MiB)
    cache = small_disk / "cache"
    spec = {
        "name": path.stem,
        "sourceUrl": f"{image_server.url}/{path.name}",
        "checksumSha512": f"sha512:{sha512_of(path)}",
    }
    stack = new_stack(
        {"community-images:images": {"full": spec}, "community-images:diskFormat": "raw"},
        cache=cache,
    )
    filler = fill(small_disk, leave_mib)
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    message = str(err.value)
    assert "Traceback" not in message
    assert f"image {path.stem!r}: the cache directory {cache} (community-images:cacheDir)" in (
        message
    )
    assert "No space left on device" in message
    assert not list(admin.image.images(name=path.stem, visibility="all"))
    # Nothing a later run could take for a finished file.
    assert not list((cache / "downloads").glob("*.img")) or phase == "conversion"
    assert not list((cache / "converted").glob("*.raw"))

    filler.unlink()
    stack.up(color="never")
    image = admin.image.get_image(outputs(stack)["imageIds"]["full"])
    assert (image.status, image.disk_format) == ("active", "raw")


def test_two_stacks_sharing_a_cache_at_once_both_succeed_and_fetch_each_source_once(
    new_stack: Stacks, image_server: RunningServer, tmp_path: Path
) -> None:
    root: Path = image_server.root  # type: ignore[attr-defined]
    paths = [
        make_qcow2(root, f"shared-{n}-{tmp_path.name[-6:]}", 64 * MiB, 32 * MiB) for n in (1, 2)
    ]
    images = {
        f"img_{n}": {
            "name": p.stem,
            "sourceUrl": f"{image_server.url}/{p.name}",
            "checksumSha512": f"sha512:{sha512_of(p)}",
        }
        for n, p in enumerate(paths)
    }
    cache = tmp_path / "shared-cache"
    stacks = [new_stack({"community-images:images": images}, cache=cache) for _ in range(2)]
    errors: list[BaseException] = []

    def up(stack: auto.Stack) -> None:
        try:
            stack.up(color="never")
        except BaseException as exc:  # reported below, with the other stack's outcome
            errors.append(exc)

    threads = [threading.Thread(target=up, args=(s,)) for s in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for stack in stacks:
        assert sorted(outputs(stack)["imageIds"]) == ["img_0", "img_1"]
    for p in paths:
        gets = [e for e in image_server.entries if e["path"] == f"/{p.name}"]
        assert len(gets) == 1, gets


def test_the_clouds_secrets_never_show(
    new_stack: Stacks, image_server: RunningServer, clouds_yaml: Path, tmp_path: Path
) -> None:
    """Neither in the state, the outputs, the program's log nor an error message."""
    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    secret = config.get_one(cloud="devcloud").auth["password"]
    root: Path = image_server.root  # type: ignore[attr-defined]
    path = make_qcow2(root, f"secret-{tmp_path.name[-6:]}", 16 * MiB, 4 * MiB)
    spec = {"name": path.stem, "sourceUrl": f"{image_server.url}/{path.name}"}
    stack = new_stack({"community-images:images": {"plain": spec}})
    shown = [stack.up(color="never").stdout, json.dumps(outputs(stack))]
    shown.append(json.dumps(stack.export_stack().deployment))
    spec["checksum"] = "sha256:" + "0" * 64  # now the download fails verification
    stack.set_config(
        "community-images:images", auto.ConfigValue(json.dumps({"other": {**spec, "name": "x"}}))
    )
    with pytest.raises(auto.CommandError) as err:
        stack.up(color="never")
    shown.append(str(err.value))
    assert "checksum mismatch" in shown[-1]
    for text in shown:
        assert secret not in text
