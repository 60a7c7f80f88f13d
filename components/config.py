"""The stack configuration (namespace ``community-images``): typed, validated all at once.

Every problem is collected with its config path before anything touches the network or the
disk, so an operator fixes a site's config in one round instead of one error per ``pulumi up``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.bounds import DEFAULT_MAX_IMAGE_GIB
from components.retention import RETENTION_KEYS, RetentionPolicy, parse_retention
from components.specs import (
    DISK_FORMATS,
    IMPORT_METHODS,
    KEY_RE,
    KEY_RULE,
    VISIBILITIES,
    ImageSpec,
    check_unique_names,
    parse_spec,
    properties_list,
)
from components.values import (
    NAMESPACE,
    ConfigError,
    Problems,
    boolean,
    choice,
    integer,
    kind,
    project_ids,
    string,
)

# Seconds an import by Glance may copy nothing new: a cloud whose Glance cannot reach the
# internet must not cost half an hour per image before the program falls back to uploading.
DEFAULT_IMPORT_TIMEOUT = 120

DEFAULT_AZIMUTH_IMAGES_REPO = "https://github.com/azimuth-cloud/azimuth-images"
DEFAULT_AZIMUTH_IMAGES_VERSION = "0.34.0"


@dataclass(frozen=True)
class SiteConfig:
    azimuth_images_version: str
    azimuth_images_manifest_url: str
    slurm_images: Mapping[str, ImageSpec]
    extra_images: Mapping[str, ImageSpec]
    images: Mapping[str, ImageSpec] | None
    disk_format: str = "qcow2"
    custom_properties: tuple[tuple[str, str], ...] = ()
    default_visibility: str = "community"
    verify_existing: bool = True
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    parallel: int = field(default_factory=lambda: default_parallel())
    retain_on_delete: bool = True
    custom_image_ids: Mapping[str, str] = field(default_factory=dict)
    trusted_image_owners: frozenset[str] = frozenset()
    max_image_gib: int = DEFAULT_MAX_IMAGE_GIB
    import_method: str = "upload"
    import_timeout: int = DEFAULT_IMPORT_TIMEOUT
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    adopt_untagged: bool = False
    """``adoptUntagged``: this project's untagged image of a wanted name, proven to hold the
    source's bytes, becomes this stack's (tagged and managed) instead of reused."""
    secret_keys: frozenset[str] = frozenset()
    """Keys set with ``pulumi config set --secret`` (or holding a secret value): what comes
    from them stays secret in the state."""

    @property
    def max_image_bytes(self) -> int:
        return self.max_image_gib << 30


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "community-images"


def default_parallel() -> int:
    # Downloads wait on the network, conversions on qemu-img and uploads on Glance's hashing, so
    # two more than the cores keep them all busy without starving Glance on a small control
    # host. On 2 cores, 4 x 256 MiB streamed uploads took 12.8-13.8 s with 4 at once and
    # 15.3-16.4 s with 3 (cores + 1): the fourth waited for a slot and uploaded alone at the end.
    return min(8, (os.cpu_count() or 1) + 2)


# The Slurm appliance image azimuth-ops pins (ansible-slurm-appliance v2.24.0).
_SLURM_BASE_URL = (
    "https://leafcloud.store/swift/v1/AUTH_f39848421b2747148400ad8eeae8d536/openhpc-images"
)
DEFAULT_SLURM_IMAGES: Mapping[str, ImageSpec] = {
    "openhpc": ImageSpec(
        name="openhpc-RL9-260818-0723-3f645271",
        source_url=f"{_SLURM_BASE_URL}/openhpc-RL9-260818-0723-3f645271",
    )
}


CONFIG_KEYS = (
    "azimuthImagesVersion",
    "azimuthImagesManifestUrl",
    "slurmImages",
    "extraImages",
    "images",
    "diskFormat",
    "customProperties",
    "defaultVisibility",
    "verifyExisting",
    "cacheDir",
    "parallel",
    "retainOnDelete",
    "customImageIds",
    "trustedImageOwners",
    "maxImageSize",
    "importMethod",
    "importTimeout",
    "adoptUntagged",
    *RETENTION_KEYS,
)


# Keys whose values are not strings: the Pulumi CLI hands every value over as text, and
# structured or typed ones as JSON.
_JSON_KEYS = {
    "slurmImages",
    "extraImages",
    "images",
    "customProperties",
    "verifyExisting",
    "parallel",
    "retainOnDelete",
    "customImageIds",
    "trustedImageOwners",
    "maxImageSize",
    "importTimeout",
    "adoptUntagged",
    "keepReleases",
    "pruneConsumerStacks",
}


def read_pulumi_config(get: Callable[[str], str | None]) -> dict[str, Any]:
    """Raw values of the known keys, JSON decoded where the key is not a string setting."""
    raw: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        text = get(key)
        if text is None:
            continue
        if key not in _JSON_KEYS:
            raw[key] = text
            continue
        try:
            raw[key] = json.loads(text)
        except json.JSONDecodeError:
            # Left as text so that validation names the key and shows what was given.
            raw[key] = text
    return raw


def unknown_keys(configured: Iterable[str]) -> list[str]:
    """Problems for keys of this program's namespace it does not read: a typo such as
    ``diskFromat`` would otherwise leave the site on the default without a word."""
    prefix = f"{NAMESPACE}:"
    known = ", ".join(CONFIG_KEYS)
    return [
        f"{key.removeprefix(prefix)}: not a setting of this program (known: {known})"
        for key in sorted(configured)
        if key.startswith(prefix) and key.removeprefix(prefix) not in CONFIG_KEYS
    ]


def secret_config_keys(is_secret: Callable[[str], bool]) -> frozenset[str]:
    """The known keys whose value is secret (``is_secret`` takes the full key)."""
    return frozenset(key for key in CONFIG_KEYS if is_secret(f"{NAMESPACE}:{key}"))


def parse_config(
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    configured: Iterable[str] = (),
) -> SiteConfig:
    """Turn raw config values into a SiteConfig, or raise ConfigError listing every problem;
    ``configured`` are all the stack's config keys (namespaced), to find unknown ones."""
    problems = Problems()
    problems.items.extend(unknown_keys(configured))
    version = string(raw, "azimuthImagesVersion", problems) or DEFAULT_AZIMUTH_IMAGES_VERSION
    manifest_url = string(raw, "azimuthImagesManifestUrl", problems) or (
        f"{DEFAULT_AZIMUTH_IMAGES_REPO}/releases/download/{version}/manifest.json"
    )
    slurm, slurm_names = (
        _spec_map(raw["slurmImages"], "slurmImages", problems)
        if "slurmImages" in raw
        else (DEFAULT_SLURM_IMAGES, _names(DEFAULT_SLURM_IMAGES, "slurmImages"))
    )
    extra, extra_names = _spec_map(raw.get("extraImages", {}), "extraImages", problems)
    images, images_names = (
        _spec_map(raw["images"], "images", problems) if "images" in raw else (None, {})
    )
    # Names are compared even where a spec has other problems, so a duplicate is reported in
    # the same round; an extra image replaces the Slurm image of the same key.
    names = images_names if images is not None else {**slurm_names, **extra_names}
    problems.items.extend(check_unique_names(names))
    disk_format = choice(raw, "diskFormat", DISK_FORMATS, "qcow2", problems)
    custom_properties = properties_list(
        raw.get("customProperties", []), "customProperties", problems
    )
    default_visibility = choice(raw, "defaultVisibility", VISIBILITIES, "community", problems)
    verify_existing = boolean(raw, "verifyExisting", True, problems)
    cache_dir_text = string(raw, "cacheDir", problems)
    parallel = integer(raw, "parallel", None, problems, minimum=1) or default_parallel()
    retain_on_delete = boolean(raw, "retainOnDelete", True, problems)
    custom_ids = _custom_image_ids(raw.get("customImageIds", {}), problems)
    trusted = project_ids(raw.get("trustedImageOwners", []), "trustedImageOwners", problems)
    max_gib = integer(raw, "maxImageSize", DEFAULT_MAX_IMAGE_GIB, problems, minimum=1)
    import_method = choice(raw, "importMethod", IMPORT_METHODS, "upload", problems)
    import_timeout = integer(raw, "importTimeout", DEFAULT_IMPORT_TIMEOUT, problems, minimum=1)
    retention = parse_retention(raw, problems)
    adopt_untagged = boolean(raw, "adoptUntagged", False, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return SiteConfig(
        azimuth_images_version=version,
        azimuth_images_manifest_url=manifest_url,
        slurm_images=slurm,
        extra_images=extra,
        images=images,
        disk_format=disk_format,
        custom_properties=custom_properties,
        default_visibility=default_visibility,
        verify_existing=verify_existing,
        cache_dir=Path(cache_dir_text).expanduser() if cache_dir_text else default_cache_dir(),
        parallel=parallel,
        retain_on_delete=retain_on_delete,
        custom_image_ids=custom_ids,
        trusted_image_owners=trusted,
        max_image_gib=max_gib or DEFAULT_MAX_IMAGE_GIB,
        import_method=import_method or "upload",
        import_timeout=import_timeout or DEFAULT_IMPORT_TIMEOUT,
        retention=retention,
        adopt_untagged=adopt_untagged,
        secret_keys=secret_keys,
    )


def _names(specs: Mapping[str, ImageSpec], path: str) -> dict[str, tuple[str, str]]:
    return {key: (f"{path}.{key}", spec.name) for key, spec in specs.items()}


def _spec_map(
    value: Any, path: str, problems: Problems
) -> tuple[dict[str, ImageSpec], dict[str, tuple[str, str]]]:
    """The valid specs by key, and the name of every spec that has one, valid or not."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a map of image key to image settings, got {kind(value)}")
        return {}, {}
    specs: dict[str, ImageSpec] = {}
    names: dict[str, tuple[str, str]] = {}
    for key, item in value.items():
        if not KEY_RE.match(str(key)):
            problems.add(f"{path}.{key}", KEY_RULE)
            continue
        spec = parse_spec(item, f"{path}.{key}", problems)
        if spec is not None:
            specs[key] = spec
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str) and name:
            names[key] = (f"{path}.{key}", name)
    return specs, names


def _custom_image_ids(value: Any, problems: Problems) -> dict[str, str]:
    if not isinstance(value, Mapping):
        problems.add("customImageIds", f"must be a map of key to image ID, got {kind(value)}")
        return {}
    ids: dict[str, str] = {}
    for key, image_id in value.items():
        path = f"customImageIds.{key}"
        if not KEY_RE.match(str(key)):
            problems.add(path, KEY_RULE)
        elif not isinstance(image_id, str) or not re.fullmatch(r"[0-9a-fA-F-]{32,36}", image_id):
            problems.add(path, f"must be a Glance image ID (a UUID), got {image_id!r}")
        else:
            ids[key] = image_id
    return ids
