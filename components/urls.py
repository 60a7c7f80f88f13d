"""URLs as they may be shown: in logs, errors and cache records."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

# Any URL in a message, such as the one a redirect led to (often signed, as S3's are), and the
# path and query requests quotes as "url: /path?query" in its connection errors.
_ABSOLUTE_URL = re.compile(r"https?://[^\s'\"<>()]+")
_REQUESTED_PATH = re.compile(r"(\burl: /[^\s?'\"]*)\?[^\s'\")]*")

# The characters requests leaves unquoted when it prepares a URL (requests.utils.requote_uri),
# so that a secret is also found in the form requests quotes in its own error messages.
_REQUOTE_SAFE = "!#$%&'()*+,/:;=?@[]~"


def shown(url: str) -> str:
    """``url`` without userinfo, query string and fragment: a signed temporary URL carries its
    signature in the query, and a ``user:password@`` is a credential. Local paths are unchanged."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    host_and_port = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host_and_port, parts.path, "", ""))


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, often requests', which quotes the URL it fetched, query and
    all) with every URL in it in its ``shown`` form, requests' "url: /path?query" without the
    query, and any other piece of ``url``'s userinfo, query or fragment hidden."""
    text = _ABSOLUTE_URL.sub(lambda match: shown(match.group()), text)
    text = _REQUESTED_PATH.sub(r"\1?…", text)
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    for secret in (userinfo, parts.password, parts.query, parts.fragment):
        if secret:
            for form in {secret, quote(secret, safe=_REQUOTE_SAFE)}:
                text = text.replace(form, "…")
    return text
