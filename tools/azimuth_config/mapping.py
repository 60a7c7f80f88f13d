"""The ``community_images_*`` variables of an environment as this program's stack config.

Every variable under ``community_images_`` ends up in exactly one place: a config key, a note
(known to the role but with nothing to do here), or a problem (not imported, so the operator
must decide); none is dropped without a word."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.config import (
    DEFAULT_AZIMUTH_IMAGES_REPO,
    DEFAULT_AZIMUTH_IMAGES_VERSION,
    DEFAULT_SLURM_IMAGES,
)
from tools.azimuth_config.consumers import custom_image_ids
from tools.azimuth_config.findings import Findings
from tools.azimuth_config.image_specs import convert_specs
from tools.azimuth_config.inventory import Definition, Environment
from tools.azimuth_config.jinja import Lookup, Unresolved, resolve
from tools.azimuth_config.role_variables import (
    NO_EFFECT,
    PREFIX,
    ROLE_DEFAULTS,
    SCALARS,
    SPEC_MAPS,
    UNSUPPORTED,
    VERIFY,
)

CLOUD_KEY = "openstack:cloud"
_NS = "community-images:"


@dataclass
class Imported:
    settings: dict[str, Any] = field(default_factory=dict)
    """Full config key → value, as the stack file will hold it."""
    sources: dict[str, str] = field(default_factory=dict)
    """Full config key → the variable and ``file:line`` it came from."""
    findings: Findings = field(default_factory=Findings)

    def set(self, key: str, value: Any, definition: Definition) -> None:
        full = key if ":" in key else f"{_NS}{key}"
        self.settings[full] = value
        self.sources[full] = f"{definition.name} ({definition.where()})"


def map_environment(env: Environment, cloud: str | None = None) -> Imported:
    result = Imported()
    lookup = Lookup({**ROLE_DEFAULTS, **{n: d.value for n, d in env.variables.items()}})
    for name, definition in env.variables.items():
        if name.startswith(PREFIX) or name == PREFIX.rstrip("_"):
            _map_variable(definition, lookup, result)
    _map_verify(env.variables, lookup, result)
    _map_enabled(env.variables, lookup, result)
    _map_derived(env.variables, lookup, result)
    _merge_custom_ids(env.variables, lookup, result)
    if cloud:
        result.settings[CLOUD_KEY] = cloud
        result.sources[CLOUD_KEY] = "the --cloud option"
    return result


def _merge_custom_ids(variables: dict[str, Definition], lookup: Lookup, result: Imported) -> None:
    """``community_images_image_ids`` and the consumers' own IDs in one ``customImageIds``;
    a consumer's wins, as it is what the appliance boots."""
    key = f"{_NS}customImageIds"
    from_inventory = result.settings.pop(key, {})
    consumer_ids = custom_image_ids(variables, lookup, result.findings)
    ids = dict(from_inventory) if isinstance(from_inventory, dict) else {}
    ids.update({image_key: image_id for image_key, (image_id, _) in consumer_ids.items()})
    if not ids and not isinstance(from_inventory, dict):
        # Not a map: kept as it is, so that the validation names it.
        ids = from_inventory
    if not ids:
        result.sources.pop(key, None)
        return
    origins = [d for _, d in consumer_ids.values()]
    if "community_images_image_ids" in variables:
        origins.insert(0, variables["community_images_image_ids"])
    result.settings[key] = ids
    result.sources[key] = ", ".join(f"{d.name} ({d.where()})" for d in origins)


def _map_variable(definition: Definition, lookup: Lookup, result: Imported) -> None:
    name = definition.name
    handler = _HANDLERS.get(name)
    if name in SCALARS:
        _resolved_to(SCALARS[name], definition, lookup, result)
    elif name in SPEC_MAPS:
        value = _resolved(definition, lookup, result, whole_only=True)
        if value is None and definition.value is not None:
            return  # already reported as unresolved
        specs = convert_specs(definition, value, lookup, result.findings)
        if specs is not None:
            result.set(SPEC_MAPS[name], specs, definition)
    elif handler is not None:
        handler(definition, lookup, result)
    elif name in VERIFY:
        pass  # decided together in _map_verify
    elif name in NO_EFFECT:
        result.findings.note(definition.where(), name, f"not imported: {NO_EFFECT[name]}")
    elif name in UNSUPPORTED:
        message = f"cannot be imported: {UNSUPPORTED[name]}"
        result.findings.problem(definition.where(), name, message)
    else:
        result.findings.problem(
            definition.where(), name, "is not a variable of azimuth-ops' community_images role"
        )


def _resolved(
    definition: Definition, lookup: Lookup, result: Imported, whole_only: bool = False
) -> Any:
    """The value with simple templates resolved; None (reported) when it cannot be.
    ``whole_only``: resolve only a value that is itself a template (a map of specs resolves
    field by field, so each field's problem is reported on its own line)."""
    value = definition.value
    if whole_only and isinstance(value, dict | list):
        return value
    try:
        return resolve(value, lookup)
    except Unresolved as exc:
        result.findings.problem(definition.where(), definition.name, str(exc))
        return None


def _resolved_to(key: str, definition: Definition, lookup: Lookup, result: Imported) -> None:
    value = _resolved(definition, lookup, result)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # YAML reads `version: 0.35` as a number; Ansible puts it into the URL as text.
        value = str(value)
    if value is not None:
        result.set(key, value, definition)


