"""What Glance already holds, read with openstacksdk using the same cloud as the provider."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, BinaryIO

import keystoneauth1.exceptions
import openstack
from openstack.connection import Connection
from openstack.image.v2.image import Image as SdkImage

from components.errors import CommunityImagesError
from components.glance_image import GlanceImage, image_from_json
from components.marks import (
    PENDING_PROPERTY,
)
from components.property_patch import property_patch


class GlanceError(CommunityImagesError):
    """A Glance lookup failed or returned something unusable; names the image or key."""

    @property
    def transient(self) -> bool:
        """Worth another try: Glance or the way to it failed (a restart, a 503, a cut
        connection), rather than refusing the request."""
        cause = self.__cause__
        if isinstance(cause, keystoneauth1.exceptions.ConnectionError):
            return True
        if isinstance(cause, openstack.exceptions.HttpException):
            return cause.status_code is not None and cause.status_code >= 500
        return False


# Glance's largest page by default (``[DEFAULT] api_limit_max``): a site's listing in one request.
PAGE = 1000


SDK_ERRORS = (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException)


class Glance:
    """Connects on first use: a site with nothing to look up (``images: {}``) needs no cloud."""

    def __init__(self, connect: Callable[[], Connection], cloud: str | None = None) -> None:
        self._connect = connect
        self.cloud = cloud
        """The clouds.yaml entry, for code that connects in another process."""

    @classmethod
    def for_cloud(cls, cloud: str | None) -> Glance:
        """The cloud the provider uses: ``openstack:cloud``, else ``OS_CLOUD`` or ``OS_*``."""
        return cls(lambda: openstack.connect(cloud=cloud or os.environ.get("OS_CLOUD")), cloud)

    @cached_property
    def _conn(self) -> Connection:
        try:
            return self._connect()
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot connect to OpenStack: {exc}") from exc

    @property
    def connection(self) -> Connection:
        """For the modules of other ways to reach Glance (glance_import.py)."""
        return self._conn

    @cached_property
    def project_id(self) -> str:
        """The project this stack runs as: the owner of every image it creates."""
        try:
            project = self._conn.current_project_id
        except SDK_ERRORS as exc:
            raise GlanceError(
                f"cannot find the project of this cloud's credentials: {exc}"
            ) from exc
        if not project:
            raise GlanceError(
                "the cloud's credentials are not scoped to a project: set project_name or "
                "project_id in its clouds.yaml entry"
            )
        return project

    def lookup(
        self, names: Collection[str], tag: str
    ) -> tuple[dict[str, list[GlanceImage]], list[GlanceImage]]:
        """``find(names)`` and ``owned(tag)``, their listings all in flight at once: each waits
        on Glance, so a pass waits about as long as for one of them rather than for all."""
        try:
            # Log in and find Glance's endpoint once, before the listings share them.
            self._conn.image.get_endpoint()
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot reach Glance: {exc}") from exc
        with ThreadPoolExecutor(max_workers=1) as pool:
            owned = pool.submit(self.owned, tag)
            return self.find(names), owned.result()

    def find(self, names: Collection[str]) -> dict[str, list[GlanceImage]]:
        """Every image of each name that this project can see, other projects' community images
        too, in one request per 50 names (Glance's ``in:`` filter) rather than one per name.

        The default listing leaves out other projects' community images, which is exactly the
        case of a shared cloud where another site already uploaded the same release.
        """
        found: dict[str, list[GlanceImage]] = {name: [] for name in names}
        wanted = sorted(found)
        # Quoted, so that a comma in a name is not taken for a separator.
        queries = [
            {"name": "in:" + ",".join(f'"{name}"' for name in wanted[start : start + 50])}
            for start in range(0, len(wanted), 50)
        ]
        try:
            for image in self._listed([{**query, "visibility": "all"} for query in queries]):
                if image.name in found:
                    found[image.name].append(image)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot list the images named {', '.join(wanted)}: {exc}") from exc
        return {name: sorted(images, key=lambda i: i.id) for name, images in found.items()}

    def _listed(self, queries: list[Mapping[str, Any]]) -> list[GlanceImage]:
        """Every image of these listings, read at once (each waits on Glance, not on Python)."""
        if len(queries) <= 1:
            return [image for query in queries for image in self._images(query)]
        with ThreadPoolExecutor(max_workers=min(len(queries), 4)) as pool:
            pages = pool.map(lambda query: list(self._images(query)), queries)
            return [image for page in pages for image in page]

    def _images(self, params: Mapping[str, Any]) -> Iterator[GlanceImage]:
        """Every image of a listing, following Glance's ``next`` links."""
        path: str | None = "/images"
        query: Mapping[str, Any] | None = {**params, "limit": PAGE}
        while path is not None:
            response = self._conn.image.get(path, params=query)
            openstack.exceptions.raise_from_response(response)
            page = response.json()
            yield from (image_from_json(record) for record in page.get("images", ()))
            following = page.get("next")
            # Glance's links start with its version (/v2/images?…), the proxy's base URL too.
            path, query = (following.removeprefix("/v2"), None) if following else (None, None)

    def get(self, image_id: str) -> GlanceImage | None:
        try:
            return self._read(image_id)
        except openstack.exceptions.NotFoundException:
            return None
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot read image {image_id}: {exc}") from exc

    def _read(self, image_id: str) -> GlanceImage:
        response = self._conn.image.get(f"/images/{image_id}")
        openstack.exceptions.raise_from_response(response)
        return image_from_json(response.json())

    def owned(self, tag: str) -> list[GlanceImage]:
        """Every image carrying ``tag``, the mark of the stack that created it, hidden ones too
        (an import in progress is hidden): Glance lists those only when asked for them alone."""
        try:
            found = self._listed(
                [
                    {"tag": tag, "visibility": "all", "os_hidden": hidden}
                    for hidden in ("false", "true")
                ]
            )
            return sorted(found, key=lambda i: i.id)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot list the images tagged {tag!r}: {exc}") from exc

    def create(self, attrs: Mapping[str, Any]) -> str:
        """A new image record (no data yet) with these attributes and properties; its ID."""
        try:
            # openstacksdk turns keyword values into strings; booleans (os_hidden) go as they are.
            meta = {k: v for k, v in attrs.items() if isinstance(v, bool)}
            plain = {k: v for k, v in attrs.items() if k not in meta}
            return self._conn.image.create_image(allow_duplicates=True, meta=meta, **plain).id
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot create image {attrs.get('name')!r}: {exc}") from exc

    def upload(self, image_id: str, data: BinaryIO) -> GlanceImage:
        """Streams ``data`` into the image; returns it as Glance shows it afterwards."""
        try:
            # The upload needs only the ID: no request to read the record first.
            image = SdkImage.new(id=image_id)
            # Image.upload() returns the response instead of raising.
            openstack.exceptions.raise_from_response(image.upload(self._conn.image, data=data))
            return self._read(image_id)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot upload the data of image {image_id}: {exc}") from exc

    def publish(self, image_id: str, visibility: str, unhide: bool = False) -> None:
        """Gives a finished upload its visibility and drops its pending mark (and with
        ``unhide`` its hidden flag), in one request, so that an image is never visible and still
        marked, nor unmarked and unfinished."""
        ops = [
            {"op": "replace", "path": "/visibility", "value": visibility},
            {"op": "remove", "path": f"/{PENDING_PROPERTY}"},
        ]
        if unhide:
            ops.append({"op": "replace", "path": "/os_hidden", "value": False})
        try:
            self._json_patch(image_id, ops)
        except openstack.exceptions.ForbiddenException as exc:
            raise GlanceError(
                f"the cloud's policy does not let this user make images {visibility} (by "
                "default only an admin may make an image public; community needs a member of "
                f"the project): {exc}"
            ) from exc
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot make image {image_id} {visibility}: {exc}") from exc

    def delete(self, image_id: str) -> None:
        try:
            self._conn.image.delete_image(image_id, ignore_missing=True)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot delete image {image_id}: {exc}") from exc

    def record(self, image_id: str, properties: Mapping[str, str]) -> None:
        """Sets this program's own record properties (``marks``) on an image it takes over."""
        ops = [{"op": "add", "path": f"/{k}", "value": v} for k, v in sorted(properties.items())]
        try:
            self._json_patch(image_id, ops)
        except SDK_ERRORS as exc:
            raise GlanceError(
                f"cannot record {', '.join(properties)} on image {image_id}: {exc}"
            ) from exc

    def patch_properties(
        self, image_id: str, old: Mapping[str, str], new: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """Brings the image's properties from ``old`` to ``new``; returns the JSON patch applied.

        Only keys of ``old`` or ``new`` are touched, so properties Glance owns (``os_hash_*``,
        ``stores`` …, read-only) or that someone else set stay as they are.
        """
        path = f"/images/{image_id}"
        try:
            current = self._conn.image.get(path)
            openstack.exceptions.raise_from_response(current)
            ops = property_patch(current.json(), old, new)
            if ops:
                self._json_patch(image_id, ops)
        except SDK_ERRORS as exc:
            raise GlanceError(f"cannot update the properties of image {image_id}: {exc}") from exc
        return ops

    def _json_patch(self, image_id: str, ops: list[dict[str, Any]]) -> None:
        response = self._conn.image.patch(
            f"/images/{image_id}",
            json=ops,
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )
        openstack.exceptions.raise_from_response(response)
