"""The component with Pulumi's mocks: which resources, with which inputs, and which outputs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from components.catalog import Catalog
from components.component import IGNORED_IMAGE_INPUTS, CommunityImages, owner_tag
from components.config import ImageSpec, parse_config
from components.fetch import Checksum
from components.glance import GlanceError, GlanceImage
from components.plan import TrustError

SHA512 = "c" * 128
TAG = owner_tag("community-images", "dev")
KUBE = ImageSpec(
    name="kube-134",
    source_url="http://127.0.0.1:1/kube.qcow2",
    checksum_sha512=Checksum("sha512", SHA512),
    kubernetes_version="v1.34.2",
    properties=(("os_distro", "ubuntu"),),
)
DESKTOP = ImageSpec(name="desktop", source_url="http://127.0.0.1:1/desktop.qcow2")
IMAGE = "openstack:images/image:Image"
PROPERTIES = "pulumi-python:dynamic/community-images:ImageProperties"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        return args.resource_id or f"new-{args.name}", {**args.inputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        raise AssertionError(f"no provider functions are expected, got {args.token}")

    def images(self) -> dict[str, pulumi.runtime.MockResourceArgs]:
        return self.of_type(IMAGE)

    def properties(self) -> dict[str, pulumi.runtime.MockResourceArgs]:
        return self.of_type(PROPERTIES)

    def of_type(self, typ: str) -> dict[str, pulumi.runtime.MockResourceArgs]:
        return {r.name: r for r in self.resources if r.typ == typ}


class FakeGlance:
    cloud = "site-cloud"

    def __init__(self, *images: GlanceImage) -> None:
        self._images = images

    def find(self, name: str) -> list[GlanceImage]:
        return [i for i in self._images if i.name == name]

    def owned(self, tag: str) -> list[GlanceImage]:
        return [i for i in self._images if tag in i.tags]

    def get(self, image_id: str) -> GlanceImage | None:
        return next((i for i in self._images if i.id == image_id), None)


def glance_image(name: str, image_id: str, **overrides: Any) -> GlanceImage:
    fields: dict[str, Any] = {
        "id": image_id,
        "name": name,
        "status": "active",
        "visibility": "community",
        "disk_format": "qcow2",
        "hash_value": "0" * 128,
        "tags": (),
        "source_sha512": None,
        **overrides,
    }
    return GlanceImage(**fields)


class Prepared:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(
        self, key: str, spec: ImageSpec, cache: Path, fmt: str, say: Callable[[str], None]
    ) -> Path:
        self.calls.append(key)
        return cache / f"{spec.name}.{fmt}"


class RecordingMonitor(MockMonitor):
    """Keeps every registration request, to check resource options the mocks do not show."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.type, request.name] = request
        return super().RegisterResource(request)


@pytest.fixture
def monitor() -> RecordingMonitor:
    mocks = Mocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="community-images", stack="dev", preview=False, monitor=monitor
    )
    return monitor


@pytest.fixture
def mocks(monitor: RecordingMonitor) -> Mocks:
    return monitor.mocks


def build(
    glance: FakeGlance,
    specs: dict[str, ImageSpec],
    prepare: Prepared,
    custom_ids: dict[str, str] | None = None,
    **config: Any,
) -> CommunityImages:
    cfg = parse_config({"cacheDir": "/cache", "customProperties": ["site=test"], **config})
    catalog = Catalog(specs=specs, custom_ids=custom_ids or {}, origins={})
    return CommunityImages("images", cfg, catalog, glance, prepare=prepare)  # type: ignore[arg-type]


@pulumi.runtime.test
def test_new_images_are_prepared_and_uploaded_as_community_images(mocks: Mocks) -> Any:
    prepared = Prepared()
    component = build(FakeGlance(), {"kube_1_34": KUBE, "workstation": DESKTOP}, prepared)

    def check(ids: dict[str, str]) -> None:
        assert ids == {"kube_1_34": "new-kube-134", "workstation": "new-desktop"}
        assert sorted(prepared.calls) == ["kube_1_34", "workstation"]
        kube = mocks.images()["kube-134"].inputs
        assert kube["name"] == "kube-134"
        assert kube["diskFormat"] == "qcow2"
        assert kube["containerFormat"] == "bare"
        assert kube["visibility"] == "community"
        assert kube["localFilePath"] == "/cache/kube-134.qcow2"
        assert kube["tags"] == [TAG]
        assert kube["properties"] == {
            "site": "test",
            "os_distro": "ubuntu",
            "community_images_source_sha512": SHA512,
        }

    return component.image_ids.apply(check)


