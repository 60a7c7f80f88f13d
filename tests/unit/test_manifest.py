import json
from pathlib import Path

import pytest

from components.config import ConfigError
from components.manifest import image_key, load_manifest, specs_from_manifest

SHA256 = "sha256:" + "1" * 64
SHA512 = "sha512:" + "2" * 128


def entry(name: str, **extra: str) -> dict[str, str]:
    return {
        "name": name,
        "url": f"https://images.example/{name}.qcow2",
        "checksum": SHA256,
        "checksum_sha512": SHA512,
        "cosign-bundle-url": "https://images.example/x.bundle",
        **extra,
    }


MANIFEST = {
    "kubernetes-1-34-noble": entry("ubuntu-noble-kube-v1.34.10", kubernetes_version="v1.34.10"),
    "kubernetes-1-35-noble": entry("ubuntu-noble-kube-v1.35.1", kubernetes_version="v1.35.1"),
    "ubuntu-desktop": entry("ubuntu-desktop-noble"),
    "jupyter-repo2docker": entry("jupyter-repo2docker-noble"),
    "linux-rstudio": entry("linux-rstudio-noble"),
    "something-else": entry("unused"),
}


def test_keys_are_mapped_as_azimuth_ops_maps_them() -> None:
    specs = specs_from_manifest(MANIFEST, "m.json")
    assert sorted(specs) == ["kube_1_34", "kube_1_35", "repo2docker", "rstudio", "workstation"]
    kube = specs["kube_1_34"]
    assert kube.name == "ubuntu-noble-kube-v1.34.10"
    assert kube.kubernetes_version == "v1.34.10"
    assert kube.source_url == "https://images.example/ubuntu-noble-kube-v1.34.10.qcow2"
    assert (kube.source_disk_format, kube.container_format) == ("qcow2", "bare")
    assert str(kube.checksum) == SHA256
    assert kube.source_sha512 == "2" * 128
    assert specs["workstation"].kubernetes_version is None


def test_image_key_without_v_prefix() -> None:
    assert image_key("k", {"kubernetes_version": "1.33.6"}) == "kube_1_33"


def test_bad_entries_are_all_reported_with_the_manifest_location() -> None:
    bad = {
        "ubuntu-desktop": {"name": "d", "url": "https://x/d", "checksum": "sha256:zz"},
        "kubernetes-1-34-noble": {"name": "k", "kubernetes_version": "v1"},
        "linux-rstudio": "nope",
    }
    with pytest.raises(ConfigError) as err:
        specs_from_manifest(bad, "https://m/manifest.json")
    text = "\n".join(err.value.problems)
    assert "azimuthImagesManifestUrl (https://m/manifest.json).ubuntu-desktop.checksum" in text
    assert ".kubernetes-1-34-noble.kubernetes_version: not a Kubernetes version" in text
    assert ".linux-rstudio: manifest entries must be objects" in text


def test_load_from_a_local_path(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MANIFEST))
    assert load_manifest(str(path)) == MANIFEST
    assert load_manifest(f"file://{path}") == MANIFEST


def test_unreadable_manifest_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_manifest(str(tmp_path / "missing.json"))
    assert err.value.problems[0].startswith("azimuthImagesManifestUrl: cannot read ")


@pytest.mark.parametrize("url", ["file:///etc/shadow.qcow2", "images/local.qcow2", "/root/x.qcow2"])
def test_a_remote_manifest_may_name_only_remote_sources(url: str) -> None:
    manifest = {"ubuntu-desktop": entry("desk", url=url)}
    with pytest.raises(ConfigError) as err:
        specs_from_manifest(manifest, "https://images.example/manifest.json?sig=s3cr3t")
    (problem,) = err.value.problems
    assert problem.startswith(
        "azimuthImagesManifestUrl (https://images.example/manifest.json).ubuntu-desktop.url: "
        "a manifest read over http(s) may only name http(s) sources"
    )
    assert "s3cr3t" not in problem


def test_a_local_manifest_may_name_local_sources() -> None:
    manifest = {"ubuntu-desktop": entry("desk", url="/srv/images/desk.qcow2")}
    specs = specs_from_manifest(manifest, "/srv/images/manifest.json")
    assert specs["workstation"].source_url == "/srv/images/desk.qcow2"
