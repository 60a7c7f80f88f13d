"""Has Glance fetch a source itself (``web-download``), and lets nobody see the image before
what Glance stored is shown to be the source.

The record is created private and hidden, with every attribute, property and this stack's tag,
and the pending mark of upload.py. The program starts the import and follows it (the image's
status, its import task's "Copied N MiB" heartbeat) with progress in the Pulumi output. Only when
the image is ``active``, hashed by Glance with sha512 and its ``os_hash_value`` is the spec's
sha512 (and its size the source's, when known) does it get its visibility, in the request that
unhides it and removes the mark. Anything else deletes the record: a failed import, one that
copies nothing new for ``timeout`` seconds (a Glance that cannot reach the internet fails here,
not half an hour later), or other bytes. An interrupted run's record keeps its mark, so the
next run deletes it as a leftover.

What Glance 33 shows of an import in progress is little: the image goes ``importing`` when its
task starts, nothing while it downloads into its staging store, then its task's message
"Copied N MiB" at most once a minute while it copies to the store (glance/async_/flows/
api_image_import.py, ``_status_callback``; scripts/utils.py, ``CallbackIterator``). So
``importTimeout`` bounds the download as a whole: it must exceed the time the largest image
takes to reach Glance inside the cloud.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.errors import CommunityImagesError
from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.glance_import import GlanceImports, ImportState
from components.marks import PENDING_PROPERTY
from components.urls import scrub, shown

Say = Callable[[str], None]

POLL_SECONDS = 0.5
TASK_EVERY = 10
"""Polls between two reads of the import task, whose heartbeat changes once a minute at most;
the image alone shows when the import ends or fails."""
PROGRESS_MIB = 64
"""Progress lines at most every this many MiB copied: each is a line of the Pulumi output."""


class WebDownloadError(CommunityImagesError):
    """Glance did not import the image; nothing of it is left."""

    def __init__(self, message: str, fallback: bool, hash_algo: str | None = None) -> None:
        super().__init__(message)
        self.fallback = fallback
        """The upload path may still bring the image (Glance could not fetch it, or hashes it
        with another algorithm); False when the bytes are not the source's."""
        self.hash_algo = hash_algo


def import_image(
    glance: Glance,
    imports: GlanceImports,
    attrs: Mapping[str, Any],
    url: str,
    expected_sha512: str,
    size: int | None,
    leftovers: Sequence[GlanceImage],
    say: Say,
    timeout: float,
    poll: float = POLL_SECONDS,
) -> str:
    """The ID of a new, complete, verified image of ``attrs``, fetched by Glance from ``url``."""
    name = attrs["name"]
    for image in leftovers:
        say(f"{name}: deleting {image.id}, left unfinished by an interrupted run")
        glance.delete(image.id)
    record = {**attrs, "visibility": "private", "os_hidden": True, PENDING_PROPERTY: "unfinished"}
    image_id = glance.create(record)
    try:
        imports.start(image_id, url)
        say(f"{name}: Glance is fetching {shown(url)} (web-download)")
        state = _follow(imports, image_id, name, url, say, timeout, poll)
        _verify(state, name, url, expected_sha512, size)
        glance.publish(image_id, attrs["visibility"], unhide=True)
    except (WebDownloadError, GlanceError) as exc:
        left = _delete(glance, image_id)
        failed = exc if isinstance(exc, WebDownloadError) else None
        message = str(exc) if failed else _glance_failed(name, url, exc)
        raise WebDownloadError(
            f"{message}; {left}" if left else message,
            fallback=failed.fallback if failed else True,
            hash_algo=failed.hash_algo if failed else None,
        ) from exc
    except BaseException:
        _delete(glance, image_id)
        raise
    return image_id


def _follow(
    imports: GlanceImports,
    image_id: str,
    name: str,
    url: str,
    say: Say,
    timeout: float,
    poll: float,
) -> ImportState:
    """Polls the import until the image is active; fails when Glance gives up or stalls."""
    seen_importing = False
    last_change, last = time.monotonic(), ("", -1)
    copied = reported = 0
    for polls in itertools.count():
        with_task = polls % TASK_EVERY == 0
        state = imports.state(image_id, with_task)
        if state.status == "active":
            return state
        if state.failure or (seen_importing and state.status == "queued"):
            reason = state.failure or "the image went back to queued"
            raise WebDownloadError(
                f"image {name!r}: Glance could not import {shown(url)}: {reason}", fallback=True
            )
        seen_importing = seen_importing or state.status == "importing"
        copied = state.copied if with_task else copied
        now = time.monotonic()
        if (state.status, copied) != last:
            last_change, last = now, (state.status, copied)
            if copied >= reported + PROGRESS_MIB:
                reported = copied
                say(f"{name}: Glance copied {copied} MiB")
        elif now - last_change > timeout:
            raise WebDownloadError(
                f"image {name!r}: Glance copied nothing new of {shown(url)} for {timeout:g} s "
                f"({copied} MiB so far, image {state.status}; community-images:importTimeout)",
                fallback=True,
            )
        time.sleep(poll)
    raise AssertionError("unreachable")


def _verify(state: ImportState, name: str, url: str, expected: str, size: int | None) -> None:
    if state.hash_algo != "sha512":
        raise WebDownloadError(
            f"image {name!r}: the cloud's Glance hashes images with {state.hash_algo}, so what "
            "it fetched cannot be checked against the source's sha512",
            fallback=True,
            hash_algo=state.hash_algo,
        )
    if state.hash_value != expected:
        raise WebDownloadError(
            f"image {name!r}: what Glance fetched from {shown(url)} has sha512 "
            f"{state.hash_value}, not the source's {expected}",
            fallback=False,
        )
    if size is not None and state.size != size:
        raise WebDownloadError(
            f"image {name!r}: Glance stored {state.size} bytes of {size} from {shown(url)}",
            fallback=False,
        )


def _glance_failed(name: str, url: str, exc: Exception) -> str:
    # Glance's messages quote the URI it was given, query string and all.
    return f"image {name!r}: Glance's web-download of {shown(url)} failed: {scrub(str(exc), url)}"


def _delete(glance: Glance, image_id: str) -> str | None:
    """Deletes the record; what is left of it if that fails, for the error."""
    try:
        glance.delete(image_id)
    except GlanceError as exc:
        return (
            f"its record {image_id} could not be deleted ({exc}): it is private, hidden and "
            "marked unfinished, and the next `pulumi up` deletes it"
        )
    return None
