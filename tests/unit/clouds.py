"""What the tests of the usage checks share: a real PruneCloud over a stand-in connection, so
that its catalog and role logic is the one under test, with no cloud to log in to."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from components.prune_cloud import PruneCloud

LABEL = "cloud 'site'"


def prune_cloud(services: Iterable[str], roles: Iterable[str], **proxies: Any) -> PruneCloud:
    """Its token lists ``services`` in the catalog and ``roles`` in its project; ``proxies``
    (``compute``, ``block_storage``) stand for the connection's service proxies."""
    access = SimpleNamespace(
        service_catalog=SimpleNamespace(catalog=[{"type": kind} for kind in services]),
        role_names=list(roles),
    )
    session = SimpleNamespace(auth=SimpleNamespace(get_access=lambda _session: access))
    conn = SimpleNamespace(authorize=lambda: None, session=session, **proxies)
    return PruneCloud(lambda: conn, "site")  # type: ignore[arg-type, return-value]
