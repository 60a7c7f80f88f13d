"""The plain flow (one image after another, as a script would) and Glance's floor (the same
final files uploaded all at once), for the deploy benchmark."""

from __future__ import annotations

import hashlib
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openstack
import requests
from openstack.connection import Connection

from bench.images import MiB

FLOOR_AT_ONCE = 32
"""Uploads the floor runs at once: all of a set up to this (the 256-image set would otherwise
open 256 connections)."""


def plain_flow(
    conn: Connection, urls: list[str], target: str, out: Path
) -> tuple[float, list[Path], list[str]]:
    """One image after another: download + sha256, convert when needed, upload, wait active."""
    files, ids = [], []
    start = time.perf_counter()
    for url in urls:
        source = out / url.rsplit("/", 1)[1]
        digest = hashlib.sha256()
        with requests.get(url, stream=True, timeout=60) as resp, source.open("wb") as f:
            resp.raise_for_status()
            for chunk in resp.iter_content(MiB):
                f.write(chunk)
                digest.update(chunk)
        final = source
        if target != "qcow2":
            final = source.with_suffix(f".{target}")
            subprocess.run(
                ["qemu-img", "convert", "-f", "qcow2", "-O", target, str(source), str(final)],
                check=True,
            )
        ids.append(upload(conn, f"plain-{final.stem}", final, target))
        files.append(final)
    return time.perf_counter() - start, files, ids


def upload(conn: Connection, name: str, path: Path, disk_format: str) -> str:
    image = conn.image.create_image(
        name=name,
        disk_format=disk_format,
        container_format="bare",
        visibility="community",
        allow_duplicates=True,
    )
    with path.open("rb") as data:
        openstack.exceptions.raise_from_response(image.upload(conn.image, data=data))
    status = conn.image.get_image(image.id).status
    if status != "active":
        raise RuntimeError(f"{name} is {status} after its upload")
    return image.id


def floor(conn: Connection, files: list[Path], target: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(len(files), FLOOR_AT_ONCE)) as pool:
        ids = list(pool.map(lambda f: upload(conn, f"floor-{f.stem}", f, target), files))
    return time.perf_counter() - start, ids


def digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with path.open("rb") as data:
        while chunk := data.read(MiB):
            hasher.update(chunk)
    return hasher.hexdigest()
