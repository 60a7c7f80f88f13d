"""The properties this program writes on the images it uploads, beside the site's own.

A module of its own so that the properties provider, which runs on every preview, can read these
names without importing openstacksdk.
"""

# Set at upload, and only with a checksum verified while downloading: Glance hashes what it
# stores, so after a conversion ``os_hash_value`` no longer equals the source's sha512 that
# manifests publish. Never patched afterwards: a record of what was checked, not of what a spec
# says now, so a spec's new checksum cannot relabel old bytes.
SOURCE_CHECKSUM_PROPERTIES = {
    "sha512": "community_images_source_sha512",
    "sha256": "community_images_source_sha256",
}
SOURCE_SHA512_PROPERTY = SOURCE_CHECKSUM_PROPERTIES["sha512"]

# Set on the record when an upload starts and removed in the same request that gives the image
# its visibility: an image of ours that still has it never finished (whatever its status) and is
# a leftover to delete, even if the run that made it could not.
PENDING_PROPERTY = "community_images_upload"

# How the image arrived in Glance: "upload" (from the deploying host) or "web-download".
VIA_PROPERTY = "community_images_via"

# The config key the image was created for, so that the retention policy (``keepReleases``)
# can tell the releases of one key from another's once they have left the config. Set at
# creation only: an image with none recorded is never a candidate for deletion.
KEY_PROPERTY = "community_images_key"

UPLOAD_RECORD_PROPERTIES = frozenset(
    [*SOURCE_CHECKSUM_PROPERTIES.values(), PENDING_PROPERTY, VIA_PROPERTY, KEY_PROPERTY]
)


def without_upload_record(properties: dict[str, str]) -> dict[str, str]:
    """The properties a site owns (those ImageProperties diffs and patches)."""
    return {k: v for k, v in properties.items() if k not in UPLOAD_RECORD_PROPERTIES}
