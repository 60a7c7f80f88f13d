"""How single azimuth-ops variables map: no images at all, the trust switches, IDs given in the
inventory, and the consumer variables that only refer to the role's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_azimuth_config import project, run, stack_config, write

__all__ = ["project"]  # the fixture, shared with test_azimuth_config.py


def test_disabled_images_trust_switches_and_inventory_ids(tmp_path: Path, project: Path) -> None:
    site = tmp_path / "env"
    other = "0b5c3c6e-9d0e-4a4e-8d59-3b8f3f0f7a11"
    write(
        site / "inventory/group_vars/all/variables.yml",
        f"""
        community_images: {{}}
        community_images_insecure_skip_glance_verify: true
        community_images_image_ids:
          kube_1_34: {other}
        azimuth_caas_workstation_image: "{{{{ community_images_image_ids.workstation }}}}"
        community_images_workdir: /var/tmp/images
        """,
    )
    assert run("import", site, "--stack", "s", "--project", project) == 0
    config = stack_config(project / "stacks/Pulumi.s.yaml")
    assert config == {
        "community-images:images": {},
        "community-images:verifyExisting": False,
        "community-images:customImageIds": {"kube_1_34": other},
    }


def test_not_using_other_projects_images_keeps_verification_on(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "env"
    write(
        site / "inventory/group_vars/all.yml",
        "community_images_use_existing_trusted_community_images: false\n",
    )
    assert run("import", site, "--stack", "s", "--project", project) == 0
    assert stack_config(project / "stacks/Pulumi.s.yaml") == {
        "community-images:verifyExisting": True
    }
    assert "list trustedImageOwners" in capsys.readouterr().err
