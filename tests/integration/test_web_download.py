"""Glance fetching images itself (web-download) on the devcloud, which allows it from loopback:
verified before anyone can see an image, and every failure ending cleanly.

The image server logs each request's User-Agent: this program's are python-requests, Glance's
are its own (Python's urllib), so the log shows who moved which bytes.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from pulumi import automation as auto

from bench.images import make_qcow2 as sized_qcow2
from components.head import HEAD_BYTES
from components.ownership import owner_tag
from demo.imageserver import RunningServer, start_server
from tests.integration.conftest import Stacks, make_qcow2, outputs, sha512_of
from tests.integration.test_faults import failed_up
from tests.integration.test_images import glance_record, served, spec
from tests.integration.test_interrupted import cancel, up_killed_when

pytestmark = pytest.mark.integration

MiB = 1 << 20
PROGRAM = "python-requests"


def large(server: RunningServer, stem: str) -> Path:
    """A qcow2 larger than the head the program reads of it."""
    root: Path = server.root  # type: ignore[attr-defined]
    return sized_qcow2(root, f"{stem}-{uuid.uuid4().hex[:8]}", 64 * MiB, 12 * MiB)


def requests_for(server: RunningServer, path: Path) -> list[dict[str, Any]]:
    return [e for e in server.entries if e["path"] == f"/{path.name}"]


def all_of_name(admin: Connection, name: str) -> list[Any]:
    return [
        image
        for hidden in (False, True)
        for image in admin.image.images(name=name, visibility="all", is_hidden=hidden)
    ]


def test_auto_lets_glance_fetch_what_needs_no_local_work_and_the_program_reads_only_heads(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, tmp_path: Path
) -> None:
    kube, desktop = large(image_server, "wd-kube"), large(image_server, "wd-desktop")
    raw = image_server.root / f"wd-raw-{uuid.uuid4().hex[:8]}.raw"  # type: ignore[attr-defined]
    raw.write_bytes(b"\0" * (2 * MiB))
    cache = tmp_path / "wd-cache"
    stack = new_stack(
        {
            "community-images:importMethod": "auto",
            "community-images:images": {
                "kube": spec(image_server, kube),
                "desktop": spec(image_server, desktop),
                # A raw source for a qcow2 site: converted here, so uploaded from here.
                "converted": spec(image_server, raw, sourceDiskFormat="raw"),
            },
        },
        cache=cache,
    )
    stack.up(color="never")
    result = outputs(stack)
    for key, path in (("kube", kube), ("desktop", desktop)):
        assert result["images"][key]["via"] == "web-download"
        record = glance_record(admin, result["imageIds"][key])
        assert (record["status"], record["visibility"], record["os_hidden"]) == (
            "active",
            "community",
            False,
        )
        assert record["os_hash_value"] == sha512_of(path)
        assert record["community_images_source_sha512"] == sha512_of(path)
        assert "community_images_upload" not in record
        mine = [e for e in requests_for(image_server, path) if e["agent"].startswith(PROGRAM)]
        assert [e["range"] for e in mine] == [f"bytes=0-{HEAD_BYTES - 1}"]
        glances = [e for e in requests_for(image_server, path) if e not in mine]
        assert [(e["method"], e["range"]) for e in glances] == [("GET", None)]
        assert not [p for p in cache.rglob("*") if sha512_of(path) in p.name]
    assert result["images"]["converted"]["via"] == "upload"
    assert [e["agent"].startswith(PROGRAM) for e in requests_for(image_server, raw)] == [True]
    stack.preview(expect_no_changes=True, color="never")
    assert outputs(stack)["images"]["kube"]["via"] == "web-download"


def test_other_bytes_than_the_sha512_are_never_visible_to_another_project_and_are_gone(
    new_stack: Stacks, image_server: RunningServer, admin: Connection, demo_user: Connection
) -> None:
    expected = large(image_server, "wd-expected")
    promised = spec(image_server, expected)
    # Then the server holds other bytes (a valid qcow2 too) under that URL.
    large(image_server, "wd-instead").replace(expected)
    stack = new_stack(
        {
            "community-images:importMethod": "web-download",
            "community-images:images": {"kube": promised},
        }
    )
    seen: list[Any] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(demo_user.image.images(name=expected.stem, visibility="community"))
            done.wait(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        message = failed_up(stack)
    finally:
        done.set()
        watcher.join()
    assert f"image {expected.stem!r}: what Glance fetched from" in message
    assert promised["checksumSha512"].removeprefix("sha512:") in message
    assert sha512_of(expected) in message
    assert seen == []
    assert all_of_name(admin, expected.stem) == []


def test_a_url_glance_cannot_reach_falls_back_under_auto_and_fails_under_web_download(
    new_stack: Stacks, admin: Connection, tmp_path: Path
) -> None:
    """127.0.0.2 is this machine's too, but Glance only fetches from the hosts it allows."""
    root = tmp_path / "elsewhere"
    root.mkdir()
    with start_server(root, tmp_path / "elsewhere.jsonl", host="127.0.0.2") as server:
        server.root = root  # type: ignore[attr-defined]
        path = served(server, "wd-unreachable", "unreachable")
        image = spec(server, path)
        stack = new_stack(
            {
                "community-images:importMethod": "web-download",
                "community-images:images": {"k": image},
            }
        )
        message = failed_up(stack)
        assert f"image {path.stem!r}: Glance's web-download of" in message
        assert f"{server.url}/{path.name}" in message
        assert all_of_name(admin, path.stem) == []

        stack.set_config("community-images:importMethod", auto.ConfigValue("auto"))
        result = stack.up(color="never")
        assert "web-download failed" in result.stdout and "uploading it from here" in result.stdout
        assert outputs(stack)["images"]["k"]["via"] == "upload"
        (mine,) = all_of_name(admin, path.stem)
        assert (mine.status, mine.hash_value) == ("active", sha512_of(path))


