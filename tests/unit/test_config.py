from pathlib import Path

import pytest

from components.config import (
    DEFAULT_SLURM_IMAGES,
    ConfigError,
    parse_config,
    read_pulumi_config,
)

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


def test_defaults_match_azimuth_ops() -> None:
    cfg = parse_config({})
    assert cfg.disk_format == "qcow2"
    assert cfg.default_visibility == "community"
    assert cfg.verify_existing is True
    assert cfg.retain_on_delete is True
    assert cfg.images is None
    assert cfg.slurm_images == DEFAULT_SLURM_IMAGES
    assert cfg.azimuth_images_manifest_url.endswith("/releases/download/0.34.0/manifest.json")
    assert cfg.parallel >= 3


@pytest.mark.parametrize(("cores", "parallel"), [(1, 3), (2, 4), (6, 8), (64, 8)])
def test_parallel_defaults_to_two_more_than_the_cores_up_to_eight(
    monkeypatch: pytest.MonkeyPatch, cores: int, parallel: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert parse_config({}).parallel == parallel


def test_full_spec_is_typed() -> None:
    cfg = parse_config(
        {
            "extraImages": {
                "debian_11": {
                    "name": "debian-11-generic-amd64-20220711-1073",
                    "sourceUrl": "https://example.org/debian-11.raw",
                    "sourceDiskFormat": "raw",
                    "checksum": SHA256,
                    "checksumSha512": SHA512,
                    "visibility": "private",
                    "properties": ["os_distro=debian", "hw_scsi_model=virtio-scsi"],
                    "minDiskGb": 10,
                }
            },
            "customProperties": ["prop1=value1"],
            "diskFormat": "raw",
            "cacheDir": "~/images",
            "parallel": 3,
        }
    )
    spec = cfg.extra_images["debian_11"]
    assert spec.source_disk_format == "raw"
    assert spec.checksum is not None and spec.checksum.algorithm == "sha256"
    assert spec.source_sha512 == "b" * 128
    assert spec.properties == (("os_distro", "debian"), ("hw_scsi_model", "virtio-scsi"))
    assert spec.min_disk_gb == 10
    assert cfg.custom_properties == (("prop1", "value1"),)
    assert cfg.cache_dir == Path("~/images").expanduser()
    assert cfg.parallel == 3


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "diskFormat": "qcow3",
                "extraImages": {
                    "debian_11": {"sourceUrl": "ftp://x/y", "checksum": "md5:abc", "colour": 1},
                    "ok": {"name": "ok", "sourceUrl": "https://x/ok.qcow2"},
                },
                "customProperties": ["novalue"],
                "parallel": 0,
                "customImageIds": {"workstation": "not-an-id"},
                "verifyExisting": "yes",
            }
        )
    problems = err.value.problems
    for expected in (
        "diskFormat: must be one of",
        "extraImages.debian_11.name: is required",
        "extraImages.debian_11.sourceUrl: must be an http(s) URL or a local path",
        "extraImages.debian_11.checksum:",
        "extraImages.debian_11.colour: unknown setting",
        "customProperties[0]: must be a 'key=value' string",
        "parallel: must be a whole number of at least 1",
        "customImageIds.workstation: must be a Glance image ID",
        "verifyExisting: must be true or false",
    ):
        assert any(p.startswith(expected) for p in problems), (expected, problems)
    assert len(problems) == 9
    assert "9 problems" in str(err.value)


def test_a_duplicate_name_is_reported_with_the_other_problems() -> None:
    """Both specs with the same name have problems of their own: all of them come at once."""
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "extraImages": {
                    "a": {"name": "same", "sourceUrl": "https://x/a.qcow2", "checksum": "md9:1"},
                    "b": {"name": "same"},
                }
            }
        )
    assert sorted(err.value.problems) == [
        "extraImages.a.checksum: unsupported checksum algorithm 'md9'; use sha256 or sha512",
        "extraImages.a.name: image name 'same' is also used by extraImages.b.name; "
        "names must be unique",
        "extraImages.b.sourceUrl: is required",
    ]


