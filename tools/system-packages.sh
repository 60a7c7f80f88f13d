#!/usr/bin/env bash
# Installs the Debian packages this project runs (only those missing, so a warm run is instant):
# qemu-img for inspection and conversion, PostgreSQL for the local cloud's database, sfdisk and
# the compressors for tests, e2fsprogs for the demo images.
set -euo pipefail

declare -A need=(
  [qemu-img]=qemu-utils
  [/usr/lib/postgresql/15/bin/initdb]=postgresql-15
  [sfdisk]=fdisk
  [mkfs.ext4]=e2fsprogs
  [bzip2]=bzip2
  [xz]=xz-utils
  [zstd]=zstd
  [curl]=curl
)
missing=()
for tool in "${!need[@]}"; do
  if [[ $tool == /* ]]; then [ -x "$tool" ] || missing+=("${need[$tool]}")
  else command -v "$tool" >/dev/null || missing+=("${need[$tool]}"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
$sudo apt-get update -q >&2
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