def test_an_import_that_copies_nothing_hits_import_timeout_and_leaves_nothing(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    path = large(image_server, "wd-stalled")
    # The program's head read at full speed, then Glance's fetch at a trickle.
    image_server.faults.throttle(path.name, rate=1 << 30).throttle(path.name, rate=64, times=3)
    stack = new_stack(
        {
            "community-images:importMethod": "web-download",
            "community-images:importTimeout": 5,
            "community-images:images": {"kube": spec(image_server, path)},
        }
    )
    message = failed_up(stack)
    assert "copied nothing new" in message and "importTimeout" in message
    assert all_of_name(admin, path.stem) == []
    tag = owner_tag("community-images", stack.name)
    assert not list(admin.image.images(tag=tag, visibility="all", is_hidden=True))


def test_the_image_summary_says_how_each_image_came(
    new_stack: Stacks, image_server: RunningServer
) -> None:
    """Recorded on the image, so a later run (and a lost state's adoption) still says it."""
    path = make_qcow2(image_server.root / f"wd-small-{uuid.uuid4().hex[:8]}.qcow2", "small")  # type: ignore[attr-defined]
    stack = new_stack(
        {
            "community-images:importMethod": "auto",
            "community-images:images": {"kube": spec(image_server, path)},
        }
    )
    stack.up(color="never")
    stack = new_stack.lose_state(stack)
    stack.up(color="never")
    assert outputs(stack)["images"]["kube"]["via"] == "web-download"
    assert json.dumps(outputs(stack)).count("web-download") == 1


def test_a_run_killed_during_an_import_converges_after_cancel_and_up(
    new_stack: Stacks, image_server: RunningServer, admin: Connection
) -> None:
    path = large(image_server, "wd-killed")
    # Glance's fetch takes seconds: long enough to kill the run in the middle of it.
    image_server.faults.throttle(path.name, rate=1 << 30).throttle(path.name, rate=4 * MiB)
    stack = new_stack(
        {
            "community-images:importMethod": "web-download",
            "community-images:images": {"kube": spec(image_server, path)},
        }
    )
    tag = owner_tag("community-images", stack.name)

    def ours() -> list[tuple[str, str]]:
        return [(i.id, i.status) for i in all_of_name(admin, path.stem) if tag in i.tags]

    output = up_killed_when(
        stack, new_stack.project, new_stack.env, lambda _: "importing" in dict(ours()).values()
    )
    assert [status for _, status in ours()] == ["importing"], output
    cancel(stack, new_stack)
    stack.up(color="never")
    image_id = outputs(stack)["imageIds"]["kube"]
    assert ours() == [(image_id, "active")]
    assert admin.image.get_image(image_id).visibility == "community"
    stack.preview(expect_no_changes=True, color="never")
