#!/usr/bin/env bash
# Builds small but real demo disk images (ext4 filesystems, mostly qcow2) and an azimuth-images
# style manifest.json plus extras.json for them.
#
#   bash demo/make_images.sh <outdir> <base_url>
#
# Idempotent: an image that already exists is kept, so its checksum stays stable across runs;
# each new one is built in a scratch directory inside <outdir> and moved into place, so an
# interrupted run leaves no half-written image under a final name. manifest.json and
# extras.json are rewritten every run (cheap), so a new <base_url> takes effect.
#
# DEMO_STAMP (default 251127-1200) is the build stamp in the manifest images' names, as in
# azimuth-images ("ubuntu-noble-kube-v1.34.2-demo-251127-1200"); another stamp gives a new
# "release" beside the old one. DEMO_PAYLOAD_MIB (default 2) is the random payload per image.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 <outdir> <base_url>" >&2
    exit 2
fi
outdir=$1
base_url=${2%/}
stamp=${DEMO_STAMP:-251127-1200}
payload_mib=${DEMO_PAYLOAD_MIB:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mkdir -p "$outdir"
work=$(mktemp -d "$outdir/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# An ext4 filesystem image whose files name the image, plus a random payload, so that every
# image has distinct content and a download of a few MiB.
build_raw() {  # <name> <dest> <size_mib>
    local name=$1 dest=$2 size_mib=$3
    local stage=$work/$name.d
    mkdir -p "$stage/etc" "$stage/opt/demo"
    printf 'Demo image %s (stamp %s), built by community-images demo/make_images.sh.\n' \
        "$name" "$stamp" >"$stage/README.txt"
    printf 'IMAGE_NAME=%s\nIMAGE_STAMP=%s\n' "$name" "$stamp" >"$stage/etc/demo-image"
    head -c "$((payload_mib << 20))" /dev/urandom >"$stage/opt/demo/payload.bin"
    truncate -s "${size_mib}M" "$dest"
    mkfs.ext4 -q -F -L demo-image -d "$stage" "$dest"
    rm -rf "$stage"
}

build_qcow2() {  # <name> <dest>
    build_raw "$1" "$work/$1.raw" 24
    qemu-img convert -f raw -O qcow2 "$work/$1.raw" "$2"
    rm -f "$work/$1.raw"
}

qcow2_image() {  # <file>
    local file=$1
    [[ -e $outdir/$file ]] && return
    build_qcow2 "${file%.qcow2}" "$work/$file"
    mv "$work/$file" "$outdir/$file"
    echo "built $file"
}

bz2_image() {  # <file.qcow2.bz2>
    local file=$1 qcow2=${1%.bz2}
    [[ -e $outdir/$file ]] && return
    build_qcow2 "${qcow2%.qcow2}" "$work/$qcow2"
    bzip2 -c "$work/$qcow2" >"$work/$file"
    rm -f "$work/$qcow2"
    mv "$work/$file" "$outdir/$file"
    echo "built $file"
}

raw_image() {  # <file.raw>
    local file=$1
    [[ -e $outdir/$file ]] && return
    build_raw "${file%.raw}" "$work/$file" 16
    mv "$work/$file" "$outdir/$file"
    echo "built $file"
}

declare -A manifest=(
    [kubernetes-1-33-noble]=ubuntu-noble-kube-v1.33.6-demo-$stamp.qcow2
    [kubernetes-1-34-noble]=ubuntu-noble-kube-v1.34.2-demo-$stamp.qcow2
    [ubuntu-desktop]=ubuntu-desktop-noble-demo-$stamp.qcow2
    [jupyter-repo2docker]=jupyter-repo2docker-noble-demo-$stamp.qcow2
    [linux-rstudio]=linux-rstudio-noble-demo-$stamp.qcow2
)
declare -A extras=(
    [openhpc]=openhpc-demo.qcow2
    [debian_extra]=debian-extra-demo.qcow2.bz2
    [cirros_like]=cirros-like-demo.raw
)

args=()
for key in kubernetes-1-33-noble kubernetes-1-34-noble ubuntu-desktop jupyter-repo2docker \
    linux-rstudio; do
    qcow2_image "${manifest[$key]}"
    args+=(--entry "$key=${manifest[$key]}")
done
qcow2_image "${extras[openhpc]}"
bz2_image "${extras[debian_extra]}"
raw_image "${extras[cirros_like]}"
for key in openhpc debian_extra cirros_like; do
    args+=(--extra "$key=${extras[$key]}")
done

"${PYTHON:-python3}" "$here/make_manifest.py" "$outdir" "$base_url" "${args[@]}"
echo "demo images in $outdir ($(du -sh "$outdir" | cut -f1) on disk), manifest for $base_url," \
    "in ${SECONDS}s"
