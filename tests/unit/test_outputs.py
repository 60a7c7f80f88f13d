"""components.outputs: the key rules alone, then the class against a mocked stack reference."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest

from components.errors import CommunityImagesError
from components.outputs import (
    CommunityImageOutputs,
    ImageOutputsError,
    MissingImageError,
    appliance_ids,
    kubernetes_image_key,
    lookup,
    require_active,
)

STACK = "organization/community-images/site"
IMAGE_IDS = {
    "kube_1_33": "id-133",
    "kube_1_34": "id-134",
    "workstation": "id-ws",
    "openhpc": "id-slurm",
    "debian_11": "id-debian",
}


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("v1.34.2", "kube_1_34"),
        ("1.34.2", "kube_1_34"),
        ("v1.34.10", "kube_1_34"),
        ("1.34", "kube_1_34"),
        ("v1.34", "kube_1_34"),
        (" v2.0.1 ", "kube_2_0"),
    ],
)
def test_kubernetes_versions_map_to_their_series_key(version: str, key: str) -> None:
    assert kubernetes_image_key(version) == key


@pytest.mark.parametrize("version", ["", "1", "v1", "latest", "1.34.2.1", "1.34.x", "kube_1_34"])
def test_other_version_strings_are_refused(version: str) -> None:
    expected = re.escape(f"{version!r} is not of the form v1.34.2, 1.34.2 or 1.34")
    with pytest.raises(ImageOutputsError, match=expected):
        kubernetes_image_key(version)


def test_lookup_returns_the_value() -> None:
    assert lookup(IMAGE_IDS, "kube_1_34", STACK, "imageIds") == "id-134"


def test_a_missing_key_lists_the_keys_there_are() -> None:
    with pytest.raises(MissingImageError) as err:
        lookup(IMAGE_IDS, "kube_1_35", STACK, "imageIds")
    assert str(err.value) == (
        f"stack {STACK} has no image 'kube_1_35' in its imageIds "
        "(it has: debian_11, kube_1_33, kube_1_34, openhpc, workstation)"
    )
    assert err.value.key == "kube_1_35"
    # Pulumi prints a RunError's message alone, without a traceback of the program.
    assert isinstance(err.value, CommunityImagesError)
    assert isinstance(err.value, pulumi.RunError)


def test_an_empty_stack_says_so() -> None:
    with pytest.raises(MissingImageError, match=r"\(it has: none\)"):
        lookup({}, "workstation", STACK, "imageIds")


def test_a_stack_without_the_output_is_not_a_missing_key() -> None:
    with pytest.raises(ImageOutputsError, match="has no imageIds output") as err:
        lookup(None, "workstation", STACK, "imageIds")
    assert not isinstance(err.value, MissingImageError)


def test_appliances_are_the_subset_present() -> None:
    assert appliance_ids(IMAGE_IDS, STACK) == {"workstation": "id-ws", "openhpc": "id-slurm"}
    assert appliance_ids({"kube_1_34": "id-134"}, STACK) == {}
    with pytest.raises(ImageOutputsError, match="has no imageIds output"):
        appliance_ids(None, STACK)


def test_require_active() -> None:
    assert require_active("kube_1_34", "id-134", ["other", "id-134"]) == "id-134"
    with pytest.raises(ImageOutputsError, match=r"image kube_1_34 \(id-134\) is not an active"):
        require_active("kube_1_34", "id-134", ["other"])


class StackMocks(pulumi.runtime.Mocks):
    """Stack references read these outputs; any other resource or call is a test failure."""

    def __init__(self, outputs: dict[str, dict[str, Any]]) -> None:
        self.outputs = outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        assert args.typ == "pulumi:pulumi:StackReference", args.typ
        stack = args.inputs["name"]
        return stack, {"name": stack, "outputs": self.outputs[stack], "secretOutputNames": []}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        raise AssertionError(f"no provider functions are expected, got {args.token}")


SUMMARY = {
    "id": "id-134",
    "name": "ubuntu-noble-kube-v1.34.2",
    "diskFormat": "raw",
    "visibility": "community",
    "checksum": "sha512:" + "0" * 128,
    "source": "reused",
    "kubernetesVersion": "v1.34.2",
}


@pytest.fixture(autouse=True)
def mocks() -> None:
    pulumi.runtime.set_mocks(
        StackMocks(
            {
                STACK: {"imageIds": IMAGE_IDS, "images": {"kube_1_34": SUMMARY}},
                "organization/community-images/never-deployed": {},
            }
        ),
        project="community-images-cluster",
        stack="test",
        preview=False,
    )


@pulumi.runtime.test
def test_machine_image_id_reads_the_series_image() -> Any:
    images = CommunityImageOutputs(STACK)
    return images.machine_image_id("v1.34.7").apply(lambda image_id: _equal(image_id, "id-134"))


@pulumi.runtime.test
def test_image_and_appliances() -> Any:
    images = CommunityImageOutputs(pulumi.StackReference("site", stack_name=STACK))
    return pulumi.Output.all(images.image("kube_1_34"), images.appliance_image_ids()).apply(
        lambda args: _equal(args, [SUMMARY, {"workstation": "id-ws", "openhpc": "id-slurm"}])
    )


def test_a_missing_key_fails_naming_the_stack_and_its_keys() -> None:
    @pulumi.runtime.test
    def program() -> Any:
        return CommunityImageOutputs(STACK).image_id("rstudio")

    # A failed apply fails the whole program, as it fails `pulumi up`.
    with pytest.raises(MissingImageError, match=f"stack {STACK} has no image 'rstudio'"):
        program()


def test_a_stack_without_outputs_fails_clearly() -> None:
    @pulumi.runtime.test
    def program() -> Any:
        images = CommunityImageOutputs("organization/community-images/never-deployed")
        return images.appliance_image_ids()

    with pytest.raises(ImageOutputsError, match="has no imageIds output"):
        program()


def test_a_bad_version_fails_before_any_lookup() -> None:
    with pytest.raises(ImageOutputsError, match=re.escape("'one.two'")):
        CommunityImageOutputs(STACK).machine_image_id("one.two")


def _equal(actual: Any, expected: Any) -> None:
    assert actual == expected
