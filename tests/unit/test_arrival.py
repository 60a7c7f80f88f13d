"""arrival.choose: which way each image takes, one test per decision of ``auto``."""

from __future__ import annotations

from typing import Any

import pytest

from components.arrival import AUTO, UPLOAD, WEB_DOWNLOAD, CloudImport, choose
from components.config import ImageSpec
from components.fetch import Checksum

SHA512 = Checksum("sha512", "c" * 128)


def spec(**fields: Any) -> ImageSpec:
    values: dict[str, Any] = {
        "name": "kube",
        "source_url": "https://images.example/kube.qcow2",
        "checksum_sha512": SHA512,
        **fields,
    }
    return ImageSpec(**values)


class Asked:
    def __init__(self, methods: tuple[str, ...] = ("glance-direct", "web-download")) -> None:
        self.methods = methods
        self.times = 0

    def __call__(self) -> tuple[str, ...]:
        self.times += 1
        return self.methods


def decide(image: ImageSpec, method: str = AUTO, disk_format: str = "qcow2", **kw: Any) -> Any:
    return choose(image, method, disk_format, kw.get("cloud") or CloudImport(Asked()))


def test_auto_takes_web_download_for_a_verifiable_image_that_needs_nothing_here() -> None:
    assert decide(spec()) == (WEB_DOWNLOAD, None)


@pytest.mark.parametrize(
    ("image", "disk_format", "why"),
    [
        (spec(), "raw", "it needs converting from qcow2 to raw"),
        (spec(source_url="https://images.example/kube.qcow2.bz2"), "qcow2", "decompressing (bz2)"),
        (spec(source_url="/srv/kube.qcow2"), "qcow2", "its source is a local file"),
        (spec(checksum_sha512=None), "qcow2", "it has no sha512"),
    ],
    ids=["conversion", "compressed", "local", "no-sha512"],
)
def test_auto_uploads_what_needs_local_work_or_cannot_be_verified(
    image: ImageSpec, disk_format: str, why: str
) -> None:
    way, problem = decide(image, disk_format=disk_format)
    assert way == UPLOAD
    assert problem is not None and why in problem


def test_auto_uploads_on_a_cloud_without_web_download_and_asks_it_once() -> None:
    asked = Asked(("glance-direct",))
    cloud = CloudImport(asked)
    for _ in range(3):
        way, problem = decide(spec(), cloud=cloud)
        assert way == UPLOAD and "does not offer web-download" in (problem or "")
    assert asked.times == 1


def test_auto_uploads_once_the_cloud_showed_another_hash_algorithm() -> None:
    cloud = CloudImport(Asked())
    cloud.learned_hash_algo("sha256")
    way, problem = decide(spec(), cloud=cloud)
    assert way == UPLOAD and "hashes images with sha256" in (problem or "")


def test_upload_asks_the_cloud_nothing() -> None:
    asked = Asked()
    assert decide(spec(), UPLOAD, cloud=CloudImport(asked)) == (UPLOAD, None)
    assert asked.times == 0


def test_the_image_method_wins_over_the_sites() -> None:
    assert decide(spec(import_method=UPLOAD), AUTO) == (UPLOAD, None)
    assert decide(spec(import_method=AUTO), UPLOAD) == (WEB_DOWNLOAD, None)


def test_web_download_on_a_cloud_without_it_reports_the_problem() -> None:
    way, problem = decide(spec(), WEB_DOWNLOAD, cloud=CloudImport(Asked(())))
    assert way == WEB_DOWNLOAD and "does not offer web-download" in (problem or "")