def settle(make: Callable[[], CommunityImages], check: Callable[[Any], None]) -> None:
    """Builds the component, checks its retired image IDs, and returns once every resource is
    registered (the properties resources register after the images' IDs are known)."""

    @pulumi.runtime.test
    def run() -> Any:
        return make().retired_image_ids.apply(check)

    run()


def test_images_are_kept_on_removal_and_their_properties_owned_apart(
    mocks: Mocks, monitor: RecordingMonitor
) -> None:
    settle(lambda: build(FakeGlance(), {"kube_1_34": KUBE}, Prepared()), lambda _: None)
    request = monitor.requests[IMAGE, "kube-134"]
    assert request.retainOnDelete is True
    assert list(request.ignoreChanges) == IGNORED_IMAGE_INPUTS
    assert "properties" in request.ignoreChanges
    assert request.customTimeouts.create == "6h"
    assert request.importId == ""
    owned = mocks.properties()["kube-134"].inputs
    assert owned["imageId"] == "new-kube-134"
    assert owned["imageName"] == "kube-134"
    assert owned["cloud"] == "site-cloud"
    assert owned["retired"] is False
    assert owned["properties"] == mocks.images()["kube-134"].inputs["properties"]


def test_own_image_that_left_the_config_is_kept_in_the_stack(
    mocks: Mocks, monitor: RecordingMonitor
) -> None:
    """A new release renames an image: the old one stays declared (no delete in the preview),
    adopted as it is, and its properties are left alone."""
    old = glance_image("kube-133", "old-id", tags=(TAG,), disk_format="raw", min_disk=20)
    prepared = Prepared()
    settle(
        lambda: build(FakeGlance(old), {"kube_1_34": KUBE}, prepared),
        lambda retired: assert_equal(retired, {"kube-133": "old-id"}),
    )
    assert prepared.calls == ["kube_1_34"]
    image = mocks.images()["kube-133"].inputs
    assert image["diskFormat"] == "raw"
    assert image["minDiskGb"] == 20
    assert "minRamMb" not in image
    assert image["tags"] == [TAG]
    assert monitor.requests[IMAGE, "kube-133"].importId == "old-id"
    assert mocks.properties()["kube-133"].inputs["retired"] is True


def test_without_retain_on_delete_an_image_that_left_the_config_goes(mocks: Mocks) -> None:
    old = glance_image("kube-133", "old-id", tags=(TAG,))
    settle(
        lambda: build(FakeGlance(old), {"kube_1_34": KUBE}, Prepared(), retainOnDelete=False),
        lambda retired: assert_equal(retired, {}),
    )
    assert sorted(mocks.images()) == ["kube-134"]


@pulumi.runtime.test
def test_retain_on_delete_can_be_turned_off(mocks: Mocks, monitor: RecordingMonitor) -> Any:
    component = build(FakeGlance(), {"kube_1_34": KUBE}, Prepared(), retainOnDelete=False)
    return component.image_ids.apply(
        lambda _: assert_equal(monitor.requests[IMAGE, "kube-134"].retainOnDelete, False)
    )


@pulumi.runtime.test
def test_outputs_describe_every_image(mocks: Mocks) -> Any:
    component = build(FakeGlance(), {"kube_1_34": KUBE}, Prepared(), diskFormat="raw")

    def check(args: list[Any]) -> None:
        images, kube = args
        assert images["kube_1_34"] == {
            "id": "new-kube-134",
            "name": "kube-134",
            "diskFormat": "raw",
            "visibility": "community",
            "checksum": f"sha512:{SHA512}",
            "source": "created",
            "kubernetesVersion": "v1.34.2",
        }
        assert kube == {
            "kube_1_34": {
                "kubernetesVersion": "v1.34.2",
                "imageId": "new-kube-134",
                "templateName": "kube-1-34-2",
            }
        }

    return pulumi.Output.all(component.images, component.kubernetes_images).apply(check)


def test_preview_prepares_nothing() -> None:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="community-images", stack="dev", preview=True)
    prepared = Prepared()

    @pulumi.runtime.test
    def run() -> Any:
        component = build(FakeGlance(), {"kube_1_34": KUBE}, prepared)

        def check(_: Any) -> None:
            assert prepared.calls == []
            assert "localFilePath" not in mocks.images()["kube-134"].inputs

        return component.image_ids.apply(check)

    run()


@pulumi.runtime.test
def test_someone_elses_trusted_image_is_reused_untouched(mocks: Mocks) -> Any:
    prepared = Prepared()
    theirs = glance_image("kube-134", "their-id", hash_value=SHA512, visibility="public")
    component = build(FakeGlance(theirs), {"kube_1_34": KUBE}, prepared)

    def check(args: list[Any]) -> None:
        ids, images = args
        assert ids == {"kube_1_34": "their-id"}
        assert images["kube_1_34"]["source"] == "reused"
        assert images["kube_1_34"]["visibility"] == "public"
        assert mocks.images() == {}
        assert prepared.calls == []

    return pulumi.Output.all(component.image_ids, component.images).apply(check)


