from collections.abc import Mapping
from typing import Any

import pytest

from components.catalog import build_catalog
from components.config import ConfigError, parse_config

MANIFEST = {
    "kubernetes-1-34-noble": {
        "name": "kube-134",
        "url": "https://x/kube-134.qcow2",
        "kubernetes_version": "v1.34.2",
    },
    "ubuntu-desktop": {"name": "desktop", "url": "https://x/desktop.qcow2"},
}


def no_manifest(location: str) -> Mapping[str, Any]:
    raise AssertionError(f"the manifest must not be read, but {location} was")


def test_defaults_slurm_and_extra_are_combined() -> None:
    cfg = parse_config(
        {
            "extraImages": {
                "debian_11": {"name": "debian-11", "sourceUrl": "https://x/debian.qcow2"},
                "workstation": {"name": "my-desktop", "sourceUrl": "https://x/mine.qcow2"},
            }
        }
    )
    catalog = build_catalog(cfg, load=lambda _: MANIFEST)
    assert sorted(catalog.specs) == ["debian_11", "kube_1_34", "openhpc", "workstation"]
    assert catalog.specs["workstation"].name == "my-desktop"
    assert catalog.origins["workstation"] == "extraImages.workstation"
    assert catalog.origins["kube_1_34"] == "azimuthImagesManifestUrl.kube_1_34"


def test_images_replaces_everything_and_skips_the_manifest() -> None:
    cfg = parse_config({"images": {}})
    catalog = build_catalog(cfg, load=no_manifest)
    assert catalog.specs == {}


def test_custom_image_ids_replace_keys_which_are_then_not_fetched() -> None:
    image_id = "0b5c3c6e-9d0e-4a4e-8d59-3b8f3f0f7a11"
    cfg = parse_config({"customImageIds": {"workstation": image_id}})
    catalog = build_catalog(cfg, load=lambda _: MANIFEST)
    assert "workstation" not in catalog.specs
    assert catalog.custom_ids == {"workstation": image_id}


def test_duplicate_names_name_both_paths() -> None:
    cfg = parse_config(
        {"extraImages": {"again": {"name": "kube-134", "sourceUrl": "https://x/k.qcow2"}}}
    )
    with pytest.raises(ConfigError) as err:
        build_catalog(cfg, load=lambda _: MANIFEST)
    (problem,) = err.value.problems
    assert problem.startswith("azimuthImagesManifestUrl.kube_1_34.name: image name 'kube-134'")
    assert "extraImages.again.name" in problem


def test_web_download_is_refused_for_images_glance_cannot_bring_verified() -> None:
    cfg = parse_config(
        {
            "diskFormat": "raw",
            "importMethod": "web-download",
            "images": {
                "converted": {"name": "c", "sourceUrl": "https://x.example/c.qcow2"},
                "own": {
                    "name": "o",
                    "sourceUrl": "https://x.example/o.raw",
                    "sourceDiskFormat": "raw",
                    "importMethod": "web-download",
                },
                "fine": {
                    "name": "f",
                    "sourceUrl": "https://x.example/f.qcow2",
                    "importMethod": "upload",
                },
            },
        }
    )
    with pytest.raises(ConfigError) as err:
        build_catalog(cfg)
    assert err.value.problems == [
        "importMethod (image converted): web-download cannot bring this image, as it needs "
        "converting from qcow2 to raw; use auto or upload",
        "images.own.importMethod: web-download cannot bring this image, as it has no sha512 to "
        "check what Glance fetched against (checksumSha512); use auto or upload",
    ]
