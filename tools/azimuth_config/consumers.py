"""Variables through which azimuth-ops' consumers take an image ID directly instead of from
``community_images_image_ids`` (roles/azimuth_caas_operator/defaults/main.yml): set to an ID,
the image is the operator's own, which is this program's ``customImageIds``."""

from __future__ import annotations

import re
from typing import Any

from tools.azimuth_config.findings import Findings
from tools.azimuth_config.inventory import Definition
from tools.azimuth_config.jinja import Lookup, Unresolved, resolve

# Lowest precedence first: the role derives ``azimuth_caas_workstation_image`` from
# ``azimuth_caas_stackhpc_workstation_image``, so a value of the former is what the appliance
# uses when both are set.
CONSUMERS: dict[str, str] = {
    "azimuth_caas_stackhpc_slurm_appliance_rocky8_image": "openhpc",
    "azimuth_caas_stackhpc_slurm_appliance_image": "openhpc",
    "azimuth_caas_stackhpc_workstation_image": "workstation",
    "azimuth_caas_workstation_image": "workstation",
    "azimuth_caas_stackhpc_repo2docker_image": "repo2docker",
    "azimuth_caas_repo2docker_image": "repo2docker",
    "azimuth_caas_stackhpc_rstudio_image": "rstudio",
    "azimuth_caas_rstudio_image": "rstudio",
}

# Set to an ID, these replace the image of one consumer only (the HA cluster's, the seed's),
# not an image key: the key's image is still wanted by the others (the Kubernetes templates).
LEFT_TO_ANSIBLE = {
    "capi_cluster_machine_image_id": "the HA cluster's image only (the Kubernetes templates "
    "still use community_images_image_ids.kube_*)",
    "infra_image_id": "the seed's image, which azimuth-ops' infra role uploads itself",
}

# What the program checks a custom image ID against (components/config.py).
_IMAGE_ID = re.compile(r"[0-9a-fA-F-]{32,36}")


def custom_image_ids(
    variables: dict[str, Definition], lookup: Lookup, findings: Findings
) -> dict[str, tuple[str, Definition]]:
    """Image key → (ID, the definition it came from) for consumers given an ID directly."""
    ids: dict[str, tuple[str, Definition]] = {}
    for name, key in CONSUMERS.items():
        definition = variables.get(name)
        if definition is None:
            continue
        image_id = _image_id(definition, lookup, findings)
        if image_id is None:
            continue
        if key in ids and ids[key][0] != image_id:
            findings.note(
                definition.where(),
                name,
                f"overrides {ids[key][1].name} ({ids[key][1].where()}) for image {key}, as in "
                "azimuth-ops",
            )
        ids[key] = (image_id, definition)
    for name, meaning in LEFT_TO_ANSIBLE.items():
        if name in variables:
            findings.note(
                variables[name].where(), name, f"left in the environment: it sets {meaning}"
            )
    return ids


def _image_id(definition: Definition, lookup: Lookup, findings: Findings) -> str | None:
    value: Any = definition.value
    if isinstance(value, str) and "community_images_image_ids" in value:
        # Already wired to the role's output: the export gives it this stack's ID.
        return None
    try:
        value = resolve(value, lookup)
    except Unresolved as exc:
        findings.note(definition.where(), definition.name, f"left to Ansible: it {exc}")
        return None
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _IMAGE_ID.fullmatch(value):
        findings.note(
            definition.where(),
            definition.name,
            f"left in the environment: {value!r} is not a Glance image ID",
        )
        return None
    return value
