"""adoptUntagged: which untagged images of this project a stack takes over, and which it never
does (another project's, another stack's, bytes not proven to be the source's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from components.adoption import file_sha512
from components.plan import Decision, plan_image
from tests.unit.test_plan import OWNERSHIP, PROJECT, SHA512, SPEC, image


def adopting(*found, fmt: str = "qcow2"):
    return plan_image("kube_1_34", SPEC, found, OWNERSHIP, True, fmt, adopt=True)


def test_this_projects_untagged_image_with_the_sources_sha512_is_adopted() -> None:
    role = image("role", owner=PROJECT, hash_value=SHA512)
    result = adopting(role)
    assert result.decision is Decision.ADOPT and result.existing == role


def test_without_adopt_untagged_it_is_only_reused() -> None:
    role = image("role", owner=PROJECT, hash_value=SHA512)
    result = plan_image("kube_1_34", SPEC, [role], OWNERSHIP, True, "qcow2")
    assert result.decision is Decision.REUSE


def test_another_projects_image_is_never_adopted() -> None:
    theirs = image("theirs", hash_value=SHA512)
    assert adopting(theirs).decision is Decision.REUSE


def test_another_stacks_image_of_this_project_is_never_adopted() -> None:
    other_stack = image(
        "other", owner=PROJECT, hash_value=SHA512, tags=("community-images:p/other",)
    )
    assert adopting(other_stack).decision is Decision.REUSE


def test_other_bytes_are_not_adopted_and_the_stack_uploads_its_own() -> None:
    role = image("role", owner=PROJECT, hash_value="d" * 128)
    result = adopting(role)
    assert result.decision is Decision.CREATE and result.adoptable is None
    assert "not the source's" in (result.note or "")


def test_on_a_raw_cloud_the_role_image_is_checked_against_this_programs_conversion() -> None:
    role = image("role", owner=PROJECT, hash_value="d" * 128, disk_format="raw")
    result = adopting(role, fmt="raw")
    assert result.decision is Decision.CREATE and result.adoptable == role
    assert "adopts this project's untagged image role if its sha512" in (result.note or "")


def test_an_image_in_another_format_than_the_sites_is_not_adoptable() -> None:
    role = image("role", owner=PROJECT, hash_value=SHA512, disk_format="qcow2")
    assert adopting(role, fmt="raw").adoptable is None


def test_file_sha512_streams_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * (3 << 20))
    assert file_sha512(path) == hashlib.sha512(b"x" * (3 << 20)).hexdigest()
