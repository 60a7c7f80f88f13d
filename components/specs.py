"""One image spec (``images.<key>``, ``extraImages.<key>``, a manifest entry): typed and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.convert import CONVERTIBLE_FORMATS
from components.fetch import Checksum
from components.values import Problems, choice, integer, kind, string

# Formats qemu-img converts between (inspection also knows iso, but an iso cannot become a disk
# format, so it is refused here rather than after its download).
DISK_FORMATS = tuple(sorted(CONVERTIBLE_FORMATS))


# Glance's list (glance/common/config.py, [image_format] container_formats).
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")


VISIBILITIES = ("public", "community", "shared", "private")


KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


KEY_RULE = "image keys are letters, digits and _, starting with a letter"


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
# Glance's limit on an image's name and on a property's key and value (its schema, and the
# columns of image_properties): a longer one fails that image's upload after its download.
GLANCE_MAX_LENGTH = 255


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
    import_method: str | None = None
    """``importMethod`` of this image; None: the site's."""

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
    "importMethod",
}

# How an image arrives in Glance (components/arrival.py): the program uploads it, Glance fetches
# the source itself, or the one that fits the image and the cloud.
IMPORT_METHODS = ("upload", "web-download", "auto")


def parse_spec(value: Any, path: str, problems: Problems) -> ImageSpec | None:
    """One image spec (camelCase keys), or None after recording its problems."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be a map of image settings, got {kind(value)}")
        return None
    before = len(problems.items)
    for unknown in sorted(set(value) - _SPEC_KEYS):
        known = ", ".join(sorted(_SPEC_KEYS))
        problems.add(f"{path}.{unknown}", f"unknown setting (known: {known})")
    name = string(value, "name", problems, path, required=True)
    if name is not None and len(name) > GLANCE_MAX_LENGTH:
        problems.add(
            f"{path}.name",
            f"is {len(name)} characters long, more than the {GLANCE_MAX_LENGTH} Glance accepts",
        )
    source_url = string(value, "sourceUrl", problems, path, required=True)
    if source_url and not _is_source(source_url):
        problems.add(
            f"{path}.sourceUrl", f"must be an http(s) URL or a local path, got {source_url!r}"
        )
    source_format = choice(value, "sourceDiskFormat", DISK_FORMATS, "qcow2", problems, path)
    container = choice(value, "containerFormat", CONTAINER_FORMATS, "bare", problems, path)
    checksum = _checksum(value, "checksum", ("sha256", "sha512"), problems, path)
    checksum_sha512 = _checksum(value, "checksumSha512", ("sha512",), problems, path)
    visibility = choice(value, "visibility", VISIBILITIES, None, problems, path)
    properties = properties_list(value.get("properties", []), f"{path}.properties", problems)
    kube = string(value, "kubernetesVersion", problems, path)
    if kube and not re.fullmatch(r"v?\d+\.\d+\.\d+", kube):
        problems.add(f"{path}.kubernetesVersion", f"must look like v1.34.2, got {kube!r}")
    min_disk = integer(value, "minDiskGb", None, problems, path, minimum=0)
    min_ram = integer(value, "minRamMb", None, problems, path, minimum=0)
    import_method = choice(value, "importMethod", IMPORT_METHODS, None, problems, path)
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
        import_method=import_method,
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


def properties_list(value: Any, path: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        problems.add(path, f"must be a list of 'key=value' strings, got {kind(value)}")
        return ()
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not _PROPERTY_RE.match(item):
            problems.add(f"{path}[{index}]", f"must be a 'key=value' string, got {item!r}")
            continue
        key, _, prop_value = item.partition("=")
        too_long = [
            part
            for part in ("key", "value")
            if len(key if part == "key" else prop_value) > GLANCE_MAX_LENGTH
        ]
        if too_long:
            problems.add(
                f"{path}[{index}]",
                f"the property's {' and '.join(too_long)} is longer than the {GLANCE_MAX_LENGTH} "
                "characters Glance accepts",
            )
            continue
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
    text = string(value, key, problems, path)
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


def _is_source(url: str) -> bool:
    return url.startswith(("http://", "https://", "file://", "/")) or not re.match(r"^\w+://", url)
