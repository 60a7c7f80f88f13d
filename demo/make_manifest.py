"""Write an azimuth-images style manifest.json (and extras.json) for the demo images.

    python demo/make_manifest.py OUTDIR BASE_URL --entry KEY=FILE ... --extra KEY=FILE ...

manifest.json has the shape of an azimuth-images release (one object keyed by build name; an
entry whose file name has ``kube-vX.Y.Z`` gets ``kubernetes_version``). extras.json holds the other
images keyed like ``community_images_extra`` (name, source_url, source_disk_format,
container_format, checksum, checksum_sha512), for the demo stack's config. Checksums are
computed by streaming each file; both outputs are replaced atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
COMPRESSED = (".bz2", ".gz", ".xz", ".zst")
_KUBE_VERSION = re.compile(r"-kube-(v\d+\.\d+\.\d+)")


def digests(path: Path) -> tuple[str, str]:
    """(sha256, sha512) hex digests of the file, in one streaming pass."""
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            sha256.update(chunk)
            sha512.update(chunk)
    return sha256.hexdigest(), sha512.hexdigest()


def image_name(file: str) -> str:
    """The file name without its compression and disk-format suffixes."""
    for suffix in COMPRESSED:
        file = file.removesuffix(suffix)
    return file.rsplit(".", 1)[0]


def disk_format(file: str) -> str:
    for suffix in COMPRESSED:
        file = file.removesuffix(suffix)
    return file.rsplit(".", 1)[1]


def manifest_entry(outdir: Path, base_url: str, file: str) -> dict[str, Any]:
    sha256, sha512 = digests(outdir / file)
    name = image_name(file)
    entry: dict[str, Any] = {
        "name": name,
        "url": f"{base_url}/{file}",
        "checksum": f"sha256:{sha256}",
        "checksum_sha512": f"sha512:{sha512}",
        # Not served by the demo: consumers must cope with these being absent.
        "cosign-bundle-url": f"{base_url}/{file}.bundle",
        "image-sbom-url": f"{base_url}/{name}.sbom.json",
    }
    if match := _KUBE_VERSION.search(file):
        entry["kubernetes_version"] = match.group(1)
    return entry


def extra_entry(outdir: Path, base_url: str, file: str) -> dict[str, Any]:
    sha256, sha512 = digests(outdir / file)
    return {
        "name": image_name(file),
        "source_url": f"{base_url}/{file}",
        "source_disk_format": disk_format(file),
        "container_format": "bare",
        "checksum": f"sha256:{sha256}",
        "checksum_sha512": f"sha512:{sha512}",
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def key_file(text: str) -> tuple[str, str]:
    key, equals, file = text.partition("=")
    if not equals or not key or not file:
        raise argparse.ArgumentTypeError(f"expected KEY=FILE, got {text!r}")
    return key, file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("base_url")
    parser.add_argument("--entry", type=key_file, action="append", default=[])
    parser.add_argument("--extra", type=key_file, action="append", default=[])
    args = parser.parse_args()
    base_url = args.base_url.rstrip("/")
    manifest = {key: manifest_entry(args.outdir, base_url, file) for key, file in args.entry}
    extras = {key: extra_entry(args.outdir, base_url, file) for key, file in args.extra}
    write_json(args.outdir / "manifest.json", manifest)
    write_json(args.outdir / "extras.json", extras)


if __name__ == "__main__":
    main()
