"""The stack configuration (namespace ``community-images``): typed, validated all at once.

Every problem is collected with its config path before anything touches the network or the
disk, so an operator fixes a site's config in one round instead of one error per ``pulumi up``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.convert import CONVERTIBLE_FORMATS
from components.errors import CommunityImagesError
from components.fetch import Checksum

NAMESPACE = "community-images"

# Formats qemu-img converts between (inspection also knows iso, but an iso cannot become a disk
# format, so it is refused here rather than after its download).
DISK_FORMATS = tuple(sorted(CONVERTIBLE_FORMATS))
# Glance's list (glance/common/config.py, [image_format] container_formats).
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "community", "shared", "private")

DEFAULT_AZIMUTH_IMAGES_REPO = "https://github.com/azimuth-cloud/azimuth-images"
DEFAULT_AZIMUTH_IMAGES_VERSION = "0.34.0"

_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_KEY_RULE = "image keys are letters, digits and _, starting with a letter"
_PROPERTY_RE = re.compile(r"^[A-Za-z0-9_:.-]+=.*$")
# Glance's own image attributes (its v2 image schema) and reserved prefix: Glance refuses them as
# properties (403), which would fail the upload of that image only after its download.
GLANCE_ATTRIBUTES = frozenset(
    [
        "checksum",
        "container_format",
        "created_at",
        "direct_url",
        "disk_format",
        "file",
        "id",
        "locations",
        "min_disk",
        "min_ram",
        "name",
        "os_hash_algo",
        "os_hash_value",
        "os_hidden",
        "owner",
        "protected",
        "schema",
        "self",
        "size",
        "status",
        "stores",
        "tags",
        "updated_at",
        "virtual_size",
        "visibility",
    ]
)
GLANCE_RESERVED_PREFIX = "os_glance"


class ConfigError(CommunityImagesError):
    """All problems found in the configuration, each prefixed with its config path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {NAMESPACE} configuration ({len(problems)} problems):\n{lines}")


@dataclass(frozen=True)
class ImageSpec:
    """One image to exist in Glance; ``checksum``/``checksum_sha512`` describe the source file."""

    name: str
    source_url: str
    source_disk_format: str = "qcow2"
    container_format: str = "bare"
    checksum: Checksum | None = None
    checksum_sha512: Checksum | None = None
    visibility: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
    kubernetes_version: str | None = None
    min_disk_gb: int | None = None
    min_ram_mb: int | None = None

    @property
    def checksums(self) -> tuple[Checksum, ...]:
        return tuple(c for c in (self.checksum, self.checksum_sha512) if c is not None)

    @property
    def source_sha512(self) -> str | None:
        """The source's sha512, the only hash Glance keeps (``os_hash_value``)."""
        for c in self.checksums:
            if c.algorithm == "sha512":
                return c.hexdigest
        return None


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


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "community-images"


def default_parallel() -> int:
    # Downloads wait on the network and conversions on qemu-img, so a little more than one per
    # core keeps both busy without starving Glance on a small control host.
    return max(2, min(8, (os.cpu_count() or 1) + 1))


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

_SPEC_KEYS = {
    "name",
    "sourceUrl",
    "sourceDiskFormat",
    "containerFormat",
    "checksum",
    "checksumSha512",
    "visibility",
    "properties",
    "kubernetesVersion",
    "minDiskGb",
    "minRamMb",
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
)


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


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


def parse_config(raw: Mapping[str, Any]) -> SiteConfig:
    """Turn raw config values into a SiteConfig, or raise ConfigError listing every problem."""
    problems = Problems()
    version = _string(raw, "azimuthImagesVersion", problems) or DEFAULT_AZIMUTH_IMAGES_VERSION
    manifest_url = _string(raw, "azimuthImagesManifestUrl", problems) or (
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
    disk_format = _choice(raw, "diskFormat", DISK_FORMATS, "qcow2", problems)
    custom_properties = _properties(raw.get("customProperties", []), "customProperties", problems)
    default_visibility = _choice(raw, "defaultVisibility", VISIBILITIES, "community", problems)
    verify_existing = _bool(raw, "verifyExisting", True, problems)
    cache_dir_text = _string(raw, "cacheDir", problems)
    parallel = _int(raw, "parallel", None, problems, minimum=1) or default_parallel()
    retain_on_delete = _bool(raw, "retainOnDelete", True, problems)
    custom_ids = _custom_image_ids(raw.get("customImageIds", {}), problems)
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
    )


