"""What tells one version of a file on a server from another: its strong ETag, else its
Last-Modified, as ``If-Range`` sends them back (http_download.py)."""

from __future__ import annotations

import requests


def validator(resp: requests.Response) -> str | None:
    """The answer's strong ETag, else its Last-Modified: what ``If-Range`` may send back. A
    value that is no valid header value (a folded line) is none: requests would refuse it."""
    etag = resp.headers.get("ETag")
    strong_etag = etag if etag and not etag.startswith("W/") else None
    value = (strong_etag or resp.headers.get("Last-Modified") or "").strip()
    if not value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return None
    return value


def differ(answered: str | None, held: str | None) -> bool:
    """Two validators of the same kind (ETag or Last-Modified) that name different versions."""
    if answered is None or held is None:
        return False
    return answered.startswith('"') == held.startswith('"') and answered != held
