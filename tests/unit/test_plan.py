"""plan_image: whose image is whose, and which images of a name may stand for a spec."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ImageSpec
from components.fetch import Checksum
from components.glance_image import GlanceImage
from components.ownership import Ownership, owner_tag
from components.plan import Decision, TrustError, plan_image

SHA512 = "c" * 128
SHA256 = "e" * 64
PROJECT, OTHER, FRIEND = "a" * 32, "b" * 32, "f" * 32
TAG = owner_tag("community-images", "dev")
OWNERSHIP = Ownership(PROJECT, TAG)
SPEC = ImageSpec(
    name="kube", source_url="http://127.0.0.1:1/k", checksum_sha512=Checksum("sha512", SHA512)
)


def image(image_id: str, **fields: Any) -> GlanceImage:
    values: dict[str, Any] = {
        "id": image_id,
        "name": "kube",
        "status": "active",
        "visibility": "community",
        "disk_format": "qcow2",
        "container_format": "bare",
        "hash_value": "0" * 128,
        "hash_algo": "sha512",
        "tags": (),
        "source_sha512": None,
        "owner": OTHER,
        **fields,
    }
    return GlanceImage(**values)


def plan(*found: GlanceImage, spec: ImageSpec = SPEC, **kwargs: Any) -> Any:
    ownership = kwargs.pop("ownership", OWNERSHIP)
    verify = kwargs.pop("verify", True)
    return plan_image("kube_1_34", spec, found, ownership, verify, kwargs.pop("fmt", "qcow2"))


def test_an_image_is_ours_only_with_our_tag_and_in_our_project() -> None:
    ours = image("ours", owner=PROJECT, tags=(TAG,), hash_value=SHA512)
    assert plan(ours).decision is Decision.MANAGE
    forged = plan(image("forged", tags=(TAG,)))
    assert forged.decision is Decision.CREATE and forged.existing is None


def test_several_forged_tags_do_not_fail_the_run() -> None:
    found = [image("f1", tags=(TAG,)), image("f2", tags=(TAG,), status="queued")]
    result = plan(*found)
    assert result.decision is Decision.CREATE
    assert result.leftovers == ()


def test_another_projects_image_is_reused_only_for_glances_own_hash() -> None:
    same_bytes = image("same", hash_value=SHA512)
    assert plan(same_bytes).existing == same_bytes
    forged = plan(image("forged", source_sha512=SHA512))
    assert forged.decision is Decision.CREATE
    assert "forged (project " + OTHER in (forged.note or "")


def test_another_projects_same_bytes_must_be_declared_in_the_sites_formats() -> None:
    """The bytes are the source's, but the owner declares how Nova reads them."""
    as_iso = image("iso", hash_value=SHA512, disk_format="iso")
    result = plan(as_iso)
    assert result.decision is Decision.CREATE
    assert "iso (project " + OTHER + ") is declared iso/bare, not qcow2/bare" in (result.note or "")
    in_ova = image("ova", hash_value=SHA512, container_format="ova")
    assert plan(in_ova).decision is Decision.CREATE
    assert plan(image("same", hash_value=SHA512), fmt="raw").decision is Decision.CREATE


@pytest.mark.parametrize("override", ["kernel_id", "ramdisk_id", "os_command_line"])
def test_another_projects_image_that_boots_a_kernel_of_its_choosing_is_not_reused(
    override: str,
) -> None:
    result = plan(image("k", hash_value=SHA512, boot_overrides=(override,)))
    assert result.decision is Decision.CREATE
    assert f"sets {override}: Nova would boot what its owner names" in (result.note or "")


def test_a_vouched_image_is_taken_with_its_own_format_and_properties() -> None:
    mine = image("mine", owner=PROJECT, hash_value=SHA512, disk_format="raw")
    assert plan(mine).existing == mine
    kernel = image("kernel", owner=PROJECT, hash_value=SHA512, boot_overrides=("kernel_id",))
    assert plan(kernel).existing == kernel


def test_our_projects_own_record_of_the_source_counts() -> None:
    converted = image("converted", owner=PROJECT, source_sha512=SHA512, disk_format="raw")
    assert plan(converted).existing == converted


def test_another_hash_algorithm_cannot_be_checked() -> None:
    result = plan(image("md5ish", hash_algo="sha256", hash_value=SHA512))
    assert result.decision is Decision.CREATE
    assert "hashed by Glance with sha256" in (result.note or "")


