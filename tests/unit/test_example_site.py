"""stacks/Pulumi.example-site.yaml, the documented example of a real site, is valid config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import CONFIG_KEYS, NAMESPACE, SiteConfig, parse_config, read_pulumi_config

EXAMPLE = Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.example-site.yaml"


@pytest.fixture(scope="module")
def settings() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())["config"]
    return config


def pulumi_text(value: Any) -> str:
    """A value as the Pulumi CLI hands it to the program: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def site_config(settings: dict[str, Any]) -> SiteConfig:
    prefix = f"{NAMESPACE}:"
    ours = {k.removeprefix(prefix): v for k, v in settings.items() if k.startswith(prefix)}

    def get(key: str) -> str | None:
        return pulumi_text(ours[key]) if key in ours else None

    return parse_config(read_pulumi_config(get))


def test_every_key_is_one_the_program_reads(settings: dict[str, Any]) -> None:
    # read_pulumi_config only asks for known keys, so a misspelt one would be ignored silently.
    known = {f"{NAMESPACE}:{key}" for key in CONFIG_KEYS} | {"openstack:cloud"}
    assert set(settings) <= known


def test_it_passes_validation(settings: dict[str, Any]) -> None:
    cfg = site_config(settings)
    assert settings["openstack:cloud"] == "example-site"
    assert cfg.azimuth_images_version == "0.34.0"
    assert cfg.azimuth_images_manifest_url == (
        "https://github.com/azimuth-cloud/azimuth-images/releases/download/0.34.0/manifest.json"
    )
    assert cfg.disk_format == "raw"
    assert ("hw_scsi_model", "virtio-scsi") in cfg.custom_properties
    assert cfg.parallel == 3
    assert cfg.retain_on_delete is True
    debian = cfg.extra_images["debian_11"]
    assert debian.name == "debian-11-generic-amd64-20220711-1073"
    assert debian.source_url.startswith("https://cloud.debian.org/images/cloud/bullseye/")
    assert debian.source_disk_format == "qcow2"
    assert debian.container_format == "bare"
    assert dict(debian.properties) == {"os_distro": "debian", "os_version": "11"}
    # The Slurm image stays azimuth-ops' default.
    assert set(cfg.slurm_images) == {"openhpc"}


def test_pulumi_rewritten_form_reads_the_same(settings: dict[str, Any]) -> None:
    # Creating the stack makes Pulumi rewrite the file with numbers and booleans as strings.
    rewritten = {
        key: str(value).lower() if isinstance(value, bool | int) else value
        for key, value in settings.items()
    }
    assert rewritten != settings
    assert site_config(rewritten) == site_config(settings)
