"""Glance's own web-download of a set of files, all at once: the floor of the web-download path,
and what the program moved itself, from the image server's log."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openstack
from openstack.connection import Connection

POLL_SECONDS = 0.2


def web_download(conn: Connection, name: str, url: str) -> str:
    """One image imported by Glance from ``url``, active when this returns."""
    image = conn.image.create_image(
        name=name, disk_format="qcow2", container_format="bare", allow_duplicates=True
    )
    response = conn.image.post(
        f"/images/{image.id}/import", json={"method": {"name": "web-download", "uri": url}}
    )
    openstack.exceptions.raise_from_response(response)
    while (status := conn.image.get_image(image.id).status) != "active":
        if status not in ("queued", "importing"):
            raise RuntimeError(f"{name} is {status} after its import")
        time.sleep(POLL_SECONDS)
    return image.id


def floor(conn: Connection, urls: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        names = [f"wd-floor-{url.rsplit('/', 1)[1]}" for url in urls]
        ids = list(pool.map(lambda args: web_download(conn, *args), zip(names, urls, strict=True)))
    return time.perf_counter() - start, ids


def bytes_by_agent(entries: list[dict[str, Any]], paths: list[Path]) -> dict[str, int]:
    """Bytes of image files each User-Agent asked for: whole files, or the ranges asked."""
    sizes = {f"/{p.name}": p.stat().st_size for p in paths}
    moved: dict[str, int] = {}
    for entry in entries:
        size = sizes.get(entry["path"])
        if size is None or entry["method"] != "GET":
            continue
        asked = size
        if entry["range"]:
            first, _, last = entry["range"].removeprefix("bytes=").partition("-")
            asked = min(size, int(last) + 1 if last else size) - int(first)
        agent = (entry.get("agent") or "?").split("/", 1)[0]
        moved[agent] = moved.get(agent, 0) + asked
    return moved
