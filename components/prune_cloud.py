"""The cloud that the usage checks ask, ``pruneCloud``: connected once, on first use, so that a
run without retention candidates never logs in with it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from openstack.connection import Connection

from components.glance import SDK_ERRORS, GlanceError
from components.usage import CheckFailed


class PruneCloud:
    def __init__(self, connect: Callable[[], Connection], name: str | None) -> None:
        self._connect = connect
        self.label = f"cloud {name!r}" if name else "the stack's cloud (openstack:cloud)"

    @cached_property
    def _conn(self) -> Connection:
        try:
            conn = self._connect()
            conn.authorize()
            return conn
        except (GlanceError, *SDK_ERRORS) as exc:
            raise CheckFailed(f"cannot log in to {self.label}: {exc}") from exc

    def connection(self) -> Connection:
        return self._conn

    def offers(self, *service_types: str) -> bool:
        """Whether the catalog lists a service of one of these types."""
        listed = {entry.get("type") for entry in self._access().service_catalog.catalog}
        return bool(listed & set(service_types))

    def roles(self) -> frozenset[str]:
        """The roles of its token, in the project it is scoped to."""
        return frozenset(self._access().role_names or ())

    def require_admin(self, hidden: str) -> None:
        """Fails closed, naming pruneCloud, unless its token has the admin role.

        Nova and Cinder answer a caller without it with less than was asked (its own project's
        volumes; servers without the admin-only filters), not with a refusal, so only the role
        itself tells a complete answer from a partial one. ``hidden`` says what would be missed.
        """
        if "admin" not in self.roles():
            raise CheckFailed(
                f"{self.label} has no admin role: {hidden}; set community-images:pruneCloud "
                "to a clouds.yaml entry with an admin-like role (its token's roles must "
                "include admin)"
            )

    def _access(self) -> Any:
        try:
            return self._conn.session.auth.get_access(self._conn.session)
        except SDK_ERRORS as exc:
            raise CheckFailed(f"cannot read the token of {self.label}: {exc}") from exc
