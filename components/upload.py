"""Puts a prepared file into Glance as a new image, so that only a complete one is ever seen.

The openstack provider could upload it too (``local_file_path``), but it first reads the whole
file once more for an MD5 of its own, and it writes the image's ID to the stack's state as soon
as the empty record exists: an interrupted upload then leaves a ``queued`` image in the state.
Here the record is created ``private`` with every attribute and property, the bytes are
streamed once, the result is checked, and only then does the image get its visibility; on any
failure the record is deleted. The ``Image`` resource then adopts the finished image (``import``)
and stays its record in the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.errors import CommunityImagesError
from components.glance import Glance, GlanceError, GlanceImage

Say = Callable[[str], None]


class UploadError(CommunityImagesError):
    """An upload failed or Glance holds something else than was sent; names the image."""


def upload_image(
    glance: Glance,
    attrs: Mapping[str, Any],
    path: Path,
    expected_sha512: str | None,
    leftovers: list[GlanceImage],
    say: Say,
) -> str:
    """The ID of a new, complete image made of ``attrs`` (Glance's image attributes, ``visibility``
    included, and properties) and the bytes of ``path``.

    ``leftovers`` are this stack's own incomplete images of that name, left by an interrupted
    run: nobody can boot from them, so they are deleted first instead of failing the run or
    leaving a duplicate. ``expected_sha512``, when the file is the verified source itself, is
    compared with the hash Glance computed of what it stored.
    """
    name = attrs["name"]
    try:
        for old in leftovers:
            say(f"{name}: deleting {old.id}, left {old.status} by an interrupted run")
            glance.delete(old.id)
        image_id = glance.create({**attrs, "visibility": "private"})
        try:
            size = path.stat().st_size
            with path.open("rb") as data:
                stored = glance.upload(image_id, data)
            problem = _check(stored, size, expected_sha512)
            if problem:
                raise UploadError(f"image {name!r}: {problem}; run `pulumi up` again")
            if attrs["visibility"] != "private":
                glance.set_visibility(image_id, attrs["visibility"])
        except BaseException as exc:
            # Nothing half-made stays behind, whatever stopped the upload.
            try:
                glance.delete(image_id)
            except GlanceError:
                raise UploadError(
                    f"image {name!r}: {exc}; its incomplete record {image_id} could not be "
                    "deleted either, the next `pulumi up` deletes it"
                ) from exc
            raise
    except GlanceError as exc:
        raise UploadError(f"image {name!r}: {exc}; nothing of it is left in Glance") from exc
    return image_id


def _check(stored: GlanceImage, size: int, expected_sha512: str | None) -> str | None:
    if stored.status != "active":
        return f"Glance left it {stored.status} after the upload"
    if stored.size != size:
        return f"Glance stored {stored.size} bytes of {size}"
    if expected_sha512 and stored.hash_value != expected_sha512:
        return f"Glance's sha512 of it is {stored.hash_value}, not the source's {expected_sha512}"
    return None