def test_an_extra_image_replaces_the_slurm_image_of_its_key_without_a_clash() -> None:
    slurm = {"openhpc": {"name": "hpc", "sourceUrl": "https://x/hpc"}}
    extra = {"openhpc": {"name": "hpc", "sourceUrl": "https://x/hpc2"}}
    assert parse_config({"slurmImages": slurm, "extraImages": extra}).extra_images


def test_glance_attributes_are_refused_as_properties() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "customProperties": ["os_hash_algo=md5", "hw_rng_model=virtio"],
                "images": {
                    "x": {"name": "x", "sourceUrl": "/x", "properties": ["os_glance_import=1"]}
                },
            }
        )
    assert sorted(p.split(":")[0] for p in err.value.problems) == [
        "customProperties[0]",
        "images.x.properties[0]",
    ]
    assert all("Glance sets itself" in p for p in err.value.problems)


def test_sha256_is_not_accepted_as_sha512() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"images": {"x": {"name": "x", "sourceUrl": "/tmp/x", "checksumSha512": SHA256}}}
        )
    assert err.value.problems == ["images.x.checksumSha512: must be sha512, got sha256"]


def test_empty_images_means_nothing_at_all() -> None:
    assert parse_config({"images": {}}).images == {}


def test_pulumi_text_values_are_decoded_only_for_structured_keys() -> None:
    given = {
        "azimuthImagesVersion": "1",
        "parallel": "4",
        "verifyExisting": "false",
        "images": "{}",
        "cacheDir": "/srv/cache",
    }
    raw = read_pulumi_config(given.get)
    assert raw == {
        "azimuthImagesVersion": "1",
        "parallel": 4,
        "verifyExisting": False,
        "images": {},
        "cacheDir": "/srv/cache",
    }
    assert parse_config(raw).azimuth_images_version == "1"


def test_trust_and_size_settings() -> None:
    cfg = parse_config({"trustedImageOwners": ["0123abcd" * 4], "maxImageSize": 40})
    assert cfg.trusted_image_owners == frozenset({"0123abcd" * 4})
    assert cfg.max_image_bytes == 40 << 30
    assert parse_config({}).max_image_gib == 256
    with pytest.raises(ConfigError) as err:
        parse_config({"trustedImageOwners": ["ok", "not an id"], "maxImageSize": 0})
    assert err.value.problems == [
        "trustedImageOwners[1]: must be a Keystone project ID, got 'not an id'",
        "maxImageSize: must be a whole number of at least 1, got 0",
    ]


def test_secret_keys_are_the_known_keys_pulumi_holds_as_secrets() -> None:
    from components.config import secret_config_keys

    secret = {"community-images:images", "community-images:unknown", "openstack:password"}
    assert secret_config_keys(secret.__contains__) == frozenset({"images"})


def test_a_key_the_program_does_not_know_is_reported_with_the_known_ones() -> None:
    configured = ["community-images:diskFromat", "community-images:diskFormat", "openstack:cloud"]
    with pytest.raises(ConfigError) as err:
        parse_config({"diskFormat": "raw"}, configured=configured)
    (problem,) = err.value.problems
    assert problem.startswith("diskFromat: not a setting of this program (known: ")
    assert "diskFormat" in problem and "importMethod" in problem


def test_names_and_properties_longer_than_glance_accepts_are_refused() -> None:
    long = "x" * 256
    spec = {"name": long, "sourceUrl": "https://x.example/a.qcow2", "properties": [f"k={long}"]}
    with pytest.raises(ConfigError) as err:
        parse_config({"images": {"a": spec}, "customProperties": [f"{long}=v", f"ok={'y' * 255}"]})
    assert err.value.problems == [
        "images.a.name: is 256 characters long, more than the 255 Glance accepts",
        "images.a.properties[0]: the property's value is longer than the 255 characters Glance "
        "accepts",
        "customProperties[0]: the property's key is longer than the 255 characters Glance accepts",
    ]
