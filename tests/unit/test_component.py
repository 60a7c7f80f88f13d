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
from components.component import CommunityImages
from components.config import ImageSpec, parse_config
from components.fetch import Checksum
from components.glance import GlanceError
from components.glance_image import GlanceImage
from components.ownership import owner_tag
from components.plan import TrustError
from components.prepare import UNBOUNDED, Phases, Prepared
from components.records import IGNORED_IMAGE_INPUTS
from components.tap import NO_TAP, Tap

SHA512 = "c" * 128
TAG = owner_tag("community-images", "dev")
PROJECT = "a" * 32
OTHER = "b" * 32
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
    """What Glance holds, and what the component asks of it; uploads succeed at once."""

    cloud = "site-cloud"
    project_id = PROJECT

    def __init__(self, *images: GlanceImage) -> None:
        self._images = images
        self.created: list[dict[str, Any]] = []
        self.uploaded: list[tuple[str, bytes]] = []
        self.deleted: list[str] = []
        self.published: dict[str, str] = {}
        self._lock = threading.Lock()

    def create(self, attrs: dict[str, Any]) -> str:
        with self._lock:
            self.created.append(attrs)
            return f"new-{attrs['name']}"

    def upload(self, image_id: str, data: Any) -> GlanceImage:
        content = data.read()
        with self._lock:
            self.uploaded.append((image_id, content))
        return glance_image("", image_id, size=len(content))

    def publish(self, image_id: str, visibility: str) -> None:
        with self._lock:
            self.published[image_id] = visibility

    def delete(self, image_id: str) -> None:
        with self._lock:
            self.deleted.append(image_id)

    def find(self, names: set[str]) -> dict[str, list[GlanceImage]]:
        return {name: [i for i in self._images if i.name == name] for name in names}

    def owned(self, tag: str) -> list[GlanceImage]:
        return [i for i in self._images if tag in i.tags]

    def lookup(
        self, names: set[str], tag: str
    ) -> tuple[dict[str, list[GlanceImage]], list[GlanceImage]]:
        return self.find(names), self.owned(tag)

    def get(self, image_id: str) -> GlanceImage | None:
        return next((i for i in self._images if i.id == image_id), None)


def glance_image(name: str, image_id: str, **overrides: Any) -> GlanceImage:
    fields: dict[str, Any] = {
        "id": image_id,
        "name": name,
        "status": "active",
        "visibility": "community",
        "disk_format": "qcow2",
        "container_format": "bare",
        "hash_value": "0" * 128,
        "hash_algo": "sha512",
        "tags": (),
        "source_sha512": None,
        "owner": PROJECT,
        **overrides,
    }
    return GlanceImage(**fields)


