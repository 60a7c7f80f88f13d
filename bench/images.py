"""Test images for the benchmarks: real qcow2 files with incompressible, distinct data."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
from pathlib import Path

from components.config import ImageSpec
from components.fetch import Checksum

MiB = 1 << 20
_STAMP_EVERY = 4096


def make_qcow2(directory: Path, name: str, virtual_size: int, data_size: int) -> Path:
    """A qcow2 of ``virtual_size`` with ``data_size`` bytes of data spread evenly over it.

    The raw source is written 1 MiB at a time (never whole in memory), with holes between the
    chunks so the qcow2 has unallocated clusters like a real image. Fresh random data per chunk
    would cost ~3 s per GiB here, so one random 1 MiB block is reused with a (name, chunk,
    offset) stamp every 4 KiB: every block differs, so no layer (qcow2, the content-addressed
    download cache) can share or skip any of it, and none of it compresses.
    """
    if data_size % MiB or virtual_size % MiB or data_size > virtual_size:
        raise ValueError("sizes must be whole MiB, with data_size <= virtual_size")
    raw = directory / f"{name}.raw"
    qcow2 = directory / f"{name}.qcow2"
    stride = virtual_size // data_size  # in MiB: write 1, skip stride - 1
    block = bytearray(os.urandom(MiB))
    tag = hashlib.sha256(name.encode()).digest()[:8]
    with raw.open("wb") as out:
        for index in range(data_size // MiB):
            for offset in range(0, MiB, _STAMP_EVERY):
                struct.pack_into("<8sQQ", block, offset, tag, index, offset)
            out.seek(index * stride * MiB)
            out.write(block)
        out.truncate(virtual_size)
    try:
        subprocess.run(
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True
        )
    finally:
        raw.unlink()
    return qcow2


def spec_for(path: Path, base_url: str) -> ImageSpec:
    """A spec with a sha256, as the catalog has: the cache is keyed by it, as in production."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(MiB):
            digest.update(chunk)
    return ImageSpec(
        name=path.stem,
        source_url=f"{base_url}/{path.name}",
        source_disk_format="qcow2",
        checksum=Checksum("sha256", digest.hexdigest()),
    )


def quiet(_message: str) -> None:
    """prepare_image's ``say``: progress lines would only add noise to the timings' output."""
