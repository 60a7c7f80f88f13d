"""UploadStream against a fake Glance: a download that ends short of what it first announced."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, BinaryIO

from components.glance_image import GlanceImage
from components.upload_stream import UploadStream


class ReadingGlance:
    """Reads an upload to its announced end, as Glance does; records creates and deletes."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.published: list[str] = []

    def create(self, attrs: dict[str, Any]) -> str:
        self.created.append(attrs["name"])
        return "streamed-id"

    def upload(self, image_id: str, data: BinaryIO) -> GlanceImage:
        while data.read(1 << 16):
            pass
        raise AssertionError("an upload short of its announced size cannot complete")

    def publish(self, image_id: str, visibility: str) -> None:
        self.published.append(image_id)

    def delete(self, image_id: str) -> None:
        self.deleted.append(image_id)


def test_a_download_ending_short_of_its_first_announced_size_stops_the_stream(
    tmp_path: Path,
) -> None:
    """A server announces more bytes than it has, cuts the body, and the retry's range ends at
    the real size: the file is whole and verified, but the stream waited for the rest forever."""
    data = b"disk image bytes" * 1000
    part = tmp_path / "image.part"
    part.write_bytes(data[:100])
    glance = ReadingGlance()
    lines: list[str] = []
    stream = UploadStream(
        glance, {"name": "kube", "visibility": "community"}, "sha256", "kube (kube)", lines.append
    )  # type: ignore[arg-type]
    stream.receiving(part, len(data) + 4096)
    stream.grew(100)
    part.write_bytes(data)
    stream.grew(len(data))
    outcome: list[str | None] = []
    digest = hashlib.sha256(data).hexdigest()
    finishing = threading.Thread(
        target=lambda: outcome.append(stream.finish(part, {"sha256": digest}, None)), daemon=True
    )
    finishing.start()
    finishing.join(timeout=60)
    assert not finishing.is_alive(), "finish() still waits for bytes the download never sent"
    assert outcome == [None]
    assert glance.created == ["kube"] and glance.deleted == ["streamed-id"]
    assert glance.published == []
    assert "uploading the verified file instead" in lines[-1]