class Prepare:
    """Writes a small file for each image, as prepare_image would after its download."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.calls: list[str] = []
        self.max_bytes: int | None = None

    def __call__(
        self,
        key: str,
        spec: ImageSpec,
        cache: Path,
        fmt: str,
        say: Callable[[str], None],
        max_bytes: int,
        phases: Phases = UNBOUNDED,
        tap: Tap = NO_TAP,
    ) -> Prepared:
        self.calls.append(key)
        self.max_bytes = max_bytes
        path = self.tmp / f"{spec.name}.{fmt}"
        path.write_bytes(spec.name.encode())
        verified = {c.algorithm: c.hexdigest for c in spec.checksums}
        return Prepared(path, None, verified=verified)


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
    prepare: Prepare,
    custom_ids: dict[str, str] | None = None,
    **config: Any,
) -> CommunityImages:
    cfg = parse_config({"cacheDir": "/cache", "customProperties": ["site=test"], **config})
    catalog = Catalog(specs=specs, custom_ids=custom_ids or {}, origins={})
    return CommunityImages("images", cfg, catalog, glance, prepare=prepare)  # type: ignore[arg-type]


def test_new_images_are_prepared_uploaded_and_adopted_as_community_images(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> None:
    prepared = Prepare(tmp_path)
    glance = FakeGlance()
    settle(
        lambda: build(glance, {"kube_1_34": KUBE, "workstation": DESKTOP}, prepared),
        lambda _: None,
    )
    assert sorted(prepared.calls) == ["kube_1_34", "workstation"]
    # Uploaded by the program, created private until complete, with every attribute.
    (kube_attrs,) = [a for a in glance.created if a["name"] == "kube-134"]
    assert kube_attrs == {
        "name": "kube-134",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "tags": [TAG],
        "min_disk": 0,
        "min_ram": 0,
        "site": "test",
        "os_distro": "ubuntu",
        # Only a checksum verified while preparing it, and the mark of an unfinished upload.
        "community_images_source_sha512": SHA512,
        "community_images_upload": "unfinished",
        "community_images_via": "upload",
        # The key it was made for, which keepReleases groups releases by.
        "community_images_key": "kube_1_34",
    }
    assert sorted(glance.uploaded) == [("new-desktop", b"desktop"), ("new-kube-134", b"kube-134")]
    assert glance.published == {"new-desktop": "community", "new-kube-134": "community"}
    assert glance.deleted == []
    assert prepared.max_bytes == 256 << 30
    # Then adopted by its Image resource, as it stands in Glance.
    kube = mocks.images()["kube-134"].inputs
    assert monitor.requests[IMAGE, "kube-134"].importId == "new-kube-134"
    assert kube["visibility"] == "community"
    assert "localFilePath" not in kube
    assert kube["tags"] == [TAG]
    # The site's properties; the upload's record of checksums is never patched afterwards.
    assert kube["properties"] == {"site": "test", "os_distro": "ubuntu"}


def settle(make: Callable[[], CommunityImages], check: Callable[[Any], None]) -> None:
    """Builds the component, checks its retired image IDs, and returns once every resource is
    registered (the properties resources register after the images' IDs are known)."""

    @pulumi.runtime.test
    def run() -> Any:
        return make().retired_image_ids.apply(check)

    run()


def test_images_are_kept_on_removal_and_their_properties_owned_apart(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> None:
    settle(lambda: build(FakeGlance(), {"kube_1_34": KUBE}, Prepare(tmp_path)), lambda _: None)
    request = monitor.requests[IMAGE, "kube-134"]
    assert request.retainOnDelete is True
    assert list(request.ignoreChanges) == IGNORED_IMAGE_INPUTS
    assert "properties" in request.ignoreChanges
    owned = mocks.properties()["kube-134"].inputs
    assert owned["imageId"] == "new-kube-134"
    assert owned["imageName"] == "kube-134"
    assert owned["cloud"] == "site-cloud"
    assert owned["retired"] is False
    assert owned["properties"] == mocks.images()["kube-134"].inputs["properties"]


def test_only_an_adopted_image_needs_its_properties_applied(mocks: Mocks, tmp_path: Path) -> None:
    ours = glance_image("desktop", "our-id", tags=(TAG,))
    glance = FakeGlance(ours)
    settle(
        lambda: build(glance, {"kube_1_34": KUBE, "workstation": DESKTOP}, Prepare(tmp_path)),
        lambda _: None,
    )
    # Uploaded with its properties in the record: nothing left to apply.
    assert mocks.properties()["kube-134"].inputs["setAtUpload"] is True
    assert mocks.properties()["desktop"].inputs["setAtUpload"] is False


def test_own_image_that_left_the_config_is_kept_in_the_stack(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> None:
    """A new release renames an image: the old one stays declared (no delete in the preview),
    adopted as it is, and its properties are left alone."""
    old = glance_image("kube-133", "old-id", tags=(TAG,), disk_format="raw", min_disk=20)
    prepared = Prepare(tmp_path)
    settle(
        lambda: build(FakeGlance(old), {"kube_1_34": KUBE}, prepared),
        lambda retired: assert_equal(retired, {"kube-133@raw/bare": "old-id"}),
    )
    assert prepared.calls == ["kube_1_34"]
    # Its name in the stack says its format, as it is not the site's: see the format change.
    image = mocks.images()["kube-133@raw/bare"].inputs
    assert image["diskFormat"] == "raw"
    assert image["minDiskGb"] == 20
    assert "minRamMb" not in image
    assert image["tags"] == [TAG]
    assert monitor.requests[IMAGE, "kube-133@raw/bare"].importId == "old-id"
    assert mocks.properties()["kube-133@raw/bare"].inputs["retired"] is True


def test_without_retain_on_delete_an_image_that_left_the_config_goes(
    mocks: Mocks, tmp_path: Path
) -> None:
    old = glance_image("kube-133", "old-id", tags=(TAG,))
    settle(
        lambda: build(
            FakeGlance(old), {"kube_1_34": KUBE}, Prepare(tmp_path), retainOnDelete=False
        ),
        lambda retired: assert_equal(retired, {}),
    )
    assert sorted(mocks.images()) == ["kube-134"]


@pulumi.runtime.test
def test_retain_on_delete_can_be_turned_off(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> Any:
    component = build(FakeGlance(), {"kube_1_34": KUBE}, Prepare(tmp_path), retainOnDelete=False)
    return component.image_ids.apply(
        lambda _: assert_equal(monitor.requests[IMAGE, "kube-134"].retainOnDelete, False)
    )


@pulumi.runtime.test
def test_outputs_describe_every_image(mocks: Mocks, tmp_path: Path) -> Any:
    component = build(FakeGlance(), {"kube_1_34": KUBE}, Prepare(tmp_path), diskFormat="raw")

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
            "via": "upload",
        }
        assert kube == {
            "kube_1_34": {
                "kubernetesVersion": "v1.34.2",
                "imageId": "new-kube-134",
                "templateName": "kube-1-34-2",
            }
        }

    return pulumi.Output.all(component.images, component.kubernetes_images).apply(check)


def test_preview_prepares_nothing(tmp_path: Path) -> None:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="community-images", stack="dev", preview=True)
    prepared = Prepare(tmp_path)

    @pulumi.runtime.test
    def run() -> Any:
        component = build(FakeGlance(), {"kube_1_34": KUBE}, prepared)

        def check(_: Any) -> None:
            assert prepared.calls == []
            assert "localFilePath" not in mocks.images()["kube-134"].inputs

        return component.image_ids.apply(check)

    run()


@pulumi.runtime.test
def test_someone_elses_trusted_image_is_reused_untouched(mocks: Mocks, tmp_path: Path) -> Any:
    prepared = Prepare(tmp_path)
    theirs = glance_image(
        "kube-134", "their-id", hash_value=SHA512, visibility="public", owner=OTHER
    )
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
def test_converted_image_is_trusted_by_its_source_hash(mocks: Mocks, tmp_path: Path) -> Any:
    raw = glance_image("kube-134", "raw-id", disk_format="raw", source_sha512=SHA512)
    component = build(FakeGlance(raw), {"kube_1_34": KUBE}, Prepare(tmp_path), diskFormat="raw")
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "raw-id"}))


