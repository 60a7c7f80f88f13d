"""Vet a disk image before anything else (qemu-img, Glance, a hypervisor) reads it.

qemu-img and the hypervisors follow references *out* of an image file: a qcow2 backing file or
data file, a VMDK extent. An image naming `/etc/passwd` there makes `qemu-img convert` copy the
host's file into its output (REFERENCE.md §4). So an image is only trusted after three layers:

1. Its real format is detected by streaming it through oslo.utils' format inspector (the code
   Glance runs on upload) and compared with the declared format, following Glance 33's rules:
   a raw disk with an MBR or GPT partition table is detected as ``gpt`` and is fine for ``raw``
   (``glance/async_/flows/plugins/image_conversion.py``: "consider GPT to be raw"); a bootable
   ISO with a partition table in its system area is detected as both ``iso`` and ``gpt`` and is
   an ISO (``glance/location.py``); any other multiple match is refused. Unlike Glance's upload
   path we do not let ``raw`` cover other detected formats: content qemu would interpret must be
   declared as what it is.
2. oslo's safety checks for the detected format (qcow2 backing/data file and unknown features,
   VMDK create type and extents, MBR sanity, ...); Glance makes none of them non-fatal by default.
3. Only then does qemu-img itself read the metadata, always with ``-f``, under resource limits
   (``qemu_img.limited_argv``): ``qemu-img info`` must agree there is no backing file, data file
   or unsafe VMDK create type (what Glance's conversion plugin checks) and give a virtual size
   within ``maxImageSize`` (a few KiB can declare terabytes, which a conversion to raw would
   write and an upload would send), and ``qemu-img check`` catches truncated or corrupt
   metadata that oslo, which reads only headers, cannot see (qemu-img 7.2 catches truncated
   qcow2, vmdk, vhd and vhdx files this way). A truncated VDI, raw or ISO file looks sound to both,
   so the download's checksum remains the defence against truncation in transit.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from components.bounds import DEFAULT_MAX_IMAGE_BYTES, ImageTooLargeError, human_size
from components.errors import CommunityImagesError
from components.qemu_img import limited_argv, stderr_tail

if TYPE_CHECKING:
    from oslo_utils.imageutils import format_inspector

# Glance disk_format -> qemu-img driver name. The two vocabularies differ (VHD is qemu's "vpc",
# an ISO is read by qemu as plain bytes), and every qemu-img command line in this project takes
# its -f/-O from here.
QEMU_IMG_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "raw": "raw",
        "qcow2": "qcow2",
        "vmdk": "vmdk",
        "vhd": "vpc",
        "vhdx": "vhdx",
        "vdi": "vdi",
        "iso": "raw",
    }
)

# Declared formats whose content oslo may legitimately report under another name.
_ACCEPTED_DETECTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"raw": frozenset({"raw", "gpt"})}
)

# Glance's [image_format] vmdk_allowed_types default: single-file variants, no host extents.
_SAFE_VMDK_CREATE_TYPES = frozenset({"monolithicSparse", "streamOptimized"})

# oslo needs at most a few hundred KiB (more only for a VMDK footer, which it streams to);
# the chunk size only trades Python loop overhead against memory.
_CHUNK_BYTES = 64 * 1024

# `qemu-img check` exit codes that mean the metadata is sound: 3 is leaked clusters (wasted
# space, no data at risk) and 63 is "this format has no check" (raw, vpc).
_CHECK_OK_CODES = frozenset({0, 3, 63})

# Looser than Glance's 2 s of CPU because `check` walks all metadata of multi-GB images.
_QEMU_IMG_CPU_SECONDS = 60
_QEMU_IMG_TIMEOUT_SECONDS = 300

SUPPORTED_FORMATS = frozenset(QEMU_IMG_FORMATS)


class UnsafeImageError(CommunityImagesError):
    """The image must not be converted or uploaded; the message names the image and why."""


class FormatMismatchError(UnsafeImageError):
    """The content is not in the declared format."""


@dataclass(frozen=True)
class InspectedImage:
    format: str
    """What oslo detected: the declared format, or ``gpt`` for a ``raw`` disk with a partition
    table. Pass the declared format on to Glance and qemu-img, not this name."""
    virtual_size: int
    """Bytes of the disk it holds, as qemu-img reads it."""


def inspect_image(
    name: str,
    path: Path,
    declared_format: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    whole: bool = True,
) -> InspectedImage:
    """Refuse `path` unless it safely is what `declared_format` (a Glance disk_format) says, and
    its virtual size is at most `max_bytes`.

    ``whole=False`` inspects the head of an image (its first MiBs, read before Glance fetches
    the rest itself): every check of the headers, but not ``qemu-img check``, which needs all the
    metadata and would find the head truncated.

    Raises ValueError for a format we cannot inspect (Glance's ami/ari/aki/ploop included),
    FormatMismatchError when the content is another format, UnsafeImageError when it fails a
    safety check or is truncated or corrupt, ImageTooLargeError when its virtual size is more
    than `max_bytes`, and OSError when the file cannot be read.
    """
    if declared_format not in SUPPORTED_FORMATS:
        raise ValueError(
            f"image {name!r}: unsupported disk format {declared_format!r}"
            f" (supported: {', '.join(sorted(SUPPORTED_FORMATS))})"
        )
    # Imported on first use: oslo.utils takes 0.1 s to import, and a run with nothing to upload
    # (every `pulumi preview`, a no-op `pulumi up`) never inspects anything.
    from oslo_utils.imageutils import format_inspector

    inspector = _detect(name, path)
    detected = str(inspector)
    if detected not in _ACCEPTED_DETECTIONS.get(declared_format, {declared_format}):
        raise FormatMismatchError(
            f"image {name!r}: declared {declared_format} but the file is {detected}"
        )
    try:
        inspector.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        reasons = ", ".join(f"{check} ({failure})" for check, failure in exc.failures.items())
        raise UnsafeImageError(f"image {name!r}: unsafe {detected}: {reasons}") from exc
    except format_inspector.ImageFormatError as exc:
        raise UnsafeImageError(
            f"image {name!r}: truncated or invalid {detected} file: {exc}"
        ) from exc
    virtual_size = _check_with_qemu_img(name, path, declared_format, max_bytes, whole)
    return InspectedImage(detected, virtual_size)


def _detect(name: str, path: Path) -> format_inspector.FileInspector:
    from oslo_utils.imageutils import format_inspector

    # oslo's detect_file_format() raises on any multiple match, which would refuse hybrid ISOs,
    # so drive its InspectWrapper directly; it keeps only the header regions it needs.
    with path.open("rb") as stream:
        wrapper = format_inspector.InspectWrapper(stream)
        try:
            while wrapper.formats is None and wrapper.read(_CHUNK_BYTES):
                pass
        finally:
            wrapper.close()
    matches = {str(inspector): inspector for inspector in wrapper.formats or ()}
    if matches.keys() == {"iso", "gpt"}:
        return matches["iso"]
    if len(matches) != 1:
        # Two valid headers in one file is how format-confusion attacks look.
        raise UnsafeImageError(
            f"image {name!r}: the file matches several formats ({', '.join(sorted(matches))})"
        )
    return next(iter(matches.values()))


def _check_with_qemu_img(
    name: str, path: Path, disk_format: str, max_bytes: int, whole: bool
) -> int:
    """The virtual size, once qemu-img found the image safe, within the bound, and sound."""
    qemu_format = QEMU_IMG_FORMATS[disk_format]
    # Absolute, so qemu-img cannot read a "json:" or "protocol:" prefix into the file name.
    target = str(path.resolve())

    info = _run_limited_qemu_img(name, "info", "-f", qemu_format, "--output=json", target)
    if info.returncode != 0:
        raise UnsafeImageError(
            f"image {name!r}: qemu-img cannot read it as {disk_format}: {stderr_tail(info.stderr)}"
        )
    details = json.loads(info.stdout)
    specific = details.get("format-specific", {}).get("data", {})
    if "backing-filename" in details:
        raise UnsafeImageError(
            f"image {name!r}: unsafe {disk_format}: backing_file ({details['backing-filename']})"
        )
    if "data-file" in specific:
        raise UnsafeImageError(
            f"image {name!r}: unsafe {disk_format}: data_file ({specific['data-file']})"
        )
    if qemu_format == "vmdk" and specific.get("create-type") not in _SAFE_VMDK_CREATE_TYPES:
        raise UnsafeImageError(
            f"image {name!r}: unsafe vmdk: create type {specific.get('create-type')!r}"
        )
    # Before `check`, any conversion and any upload: a few KiB of qcow2 can declare 8 TiB.
    virtual_size = int(details["virtual-size"])
    if virtual_size > max_bytes:
        raise ImageTooLargeError(
            name,
            f"its virtual size is {human_size(virtual_size)} ({virtual_size} bytes)",
            max_bytes,
        )

    if not whole or qemu_format == "raw":
        # A raw file has no metadata to check: qemu-img says so (exit 63) after a start-up.
        return virtual_size
    # Only now: unlike `info`, `check` opens backing and data files (seen with qemu-img 7.2).
    check = _run_limited_qemu_img(name, "check", "-f", qemu_format, "--output=json", target)
    if check.returncode not in _CHECK_OK_CODES:
        raise UnsafeImageError(
            f"image {name!r}: qemu-img check found the {disk_format} file corrupt or truncated"
            f" (exit {check.returncode}): {stderr_tail(check.stderr)}"
        )
    return virtual_size


def _run_limited_qemu_img(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            limited_argv(_QEMU_IMG_CPU_SECONDS, *args),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_QEMU_IMG_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise UnsafeImageError(
            f"image {name!r}: qemu-img {args[0]} did not finish in {_QEMU_IMG_TIMEOUT_SECONDS} s"
        ) from exc
