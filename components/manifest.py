"""The azimuth-images release manifest, and how its entries become image specs.

The key mapping is azimuth-ops' (roles/community_images): an entry with ``kubernetes_version``
becomes ``kube_<major>_<minor>``; three appliance images get fixed keys; anything else in the
manifest is not used, exactly as there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from components.config import ConfigError, ImageSpec, Problems, parse_spec
from components.urls import shown

APPLIANCE_KEYS = {
    "ubuntu-desktop": "workstation",
    "jupyter-repo2docker": "repo2docker",
    "linux-rstudio": "rstudio",
}


_KUBE_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?")


def kubernetes_key(version: str) -> str | None:
    """``v1.34.2``, ``1.34.2`` or ``1.34`` → ``kube_1_34`` (None if it is not a version):
    azimuth-ops keeps one image per minor series, so a patch release maps to its series."""
    match = _KUBE_VERSION_RE.fullmatch(version.strip())
    return f"kube_{match[1]}_{match[2]}" if match else None


def image_key(build_key: str, entry: Mapping[str, Any]) -> str | None:
    """The image key azimuth-ops gives a manifest entry, or None for entries it leaves out."""
    kube = entry.get("kubernetes_version")
    if isinstance(kube, str):
        return kubernetes_key(kube)
    return APPLIANCE_KEYS.get(build_key)


def load_manifest(location: str, timeout: float = 30.0) -> Mapping[str, Any]:
    """Read the manifest from an http(s) URL or a local path; errors name the location."""
    try:
        if _is_remote(location):
            response = requests.get(location, timeout=timeout)
            response.raise_for_status()
            data = response.json()
        else:
            data = json.loads(Path(location.removeprefix("file://")).read_text())
    except (OSError, ValueError, requests.RequestException) as exc:
        raise ConfigError(
            [f"azimuthImagesManifestUrl: cannot read {shown(location)}: {_no_url(exc, location)}"]
        ) from exc
    if not isinstance(data, Mapping):
        raise ConfigError([f"azimuthImagesManifestUrl: {shown(location)} is not a JSON object"])
    return data


def _is_remote(location: str) -> bool:
    return urlparse(location).scheme in ("http", "https")


def specs_from_manifest(manifest: Mapping[str, Any], location: str) -> dict[str, ImageSpec]:
    """Image specs keyed as azimuth-ops keys them; every bad entry is reported at once.

    A manifest read over http(s) may only name http(s) sources: whoever serves it must not be
    able to publish a file of the deploying host (``file:///…`` or a relative path) as a
    community image. Local paths come only from the stack's own config or a local manifest.
    """
    problems = Problems()
    specs: dict[str, ImageSpec] = {}
    remote = _is_remote(location)
    for build_key, entry in manifest.items():
        path = f"azimuthImagesManifestUrl ({shown(location)}).{build_key}"
        if not isinstance(entry, Mapping):
            problems.add(path, "manifest entries must be objects")
            continue
        kube = entry.get("kubernetes_version")
        if kube is not None and (not isinstance(kube, str) or kubernetes_key(kube) is None):
            problems.add(f"{path}.kubernetes_version", f"not a Kubernetes version: {kube!r}")
            continue
        key = image_key(build_key, entry)
        if key is None:
            continue
        url = entry.get("url")
        if remote and isinstance(url, str) and not _is_remote(url):
            problems.add(
                f"{path}.url",
                f"a manifest read over http(s) may only name http(s) sources, got {shown(url)!r}",
            )
            continue
        raw = {
            "name": entry.get("name"),
            "sourceUrl": entry.get("url"),
            "sourceDiskFormat": "qcow2",
            "containerFormat": "bare",
            "checksum": entry.get("checksum"),
            "checksumSha512": entry.get("checksum_sha512"),
            "kubernetesVersion": kube,
        }
        spec = parse_spec({k: v for k, v in raw.items() if v is not None}, path, problems)
        if spec is not None:
            specs[key] = spec
    if problems.items:
        raise ConfigError(problems.items)
    return specs


def _no_url(exc: Exception, location: str) -> str:
    """requests puts the whole URL, query string and all, into its messages."""
    return str(exc).replace(location, shown(location))