def test_trusted_owners_are_the_only_others_reused_and_vouch_like_this_project() -> None:
    ownership = Ownership(PROJECT, TAG, frozenset({FRIEND}))
    assert plan(image("x", hash_value=SHA512), ownership=ownership).decision is Decision.CREATE
    friend = image("friend", owner=FRIEND, source_sha512=SHA512)
    assert plan(friend, ownership=ownership).existing == friend


def test_by_name_only_this_project_or_a_trusted_one() -> None:
    mine, theirs = image("mine", owner=PROJECT), image("theirs")
    assert plan(theirs, mine, verify=False).existing == mine
    assert plan(theirs, verify=False).decision is Decision.CREATE
    no_sha512 = ImageSpec(name="kube", source_url="http://127.0.0.1:1/k")
    assert plan(theirs, spec=no_sha512).decision is Decision.CREATE
    assert plan(mine, spec=no_sha512).existing == mine


def test_this_projects_image_is_preferred_over_anothers() -> None:
    theirs, mine = image("0-theirs", hash_value=SHA512), image("1-mine", owner=PROJECT)
    assert plan(theirs, mine, spec=SPEC, verify=False).existing == mine


def test_an_unfinished_upload_of_ours_is_a_leftover_whatever_its_status() -> None:
    pending = image("p", owner=PROJECT, tags=(TAG,), visibility="private", pending=True)
    queued = image("q", owner=PROJECT, tags=(TAG,), status="queued")
    result = plan(pending, queued)
    assert result.decision is Decision.CREATE
    assert {i.id for i in result.leftovers} == {"p", "q"}


def test_another_format_of_ours_is_replaced_not_managed() -> None:
    qcow2 = image("q", owner=PROJECT, tags=(TAG,), hash_value=SHA512)
    result = plan(qcow2, fmt="raw")
    assert result.decision is Decision.CREATE
    assert result.replaced == (qcow2,)
    raw = image("r", owner=PROJECT, tags=(TAG,), disk_format="raw", source_sha512=SHA512)
    again = plan(qcow2, raw, fmt="raw")
    assert (again.decision, again.existing, again.replaced) == (Decision.MANAGE, raw, (qcow2,))


def test_an_image_of_ours_in_another_format_stays_recorded_when_another_is_reused() -> None:
    """Else the stack would stop declaring it, and the engine delete or forget it."""
    qcow2 = image("q", owner=PROJECT, tags=(TAG,), hash_value=SHA512)
    untagged_raw = image("r", owner=PROJECT, disk_format="raw", hash_value=SHA512)
    result = plan(qcow2, untagged_raw, fmt="raw")
    assert (result.decision, result.existing, result.replaced) == (
        Decision.REUSE,
        untagged_raw,
        (qcow2,),
    )


@pytest.mark.parametrize(
    ("recorded", "spec_checksums", "ok"),
    [
        ({"source_sha512": SHA512}, {"checksum_sha512": Checksum("sha512", SHA512)}, True),
        ({"source_sha512": "d" * 128}, {"checksum_sha512": Checksum("sha512", SHA512)}, False),
        ({}, {"checksum_sha512": Checksum("sha512", SHA512)}, False),
        ({"hash_value": SHA512}, {"checksum_sha512": Checksum("sha512", SHA512)}, True),
        ({"source_sha256": SHA256}, {"checksum": Checksum("sha256", SHA256)}, True),
        ({"source_sha256": "9" * 64}, {"checksum": Checksum("sha256", SHA256)}, False),
        ({"source_sha512": SHA512}, {}, True),
    ],
)
def test_a_managed_image_must_come_from_the_source_the_spec_names(
    recorded: dict[str, str], spec_checksums: dict[str, Checksum], ok: bool
) -> None:
    ours = image("ours", owner=PROJECT, tags=(TAG,), disk_format="raw", **recorded)
    spec = ImageSpec(name="kube", source_url="http://127.0.0.1:1/k", **spec_checksums)
    if ok:
        assert plan(ours, spec=spec, fmt="raw").decision is Decision.MANAGE
    else:
        with pytest.raises(TrustError, match=r"image kube_1_34 .* this stack's image ours"):
            plan(ours, spec=spec, fmt="raw")