def parse_spec(value: Any, path: str, problems: Problems) -> ImageSpec | None:
    """One image spec (camelCase keys), or None after recording its problems."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a map of image settings, got {_kind(value)}")
        return None
    before = len(problems.items)
    for unknown in sorted(set(value) - _SPEC_KEYS):
        known = ", ".join(sorted(_SPEC_KEYS))
        problems.add(f"{path}.{unknown}", f"unknown setting (known: {known})")
    name = _string(value, "name", problems, path, required=True)
    source_url = _string(value, "sourceUrl", problems, path, required=True)
    if source_url and not _is_source(source_url):
        problems.add(
            f"{path}.sourceUrl", f"must be an http(s) URL or a local path, got {source_url!r}"
        )
    source_format = _choice(value, "sourceDiskFormat", DISK_FORMATS, "qcow2", problems, path)
    container = _choice(value, "containerFormat", CONTAINER_FORMATS, "bare", problems, path)
    checksum = _checksum(value, "checksum", ("sha256", "sha512"), problems, path)
    checksum_sha512 = _checksum(value, "checksumSha512", ("sha512",), problems, path)
    visibility = _choice(value, "visibility", VISIBILITIES, None, problems, path)
    properties = _properties(value.get("properties", []), f"{path}.properties", problems)
    kube = _string(value, "kubernetesVersion", problems, path)
    if kube and not re.fullmatch(r"v?\d+\.\d+\.\d+", kube):
        problems.add(f"{path}.kubernetesVersion", f"must look like v1.34.2, got {kube!r}")
    min_disk = _int(value, "minDiskGb", None, problems, path, minimum=0)
    min_ram = _int(value, "minRamMb", None, problems, path, minimum=0)
    if len(problems.items) > before or name is None or source_url is None:
        return None
    return ImageSpec(
        name=name,
        source_url=source_url,
        source_disk_format=source_format or "qcow2",
        container_format=container or "bare",
        checksum=checksum,
        checksum_sha512=checksum_sha512,
        visibility=visibility,
        properties=properties,
        kubernetes_version=kube,
        min_disk_gb=min_disk,
        min_ram_mb=min_ram,
    )


def check_unique_names(names: Mapping[str, tuple[str, str]]) -> list[str]:
    """Problems for image names used by more than one key (``names``: key → (path, name))."""
    by_name: dict[str, list[str]] = {}
    for path, name in names.values():
        by_name.setdefault(name, []).append(f"{path}.name")
    return [
        f"{paths[0]}: image name {name!r} is also used by {', '.join(paths[1:])}; "
        "names must be unique"
        for name, paths in by_name.items()
        if len(paths) > 1
    ]


def _names(specs: Mapping[str, ImageSpec], path: str) -> dict[str, tuple[str, str]]:
    return {key: (f"{path}.{key}", spec.name) for key, spec in specs.items()}


def _spec_map(
    value: Any, path: str, problems: Problems
) -> tuple[dict[str, ImageSpec], dict[str, tuple[str, str]]]:
    """The valid specs by key, and the name of every spec that has one, valid or not."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a map of image key to image settings, got {_kind(value)}")
        return {}, {}
    specs: dict[str, ImageSpec] = {}
    names: dict[str, tuple[str, str]] = {}
    for key, item in value.items():
        if not _KEY_RE.match(str(key)):
            problems.add(f"{path}.{key}", _KEY_RULE)
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
        problems.add("customImageIds", f"must be a map of key to image ID, got {_kind(value)}")
        return {}
    ids: dict[str, str] = {}
    for key, image_id in value.items():
        path = f"customImageIds.{key}"
        if not _KEY_RE.match(str(key)):
            problems.add(path, _KEY_RULE)
        elif not isinstance(image_id, str) or not re.fullmatch(r"[0-9a-fA-F-]{32,36}", image_id):
            problems.add(path, f"must be a Glance image ID (a UUID), got {image_id!r}")
        else:
            ids[key] = image_id
    return ids


def _properties(value: Any, path: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        problems.add(path, f"must be a list of 'key=value' strings, got {_kind(value)}")
        return ()
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _PROPERTY_RE.match(item):
            problems.add(f"{path}[{index}]", f"must be a 'key=value' string, got {item!r}")
            continue
        key, _, prop_value = item.partition("=")
        if key in GLANCE_ATTRIBUTES or key.startswith(GLANCE_RESERVED_PREFIX):
            problems.add(
                f"{path}[{index}]",
                f"{key!r} is an attribute Glance sets itself, not a property; remove it",
            )
            continue
        pairs.append((key, prop_value))
    return tuple(pairs)


def _checksum(
    value: Mapping[str, Any],
    key: str,
    algorithms: tuple[str, ...],
    problems: Problems,
    path: str,
) -> Checksum | None:
    text = _string(value, key, problems, path)
    if not text:
        return None
    try:
        parsed = Checksum.parse(text)
    except ValueError as exc:
        problems.add(f"{path}.{key}", str(exc))
        return None
    if parsed.algorithm not in algorithms:
        problems.add(f"{path}.{key}", f"must be {' or '.join(algorithms)}, got {parsed.algorithm}")
        return None
    return parsed


def _string(
    value: Mapping[str, Any],
    key: str,
    problems: Problems,
    path: str = "",
    required: bool = False,
) -> str | None:
    full = f"{path}.{key}" if path else key
    item = value.get(key)
    if item is None or item == "":
        if required:
            problems.add(full, "is required")
        return None
    if not isinstance(item, str):
        problems.add(full, f"must be a string, got {_kind(item)}")
        return None
    return item


def _choice(
    value: Mapping[str, Any],
    key: str,
    choices: tuple[str, ...],
    default: str | None,
    problems: Problems,
    path: str = "",
) -> str | None:
    item = _string(value, key, problems, path)
    if item is None:
        return default
    if item not in choices:
        full = f"{path}.{key}" if path else key
        problems.add(full, f"must be one of {', '.join(choices)}, got {item!r}")
        return default
    return item


def _bool(value: Mapping[str, Any], key: str, default: bool, problems: Problems) -> bool:
    item = value.get(key, default)
    if isinstance(item, bool):
        return item
    problems.add(key, f"must be true or false, got {item!r}")
    return default


def _int(
    value: Mapping[str, Any],
    key: str,
    default: int | None,
    problems: Problems,
    path: str = "",
    minimum: int = 0,
) -> int | None:
    item = value.get(key, default)
    if item is None:
        return None
    if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
        full = f"{path}.{key}" if path else key
        problems.add(full, f"must be a whole number of at least {minimum}, got {item!r}")
        return default
    return item


def _is_source(url: str) -> bool:
    return url.startswith(("http://", "https://", "file://", "/")) or not re.match(r"^\w+://", url)


def _kind(value: Any) -> str:
    return type(value).__name__
