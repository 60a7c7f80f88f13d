"""The variables of azimuth-ops' community_images role (roles/community_images/defaults and
tasks, azimuth-cloud/ansible-collection-azimuth-ops) and what becomes of each here."""

from __future__ import annotations

from typing import Any

from components.config import (
    DEFAULT_AZIMUTH_IMAGES_REPO,
    DEFAULT_AZIMUTH_IMAGES_VERSION,
    DEFAULT_SLURM_IMAGES,
)

PREFIX = "community_images_"

# Taken as they are (templates resolved), under the program's name.
SCALARS = {
    "community_images_disk_format": "diskFormat",
    "community_images_custom_properties": "customProperties",
    "community_images_default_visibility": "defaultVisibility",
    "community_images_azimuth_images_version": "azimuthImagesVersion",
    "community_images_azimuth_images_manifest_url": "azimuthImagesManifestUrl",
}

# Maps of image key → spec, each spec's fields converted (image_specs.py).
SPEC_MAPS = {
    "community_images": "images",
    "community_images_extra": "extraImages",
    "community_images_slurm": "slurmImages",
}

# The two trust switches, which decide verifyExisting together.
VERIFY = (
    "community_images_insecure_skip_glance_verify",
    "community_images_use_existing_trusted_community_images",
)

# Known to the role, but about how it runs (its venv, its work dir, how it finds clouds.yaml):
# this program has its own ways, so nothing is lost by leaving them out.
NO_EFFECT = {
    "community_images_venv_path": "the role's venv for the OpenStack CLI",
    "community_images_openstack_cli_path": "the role's OpenStack CLI",
    "community_images_workdir": "the role's download folder (this program's is cacheDir)",
    "community_images_os_clouds_file_local": "clouds.yaml comes from OS_CLIENT_CONFIG_FILE",
    "community_images_os_config_dir": "the folder the role copies clouds.yaml to",
    "community_images_os_clouds_file": "the path the role copies clouds.yaml to",
}

# Known, but with no equivalent: what the role would do with them cannot be said in config.
UNSUPPORTED = {
    "community_images_default": "it replaces the manifest's and the Slurm images; set images "
    "(all of a site's images) or extraImages in the stack instead",
    "community_images_azimuth_images": "the specs made from the manifest; the program makes "
    "them itself from azimuthImagesVersion/azimuthImagesManifestUrl",
    "community_images_azimuth_images_manifest": "the manifest's data; point "
    "community_images_azimuth_images_manifest_url at a copy of it instead",
}

# The role's defaults that a template in the environment may refer to.
ROLE_DEFAULTS: dict[str, Any] = {
    "community_images_azimuth_images_repo": DEFAULT_AZIMUTH_IMAGES_REPO,
    "community_images_azimuth_images_version": DEFAULT_AZIMUTH_IMAGES_VERSION,
    "community_images_slurm_base_url": DEFAULT_SLURM_IMAGES["openhpc"].source_url.rsplit("/", 1)[0],
    "community_images_disk_format": "qcow2",
    "community_images_default_visibility": "community",
    "community_images_custom_properties": [],
    "community_images_extra": {},
}
