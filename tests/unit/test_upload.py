"""upload_image against a scripted Glance: what is created, checked, retried and cleaned up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import keystoneauth1.exceptions
import openstack
import pytest

from components.glance import GlanceError
from components.glance_image import GlanceImage
from components.upload import UploadError, upload_image

ATTRS = {"name": "img", "visibility": "community", "disk_format": "raw"}


def image(image_id: str, size: int, status: str = "active", hash_value: str = "h") -> GlanceImage:
    return GlanceImage(image_id, "img", status, "private", "raw", hash_value, (), None, size=size)


def glance_error(cause: Exception) -> GlanceError:
    error = GlanceError(f"cannot upload: {cause}")
    error.__cause__ = cause
    return error


def cut() -> GlanceError:
    """What a Glance restart in the middle of an upload looks like to the client."""
    return glance_error(keystoneauth1.exceptions.ConnectFailure("connection reset"))


def refused() -> GlanceError:
    return glance_error(openstack.exceptions.ForbiddenException("refused"))


class ScriptedGlance:
    def __init__(self, uploads: list[Any], deletes: list[Any] | None = None) -> None:
        self.uploads = uploads  # per attempt: an error to raise, or a GlanceImage to return
        self.deletes = deletes or []
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.visibility: dict[str, str] = {}

    def create(self, attrs: dict[str, Any]) -> str:
        self.created.append(attrs)
        return f"id-{len(self.created)}"

    def upload(self, image_id: str, data: BinaryIO) -> GlanceImage:
        data.read()
        outcome = self.uploads.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def publish(self, image_id: str, visibility: str) -> None:
        self.visibility[image_id] = visibility

    def delete(self, image_id: str) -> None:
        if self.deletes:
            outcome = self.deletes.pop(0)
            if outcome is not None:
                raise outcome
        self.deleted.append(image_id)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "img.raw"
    path.write_bytes(b"x" * 100)
    return path


def upload(glance: ScriptedGlance, data: Path, **kwargs: Any) -> str:
    said: list[str] = []
    kwargs.setdefault("leftovers", [])
    return upload_image(glance, ATTRS, data, kwargs.pop("sha512", None), say=said.append,
                        delays=(0.0, 0.0), **kwargs)  # fmt: skip


def test_created_private_then_given_its_visibility_once_complete(data: Path) -> None:
    glance = ScriptedGlance([image("id-1", 100)])
    assert upload(glance, data) == "id-1"
    # Marked until published: a record its run could not delete is known as a leftover.
    assert glance.created == [
        {**ATTRS, "visibility": "private", "community_images_upload": "unfinished"}
    ]
    assert glance.visibility == {"id-1": "community"}
    assert glance.deleted == []


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (image("id-1", 99), "Glance stored 99 bytes of 100"),
        (image("id-1", 100, status="queued"), "Glance left it queued"),
        (image("id-1", 100, hash_value="other"), "not the source's expected"),
    ],
)
def test_an_upload_glance_did_not_store_whole_is_deleted(
    data: Path, stored: GlanceImage, problem: str
) -> None:
    glance = ScriptedGlance([stored])
    with pytest.raises(UploadError, match=problem):
        upload(glance, data, sha512="expected")
    assert glance.deleted == ["id-1"]
    assert glance.visibility == {}


def test_a_cut_upload_is_started_again_with_a_new_record(data: Path) -> None:
    glance = ScriptedGlance([cut(), image("id-2", 100)])
    assert upload(glance, data) == "id-2"
    assert glance.deleted == ["id-1"]


def test_a_record_glance_could_not_delete_is_deleted_at_the_next_attempt(data: Path) -> None:
    glance = ScriptedGlance([cut(), image("id-2", 100)], deletes=[cut(), None])
    assert upload(glance, data) == "id-2"
    assert glance.deleted == ["id-1"]


def test_a_refusal_is_not_retried(data: Path) -> None:
    glance = ScriptedGlance([refused()])
    with pytest.raises(
        UploadError, match=r"^image 'img': cannot upload: refused \(attempt 1\); nothing of it"
    ):
        upload(glance, data)
    assert glance.deleted == ["id-1"]


def test_retries_end_with_an_error_naming_the_image(data: Path) -> None:
    glance = ScriptedGlance([cut(), cut(), cut()])
    with pytest.raises(UploadError, match=r"^image 'img': cannot upload.* \(attempt 3\)"):
        upload(glance, data)
    assert glance.deleted == ["id-1", "id-2", "id-3"]


def test_leftovers_of_an_interrupted_run_go_first(data: Path) -> None:
    glance = ScriptedGlance([image("id-1", 100)])
    upload(glance, data, leftovers=[image("old", 0, status="queued")])
    assert glance.deleted == ["old"]


def test_a_failed_check_whose_clean_up_fails_says_the_next_run_deletes_the_record(
    data: Path,
) -> None:
    glance = ScriptedGlance([image("id-1", 99)], deletes=[refused()])
    with pytest.raises(UploadError) as err:
        upload(glance, data)
    message = str(err.value)
    assert message.startswith("image 'img': Glance stored 99 bytes of 100 (attempt 1)")
    assert "id-1 could not be deleted" in message and "the next `pulumi up` deletes it" in message


def test_a_local_read_error_is_one_error_naming_the_image(tmp_path: Path) -> None:
    glance = ScriptedGlance([image("id-1", 100)])
    with pytest.raises(UploadError, match=r"^image 'img': .*No such file"):
        upload(glance, tmp_path / "gone.raw")
    assert glance.deleted == ["id-1"]
