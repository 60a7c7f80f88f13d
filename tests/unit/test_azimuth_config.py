"""``python -m tools.azimuth_config import``: a realistic azimuth-config environment (base, ha
and site layers, several files) to a stack file the program accepts, every value it cannot take
named with its file and line, and an existing stack file kept without --force."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import parse_config, read_pulumi_config
from tools.azimuth_config.__main__ import main

WORKSTATION_ID = "3f1e7c2a-8b4d-4e6f-9a1b-2c3d4e5f6a7b"
SHA512 = "sha512:" + "ab" * 64
UNRESOLVABLE = "community_images_default_visibility: \"{{ lookup('env', 'VIS') }}\""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def build_environment(root: Path, unresolvable: bool = True, unknown: bool = True) -> Path:
    """azimuth-config's layout: environments/{base,ha,my-site}, the site's ansible.cfg layering
    the three inventories, values in group_vars/all.yml and group_vars/all/*.yml."""
    envs = root / "environments"
    write(
        envs / "base/inventory/group_vars/all/variables.yml",
        """
        community_images_disk_format: qcow2
        community_images_custom_properties:
          - hw_rng_model=virtio
        azimuth_apps_enabled: true
        """,
    )
    write(
        envs / "ha/inventory/group_vars/all.yml",
        """
        capi_cluster_kubernetes_version: v1.34.2
        community_images_custom_properties:
          - hw_scsi_model=virtio-scsi
          - hw_disk_bus=scsi
        """,
    )
    site = envs / "my-site"
    write(
        site / "ansible.cfg",
        "[defaults]\ninventory = ../base/inventory,../ha/inventory,./inventory\n",
    )
    write(site / "inventory/hosts", "[terraform_provision]\nlocalhost ansible_connection=local\n")
    write(
        site / "inventory/group_vars/all/variables.yml",
        f"""
        # The site's own settings.
        site_image_store: https://images.example.org/azimuth
        community_images_disk_format: raw
        community_images_azimuth_images_version: 0.35.0
        {UNRESOLVABLE if unresolvable else ""}
        {"community_images_parallel_uploads: 4" if unknown else ""}
        azimuth_caas_stackhpc_workstation_image: {WORKSTATION_ID}
        """,
    )
    write(
        site / "inventory/group_vars/all/images.yml",
        f"""
        community_images_extra:
          debian_11:
            name: debian-11-generic-amd64-20220711-1073
            source_url: "{{{{ site_image_store }}}}/debian-11-generic-amd64-20220711-1073.qcow2"
            source_disk_format: qcow2
            container_format: bare
            checksum_sha512: "{SHA512}"
            properties:
              - os_distro=debian
              - os_version=11
          my_appliance:
            name: my-appliance-20261101
            source_url: https://images.example.org/my-appliance-20261101.qcow2
        """,
    )
    write(site / "inventory/group_vars/all/secrets.yml", "harbor_password: not-imported\n")
    return site


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: community-images\n")
    return root


def run(*args: str | Path) -> int:
    return main([str(a) for a in args])


def stack_config(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())["config"]
    return config


def test_the_site_is_imported_into_a_stack_file_the_program_accepts(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = build_environment(tmp_path, unresolvable=False, unknown=False)
    assert run("import", site, "--stack", "my-site", "--project", project, "--cloud", "c") == 0
    path = project / "stacks" / "Pulumi.my-site.yaml"
    assert f"wrote {path}" in capsys.readouterr().out
    assert stack_config(path) == {
        "openstack:cloud": "c",
        "community-images:azimuthImagesVersion": "0.35.0",
        "community-images:extraImages": {
            "debian_11": {
                "name": "debian-11-generic-amd64-20220711-1073",
                "sourceUrl": "https://images.example.org/azimuth/"
                "debian-11-generic-amd64-20220711-1073.qcow2",
                "sourceDiskFormat": "qcow2",
                "containerFormat": "bare",
                "checksumSha512": SHA512,
                "properties": ["os_distro=debian", "os_version=11"],
            },
            "my_appliance": {
                "name": "my-appliance-20261101",
                "sourceUrl": "https://images.example.org/my-appliance-20261101.qcow2",
            },
        },
        # The site layer wins over base; ha's list replaces base's whole (Ansible's replace).
        "community-images:diskFormat": "raw",
        "community-images:customProperties": ["hw_scsi_model=virtio-scsi", "hw_disk_bus=scsi"],
        "community-images:customImageIds": {"workstation": WORKSTATION_ID},
    }
    text = path.read_text()
    assert "# from community_images_disk_format (inventory/group_vars/all/variables.yml:3)" in text
    assert "(../ha/inventory/group_vars/all.yml:2)" in text


def test_the_written_file_reads_as_the_program_reads_a_stack(tmp_path: Path, project: Path) -> None:
    site = build_environment(tmp_path, unresolvable=False, unknown=False)
    assert run("import", site, "--stack", "my-site", "--project", project) == 0
    prefix = "community-images:"
    ours = {
        k.removeprefix(prefix): v
        for k, v in stack_config(project / "stacks/Pulumi.my-site.yaml").items()
        if k.startswith(prefix)
    }

    def get(key: str) -> str | None:
        # As the Pulumi CLI hands values over: strings as they are, the rest as JSON.
        if key not in ours:
            return None
        return ours[key] if isinstance(ours[key], str) else json.dumps(ours[key])

    cfg = parse_config(read_pulumi_config(get))
    assert cfg.disk_format == "raw"
    assert cfg.azimuth_images_manifest_url.endswith("/releases/download/0.35.0/manifest.json")
    assert cfg.extra_images["debian_11"].source_sha512 == "ab" * 64
    assert dict(cfg.extra_images["debian_11"].properties) == {
        "os_distro": "debian",
        "os_version": "11",
    }
    assert cfg.custom_image_ids == {"workstation": WORKSTATION_ID}
    assert cfg.images is None


def test_an_unresolvable_template_and_an_unknown_variable_are_listed_with_file_and_line(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = build_environment(tmp_path)
    assert run("import", site, "--stack", "my-site", "--project", project) == 1
    err = capsys.readouterr().err
    assert "nothing written" in err
    assert (
        "inventory/group_vars/all/variables.yml:5: community_images_default_visibility is a "
        "Jinja expression this tool cannot resolve: \"{{ lookup('env', 'VIS') }}\"" in err
    )
    assert (
        "inventory/group_vars/all/variables.yml:6: community_images_parallel_uploads is not a "
        "variable of azimuth-ops' community_images role" in err
    )
    assert "Traceback" not in err
    assert not (project / "stacks/Pulumi.my-site.yaml").exists()


def test_partial_writes_what_maps_and_lists_the_rest_in_the_file(
    tmp_path: Path, project: Path
) -> None:
    site = build_environment(tmp_path)
    assert run("import", site, "--stack", "my-site", "--project", project, "--partial") == 0
    path = project / "stacks/Pulumi.my-site.yaml"
    text = path.read_text()
    assert "# NOT imported (--partial)" in text
    assert "community_images_parallel_uploads is not a variable" in text
    assert "community-images:defaultVisibility" not in stack_config(path)


def test_an_existing_stack_file_is_kept_without_force(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = build_environment(tmp_path, unresolvable=False, unknown=False)
    path = project / "stacks/Pulumi.my-site.yaml"
    by_hand = "encryptionsalt: v1:abc:def\nconfig:\n  openstack:cloud: by-hand\n"
    path.write_text(by_hand)
    assert run("import", site, "--stack", "my-site", "--project", project) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert path.read_text() == by_hand
    assert run("import", site, "--stack", "my-site", "--project", project, "--force") == 0
    written = yaml.safe_load(path.read_text())
    assert written["config"]["community-images:diskFormat"] == "raw"
    assert "openstack:cloud" not in written["config"]
    # The salt that decrypts the stack's secrets stays.
    assert written["encryptionsalt"] == "v1:abc:def"


def test_invalid_values_are_all_reported_at_once_with_their_variable(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "env"
    write(
        site / "inventory/group_vars/all.yml",
        """
        community_images_disk_format: qcow3
        community_images_extra:
          bad:
            name: bad-image
            checksum: md5:0123
          twin:
            name: bad-image
            source_url: https://example.org/twin.qcow2
            sauce_url: https://example.org/typo.qcow2
        """,
    )
    assert run("import", site, "--stack", "s", "--project", project) == 1
    err = capsys.readouterr().err
    assert (
        "inventory/group_vars/all.yml:9: community_images_extra.twin.sauce_url is not a field"
        in err
    )
    assert "diskFormat: must be one of" in err
    assert "(from community_images_disk_format (inventory/group_vars/all.yml:1))" in err
    assert "extraImages.bad.sourceUrl: is required" in err
    assert "extraImages.bad.checksum:" in err
    assert "image name 'bad-image' is also used by extraImages.twin.name" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "{tmp}/nowhere", "--stack", "s", "--project", "{project}"], "no such"),
        (["import", "{tmp}", "--stack", "s", "--project", "{tmp}"], "not this program's"),
        (["import", "{tmp}", "--stack", "a/b", "--project", "{project}"], "a stack name is"),
    ],
)
def test_bad_arguments_end_in_one_message(
    tmp_path: Path,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    filled = [a.format(tmp=tmp_path, project=project) for a in args]
    assert main(filled) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