@pulumi.runtime.test
def test_converted_image_is_trusted_by_its_source_hash(mocks: Mocks) -> Any:
    raw = glance_image("kube-134", "raw-id", disk_format="raw", source_sha512=SHA512)
    component = build(FakeGlance(raw), {"kube_1_34": KUBE}, Prepared(), diskFormat="raw")
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "raw-id"}))


def test_untrusted_image_of_the_same_name_is_an_error(mocks: Mocks) -> None:
    impostor = glance_image("kube-134", "impostor-id")
    with pytest.raises(TrustError) as err:
        build(FakeGlance(impostor), {"kube_1_34": KUBE}, Prepared())
    assert "impostor-id" in str(err.value) and "kube_1_34" in str(err.value)


@pulumi.runtime.test
def test_untrusted_image_is_reused_when_verification_is_off(mocks: Mocks) -> Any:
    impostor = glance_image("kube-134", "impostor-id")
    component = build(FakeGlance(impostor), {"kube_1_34": KUBE}, Prepared(), verifyExisting=False)
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "impostor-id"}))


@pulumi.runtime.test
def test_own_image_is_managed_and_adopted_without_download(
    mocks: Mocks, monitor: RecordingMonitor
) -> Any:
    prepared = Prepared()
    ours = glance_image("kube-134", "our-id", tags=(TAG,), hash_value=SHA512)
    component = build(FakeGlance(ours), {"kube_1_34": KUBE}, prepared)

    def check(ids: dict[str, str]) -> None:
        assert ids == {"kube_1_34": "our-id"}
        assert prepared.calls == []
        assert "localFilePath" not in mocks.images()["kube-134"].inputs
        assert monitor.requests[IMAGE, "kube-134"].importId == "our-id"

    return component.image_ids.apply(check)


@pulumi.runtime.test
def test_custom_image_ids_are_checked_and_exported(mocks: Mocks) -> Any:
    mine = glance_image("packer-desktop", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    component = build(FakeGlance(mine), {}, Prepared(), custom_ids={"workstation": mine.id})

    def check(args: list[Any]) -> None:
        ids, images = args
        assert ids == {"workstation": mine.id}
        assert images["workstation"]["source"] == "custom"
        assert images["workstation"]["name"] == "packer-desktop"

    return pulumi.Output.all(component.image_ids, component.images).apply(check)


def test_missing_or_inactive_custom_image_names_the_key(mocks: Mocks) -> None:
    queued = glance_image("half", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", status="queued")
    with pytest.raises(GlanceError, match=r"customImageIds\.workstation: .* is queued"):
        build(FakeGlance(queued), {}, Prepared(), custom_ids={"workstation": queued.id})
    with pytest.raises(GlanceError, match=r"customImageIds\.rstudio: no image"):
        build(FakeGlance(), {}, Prepared(), custom_ids={"rstudio": queued.id})


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def test_own_failed_upload_is_an_error_that_says_what_to_do(mocks: Mocks) -> None:
    broken = glance_image("kube-134", "broken-id", tags=(TAG,), status="queued")
    with pytest.raises(TrustError, match="this stack's image broken-id is queued"):
        build(FakeGlance(broken), {"kube_1_34": KUBE}, Prepared())


@pulumi.runtime.test
def test_someone_elses_failed_upload_is_ignored(mocks: Mocks) -> Any:
    queued = glance_image("kube-134", "their-queued-id", status="queued")
    component = build(FakeGlance(queued), {"kube_1_34": KUBE}, Prepared())
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "new-kube-134"}))


class Concurrency(Prepared):
    """Counts how many preparations run at the same time."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(
        self, key: str, spec: ImageSpec, cache: Path, fmt: str, say: Callable[[str], None]
    ) -> Path:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.2)
        with self._lock:
            self.running -= 1
        return super().__call__(key, spec, cache, fmt, say)


@pulumi.runtime.test
def test_images_are_prepared_concurrently_up_to_parallel(mocks: Mocks) -> Any:
    specs = {
        f"extra_{n}": ImageSpec(name=f"extra-{n}", source_url=f"http://127.0.0.1:1/{n}.qcow2")
        for n in range(5)
    }
    prepared = Concurrency()
    component = build(FakeGlance(), specs, prepared, parallel=2)

    def check(ids: dict[str, str]) -> None:
        assert len(ids) == 5
        assert sorted(prepared.calls) == sorted(specs)
        assert prepared.most == 2

    return component.image_ids.apply(check)