@pulumi.runtime.test
def test_an_untrusted_image_of_the_same_name_gets_a_copy_of_our_own(
    mocks: Mocks, tmp_path: Path
) -> Any:
    impostor = glance_image("kube-134", "impostor-id", owner=OTHER)
    prepared = Prepare(tmp_path)
    component = build(FakeGlance(impostor), {"kube_1_34": KUBE}, prepared)

    def check(ids: dict[str, str]) -> None:
        assert ids == {"kube_1_34": "new-kube-134"}
        assert prepared.calls == ["kube_1_34"]

    return component.image_ids.apply(check)


@pulumi.runtime.test
def test_a_forged_source_property_on_another_projects_image_is_not_trusted(
    mocks: Mocks, tmp_path: Path
) -> Any:
    forged = glance_image("kube-134", "forged-id", owner=OTHER, source_sha512=SHA512)
    component = build(FakeGlance(forged), {"kube_1_34": KUBE}, Prepare(tmp_path))
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "new-kube-134"}))


@pulumi.runtime.test
def test_a_forged_tag_on_another_projects_image_makes_it_no_image_of_ours(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> Any:
    """Neither managed, nor deleted as a leftover, nor kept as a retired image."""
    forged = glance_image("kube-134", "forged-id", owner=OTHER, tags=(TAG,))
    queued = glance_image("kube-134", "queued-id", owner=OTHER, tags=(TAG,), status="queued")
    old = glance_image("kube-133", "old-id", owner=OTHER, tags=(TAG,))
    glance = FakeGlance(forged, queued, old)
    component = build(glance, {"kube_1_34": KUBE}, Prepare(tmp_path))

    def check(args: list[Any]) -> None:
        ids, retired = args
        assert ids == {"kube_1_34": "new-kube-134"}
        assert retired == {}
        assert glance.deleted == []
        assert monitor.requests[IMAGE, "kube-134"].importId == "new-kube-134"

    return pulumi.Output.all(component.image_ids, component.retired_image_ids).apply(check)


@pulumi.runtime.test
def test_trusted_image_owners_limit_reuse_and_vouch_for_names(mocks: Mocks, tmp_path: Path) -> Any:
    stranger = glance_image("kube-134", "stranger-id", owner=OTHER, hash_value=SHA512)
    friend = "f" * 32
    by_name = glance_image("desktop", "friend-id", owner=friend)
    component = build(
        FakeGlance(stranger, by_name),
        {"kube_1_34": KUBE, "workstation": DESKTOP},
        Prepare(tmp_path),
        trustedImageOwners=[friend],
    )
    return component.image_ids.apply(
        lambda ids: assert_equal(ids, {"kube_1_34": "new-kube-134", "workstation": "friend-id"})
    )


@pulumi.runtime.test
def test_without_verification_only_this_projects_images_are_reused_by_name(
    mocks: Mocks, tmp_path: Path
) -> Any:
    mine = glance_image("kube-134", "mine-id")
    theirs = glance_image("desktop", "their-id", owner=OTHER)
    component = build(
        FakeGlance(mine, theirs),
        {"kube_1_34": KUBE, "workstation": DESKTOP},
        Prepare(tmp_path),
        verifyExisting=False,
    )
    return component.image_ids.apply(
        lambda ids: assert_equal(ids, {"kube_1_34": "mine-id", "workstation": "new-desktop"})
    )


@pulumi.runtime.test
def test_own_image_is_managed_and_adopted_without_download(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> Any:
    prepared = Prepare(tmp_path)
    ours = glance_image("kube-134", "our-id", tags=(TAG,), hash_value=SHA512)
    component = build(FakeGlance(ours), {"kube_1_34": KUBE}, prepared)

    def check(ids: dict[str, str]) -> None:
        assert ids == {"kube_1_34": "our-id"}
        assert prepared.calls == []
        assert "localFilePath" not in mocks.images()["kube-134"].inputs
        assert monitor.requests[IMAGE, "kube-134"].importId == "our-id"

    return component.image_ids.apply(check)


@pulumi.runtime.test
def test_custom_image_ids_are_checked_and_exported(mocks: Mocks, tmp_path: Path) -> Any:
    mine = glance_image("packer-desktop", "1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    component = build(FakeGlance(mine), {}, Prepare(tmp_path), custom_ids={"workstation": mine.id})

    def check(args: list[Any]) -> None:
        ids, images = args
        assert ids == {"workstation": mine.id}
        assert images["workstation"]["source"] == "custom"
        assert images["workstation"]["name"] == "packer-desktop"

    return pulumi.Output.all(component.image_ids, component.images).apply(check)


def test_missing_or_inactive_custom_image_names_the_key(mocks: Mocks, tmp_path: Path) -> None:
    queued = glance_image("half", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", status="queued")
    with pytest.raises(GlanceError, match=r"customImageIds\.workstation: .* is queued"):
        build(FakeGlance(queued), {}, Prepare(tmp_path), custom_ids={"workstation": queued.id})
    with pytest.raises(GlanceError, match=r"customImageIds\.rstudio: no image"):
        build(FakeGlance(), {}, Prepare(tmp_path), custom_ids={"rstudio": queued.id})


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


@pytest.mark.parametrize(
    "left",
    [
        {"status": "queued"},
        # Active, but private and still marked: its run could not finish nor delete it.
        {"visibility": "private", "pending": True},
    ],
    ids=["queued-by-an-interrupted-run", "never-published"],
)
def test_own_unfinished_image_is_deleted_before_the_new_upload(
    mocks: Mocks, tmp_path: Path, left: dict[str, Any]
) -> None:
    """Nobody can boot from it, so it goes."""
    glance = FakeGlance(glance_image("kube-134", "left-id", tags=(TAG,), **left))
    settle(lambda: build(glance, {"kube_1_34": KUBE}, Prepare(tmp_path)), lambda _: None)
    assert glance.deleted == ["left-id"]
    assert [a["name"] for a in glance.created] == ["kube-134"]


def test_own_deactivated_image_is_an_error_that_says_what_to_do(
    mocks: Mocks, tmp_path: Path
) -> None:
    off = glance_image("kube-134", "off-id", tags=(TAG,), status="deactivated")
    with pytest.raises(TrustError, match="this stack's image off-id is deactivated"):
        build(FakeGlance(off), {"kube_1_34": KUBE}, Prepare(tmp_path))


@pulumi.runtime.test
def test_someone_elses_failed_upload_is_ignored(mocks: Mocks, tmp_path: Path) -> Any:
    queued = glance_image("kube-134", "their-queued-id", status="queued")
    component = build(FakeGlance(queued), {"kube_1_34": KUBE}, Prepare(tmp_path))
    return component.image_ids.apply(lambda ids: assert_equal(ids, {"kube_1_34": "new-kube-134"}))


class Concurrency(Prepare):
    """Counts how many preparations run at the same time."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(
        self,
        key: str,
        spec: ImageSpec,
        cache: Path,
        fmt: str,
        say: Callable[[str], None],
        max_bytes: int,
        phases: Phases = UNBOUNDED,
        tap: Tap = NO_TAP,
    ) -> Prepared:
        with phases.working:
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.2)
            with self._lock:
                self.running -= 1
        return super().__call__(key, spec, cache, fmt, say, max_bytes)


@pulumi.runtime.test
def test_images_are_prepared_concurrently_up_to_parallel(mocks: Mocks, tmp_path: Path) -> Any:
    specs = {
        f"extra_{n}": ImageSpec(name=f"extra-{n}", source_url=f"http://127.0.0.1:1/{n}.qcow2")
        for n in range(5)
    }
    prepared = Concurrency(tmp_path)
    component = build(FakeGlance(), specs, prepared, parallel=2)

    def check(ids: dict[str, str]) -> None:
        assert len(ids) == 5
        assert sorted(prepared.calls) == sorted(specs)
        assert prepared.most == 2

    return component.image_ids.apply(check)


class SecondPrepareSignals(Prepare):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.second_started = threading.Event()

    def __call__(
        self,
        key: str,
        spec: ImageSpec,
        cache: Path,
        fmt: str,
        say: Callable[[str], None],
        max_bytes: int,
        phases: Phases = UNBOUNDED,
        tap: Tap = NO_TAP,
    ) -> Prepared:
        if self.calls:
            self.second_started.set()
        return super().__call__(key, spec, cache, fmt, say, max_bytes)


class UploadWaitsForSecondPrepare(FakeGlance):
    def __init__(self, second_started: threading.Event) -> None:
        super().__init__()
        self._second_started = second_started

    def upload(self, image_id: str, data: Any) -> GlanceImage:
        if not self._second_started.wait(timeout=10):
            raise AssertionError("the next image was not prepared while this one uploaded")
        return super().upload(image_id, data)


@pulumi.runtime.test
def test_an_upload_does_not_hold_up_the_next_download(mocks: Mocks, tmp_path: Path) -> Any:
    prepared = SecondPrepareSignals(tmp_path)
    glance = UploadWaitsForSecondPrepare(prepared.second_started)
    component = build(glance, {"kube_1_34": KUBE, "workstation": DESKTOP}, prepared, parallel=1)

    def check(ids: dict[str, str]) -> None:
        assert ids == {"kube_1_34": "new-kube-134", "workstation": "new-desktop"}
        assert len(glance.uploaded) == 2

    return component.image_ids.apply(check)


def test_a_format_change_uploads_a_new_image_and_keeps_the_old_as_retired(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> None:
    """qcow2 → raw: never an import of the old record with other attributes (which the engine
    refuses), nor an empty record; the old image stays under a name of its own."""
    old = glance_image("kube-134", "qcow2-id", tags=(TAG,), hash_value=SHA512)
    glance = FakeGlance(old)
    prepared = Prepare(tmp_path)
    settle(
        lambda: build(glance, {"kube_1_34": KUBE}, prepared, diskFormat="raw"),
        lambda retired: assert_equal(retired, {"kube-134@qcow2/bare": "qcow2-id"}),
    )
    assert prepared.calls == ["kube_1_34"]
    assert monitor.requests[IMAGE, "kube-134"].importId == "new-kube-134"
    assert mocks.images()["kube-134"].inputs["diskFormat"] == "raw"
    kept = mocks.images()["kube-134@qcow2/bare"].inputs
    assert (kept["name"], kept["diskFormat"]) == ("kube-134", "qcow2")
    assert monitor.requests[IMAGE, "kube-134@qcow2/bare"].importId == "qcow2-id"


def test_a_managed_image_whose_checksum_changed_stops_the_run(mocks: Mocks, tmp_path: Path) -> None:
    ours = glance_image("kube-134", "our-id", tags=(TAG,), disk_format="raw")
    ours = GlanceImage(**{**ours.__dict__, "source_sha512": "d" * 128})
    with pytest.raises(TrustError) as err:
        build(FakeGlance(ours), {"kube_1_34": KUBE}, Prepare(tmp_path), diskFormat="raw")
    message = str(err.value)
    assert "our-id" in message and "d" * 128 in message and SHA512 in message


def test_a_managed_image_that_gains_a_checksum_it_cannot_show_stops_the_run(
    mocks: Mocks, tmp_path: Path
) -> None:
    """Uploaded (converted) from a source without a checksum: nothing proves it is that build."""
    ours = glance_image("kube-134", "our-id", tags=(TAG,), disk_format="raw")
    with pytest.raises(TrustError, match="no checksum recorded"):
        build(FakeGlance(ours), {"kube_1_34": KUBE}, Prepare(tmp_path), diskFormat="raw")


def test_without_retain_on_delete_the_program_deletes_what_left_the_config(
    mocks: Mocks, tmp_path: Path
) -> None:
    """The engine would keep an image recorded while retainOnDelete was still on."""
    old = glance_image("kube-133", "old-id", tags=(TAG,))
    theirs = glance_image("kube-132", "their-id", tags=(TAG,), owner=OTHER)
    glance = FakeGlance(old, theirs)
    settle(
        lambda: build(glance, {"kube_1_34": KUBE}, Prepare(tmp_path), retainOnDelete=False),
        lambda retired: assert_equal(retired, {}),
    )
    assert glance.deleted == ["old-id"]


def test_properties_from_a_secret_config_value_stay_secret(
    mocks: Mocks, monitor: RecordingMonitor, tmp_path: Path
) -> None:
    cfg = parse_config(
        {"cacheDir": "/cache", "customProperties": ["token=s3cr3t"]},
        secret_keys=frozenset({"customProperties"}),
    )
    catalog = Catalog(specs={"kube_1_34": KUBE}, custom_ids={}, origins={})
    glance = FakeGlance()
    settle(
        lambda: CommunityImages("images", cfg, catalog, glance, prepare=Prepare(tmp_path)),  # type: ignore[arg-type]
        lambda _: None,
    )
    # Applied once the Image has adopted the image, which records what it reads, in clear.
    (attrs,) = glance.created
    assert "token" not in attrs
    assert mocks.properties()["kube-134"].inputs["setAtUpload"] is False
    assert "properties" in monitor.requests[IMAGE, "kube-134"].additionalSecretOutputs
    for typ in (IMAGE, PROPERTIES):
        properties = monitor.requests[typ, "kube-134"].object.fields["properties"]
        assert properties.struct_value.fields[pulumi.runtime.rpc._special_sig_key].string_value == (
            pulumi.runtime.rpc._special_secret_sig
        )
