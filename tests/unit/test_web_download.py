"""import_image against a scripted Glance: hidden until verified, deleted on every failure."""

from __future__ import annotations

from typing import Any

import pytest

from components.glance_import import ImportState
from components.web_download import WebDownloadError, import_image

SHA512 = "c" * 128
ATTRS = {"name": "img", "visibility": "community", "disk_format": "qcow2"}


def state(status: str, copied: int = 0, **fields: Any) -> ImportState:
    values: dict[str, Any] = {
        "status": status,
        "copied": copied,
        "failure": None,
        "hash_algo": "sha512",
        "hash_value": SHA512,
        "size": 100,
        **fields,
    }
    return ImportState(**values)


class ScriptedGlance:
    def __init__(self, states: list[ImportState]) -> None:
        self.states = states
        self.created: list[dict[str, Any]] = []
        self.started: list[tuple[str, str]] = []
        self.published: list[tuple[str, str, bool]] = []
        self.deleted: list[str] = []

    def create(self, attrs: dict[str, Any]) -> str:
        self.created.append(attrs)
        return "id-1"

    def start(self, image_id: str, uri: str) -> None:
        self.started.append((image_id, uri))

    def state(self, image_id: str, with_task: bool = True) -> ImportState:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def publish(self, image_id: str, visibility: str, unhide: bool = False) -> None:
        self.published.append((image_id, visibility, unhide))

    def delete(self, image_id: str) -> None:
        self.deleted.append(image_id)


def run(glance: ScriptedGlance, **kwargs: Any) -> str:
    said: list[str] = []
    return import_image(
        glance, glance, ATTRS, "http://reader:pw@127.0.0.1:1/img.qcow2?sig=s",  # type: ignore[arg-type]
        SHA512, kwargs.pop("size", 100), kwargs.pop("leftovers", []), said.append,
        kwargs.pop("timeout", 5.0), poll=0.0,
    )  # fmt: skip


def test_hidden_and_private_until_glance_stored_the_sources_bytes() -> None:
    glance = ScriptedGlance([state("importing", 10), state("importing", 90), state("active")])
    assert run(glance) == "id-1"
    (record,) = glance.created
    assert record["visibility"] == "private" and record["os_hidden"] is True
    assert record["community_images_upload"] == "unfinished"
    assert glance.started == [("id-1", "http://reader:pw@127.0.0.1:1/img.qcow2?sig=s")]
    assert glance.published == [("id-1", "community", True)]
    assert glance.deleted == []


@pytest.mark.parametrize(
    ("states", "fallback", "message"),
    [
        ([state("importing"), state("queued")], True, "went back to queued"),
        ([state("importing", failure="Error fetching")], True, "Error fetching"),
        ([state("active", hash_value="d" * 128)], False, "has sha512 " + "d" * 128),
        ([state("active", size=99)], False, "stored 99 bytes of 100"),
        ([state("active", hash_algo="sha256")], True, "hashes images with sha256"),
    ],
    ids=["reverted", "task-failed", "other-bytes", "other-size", "other-hash"],
)
def test_every_failure_deletes_the_record_and_says_whether_to_upload_instead(
    states: list[ImportState], fallback: bool, message: str
) -> None:
    glance = ScriptedGlance(states)
    with pytest.raises(WebDownloadError) as err:
        run(glance)
    assert err.value.fallback is fallback
    assert message in str(err.value)
    assert str(err.value).startswith("image 'img': ")
    assert "pw" not in str(err.value) and "sig=" not in str(err.value)
    assert glance.deleted == ["id-1"]
    assert glance.published == []


def test_an_import_that_copies_nothing_new_ends_at_the_import_timeout() -> None:
    glance = ScriptedGlance([state("importing", 7)])
    with pytest.raises(WebDownloadError, match=r"copied nothing new .* for 0.05 s") as err:
        run(glance, timeout=0.05)
    assert err.value.fallback is True
    assert "importTimeout" in str(err.value)
    assert glance.deleted == ["id-1"]
