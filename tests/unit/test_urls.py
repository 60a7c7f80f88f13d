"""components.urls: URLs as logs, errors and cache records may show them."""

from __future__ import annotations

import pytest

from components.urls import scrub, shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@images.example.org/a/b.qcow2", "https://images.example.org/a/b.qcow2"),
        ("https://user@images.example.org/b.qcow2", "https://images.example.org/b.qcow2"),
        (
            "https://s3.example.org:8443/bucket/b.qcow2?X-Amz-Signature=abc&X-Amz-Expires=60",
            "https://s3.example.org:8443/bucket/b.qcow2",
        ),
        ("http://[::1]:8787/b.qcow2#part", "http://[::1]:8787/b.qcow2"),
        ("http://u:p@host/b.qcow2?sig=1#frag", "http://host/b.qcow2"),
        ("http://host/plain.qcow2", "http://host/plain.qcow2"),
    ],
)
def test_shown_drops_userinfo_query_and_fragment(url: str, expected: str) -> None:
    assert shown(url) == expected


@pytest.mark.parametrize("path", ["/srv/images/a?b.qcow2", "images/x.qcow2", "file:///srv/a.raw"])
def test_shown_leaves_local_paths_alone(path: str) -> None:
    assert shown(path) == path


def test_scrub_hides_what_an_error_quotes_of_the_url() -> None:
    url = "https://user:pa%2Fss@host:8443/b.qcow2?sig=a/b+c&exp=1"
    message = (
        f"HTTPSConnectionPool(host='host', port=8443): Max retries exceeded with url: "
        f"/b.qcow2?sig=a/b+c&exp=1 (proxy auth user:pa%2Fss); fetching {url}"
    )

    scrubbed = scrub(message, url)

    assert "sig=" not in scrubbed and "pa%2Fss" not in scrubbed and "user" not in scrubbed
    assert scrubbed.endswith("fetching https://host:8443/b.qcow2")
    assert "url: /b.qcow2?… (proxy auth …)" in scrubbed


def test_scrub_hides_the_signature_of_a_url_redirected_to() -> None:
    message = (
        "HTTPSConnectionPool(host='bucket.s3.example.org', port=443): Max retries exceeded with "
        "url: /disk.qcow2?X-Amz-Signature=zzz (redirected from https://cdn/x?token=yyy)"
    )

    assert scrub(message, "https://images.example.org/disk.qcow2") == (
        "HTTPSConnectionPool(host='bucket.s3.example.org', port=443): Max retries exceeded with "
        "url: /disk.qcow2?… (redirected from https://cdn/x)"
    )


def test_scrub_leaves_text_without_secrets_alone() -> None:
    assert scrub("HTTP 404 Not Found", "https://host/b.qcow2") == "HTTP 404 Not Found"
