"""Glance's interoperable import with ``web-download``: the calls, and what they report.

Kept apart from glance.py (lookups, uploads, properties), as one way among others for an image
to arrive; it reaches Glance through the same connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import openstack

from components.glance import SDK_ERRORS, Glance, GlanceError

# The task message Glance's import flow keeps up to date while it copies ("Copied 42 MiB").
_COPIED = re.compile(r"Copied (\d+) MiB")


@dataclass(frozen=True)
class ImportState:
    status: str
    """The image's: queued → importing → active, or back to queued when the import failed."""
    copied: int
    """MiB Glance says it has copied so far (its task's heartbeat), 0 before it says any."""
    failure: str | None
    """What Glance reported when the import failed (the task's message, or the stores it
    failed to import to), None while it has not."""
    hash_algo: str | None
    hash_value: str | None
    size: int | None


class GlanceImports:
    def __init__(self, glance: Glance) -> None:
        self._glance = glance

    def methods(self) -> frozenset[str]:
        """The import methods the cloud offers (``GET /v2/info/import``)."""
        body = self._get("/info/import", "cannot read the cloud's import methods")
        return frozenset(body.get("import-methods", {}).get("value", []))

    def start(self, image_id: str, uri: str) -> None:
        try:
            response = self._glance.connection.image.post(
                f"/images/{image_id}/import",
                json={"method": {"name": "web-download", "uri": uri}},
            )
            openstack.exceptions.raise_from_response(response)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot start the import of image {image_id}: {exc}") from exc

    def state(self, image_id: str, with_task: bool = True) -> ImportState:
        """The import as Glance shows it; ``with_task=False`` reads the image alone (one
        request), which already shows a failure (``os_glance_failed_import``) but no progress."""
        image = self._get(f"/images/{image_id}", f"cannot read image {image_id}")
        tasks = (
            self._get(f"/images/{image_id}/tasks", f"cannot read the tasks of {image_id}")
            if with_task and image.get("status") != "active"
            else {}
        )
        task = max(tasks.get("tasks", []), key=lambda t: t.get("created_at", ""), default={})
        message = str(task.get("message") or "")
        copied = _COPIED.search(message)
        failure = None
        if task.get("status") == "failure":
            failure = message or "the import task failed"
        elif image.get("os_glance_failed_import"):
            failure = f"the import to store(s) {image['os_glance_failed_import']} failed"
        return ImportState(
            status=str(image.get("status")),
            copied=int(copied[1]) if copied else 0,
            failure=failure,
            hash_algo=image.get("os_hash_algo"),
            hash_value=image.get("os_hash_value"),
            size=image.get("size"),
        )

    def _get(self, path: str, what: str) -> dict[str, Any]:
        try:
            response = self._glance.connection.image.get(path)
            openstack.exceptions.raise_from_response(response)
            return dict(response.json())
        except SDK_ERRORS as exc:
            raise GlanceError(f"{what}: {exc}") from exc
