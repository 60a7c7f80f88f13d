"""azimuth-ops image specs (``community_images_extra`` and friends) as this program's image
specs: the role's snake_case fields to camelCase, each value resolved or reported."""

from __future__ import annotations

from typing import Any

from tools.azimuth_config.findings import Findings
from tools.azimuth_config.inventory import Definition, ValuePath
from tools.azimuth_config.jinja import Lookup, Unresolved, resolve

# Every field the role reads from a spec (tasks/upload_image.yml), and its name here.
SPEC_FIELDS = {
    "name": "name",
    "source_url": "sourceUrl",
    "source_disk_format": "sourceDiskFormat",
    "container_format": "containerFormat",
    "checksum": "checksum",
    "checksum_sha512": "checksumSha512",
    "visibility": "visibility",
    "properties": "properties",
    "kubernetes_version": "kubernetesVersion",
}


def convert_specs(
    definition: Definition, value: Any, lookup: Lookup, findings: Findings
) -> dict[str, Any] | None:
    """Key → spec in this program's form; None when the value is not a map at all (reported).
    A field that cannot be converted is reported and left out of its spec."""
    if not isinstance(value, dict):
        findings.problem(
            definition.where(),
            definition.name,
            f"must be a map of image key to image spec, got {type(value).__name__}",
        )
        return None
    specs: dict[str, Any] = {}
    for key, spec in value.items():
        path: ValuePath = (str(key),)
        if not isinstance(spec, dict):
            findings.problem(
                definition.where(path), f"{definition.name}.{key}", "must be a map of fields"
            )
            continue
        specs[str(key)] = _convert_spec(definition, path, spec, lookup, findings)
    return specs


def _convert_spec(
    definition: Definition,
    path: ValuePath,
    spec: dict[str, Any],
    lookup: Lookup,
    findings: Findings,
) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for field_name, field_value in spec.items():
        where = definition.where((*path, str(field_name)))
        label = f"{definition.name}.{path[0]}.{field_name}"
        target = SPEC_FIELDS.get(str(field_name))
        if target is None:
            known = ", ".join(SPEC_FIELDS)
            findings.problem(where, label, f"is not a field of the role's image specs ({known})")
            continue
        try:
            converted[target] = resolve(field_value, lookup)
        except Unresolved as exc:
            findings.problem(where, label, str(exc))
    return converted
