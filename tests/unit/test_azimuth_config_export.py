"""``python -m tools.azimuth_config export``: the stack's imageIds as azimuth-config variables,
read with ``pulumi stack output`` (here a stand-in CLI on PATH that records how it was called;
tests/integration/test_azimuth_config.py runs the real one and real Ansible)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.azimuth_config.__main__ import main
from tools.azimuth_config.export import StackImages, render_export, stack_images

IDS = {
    "workstation": "3f1e7c2a-8b4d-4e6f-9a1b-2c3d4e5f6a7b",
    "kube_1_34": "0b5c3c6e-9d0e-4a4e-8d59-3b8f3f0f7a11",
    "debian_11": "6d1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
}
OUTPUTS = {
    "imageIds": IDS,
    "kubernetesImages": {
        "kube_1_34": {
            "kubernetesVersion": "v1.34.2",
            "imageId": IDS["kube_1_34"],
            "templateName": "kube-1-34-2",
        }
    },
    "retiredImageIds": {},
}


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``pulumi`` first on PATH printing OUTPUTS, writing its arguments and backend to a log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pulumi.log"
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    script = bin_dir / "pulumi"
    script.write_text(
        f'#!/bin/sh\necho "$* $PULUMI_BACKEND_URL" >> {log}\ncat {tmp_path / "outputs.json"}\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///srv/state")
    return log


def exported(text: str) -> dict[str, Any]:
    variables: dict[str, Any] = yaml.safe_load(text)
    return variables


def test_export_prints_every_key_of_image_ids(
    fake_pulumi: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--stack", "my-site", "--project", str(tmp_path)]) == 0
    variables = exported(capsys.readouterr().out)
    assert variables["community_images"] == {}
    assert variables["community_images_image_ids"] == IDS
    template = variables["azimuth_capi_operator_cluster_templates_default"]["kube-1-34-2"]
    assert IDS["kube_1_34"] in template["spec"]
    assert template["spec"].startswith("{{ azimuth_capi_operator_cluster_template_defaults")
    assert fake_pulumi.read_text() == "stack output --json --stack my-site file:///srv/state\n"


def test_export_writes_the_file_given_with_output(fake_pulumi: Path, tmp_path: Path) -> None:
    target = tmp_path / "community_images.yml"
    args = ["export", "--stack", "s", "--project", str(tmp_path), "--output", str(target)]
    assert main([*args, "--no-kubernetes-templates"]) == 0
    text = target.read_text()
    assert text.startswith("# Written by `python -m tools.azimuth_config export --stack s`")
    assert exported(text) == {"community_images": {}, "community_images_image_ids": IDS}


def test_a_failing_cli_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text("#!/bin/sh\necho 'error: no stack named nope found' >&2\nexit 255\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert main(["export", "--stack", "nope", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: `pulumi stack output --stack nope` failed: error: no stack named nope found\n"
    )


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "has no imageIds output: run `pulumi up`"),
        ({"imageIds": "[secret]"}, "run again with --show-secrets"),
    ],
)
def test_a_stack_without_readable_ids_is_refused(outputs: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        stack_images(outputs, "s")


def test_an_empty_stack_exports_empty_maps() -> None:
    text = render_export(StackImages({}, {}), "s", kubernetes_templates=False)
    assert exported(text) == {"community_images": {}, "community_images_image_ids": {}}


def test_keys_are_sorted_and_only_kubernetes_images_have_versions() -> None:
    images = stack_images(OUTPUTS, "s")
    assert list(images.image_ids) == ["debian_11", "kube_1_34", "workstation"]
    assert images.kubernetes_versions == {"kube_1_34": "v1.34.2"}
