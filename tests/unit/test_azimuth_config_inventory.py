"""Reading an environment's variables as Ansible does (layers, file order, tags, encrypted
files) and the simple Jinja the import resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_azimuth_config import write
from tools.azimuth_config.errors import ToolError
from tools.azimuth_config.inventory import read_environment
from tools.azimuth_config.jinja import Lookup, Unresolved, resolve
from tools.azimuth_config.mapping import map_environment


def test_the_all_folder_wins_over_all_yml_and_files_load_in_order(tmp_path: Path) -> None:
    # Ansible (DataLoader.find_vars_files) reads group_vars/all/ and then ignores all.yml.
    site = tmp_path / "env"
    write(site / "inventory/group_vars/all.yml", "community_images_disk_format: vmdk\n")
    write(site / "inventory/group_vars/all/10-a.yml", "community_images_disk_format: qcow2\n")
    write(site / "inventory/group_vars/all/20-b.yaml", "community_images_disk_format: raw\n")
    write(site / "inventory/group_vars/all/30-c.yml~", "community_images_disk_format: x\n")
    definition = read_environment(site).variables["community_images_disk_format"]
    assert (definition.value, str(definition.file), definition.line) == (
        "raw",
        "inventory/group_vars/all/20-b.yaml",
        1,
    )


def test_later_inventories_of_ansible_cfg_win_and_an_inventory_may_be_a_hosts_file(
    tmp_path: Path,
) -> None:
    write(tmp_path / "base/inventory/group_vars/all.yml", "a: base\nb: base\nc: base\n")
    write(tmp_path / "ha/inventory/hosts", "[k3s]\n")
    write(tmp_path / "ha/inventory/group_vars/all.yml", "b: ha\nc: ha\n")
    site = tmp_path / "site"
    write(
        site / "ansible.cfg",
        "[defaults]\n# layers\ninventory = ../base/inventory, ../ha/inventory/hosts,./inventory\n",
    )
    write(site / "inventory/group_vars/all/vars.yml", "c: site\n")
    env = read_environment(site)
    assert {k: d.value for k, d in env.variables.items()} == {"a": "base", "b": "ha", "c": "site"}
    assert str(env.variables["b"].file) == "../ha/inventory/group_vars/all.yml"


def test_a_missing_layer_is_named(tmp_path: Path) -> None:
    write(tmp_path / "site/ansible.cfg", "[defaults]\ninventory = ../gone/inventory\n")
    with pytest.raises(ToolError, match=r"inventory \.\./gone/inventory does not exist"):
        read_environment(tmp_path / "site")


def test_encrypted_files_are_named(tmp_path: Path) -> None:
    site = tmp_path / "env"
    write(site / "inventory/group_vars/all/variables.yml", "community_images_disk_format: raw\n")
    secrets = site / "inventory/group_vars/all/secrets.yml"
    secrets.write_bytes(b"\x00GITCRYPT\x00\x01\x02")
    with pytest.raises(ToolError, match="git-crypt unlock"):
        read_environment(site)
    secrets.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(ToolError, match="ansible-vault"):
        read_environment(site)


def test_a_vaulted_value_is_a_problem_with_its_line_and_unsafe_is_literal(tmp_path: Path) -> None:
    site = tmp_path / "env"
    write(
        site / "inventory/group_vars/all.yml",
        "community_images_disk_format: !unsafe 'raw'\n"
        "community_images_default_visibility: !vault |\n"
        "  $ANSIBLE_VAULT;1.1;AES256\n  6162\n",
    )
    imported = map_environment(read_environment(site))
    assert imported.settings == {"community-images:diskFormat": "raw"}
    assert [str(p) for p in imported.findings.problems] == [
        "inventory/group_vars/all.yml:2: community_images_default_visibility is encrypted "
        "with ansible-vault (!vault)"
    ]


def test_a_bad_field_inside_an_image_names_its_own_line(tmp_path: Path) -> None:
    site = tmp_path / "env"
    write(
        site / "inventory/group_vars/all.yml",
        "community_images_extra:\n"
        "  a:\n"
        "    name: a\n"
        "    source_url: \"{{ mirror | default('x') }}/a.qcow2\"\n",
    )
    problems = [str(p) for p in map_environment(read_environment(site)).findings.problems]
    assert problems == [
        "inventory/group_vars/all.yml:4: community_images_extra.a.source_url is a Jinja "
        "expression this tool cannot resolve: \"{{ mirror | default('x') }}/a.qcow2\""
    ]


LOOKUP = Lookup(
    {
        "base": "https://images.example.org",
        "url": "{{ base }}/azimuth",
        "site": {"store": "{{ url }}"},
        "a": "{{ b }}",
        "b": "{{ a }}",
        "env_var": "{{ lookup('env', 'X') }}",
    }
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ url }}/x.qcow2", "https://images.example.org/azimuth/x.qcow2"),
        ("{{- site.store -}}", "https://images.example.org/azimuth"),
        ("{{ site }}", {"store": "https://images.example.org/azimuth"}),
        (["{{ base }}", 1], ["https://images.example.org", 1]),
        ("no template", "no template"),
    ],
)
def test_simple_references_resolve(value: object, expected: object) -> None:
    assert resolve(value, LOOKUP) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ a }}", "refers to itself (a -> b -> a)"),
        ("{{ env_var }}/x", "refers to env_var, which is a Jinja expression this tool cannot"),
        ("{{ nope }}", "refers to nope, which the environment does not define"),
        ("{{ site }}/x", "puts the map or list site into a string"),
        ("{{ base | lower }}", "is a Jinja expression this tool cannot resolve"),
        ("{% if x %}y{% endif %}", "is a Jinja expression this tool cannot resolve"),
    ],
)
def test_anything_else_is_unresolved(value: str, message: str) -> None:
    with pytest.raises(Unresolved) as err:
        resolve(value, LOOKUP)
    assert str(err.value).startswith(message)
