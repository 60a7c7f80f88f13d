"""Puts a prepared file into Glance as a new image, so that only a complete one is ever seen.

The openstack provider could upload it too (``local_file_path``), but it first reads the whole
file once more for an MD5 of its own, and it writes the image's ID to the stack's state as soon
as the empty record exists: an interrupted upload then leaves a ``queued`` image in the state.
Here the record is created ``private`` with every attribute and property and a pending mark,
the bytes are streamed once, the result is checked, and only then does the image get its
visibility (and lose the mark, in the same request); on any failure the record is deleted, and
if even that fails the mark makes it a leftover that the next run deletes. The ``Image``
resource then adopts the finished image (``import``) and stays its record in the stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from components.errors import CommunityImagesError
from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.marks import PENDING_PROPERTY

Say = Callable[[str], None]


class UploadError(CommunityImagesError):
    """An upload failed or Glance holds something else than was sent; names the image."""


# Waits between attempts when Glance or the network fails: long enough in total (a minute) for
# a Glance restart or a short outage, short enough that a real outage still ends the run.
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0, 30.0)


def upload_image(
    glance: Glance,
    attrs: Mapping[str, Any],
    path: Path,
    expected_sha512: str | None,
    leftovers: list[GlanceImage],
    say: Say,
    delays: Sequence[float] = RETRY_DELAYS,
) -> str:
    """The ID of a new, complete image made of ``attrs`` (Glance's image attributes, ``visibility``
    included, and properties) and the bytes of ``path``.

    ``leftovers`` are this stack's own incomplete images of that name, left by an interrupted
    run: nobody can boot from them, so they are deleted first instead of failing the run or
    leaving a duplicate. ``expected_sha512``, when the file is the verified source itself, is
    compared with the hash Glance computed of what it stored. When Glance or the network fails
    (not when Glance refuses), the upload starts again with a new record after each of
    ``delays``.
    """
    name = attrs["name"]
    stale = [image.id for image in leftovers]
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            for image_id in stale:
                delete_leftover(glance, name, image_id, say)
            stale = []
            return _upload_once(glance, attrs, path, expected_sha512, stale)
        except (CommunityImagesError, OSError) as exc:
            if isinstance(exc, GlanceError) and exc.transient and delay is not None:
                say(f"{name}: upload attempt {attempt} failed ({exc}); again in {delay:.0f} s")
                time.sleep(delay)
                continue
            left = (
                f"its unfinished record {', '.join(stale)} could not be deleted: it is private and "
                "marked as unfinished, so nobody sees it, and the next `pulumi up` deletes it"
                if stale
                else "nothing of it is left in Glance"
            )
            raise UploadError(f"image {name!r}: {exc} (attempt {attempt}); {left}") from exc
    raise AssertionError("unreachable")


def delete_leftover(glance: Glance, name: str, image_id: str, say: Say) -> None:
    say(f"{name}: deleting {image_id}, left incomplete by an interrupted upload")
    glance.delete(image_id)


def _upload_once(
    glance: Glance,
    attrs: Mapping[str, Any],
    path: Path,
    expected_sha512: str | None,
    stale: list[str],
) -> str:
    """One attempt; a record it could not delete after a failure is added to ``stale``."""
    image_id = glance.create({**attrs, "visibility": "private", PENDING_PROPERTY: "unfinished"})
    try:
        size = path.stat().st_size
        with path.open("rb") as data:
            stored = glance.upload(image_id, data)
        problem = _check(stored, size, expected_sha512)
        if problem:
            raise UploadError(problem)
        glance.publish(image_id, attrs["visibility"])
    except BaseException:
        # Nothing half-made stays behind, whatever stopped the upload.
        try:
            glance.delete(image_id)
        except GlanceError:
            stale.append(image_id)
        raise
    return image_id


def _check(stored: GlanceImage, size: int, expected_sha512: str | None) -> str | None:
    if stored.status != "active":
        return f"Glance left it {stored.status} after the upload"
    if stored.size != size:
        return f"Glance stored {stored.size} bytes of {size}"
    if expected_sha512 and stored.hash_value != expected_sha512:
        return f"Glance's sha512 of it is {stored.hash_value}, not the source's {expected_sha512}"
    return None
