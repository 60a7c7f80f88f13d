"""ImageProperties: the properties of one Glance image, owned after the image is created.

The openstack provider (Terraform provider v3.4.0) treats every ``os_*`` property as read-only on
update: a changed ``os_distro`` shows no diff in a preview and is never applied (REFERENCE.md §3).
So the Image resource sends the properties only when it creates the image and then ignores
them, and this resource owns them: its diff is a plain comparison of the wanted properties with
those it applied last, shown by ``pulumi preview --diff``, and its update patches exactly the
keys that changed, leaving Glance's own read-only keys (``os_hash_algo`` …) alone.

It runs in Pulumi's dynamic-provider process, which imports this module by name (the provider
object is pickled by reference), and reaches Glance with the same ``clouds.yaml`` entry as the
program: only the cloud's name is stored in the state, never a credential.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.errors import CommunityImagesError
from components.marks import without_upload_record

if TYPE_CHECKING:
    from components.glance import Glance

T = TypeVar("T")

RETIRED = "retired"
"""Input flag of an image kept in Glance after its key left the config: its properties stay as
they are, so the resource shows no change and nothing needs to know what they were."""

SET_AT_UPLOAD = "setAtUpload"
"""Input flag of an image this run uploaded with its properties already in the record: creating
the resource then has nothing to apply, and it skips the Keystone login and Glance requests."""


class PropertiesError(CommunityImagesError):
    """Applying properties failed; names the image."""


def _plain_errors() -> None:
    """The dynamic-provider host reports any exception as ``traceback.format_exc()``. Inside that
    process, an error of this program is reported by its message alone: it names the image and
    what to do, and a traceback of Pulumi's gRPC plumbing would only bury it."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is None or spec.name != "pulumi.dynamic.__main__":
        return
    original = traceback.format_exc

    def format_exc(*args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, CommunityImagesError):
            return str(error)
        return original(*args, **kwargs)

    traceback.format_exc = format_exc


_plain_errors()


def _named(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turns any failure of ``action`` into one error naming the image and what to do."""

    def wrap(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def run(self: Any, *args: Any) -> T:
            props = args[-1]
            try:
                return method(self, *args)
            except Exception as exc:
                cause = str(exc) if isinstance(exc, CommunityImagesError) else repr(exc)
                raise PropertiesError(
                    f"image {props.get('imageName')!r}: cannot {action} its properties: {cause}. "
                    "If the image was deleted from Glance, `pulumi refresh` drops it from the "
                    "stack and `pulumi up` creates it again; otherwise run `pulumi up` again once "
                    "Glance answers"
                ) from exc

        return run

    return wrap


class ImagePropertiesProvider(ResourceProvider):
    # The pickled provider holds no secret (the cloud is read from clouds.yaml by name).
    serialize_as_secret_always = False

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("imageId") != news.get("imageId"):
            return DiffResult(changes=True, replaces=["imageId"])
        if news.get(RETIRED):
            return DiffResult(changes=False)
        # Stacks made before the upload record was kept apart hold its checksums here too.
        old = without_upload_record(olds.get("properties") or {})
        return DiffResult(changes=old != without_upload_record(news.get("properties") or {}))

    @_named("set")
    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get(RETIRED):
            return CreateResult(props["imageId"], {**props, "properties": {}})
        if not props.get(SET_AT_UPLOAD):
            _glance(props.get("cloud")).patch_properties(props["imageId"], {}, props["properties"])
        return CreateResult(props["imageId"], props)

    @_named("update")
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old = olds.get("properties") or {}
        _glance(news.get("cloud")).patch_properties(news["imageId"], old, news["properties"])
        return UpdateResult(news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The properties go with the image, or stay on an image that is kept."""


@functools.cache
def _glance(cloud: str | None) -> Glance:
    """One connection per cloud for the provider process: a login costs Keystone and Glance a
    token validation each, and a run may update the properties of many images."""
    # Imported here: the provider process starts on every preview and up just to diff, and
    # openstacksdk alone takes a quarter of a second to import.
    from components.glance import Glance

    return Glance.for_cloud(cloud)


class ImageProperties(Resource, module="community-images", name="ImageProperties"):
    """The properties of the image ``image_id``; ``properties=None`` keeps them as they are,
    ``set_at_upload`` says the image was uploaded with them, ``secret`` keeps them secret in
    the state."""

    def __init__(
        self,
        name: str,
        image_id: pulumi.Input[str],
        image_name: str,
        cloud: str | None,
        properties: Mapping[str, str] | None,
        set_at_upload: bool = False,
        secret: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        wanted = dict(properties or {})
        inputs = {
            "imageId": image_id,
            "imageName": image_name,
            "cloud": cloud,
            "properties": pulumi.Output.secret(wanted) if secret else wanted,
            RETIRED: properties is None,
            SET_AT_UPLOAD: set_at_upload,
        }
        super().__init__(ImagePropertiesProvider(), name, inputs, opts)
