"""An upload that streams a download into Glance while it still arrives.

For a source that needs nothing done to its bytes (the site's format, not compressed), the
upload need not wait for the whole download: from a distant store that takes as long as the
download again. So the record is made as upload.py makes it (private, every attribute, the
pending mark) and fed the ``.part`` as it grows. Nothing is proven any later than on the other
way: the image gets its visibility only once the download is verified, the file inspected, and
what was sent hashed to the verified checksum; until then nobody else sees it. Any doubt (the
download restarts from nothing, Glance fails, a check does not hold) deletes the record, and the
image then goes the ordinary way (upload.py) from the verified file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from components.glance import Glance, GlanceError
from components.glance_image import GlanceImage
from components.marks import PENDING_PROPERTY

Say = Callable[[str], None]


class _Abandoned(Exception):
    """The stream stopped short: the download restarted or failed."""


class _Follower:
    """The ``.part`` read as a file of ``total`` bytes that blocks until they arrive."""

    def __init__(self, part: Path, total: int, algorithm: str) -> None:
        self._file: BinaryIO = part.open("rb")
        opened = os.fstat(self._file.fileno())
        self._inode = opened.st_ino
        self._total = total
        self._hash = hashlib.new(algorithm)
        self._written = opened.st_size  # a resumed download starts with what it held
        self._sent = 0
        self._abandoned: str | None = None
        self._changed = threading.Condition()

    def __len__(self) -> int:
        return self._total

    def same_file(self, part: Path) -> bool:
        return os.stat(part).st_ino == self._inode

    def grew(self, size: int) -> None:
        with self._changed:
            self._written = size
            self._changed.notify_all()

    def abandon(self, why: str) -> None:
        with self._changed:
            self._abandoned = self._abandoned or why
            self._changed.notify_all()

    def ended(self, size: int) -> None:
        """The download is over at ``size`` bytes: a read waiting for more, because an earlier
        attempt announced a larger total, stops instead of waiting forever."""
        with self._changed:
            self._written = size
            if size < self._total:
                self._abandoned = self._abandoned or (
                    f"the download ended at {size} bytes, not the {self._total} first announced"
                )
            self._changed.notify_all()

    def read(self, size: int = -1) -> bytes:
        if self._sent >= self._total:
            return b""
        with self._changed:
            while self._written <= self._sent and self._abandoned is None:
                self._changed.wait()
            if self._abandoned is not None:
                raise _Abandoned(self._abandoned)
            ready = min(self._written, self._total) - self._sent
        chunk = self._file.read(ready if size < 0 else min(size, ready))
        self._hash.update(chunk)
        self._sent += len(chunk)
        return chunk

    def sent(self) -> tuple[int, str]:
        return self._sent, self._hash.hexdigest()

    def close(self) -> None:
        self._file.close()


class UploadStream:
    """The download's ``Tap``: starts the upload at its first write, if its size is known."""

    def __init__(
        self, glance: Glance, attrs: dict[str, Any], algorithm: str, label: str, say: Say
    ) -> None:
        self._glance, self._attrs, self._algorithm = glance, attrs, algorithm
        self._label, self._say = label, say
        self._follower: _Follower | None = None
        self._thread: threading.Thread | None = None
        self._image_id: str | None = None
        self._stored: GlanceImage | None = None
        self._failure: str | None = None
        self._start = 0.0

    def receiving(self, part: Path, total: int | None) -> None:
        follower = self._follower
        if follower is not None:
            if not follower.same_file(part):
                follower.abandon("the download started again from nothing")
            return
        if total is None:
            return  # the upload announces its size; a later attempt may learn it
        try:
            self._follower = _Follower(part, total, self._algorithm)
        except OSError:
            return  # the ordinary upload then reads the verified file
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._upload, name="upload-stream", daemon=True)
        self._thread.start()

    def grew(self, size: int) -> None:
        if self._follower is not None:
            self._follower.grew(size)

    def restarted(self) -> None:
        if self._follower is not None:
            self._follower.abandon("the download started again from nothing")

    def _upload(self) -> None:
        assert self._follower is not None
        try:
            self._image_id = self._glance.create(
                {**self._attrs, "visibility": "private", PENDING_PROPERTY: "unfinished"}
            )
            self._stored = self._glance.upload(self._image_id, self._follower)  # type: ignore[arg-type]
        except Exception as exc:  # any failure leaves the ordinary upload to do it
            self._failure = str(exc)

    def finish(self, path: Path, verified: Mapping[str, str], sha512: str | None) -> str | None:
        """The published image, if what was streamed is provably ``path``, whose checksums
        ``verified`` (this stream's algorithm among them) the download proved, and whose sha512
        Glance must have found if it is known; else None, with nothing left in Glance."""
        if self._follower is None:
            return None
        digest = verified.get(self._algorithm, "")
        assert self._thread is not None
        self._follower.ended(path.stat().st_size)
        self._thread.join()
        self._follower.close()
        problem = self._failure or self._problem(path, digest, sha512)
        if problem is None:
            assert self._image_id is not None
            try:
                self._glance.publish(self._image_id, self._attrs["visibility"])
            except GlanceError as exc:
                problem = str(exc)
        if problem is not None:
            self._say(f"{self._label}: the upload alongside the download failed "
                      f"({problem}); uploading the verified file instead")  # fmt: skip
            self._discard()
            return None
        self._say(
            f"{self._label}: uploaded while downloading, "
            f"in {time.perf_counter() - self._start:.2f} s"
        )
        return self._image_id

    def abort(self) -> None:
        """The download or its checks failed: nothing of the stream stays."""
        if self._follower is None:
            return
        self._follower.abandon("the download failed")
        assert self._thread is not None
        self._thread.join()
        self._follower.close()
        self._discard()

    def _problem(self, path: Path, digest: str, sha512: str | None) -> str | None:
        assert self._follower is not None and self._stored is not None
        size, sent = self._follower.sent()
        if size != path.stat().st_size or sent != digest:
            return "what was sent is not the verified download"
        stored = self._stored
        if stored.status != "active" or stored.size != size:
            return f"Glance holds {stored.size} bytes, {stored.status}"
        if sha512 and stored.hash_value != sha512:
            return f"Glance's sha512 of it is {stored.hash_value}, not the source's {sha512}"
        return None

    def _discard(self) -> None:
        if self._image_id is None:
            return
        # Private and marked pending, a record left undeleted is a leftover the next run deletes.
        with contextlib.suppress(GlanceError):
            self._glance.delete(self._image_id)
        self._image_id = None