def _map_image_ids(definition: Definition, lookup: Lookup, result: Imported) -> None:
    value = _resolved(definition, lookup, result)
    if value is None:
        return
    # An inventory value passes through the role (it only combines its uploads into it), so
    # these IDs are what azimuth-ops' consumers see: images the operator provides.
    result.set("customImageIds", value, definition)
    result.findings.note(
        definition.where(),
        definition.name,
        "imported as customImageIds: the program checks each ID and exports it unchanged",
    )


def _map_share_projects(definition: Definition, lookup: Lookup, result: Imported) -> None:
    value = _resolved(definition, lookup, result)
    if value:
        result.findings.problem(
            definition.where(),
            definition.name,
            "cannot be imported: this program does not share images with projects; use "
            "community visibility or trustedImageOwners",
        )


def _map_os_cloud(definition: Definition, lookup: Lookup, result: Imported) -> None:
    value = _resolved(definition, lookup, result)
    if isinstance(value, str) and value:
        result.set(CLOUD_KEY, value, definition)


def _map_enabled(variables: dict[str, Definition], lookup: Lookup, result: Imported) -> None:
    definition = variables.get("community_images_enabled")
    if definition is None or _boolean(definition, lookup, result) is not False:
        return
    # azimuth-ops then skips the role entirely (playbooks/provision_cluster.yml): no images,
    # whatever community_images says.
    if f"{_NS}images" in result.settings:
        result.findings.note(
            definition.where(), definition.name, "is false, so community_images is not used"
        )
    result.set("images", {}, definition)


def _map_update_visibility(definition: Definition, lookup: Lookup, result: Imported) -> None:
    result.findings.note(
        definition.where(),
        definition.name,
        "not imported: the program sets the visibility of the images it uploads and manages, "
        "and never changes an image it reuses",
    )


_HANDLERS: dict[str, Callable[[Definition, Lookup, Imported], None]] = {
    "community_images_image_ids": _map_image_ids,
    "community_images_share_projects": _map_share_projects,
    "community_images_os_cloud": _map_os_cloud,
    "community_images_enabled": lambda d, lookup, r: None,
    "community_images_update_existing_visibility": _map_update_visibility,
    # Used below, with the version, for the values the role derives from them.
    "community_images_azimuth_images_repo": lambda d, lookup, r: None,
    "community_images_slurm_base_url": lambda d, lookup, r: None,
}


def _boolean(definition: Definition, lookup: Lookup, result: Imported) -> bool | None:
    """As Ansible's ``bool`` filter reads a value; None (reported) for anything else."""
    value = _resolved(definition, lookup, result)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1", "y", "t"):
        return True
    if text in ("false", "no", "off", "0", "n", "f"):
        return False
    if value is not None:
        result.findings.problem(
            definition.where(), definition.name, f"must be true or false, got {value!r}"
        )
    return None


def _map_verify(variables: dict[str, Definition], lookup: Lookup, result: Imported) -> None:
    """``verifyExisting`` from the role's two trust switches (see the README's mapping)."""
    skip = variables.get("community_images_insecure_skip_glance_verify")
    use = variables.get("community_images_use_existing_trusted_community_images")
    skip_value = _boolean(skip, lookup, result) if skip else None
    use_value = _boolean(use, lookup, result) if use else None
    if skip is not None and skip_value:
        result.set("verifyExisting", False, skip)
    elif use is not None and use_value is False:
        # The role then reuses only its own project's images, each after the sha512 check.
        # This program also reuses another project's image, but only when Glance's sha512 of
        # its bytes is the source's: the same check, so verification stays on.
        result.set("verifyExisting", True, use)
        result.findings.note(
            use.where(),
            use.name,
            "imported as verifyExisting: true: another project's image is reused only when "
            "its sha512 is the source's; list trustedImageOwners to reuse only their images",
        )
    elif skip is not None and skip_value is False:
        result.set("verifyExisting", True, skip)


def _map_derived(variables: dict[str, Definition], lookup: Lookup, result: Imported) -> None:
    """What the role derives from its repo and Slurm base URL, when only those are set."""
    repo = variables.get("community_images_azimuth_images_repo")
    if repo is not None and f"{_NS}azimuthImagesManifestUrl" not in result.settings:
        base = _resolved(repo, lookup, result)
        version = result.settings.get(f"{_NS}azimuthImagesVersion") or lookup.values.get(
            "community_images_azimuth_images_version", DEFAULT_AZIMUTH_IMAGES_VERSION
        )
        if isinstance(base, str) and base.rstrip("/") != DEFAULT_AZIMUTH_IMAGES_REPO:
            url = f"{base.rstrip('/')}/releases/download/{version}/manifest.json"
            result.set("azimuthImagesManifestUrl", url, repo)
    slurm_base = variables.get("community_images_slurm_base_url")
    if slurm_base is not None and f"{_NS}slurmImages" not in result.settings:
        base = _resolved(slurm_base, lookup, result)
        if isinstance(base, str):
            images = {
                key: {"name": spec.name, "sourceUrl": f"{base.rstrip('/')}/{spec.name}"}
                for key, spec in DEFAULT_SLURM_IMAGES.items()
            }
            result.set("slurmImages", images, slurm_base)
