"""Which images a site wants: manifest defaults, Slurm and extra images, or ``images`` alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.arrival import WEB_DOWNLOAD, web_download_problem
from components.config import ConfigError, ImageSpec, SiteConfig, check_unique_names
from components.manifest import load_manifest, specs_from_manifest


@dataclass(frozen=True)
class Catalog:
    specs: Mapping[str, ImageSpec]
    """Images that must exist in Glance, by key."""
    custom_ids: Mapping[str, str]
    """Keys whose image the operator provides by ID; nothing is fetched for them."""
    origins: Mapping[str, str]
    """Key → the config path it came from, for messages."""


def build_catalog(
    cfg: SiteConfig, load: Callable[[str], Mapping[str, Any]] = load_manifest
) -> Catalog:
    """Combine the sources the way azimuth-ops does; an extra image replaces a default key."""
    entries: dict[str, tuple[str, ImageSpec]] = {}
    if cfg.images is not None:
        entries.update({k: (f"images.{k}", s) for k, s in cfg.images.items()})
    else:
        location = cfg.azimuth_images_manifest_url
        manifest = specs_from_manifest(load(location), location)
        entries.update({k: (f"azimuthImagesManifestUrl.{k}", s) for k, s in manifest.items()})
        entries.update({k: (f"slurmImages.{k}", s) for k, s in cfg.slurm_images.items()})
        entries.update({k: (f"extraImages.{k}", s) for k, s in cfg.extra_images.items()})
    for key in cfg.custom_image_ids:
        entries.pop(key, None)
    problems = check_unique_names({k: (path, spec.name) for k, (path, spec) in entries.items()})
    problems += _web_download_problems(cfg, entries)
    if problems:
        raise ConfigError(problems)
    return Catalog(
        specs={k: spec for k, (_, spec) in entries.items()},
        custom_ids=dict(cfg.custom_image_ids),
        origins={k: path for k, (path, _) in entries.items()},
    )


def _web_download_problems(
    cfg: SiteConfig, entries: Mapping[str, tuple[str, ImageSpec]]
) -> list[str]:
    """``web-download`` (not ``auto``) for an image Glance cannot fetch and have verified."""
    problems = []
    for key, (path, spec) in entries.items():
        if (spec.import_method or cfg.import_method) != WEB_DOWNLOAD:
            continue
        problem = web_download_problem(spec, cfg.disk_format)
        if problem is not None:
            where = f"{path}.importMethod" if spec.import_method else f"importMethod (image {key})"
            problems.append(
                f"{where}: web-download cannot bring this image, as {problem}; use auto or upload"
            )
    return problems
